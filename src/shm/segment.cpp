// SPDX-License-Identifier: GPL-2.0-or-later
#include "shm/segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace ppolicy {
namespace {

constexpr size_t align_page(size_t n) {
  return (n + 4095) / 4096 * 4096;
}
constexpr char k_snap_magic[8] = {'P', 'P', 'O', 'L', 'S', 'N', 'P', '1'};

void put_u32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), 4);
}
void put_u16(std::string& out, uint16_t v) {
  out.append(reinterpret_cast<const char*>(&v), 2);
}

}  // namespace

Segment::Segment(size_t cache_bytes, size_t records_bytes, size_t stats_capacity) {
  size_t c = align_page(ShmTable::layout_bytes(cache_bytes));
  size_t r = align_page(ShmTable::layout_bytes(records_bytes));
  size_t s = align_page(StatsArea::layout_bytes(stats_capacity));
  d_bytes = c + r + s;
  d_mem = mmap(nullptr, d_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (d_mem == MAP_FAILED) {
    d_mem = nullptr;
    throw std::runtime_error(
        format("mmap %zu bytes of shared memory: %s", d_bytes, std::strerror(errno)));
  }
  auto* base = static_cast<unsigned char*>(d_mem);
  // One secret per segment, drawn anew at every start: the hash places of
  // the last run mean nothing now (restore() re-inserts by key).
  SipKey key = random_sip_key();
  d_cache = ShmTable::create(base, c, "cache", key);
  d_records = ShmTable::create(base + c, r, "records", key);
  d_stats = StatsArea::create(base + c + r, stats_capacity);
}

Segment::~Segment() {
  if (d_mem) munmap(d_mem, d_bytes);
}

long Segment::save(const std::string& path) {
  // Serialise first (each stripe locked briefly), then write without locks.
  std::string out(k_snap_magic, sizeof k_snap_magic);
  long n = 0;
  uint32_t now = static_cast<uint32_t>(time(nullptr));
  ShmTable* tables[] = {d_cache, d_records};
  for (unsigned char id = 1; id <= 2; ++id) {
    tables[id - 1]->for_each(now, [&](std::string_view k, std::string_view v, uint32_t expire) {
      out += static_cast<char>(id);
      put_u32(out, expire);
      put_u16(out, static_cast<uint16_t>(k.size()));
      put_u16(out, static_cast<uint16_t>(v.size()));
      out += k;
      out += v;
      ++n;
    });
  }
  out += '\0';
  uint64_t sum = hash_bytes(out);
  out.append(reinterpret_cast<const char*>(&sum), 8);

  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    log_warn("cannot save state to %s: %s", tmp.c_str(), std::strerror(errno));
    return -1;
  }
  size_t off = 0;
  while (off < out.size()) {
    ssize_t w = ::write(fd, out.data() + off, out.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      log_warn("cannot write state file %s: %s", tmp.c_str(), std::strerror(errno));
      close(fd);
      unlink(tmp.c_str());
      return -1;
    }
    off += static_cast<size_t>(w);
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    log_warn("cannot save state file %s: %s", path.c_str(), std::strerror(errno));
    unlink(tmp.c_str());
    return -1;
  }
  return n;
}

long Segment::restore(const std::string& path) {
  auto reject = [&](const char* why) {
    std::string aside = path + ".bad";
    rename(path.c_str(), aside.c_str());
    log_warn("state file %s %s; moved aside to %s, starting with empty caches", path.c_str(), why,
             aside.c_str());
    return -1L;
  };
  // Never a link, never anything but a regular file (a FIFO would block the
  // start), never more than both tables could ever have saved.
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    log_warn("cannot read state file %s: %s", path.c_str(), std::strerror(errno));
    if (errno == ELOOP) return reject("is a symbolic link");
    return -1;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return reject("is not a regular file");
  }
  size_t cap = max_state_bytes();
  if (static_cast<unsigned long long>(st.st_size) > cap) {
    close(fd);
    return reject("is larger than the tables could have saved");
  }
  std::string data;
  char buf[65536];
  ssize_t r;
  while (data.size() <= cap && (r = ::read(fd, buf, sizeof buf)) > 0)
    data.append(buf, static_cast<size_t>(r));
  close(fd);
  if (data.size() > cap) return reject("is larger than the tables could have saved");

  if (data.size() < sizeof k_snap_magic + 9 || std::memcmp(data.data(), k_snap_magic, 8) != 0)
    return reject("is not a ppolicyd state file");
  uint64_t sum;
  std::memcpy(&sum, data.data() + data.size() - 8, 8);
  if (hash_bytes(std::string_view(data).substr(0, data.size() - 8)) != sum)
    return reject("is damaged (checksum mismatch)");

  uint32_t now = static_cast<uint32_t>(time(nullptr));
  size_t pos = sizeof k_snap_magic;
  size_t end = data.size() - 8;
  long n = 0;
  while (pos < end) {
    auto id = static_cast<unsigned char>(data[pos++]);
    if (id == 0) break;
    if (pos + 8 > end) return reject("is truncated");
    uint32_t expire;
    uint16_t kl, vl;
    std::memcpy(&expire, data.data() + pos, 4);
    std::memcpy(&kl, data.data() + pos + 4, 2);
    std::memcpy(&vl, data.data() + pos + 6, 2);
    pos += 8;
    if (pos + kl + vl > end || (id != 1 && id != 2)) return reject("is malformed");
    std::string_view k(data.data() + pos, kl), v(data.data() + pos + kl, vl);
    pos += kl + vl;
    if (expire <= now) continue;
    (id == 1 ? d_cache : d_records)->put(k, v, expire, now);
    ++n;
  }
  return n;
}

}  // namespace ppolicy
