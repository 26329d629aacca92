// SPDX-License-Identifier: GPL-2.0-or-later
#include "runtime/shadow.hpp"

#include <chrono>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "modules/instance.hpp"
#include "policy/compile.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/handler.hpp"
#include "runtime/runner.hpp"
#include "shm/stats.hpp"

namespace ppolicy {
namespace {

// Results of the live evaluation first; other modules only while the budget
// lasts and only those without side effects.
class ShadowRunner final : public CallRunner {
 public:
  ShadowRunner(const Decision& live, ModuleRunner& real, SteadyClock::time_point budget_end)
      : d_live(live), d_real(real), d_budget_end(budget_end) {}

  ModuleRun run(const CallSite& site, Request& request, SteadyClock::time_point) override {
    std::string args = site.args.key();
    for (const auto& r : d_live.runs)
      if (r.inst == site.inst && r.args == args) return r;
    if (!changes_state(*site.inst->type) && SteadyClock::now() < d_budget_end)
      return d_real.run(site, request, d_budget_end);
    if (missing.empty()) missing = site.inst->name;
    ModuleRun run;
    run.inst = site.inst;
    run.args = args;
    run.result = Result(0, "not run by a shadow policy");
    return run;
  }

  std::string missing;  // the first module the shadow could not run

 private:
  const Decision& d_live;
  ModuleRunner& d_real;
  SteadyClock::time_point d_budget_end;
};

std::string rule_of(const Decision& d) {
  if (!d.statement) return "none";
  return d.statement->kind == Statement::default_
             ? format("default line=%d", d.statement->line)
             : format("%d line=%d", d.statement->number, d.statement->line);
}

}  // namespace

bool has_shadow_policies(const Generation& gen) {
  for (const auto& p : gen.policies)
    if (p->shadow) return true;
  return false;
}

void run_shadow_policies(const Generation& gen, Services& services, StatsBuffer* stats,
                         Request& request, const Decision& live) {
  const ServerSettings& server = gen.server();
  for (const auto& p : gen.policies) {
    if (!p->shadow || !policy_selects(*p, request)) continue;
    auto start = SteadyClock::now();
    ModuleRunner real(gen, services, stats);
    ShadowRunner runner(live, real, start + std::chrono::milliseconds(server.shadow_budget_ms));
    // Rule matches of a shadow are counted like any policy's; the deadline
    // is the request's, the budget bounds only new module calls.
    Evaluation ev(*p, request, runner, start + std::chrono::milliseconds(server.request_timeout_ms),
                  server.default_action, stats);
    Decision d = ev.decide();
    if (stats) stats->add(p->stat_shadow_runs);
    std::string_view qid = request.get(Attr::queue_id);
    std::string who = format("%s: client=%s[%s] from=<%s> to=<%s>",
                             qid.empty() ? "NOQUEUE" : log_quote(qid, 40).c_str(),
                             log_quote(request.get(Attr::client_name), 100).c_str(),
                             log_quote(request.get(Attr::client_address), 50).c_str(),
                             log_quote(request.get(Attr::sender), 200).c_str(),
                             log_quote(request.get(Attr::recipient), 200).c_str());
    if (!runner.missing.empty() || d.timed_out) {
      if (stats) stats->add(p->stat_shadow_incomplete);
      log_debug("%s shadow=%s incomplete: module %s not run (live result missing; %s)", who.c_str(),
                p->name.c_str(), runner.missing.c_str(),
                d.timed_out ? "request_timeout" : "side effects or shadow_budget");
      continue;
    }
    if (d.reply == live.reply) continue;
    if (stats && d.statement) stats->add(d.statement->stat_shadow_differs);
    log_info("%s shadow=%s would %s rule=%s (live: %s rule=%s)", who.c_str(), p->name.c_str(),
             log_quote(d.reply, 300).c_str(), rule_of(d).c_str(),
             log_quote(live.reply, 300).c_str(), rule_of(live).c_str());
  }
}

}  // namespace ppolicy
