// SPDX-License-Identifier: GPL-2.0-or-later
// The counters of the request path: indices into the shared statistics
// area (shm/stats.hpp), registered by the master for each loaded generation
// (runtime/generation.cpp) before the workers that count into them are
// forked. Per request (requests, timeouts, actions, latency) and per module
// instance (calls, cache hits, result codes, latency).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shm/stats.hpp"

namespace ppolicy {

struct RequestCounters {
  int requests = -1, timeouts = -1, failures = -1, no_policy = -1;
  Histogram latency;
  std::vector<std::pair<std::string, int>> actions;  // action word -> counter
  int action_other = -1;
  // The counter of a reply's first word ("REJECT", "450" -> "4xx", ...).
  int action(std::string_view word) const;
};

struct ModuleCounters {
  static constexpr int k_min_code = -20, k_max_code = 20;
  int calls = -1, cache_hits = -1, cache_misses = -1, failures = -1;
  int codes[k_max_code - k_min_code + 1] = {};
  Histogram latency;
};

}  // namespace ppolicy
