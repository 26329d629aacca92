// SPDX-License-Identifier: GPL-2.0-or-later
#include "runtime/handler.hpp"

#include "base/log.hpp"
#include "base/strings.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/runner.hpp"
#include "runtime/shadow.hpp"
#include "shm/stats.hpp"

namespace ppolicy {

RequestHandler::RequestHandler(const Generation& generation, Services& services, StatsBuffer* stats)
    : d_gen(generation),
      d_services(services),
      d_stats(stats),
      d_log(generation.server().log_decisions),
      d_has_shadows(has_shadow_policies(generation)) {}

void RequestHandler::shadow(Request& request, const Decision& live) {
  if (d_has_shadows) run_shadow_policies(d_gen, d_services, d_stats, request, live);
}

const Decision& RequestHandler::handle(Request& request, double* elapsed_ms,
                                       SteadyClock::time_point start,
                                       SteadyClock::time_point* end) {
  const ServerSettings& server = d_gen.server();
  auto deadline = start + std::chrono::milliseconds(server.request_timeout_ms);
  const RequestCounters& counters = d_gen.counters;
  Decision& d = d_decision;
  const Policy* p = d_gen.select_policy(request);
  if (!p) {
    d = Decision();
    d.reply = "DUNNO";
    d.note = "no [policy] section matches this request";
    if (d_stats) d_stats->add(counters.no_policy);
  } else {
    ModuleRunner runner(d_gen, d_services, d_stats);
    Evaluation ev(*p, request, runner, deadline, server.default_action, d_stats, start, &d_scratch);
    ev.decide(d);
  }
  auto done = SteadyClock::now();
  double ms = std::chrono::duration<double, std::milli>(done - start).count();
  if (elapsed_ms) *elapsed_ms = ms;
  if (end) *end = done;
  if (d_stats) {
    d_stats->add(counters.requests);
    if (d.timed_out) d_stats->add(counters.timeouts);
    if (d.failed) d_stats->add(counters.failures);
    std::string_view word = std::string_view(d.reply).substr(0, d.reply.find(' '));
    d_stats->add(counters.action(word));
    counters.latency.observe(*d_stats, ms / 1000.0);
  }
  if (d_log && log_enabled(LogLevel::info)) {
    d_line.clear();
    append_log_line(d_line, request, d, ms);
    log_text(LogLevel::info, d_line);
  }
  return d;
}

std::string RequestHandler::log_line(const Request& r, const Decision& d, double ms) {
  std::string line;
  append_log_line(line, r, d, ms);
  return line;
}

void RequestHandler::append_log_line(std::string& line, const Request& r, const Decision& d,
                                     double ms) {
  // Postfix-like: queue id first, then who and what, then how it was decided.
  // Written once per request: appends into one buffer, no printf (the text
  // is what "%s: %s client=%s[%s] ... time=%.1fms" gave).
  line.reserve(512);
  std::string_view qid = r.get(Attr::queue_id);
  if (qid.empty())
    line += "NOQUEUE";
  else
    log_quote_append(line, qid, 40);
  line += ": ";
  log_quote_append(line, r.get(Attr::protocol_state), 20);
  line += " client=";
  log_quote_append(line, r.get(Attr::client_name), 100);
  line += '[';
  log_quote_append(line, r.get(Attr::client_address), 50);
  line += "] helo=<";
  log_quote_append(line, r.get(Attr::helo_name), 100);
  line += "> from=<";
  log_quote_append(line, r.get(Attr::sender), 200);
  line += "> to=<";
  log_quote_append(line, r.get(Attr::recipient), 200);
  line += "> action=";
  log_quote_append(line, d.reply, 300);
  if (d.policy) {
    line += " policy=";
    line += d.policy->name;
  }
  if (d.statement) {
    line += " rule=";
    append_int(line, d.statement->number);
    line += " line=";
    append_int(line, d.statement->line);
  }
  if (!d.note.empty()) {
    line += " note=\"";
    log_quote_append(line, d.note, 100);
    line += '"';
  }
  if (!d.runs.empty()) {
    line += " modules=";
    for (size_t i = 0; i < d.runs.size(); ++i) {
      const auto& run = d.runs[i];
      if (i) line += ',';
      line += run.inst->name;
      line += ':';
      append_int(line, run.result.code);
      if (run.cached) line += "(cached)";
    }
  }
  line += " time=";
  append_fixed(line, ms, 1);
  line += "ms";
}

std::string RequestHandler::trace(const Request&, const Decision& d, double ms) {
  std::string out = format("action=%s\n", d.reply.c_str());
  if (!d.policy) {
    out += "  no policy selected: " + d.note + "\n";
  } else if (d.statement) {
    out += format("  decided by [policy %s] %s %d (line %d): %s\n", d.policy->name.c_str(),
                  d.statement->kind == Statement::default_ ? "default" : "rule",
                  d.statement->number, d.statement->line, d.statement->text.c_str());
  } else if (d.timed_out || d.failed) {
    out += format("  default_action of [ppolicyd]: %s\n", d.note.c_str());
  } else {
    out += format("  no rule of [policy %s] matched: DUNNO\n", d.policy->name.c_str());
  }
  for (const auto& run : d.runs) {
    out += format("  module %s (%s)%s%s%s: code %d, info \"%s\"", run.inst->name.c_str(),
                  run.inst->type->name, run.args.empty() ? "" : " (", run.args.c_str(),
                  run.args.empty() ? "" : ")", run.result.code,
                  log_quote(run.result.info, 300).c_str());
    for (const auto& [k, v] : run.result.fields)
      out += format(", %s=%s", k.c_str(), log_quote(v.text(), 200).c_str());
    out += format(", cache %s, %.2f ms\n", run.cached ? "hit" : "miss", run.ms);
  }
  if (d.runs.empty() && d.policy) out += "  no module ran\n";
  out += format("  time %.2f ms\n", ms);
  return out;
}

}  // namespace ppolicy
