// SPDX-License-Identifier: GPL-2.0-or-later
// Evaluating a compiled policy for one request: statements in order, module
// call sites run lazily and at most once (memo), results from and into the
// shared result cache, saveResult attributes, the request deadline, and the
// trace of what ran (for the decision log line and `ppolicyd -e`).
#pragma once

#include <string>
#include <vector>

#include "modules/module.hpp"
#include "policy/ast.hpp"

namespace ppolicy {

class Config;
class Services;
class StatsBuffer;
struct ModuleInstance;

struct ModuleRun {
  const ModuleInstance* inst = nullptr;
  std::string args;  // arguments as text ("" for none)
  Result result;
  bool cached = false;
  double ms = 0;
};

struct Decision {
  std::string reply;                       // action value sent to Postfix
  const Policy* policy = nullptr;
  const Statement* statement = nullptr;    // the rule or default that answered
  bool timed_out = false;                  // request_timeout passed: default_action
  bool failed = false;                     // internal error: default_action
  std::string note;                        // why default_action answered
  std::vector<ModuleRun> runs;             // modules run, in order
};

class Evaluation {
public:
  Evaluation(const Config& config, const Policy& policy, Request& request, Services& services,
             SteadyClock::time_point deadline, StatsBuffer* stats);
  Decision decide();

private:
  struct Timeout {};
  Value eval(const Node& n);
  bool eval_bool(const Node& n);
  double eval_num(const Node& n);
  std::string eval_str(const Node& n);
  const ModuleRun& call(int site);
  std::string expand(const Action& a);
  void save_result(const ModuleRun& run);

  const Config& d_config;
  const Policy& d_policy;
  Request& d_request;
  Services& d_services;
  SteadyClock::time_point d_deadline;
  StatsBuffer* d_stats;
  std::vector<int> d_memo;  // call site -> index in d_runs, -1 not run yet
  std::vector<Value> d_vars;
  std::vector<ModuleRun> d_runs;
  std::vector<std::pair<std::string, int>> d_saved;  // instance name -> times saved
};

}  // namespace ppolicy
