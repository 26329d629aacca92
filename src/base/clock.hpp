// SPDX-License-Identifier: GPL-2.0-or-later
// The clocks: SteadyClock for deadlines and durations (never jumps), the
// wall clock in whole seconds for expiry times that are shared with other
// processes or hosts (shared memory, database rows, state files).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>

namespace ppolicy {

using SteadyClock = std::chrono::steady_clock;
// When a piece of work must be done (a request's deadline, or a step's).
using Deadline = SteadyClock::time_point;

// Wall-clock seconds since the epoch.
inline uint32_t wall_seconds() {
  return static_cast<uint32_t>(std::time(nullptr));
}

// Milliseconds from `since` to now (as a double, for latencies).
inline double ms_since(SteadyClock::time_point since) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - since).count();
}

// Milliseconds until `deadline`, rounded up (a wait this long ends at or
// after it, never just before), 0 when it has passed.
inline long ms_until(Deadline deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now()).count();
  return left > 0 ? static_cast<long>((left + 999) / 1000) : 0;
}

// `ms` from now, but never after `limit`.
inline Deadline deadline_in(long ms, Deadline limit) {
  Deadline d = SteadyClock::now() + std::chrono::milliseconds(ms);
  return d < limit ? d : limit;
}

}  // namespace ppolicy
