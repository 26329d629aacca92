// SPDX-License-Identifier: GPL-2.0-or-later
// How many callouts (or other polite conversations) to one target are in
// progress, across every worker: a record of the shared records table per
// target, listing one (pid, until) slot per conversation. acquire() takes a
// slot unless `max` are taken; release() (also by the destructor) gives it
// back. A slot whose process is gone or whose time is over does not count,
// so a worker killed in the middle of a callout leaks nothing: its slot
// stops counting at once (the pid is gone) or at `until` at the latest (a
// reused pid). Worker side (Verification); the records are crash-safe
// (shm/table.hpp) and swept by the master when they expire.
// Not here: no waiting for a free slot (the caller answers "try later").
#pragma once

#include <cstdint>
#include <string>

namespace ppolicy {

class ShmTable;

class InFlight {
 public:
  InFlight() = default;
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { release(); }

  // Take a slot for `target` until `until` (wall-clock seconds; `now` is the
  // same clock). False when `max` slots are taken. Without a table
  // (ppolicyd -e) there is nobody to share with: true.
  bool acquire(ShmTable* table, const std::string& target, long max, uint32_t now, uint32_t until);
  void release();

  static constexpr long k_max_slots = 20;  // per target (the record must fit one slot)

 private:
  ShmTable* d_table = nullptr;
  std::string d_key;
  uint32_t d_until = 0;
};

}  // namespace ppolicy
