// SPDX-License-Identifier: GPL-2.0-or-later
// Evaluating a compiled policy for one request: statements in order, module
// call sites run lazily and at most once (memo), the request deadline, and
// the trace of what ran (for the decision log line and `ppolicyd -e`).
// Running a module is not the evaluator's business: it asks a CallRunner
// (runtime/runner.hpp adds the result cache, counters and saveResult).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modules/module.hpp"
#include "policy/ast.hpp"

namespace ppolicy {

class Request;
class StatsBuffer;
struct ModuleInstance;

struct ModuleRun {
  const ModuleInstance* inst = nullptr;
  std::string args;  // arguments as text ("" for none)
  Result result;
  bool cached = false;
  double ms = 0;
  SteadyClock::time_point end{};  // when it ended, if the runner read the clock
};

struct Decision {
  std::string reply;  // action value sent to Postfix
  const Policy* policy = nullptr;
  const Statement* statement = nullptr;  // the rule or default that answered
  bool timed_out = false;                // request_timeout passed: default_action
  bool failed = false;                   // internal error: default_action
  std::string note;                      // why default_action answered
  std::vector<ModuleRun> runs;           // modules run, in order
};

// What an Evaluation may reuse from one request to the next (a worker's
// RequestHandler keeps one): once grown, no allocation per request.
struct EvalScratch {
  std::vector<int> memo;
  std::vector<Value> vars;
  std::vector<ModuleRun> runs;
};

// Runs one call site of a policy for a request.
class CallRunner {
 public:
  virtual ~CallRunner() = default;
  virtual ModuleRun run(const CallSite& site, Request& request,
                        SteadyClock::time_point deadline) = 0;
  // The cold-path prefetch (modules/prefetch.hpp): whether running `site`
  // may ask DNS questions known from the request alone; if so, the
  // evaluator first hands prefetch() that site followed by every other site
  // the policy may still run. prefetch() returns false when the site needs
  // no question now (cached): the evaluator tries again at the next one.
  virtual bool prefetches(const CallSite& /*site*/) const { return false; }
  virtual bool prefetch(std::span<const CallSite* const> /*sites*/, const Request& /*request*/,
                        SteadyClock::time_point /*deadline*/) {
    return true;
  }
};

class Evaluation {
 public:
  // `default_action` answers when the deadline passes or evaluation fails;
  // `stats` (may be null) counts the rule that answered.
  // `start`: a recent clock reading (evaluation reads the clock again only
  // where a runner leaves a run's end time unset).
  Evaluation(const Policy& policy, Request& request, CallRunner& runner,
             SteadyClock::time_point deadline, const std::string& default_action,
             StatsBuffer* stats, SteadyClock::time_point start = SteadyClock::now(),
             EvalScratch* scratch = nullptr);
  Decision decide();
  // decide() into `d`, reusing its storage: its runs go back to the scratch
  // (for the next request's) and this request's take their place.
  void decide(Decision& d);

 private:
  struct Timeout {};
  Value eval(const Node& n);
  bool eval_bool(const Node& n);
  double eval_num(const Node& n);
  std::string eval_str(const Node& n);
  // eval_str() without a copy where the string is there already (a
  // literal, variable, attribute or module text); else kept in `scratch`.
  // The view is valid until the next module call or variable assignment.
  std::string_view eval_view(const Node& n, std::string& scratch);
  const ModuleRun& call(int site);
  std::string expand(const Action& a);

  const Policy& d_policy;
  Request& d_request;
  CallRunner& d_runner;
  SteadyClock::time_point d_deadline;
  const std::string& d_default_action;
  StatsBuffer* d_stats;
  EvalScratch d_own;  // when no scratch is given
  EvalScratch& d_s;
  std::vector<int>& d_memo;       // call site -> index in d_runs, -1 not run yet
  int d_statement = 0;            // index of the statement being evaluated
  SteadyClock::time_point d_now;  // the latest clock reading: start, or a run's end
  bool d_prefetched = false;
  std::vector<Value>& d_vars;
  std::vector<ModuleRun>& d_runs;
};

}  // namespace ppolicy
