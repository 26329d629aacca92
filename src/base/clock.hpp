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

// Wall-clock seconds since the epoch.
inline uint32_t wall_seconds() { return static_cast<uint32_t>(std::time(nullptr)); }

// Milliseconds from `since` to now (as a double, for latencies).
inline double ms_since(SteadyClock::time_point since) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - since).count();
}

}  // namespace ppolicy
