// SPDX-License-Identifier: GPL-2.0-or-later
// The one shared-memory segment: created by the master before it forks (an
// anonymous shared mapping inherited by every worker), holding the result
// cache table, the records table (DOS, Trap, Greylist store = shm, circuit
// breakers) and the statistics counters. It survives reloads and worker
// restarts; its tables are saved to the state file on stop and read back on
// start (snapshot.cpp).
#pragma once

#include <cstddef>
#include <string>

#include "shm/stats.hpp"
#include "shm/table.hpp"

namespace ppolicy {

class Segment {
 public:
  Segment(size_t cache_bytes, size_t records_bytes, size_t stats_capacity);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  ShmTable& cache() { return *d_cache; }
  ShmTable& records() { return *d_records; }
  StatsArea& stats() { return *d_stats; }
  size_t bytes() const { return d_bytes; }

  // Save both tables to `path` atomically (temporary file + rename); returns
  // the number of entries written, or -1 with a logged reason.
  long save(const std::string& path);
  // Read a saved state file back; returns the entries restored (0 when the
  // file does not exist), or -1 with a logged reason (a damaged file is
  // renamed aside, never fatal).
  long restore(const std::string& path);
  // The largest state file restore() reads: every entry's bytes plus its
  // 9-byte header cannot exceed the two tables' sizes (a file beyond that
  // was not written by save()).
  size_t max_state_bytes() const { return 2 * d_bytes + 4096; }

 private:
  void* d_mem = nullptr;
  size_t d_bytes = 0;
  ShmTable* d_cache = nullptr;
  ShmTable* d_records = nullptr;
  StatsArea* d_stats = nullptr;
};

}  // namespace ppolicy
