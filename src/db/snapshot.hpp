// SPDX-License-Identifier: GPL-2.0-or-later
// cacheAll snapshots: a whole lookup table in one file, sorted by key, that
// every worker maps read-only (one copy in the page cache, shared by all
// workers; a lookup is a binary search, no database round trip).
//
// Who writes it: the master at start (Module::prepare(), before fork) and
// then the maintenance process whenever it is older than cacheAllRefresh
// (checked every maintenance_interval). It is written to a temporary file
// and renamed into place, so a worker sees the old or the new snapshot,
// never half of one. A request never waits for a refresh: workers notice a
// new file (stat at most once a second) and map it between lookups.
// Where: [ppolicyd] state_dir, "cacheall-NAME.snap". A snapshot whose
// fingerprint (table, columns, case) differs from the module's, or that is
// older than its hard age limit (the refresh has been failing), is not
// used: the module then queries the database directly.
//
// File layout (native byte order): "PPSNAP01", u64 fingerprint, u64 created
// (wall seconds), u32 column count, per column (u32 length, name), u32 row
// count, u64 offsets of the rows in key order, then the rows: (u32 length,
// key) and per column (u32 length or 0xffffffff for NULL, bytes).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ppolicy {

// Most rows a snapshot may hold; a larger table is queried directly.
inline constexpr size_t k_snapshot_max_rows = 2000000;

struct SnapshotRow {
  std::string key;                                 // key values joined by '\0'
  std::vector<std::optional<std::string>> values;  // one per column; nullopt = NULL
};

// Write rows (any order; duplicates: the first one wins) atomically to
// `path`. Returns false with `error` set.
bool write_snapshot(const std::string& path, uint64_t fingerprint,
                    const std::vector<std::string>& columns, std::vector<SnapshotRow> rows,
                    std::string& error);

// Seconds since the snapshot at `path` was created, or -1 when there is
// none usable for `fingerprint`.
long snapshot_age(const std::string& path, uint64_t fingerprint);

class SnapshotReader {
 public:
  SnapshotReader(std::string path, uint64_t fingerprint, long max_age)
      : d_path(std::move(path)), d_fingerprint(fingerprint), d_max_age(max_age) {}
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  // True when a current snapshot is mapped (checks for a newer file at
  // most once a second).
  bool available(time_t now);
  // Look a key up in the mapped snapshot.
  bool find(std::string_view key, std::vector<std::optional<std::string>>& values) const;
  const std::vector<std::string>& columns() const { return d_columns; }

 private:
  void unmap();
  bool map();

  std::string d_path;
  uint64_t d_fingerprint;
  long d_max_age;
  time_t d_checked = 0;
  ino_t d_ino = 0;
  time_t d_mtime = 0;
  const unsigned char* d_base = nullptr;
  size_t d_size = 0;
  uint64_t d_created = 0;
  uint32_t d_rows = 0;
  size_t d_index = 0;  // offset of the row offsets
  std::vector<std::string> d_columns;
};

}  // namespace ppolicy
