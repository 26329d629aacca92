// SPDX-License-Identifier: GPL-2.0-or-later
// One request, start to finish: choose the policy, evaluate it under the
// request deadline, count it, and describe it (one log line per decision;
// a readable trace for `ppolicyd -e`). Used by the workers and by -e.
#pragma once

#include <string>

#include "policy/eval.hpp"

namespace ppolicy {

class Generation;
class Request;
class Services;
class StatsBuffer;

class RequestHandler {
 public:
  RequestHandler(const Generation& generation, Services& services, StatsBuffer* stats);

  // The decision for `request`; its reply is always a valid action value.
  // `start`: when the request came (its request_timeout counts from then);
  // `end` (may be null): when it was decided.
  // The decision stays valid until the next handle().
  const Decision& handle(Request& request, double* elapsed_ms,
                         SteadyClock::time_point start = SteadyClock::now(),
                         SteadyClock::time_point* end = nullptr);
  // One log line per decision ([ppolicyd] log_decisions; -e prints its trace instead).
  void log_decisions(bool on) { d_log = on; }
  // Shadow policies (runtime/shadow.hpp): call after the reply of `live`
  // was sent, so they never delay it.
  bool has_shadows() const { return d_has_shadows; }
  void shadow(Request& request, const Decision& live);

  static std::string log_line(const Request& request, const Decision& d, double ms);
  static void append_log_line(std::string& line, const Request& request, const Decision& d,
                              double ms);
  static std::string trace(const Request& request, const Decision& d, double ms);

 private:
  const Generation& d_gen;
  Services& d_services;
  StatsBuffer* d_stats;
  bool d_log;
  bool d_has_shadows;
  std::string d_line;  // the decision line, reused (no allocation per request)
  // The decision and the evaluation's storage, reused likewise.
  Decision d_decision;
  EvalScratch d_scratch;
};

}  // namespace ppolicy
