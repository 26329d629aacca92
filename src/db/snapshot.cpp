// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/snapshot.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/codec.hpp"
#include "base/strings.hpp"

namespace ppolicy {
namespace {

constexpr char k_magic[8] = {'P', 'P', 'S', 'N', 'A', 'P', '0', '1'};
constexpr uint32_t k_null = 0xffffffffu;

// A reader at byte `pos` of the mapped file (failing at once past its end).
ByteReader reader_at(const unsigned char* base, size_t size, size_t pos) {
  std::string_view all(reinterpret_cast<const char*>(base), size);
  ByteReader r(pos <= size ? all.substr(pos) : std::string_view());
  if (pos > size) r.bytes(1);
  return r;
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

bool write_snapshot(const std::string& path, uint64_t fingerprint,
                    const std::vector<std::string>& columns, std::vector<SnapshotRow> rows,
                    std::string& error) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const SnapshotRow& a, const SnapshotRow& b) { return a.key < b.key; });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const SnapshotRow& a, const SnapshotRow& b) { return a.key == b.key; }),
             rows.end());
  std::string head(k_magic, sizeof k_magic);
  ByteWriter h(head);
  h.u64(fingerprint)
      .u64(static_cast<uint64_t>(time(nullptr)))
      .u32(static_cast<uint32_t>(columns.size()));
  for (const auto& c : columns)
    h.str(c);
  h.u32(static_cast<uint32_t>(rows.size()));
  size_t data_start = head.size() + 8 * rows.size();
  std::string index, data;
  index.reserve(8 * rows.size());
  ByteWriter x(index), d(data);
  for (const auto& r : rows) {
    x.u64(data_start + data.size());
    d.str(r.key);
    for (size_t i = 0; i < columns.size(); ++i) {
      const auto& v = i < r.values.size() ? r.values[i] : std::nullopt;
      if (v)
        d.str(*v);
      else
        d.u32(k_null);
    }
  }
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error = format("%s: %s", tmp.c_str(), std::strerror(errno)), false;
  bool ok = write_all(fd, head) && write_all(fd, index) && write_all(fd, data) && fsync(fd) == 0;
  int saved = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    unlink(tmp.c_str());
    return error = format("%s: %s", path.c_str(), std::strerror(saved)), false;
  }
  return true;
}

long snapshot_age(const std::string& path, uint64_t fingerprint) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char head[24];
  ssize_t r = read(fd, head, sizeof head);
  close(fd);
  ByteReader c(std::string_view(head, r > 0 ? static_cast<size_t>(r) : 0));
  std::string_view magic = c.bytes(8);
  uint64_t fp = c.u64(), created = c.u64();
  if (!c.ok() || magic != std::string_view(k_magic, 8) || fp != fingerprint) return -1;
  long age = static_cast<long>(time(nullptr)) - static_cast<long>(created);
  return age < 0 ? 0 : age;
}

SnapshotReader::~SnapshotReader() {
  unmap();
}

void SnapshotReader::unmap() {
  if (d_base) munmap(const_cast<unsigned char*>(d_base), d_size);
  d_base = nullptr;
  d_size = 0;
  d_rows = 0;
  d_columns.clear();
}

bool SnapshotReader::map() {
  unmap();
  int fd = open(d_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < 32) {
    close(fd);
    return false;
  }
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return false;
  d_base = static_cast<const unsigned char*>(p);
  d_size = static_cast<size_t>(st.st_size);
  d_ino = st.st_ino;
  d_mtime = st.st_mtime;
  ByteReader c = reader_at(d_base, d_size, 0);
  std::string_view magic = c.bytes(8);
  uint64_t fp = c.u64();
  d_created = c.u64();
  uint32_t ncols = c.u32();
  if (!c.ok() || magic != std::string_view(k_magic, 8) || fp != d_fingerprint || ncols > 4096) {
    unmap();
    return false;
  }
  for (uint32_t i = 0; i < ncols && c.ok(); ++i)
    d_columns.emplace_back(c.str());
  d_rows = c.u32();
  d_index = d_size - c.left();
  if (!c.ok() || c.left() < 8 * static_cast<size_t>(d_rows)) {
    unmap();
    return false;
  }
  return true;
}

bool SnapshotReader::available(time_t now) {
  if (now != d_checked) {
    d_checked = now;
    struct stat st {};
    bool exists = stat(d_path.c_str(), &st) == 0;
    if (!exists) {
      unmap();
    } else if (!d_base || st.st_ino != d_ino || st.st_mtime != d_mtime) {
      map();
    }
  }
  if (!d_base) return false;
  return now - static_cast<time_t>(d_created) <= d_max_age;
}

bool SnapshotReader::find(std::string_view key,
                          std::vector<std::optional<std::string>>& values) const {
  if (!d_base) return false;
  // The reader is left after the key, at the row's values.
  auto row_key = [&](uint32_t i, ByteReader& c) -> std::string_view {
    ByteReader slot = reader_at(d_base, d_size, d_index + 8 * static_cast<size_t>(i));
    uint64_t at = slot.u64();
    c = reader_at(d_base, d_size, slot.ok() ? static_cast<size_t>(at) : d_size + 1);
    return c.str();
  };
  uint32_t lo = 0, hi = d_rows;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    ByteReader c({});
    std::string_view k = row_key(mid, c);
    if (!c.ok()) return false;  // a damaged file: treat as not found
    if (k < key) {
      lo = mid + 1;
    } else if (key < k) {
      hi = mid;
    } else {
      values.clear();
      for (size_t i = 0; i < d_columns.size(); ++i) {
        uint32_t n = c.u32();
        if (n == k_null)
          values.emplace_back(std::nullopt);
        else
          values.emplace_back(std::string(c.bytes(n)));
      }
      return c.ok();
    }
  }
  return false;
}

}  // namespace ppolicy
