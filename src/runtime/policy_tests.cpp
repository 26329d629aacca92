// SPDX-License-Identifier: GPL-2.0-or-later
#include "runtime/policy_tests.hpp"

#include <chrono>

#include "base/strings.hpp"
#include "conf/ini.hpp"
#include "modules/instance.hpp"
#include "policy/eval.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/handler.hpp"
#include "runtime/runner.hpp"

namespace ppolicy {
namespace {

constexpr std::string_view k_test_prefix = "test ";

// Serves the fixed results of a test; a module the test did not fix is
// never called (no DNS, no database): its run answers 0 and is remembered,
// and the test fails naming it.
class FixedRunner final : public CallRunner {
 public:
  explicit FixedRunner(const PolicyTest& test) : d_test(test) {}

  ModuleRun run(const CallSite& site, Request& request, SteadyClock::time_point) override {
    ModuleRun run;
    run.inst = site.inst;
    run.args = site.args.key();
    bool found = false;
    for (const auto& [inst, result] : d_test.fixed)
      if (inst == site.inst) run.result = result, found = true;
    if (!found) {
      run.result = Result(0, "not fixed by the test");
      unfixed.push_back(site.inst->name);
    }
    if (site.inst->save_result) d_saver.save(run, request);
    return run;
  }

  std::vector<std::string> unfixed;

 private:
  const PolicyTest& d_test;
  ResultSaver d_saver;
};

Result* fixed_result(PolicyTest& t, const ModuleInstance* inst) {
  for (auto& [i, r] : t.fixed)
    if (i == inst) return &r;
  t.fixed.emplace_back(inst, Result());
  return &t.fixed.back().second;
}

// One key of a [test NAME] section: expect, expect_rule, listener, a module
// instance (its code, info or a field) or else a request attribute.
void take_entry(PolicyTest& t, const IniEntry& e, const Generation& gen, std::string& why) {
  const std::string& k = e.key;
  std::string v(trim(e.value));
  if (k == "expect") {
    if (v.empty()) why = "expect needs an action (e.g. DUNNO, DEFER_IF_PERMIT, REJECT text)";
    t.expect = v;
    return;
  }
  if (k == "expect_rule") {
    auto n = parse_int(v);
    if (v == "default") {
      t.expect_rule = 0;
    } else if (n && *n > 0 && *n < 1000000) {
      t.expect_rule = static_cast<int>(*n);
    } else {
      why = format("expect_rule \"%s\": a rule number, or default", v.c_str());
    }
    return;
  }
  if (k == "listener") {
    t.listener = v;
    return;
  }
  auto dot = k.find('.');
  const ModuleInstance* inst = gen.module(std::string_view(k).substr(0, dot));
  if (!inst) {
    if (dot != std::string::npos)
      why = format("no module instance \"%s\" (NAME.FIELD fixes a field of a module)",
                   k.substr(0, dot).c_str());
    else
      t.attributes.emplace_back(k, v);
    return;
  }
  Result* r = fixed_result(t, inst);
  if (dot == std::string::npos) {
    auto code = parse_int(v);
    if (!code || *code < -1000 || *code > 1000)
      why = format("module %s: the code must be a number (e.g. %s = -1), not \"%s\"", k.c_str(),
                   k.c_str(), v.c_str());
    else
      r->code = static_cast<int>(*code);
    return;
  }
  std::string field = k.substr(dot + 1);
  if (field == "info") {
    r->info = v;
    return;
  }
  const FieldSpec* fs = find_field(*inst, field);
  if (!fs) {
    why = format("module %s (%s) has no field \"%s\"", inst->name.c_str(), inst->type->name,
                 field.c_str());
  } else if (fs->type == Type::number) {
    auto n = parse_double(v);
    if (!n)
      why = format("%s is a number, not \"%s\"", k.c_str(), v.c_str());
    else
      r->set(fs->name, *n);
  } else {
    r->set(fs->name, v);
  }
}

std::string describe(const Decision& d) {
  std::string out = "\"" + d.reply + "\"";
  if (d.statement && d.statement->kind == Statement::default_)
    out += format(" (default, line %d)", d.statement->line);
  else if (d.statement)
    out += format(" (rule %d, line %d)", d.statement->number, d.statement->line);
  else if (!d.policy)
    out += " (no policy selected)";
  else if (!d.note.empty())
    out += " (" + d.note + ")";
  else
    out += " (no rule matched)";
  return out;
}

bool reply_matches(const std::string& expect, const std::string& reply) {
  if (expect.find(' ') != std::string::npos) return iequals(expect, reply);
  return iequals(expect, std::string_view(reply).substr(0, reply.find(' ')));
}

}  // namespace

std::vector<PolicyTest> read_policy_tests(const std::string& path, const Generation& gen,
                                          ErrorList& errors) {
  std::vector<PolicyTest> tests;
  IniFile ini = read_ini_file(path, errors);
  for (const auto& sec : ini.sections) {
    if (sec.name.compare(0, k_test_prefix.size(), k_test_prefix) != 0 ||
        trim(sec.name.substr(k_test_prefix.size())).empty()) {
      errors.add(path, sec.line,
                 format("[%s]: sections of a policy test file are [test NAME]", sec.name.c_str()));
      continue;
    }
    // inih keeps 49 bytes of a section name: longer names would merge.
    if (sec.name.size() > 49) {
      errors.add(path, sec.line,
                 format("[%s]: a test name has at most %zu characters", sec.name.c_str(),
                        49 - k_test_prefix.size()));
      continue;
    }
    PolicyTest t;
    t.name = std::string(trim(sec.name.substr(k_test_prefix.size())));
    t.file = path;
    t.line = sec.line;
    for (const auto& e : ini.entries) {
      if (e.section != sec.name) continue;
      std::string why;
      if (e.continuation) {
        why = "a test key takes one line";
      } else {
        take_entry(t, e, gen, why);
      }
      if (!why.empty())
        errors.add(path, e.line, format("[test %s] %s", t.name.c_str(), why.c_str()));
    }
    if (t.expect.empty())
      errors.add(path, sec.line, format("[test %s] has no expect = ACTION", t.name.c_str()));
    tests.push_back(std::move(t));
  }
  if (ini.sections.empty() && errors.empty()) errors.add(path, 0, "no [test NAME] section");
  return tests;
}

std::string run_policy_test(const Generation& gen, const PolicyTest& test, std::string* trace) {
  Request request;
  // What Postfix sends with every request unless the test says otherwise.
  request.set("request", "smtpd_access_policy");
  request.set("protocol_state", "RCPT");
  for (const auto& [k, v] : test.attributes)
    request.set(k, v);
  request.listener = test.listener.empty() && !gen.server().listen.empty()
                         ? gen.server().listen.front()
                         : test.listener;
  Decision d;
  FixedRunner runner(test);
  auto start = SteadyClock::now();
  const Policy* p = gen.select_policy(request);
  if (p) {
    auto deadline = start + std::chrono::milliseconds(gen.server().request_timeout_ms);
    Evaluation ev(*p, request, runner, deadline, gen.server().default_action, nullptr);
    d = ev.decide();
  } else {
    d.reply = "DUNNO";
    d.note = "no [policy] section matches this request";
  }
  std::string why;
  if (!reply_matches(test.expect, d.reply)) {
    why = format("expected %s, got %s", test.expect.c_str(), describe(d).c_str());
  } else if (test.expect_rule) {
    int got = !d.statement                               ? -1
              : d.statement->kind == Statement::default_ ? 0
                                                         : d.statement->number;
    if (got != *test.expect_rule)
      why = format("expected %s, got %s",
                   *test.expect_rule ? format("rule %d", *test.expect_rule).c_str() : "default",
                   describe(d).c_str());
  }
  // Even a decision that matches proves nothing when it rests on a module
  // that answered 0 only because the test did not fix it.
  if (!runner.unfixed.empty())
    why += format("%smodule %s ran without a fixed result (add %s = CODE to the test)",
                  why.empty() ? "" : "; ", runner.unfixed.front().c_str(),
                  runner.unfixed.front().c_str());
  if (!why.empty() && trace) *trace = RequestHandler::trace(request, d, ms_since(start));
  return why;
}

std::string policy_test_path(const Generation& gen, const std::string& name) {
  if (name.empty() || name[0] == '/') return name;
  const std::string& conf = gen.config().path;
  auto slash = conf.rfind('/');
  return slash == std::string::npos ? name : conf.substr(0, slash + 1) + name;
}

size_t check_policy_tests(const Generation& gen, ErrorList& errors) {
  size_t run = 0;
  for (const auto& name : gen.server().policy_tests) {
    std::string path = policy_test_path(gen, name);
    size_t before = errors.size();
    auto tests = read_policy_tests(path, gen, errors);
    if (errors.size() != before) continue;
    for (const auto& t : tests) {
      ++run;
      std::string why = run_policy_test(gen, t);
      if (!why.empty())
        errors.add(path, t.line, format("policy test \"%s\": %s", t.name.c_str(), why.c_str()));
    }
  }
  return run;
}

int run_policy_test_file(const Generation& gen, const std::string& path, FILE* out) {
  ErrorList errors;
  auto tests = read_policy_tests(path, gen, errors);
  if (!errors.empty()) {
    for (const auto& e : errors.errors())
      std::fprintf(out, "%s\n", e.c_str());
    std::fprintf(out, "%s: the test file has errors\n", path.c_str());
    return 1;
  }
  int failed = 0;
  for (const auto& t : tests) {
    std::string trace;
    std::string why = run_policy_test(gen, t, &trace);
    if (why.empty()) {
      std::fprintf(out, "ok     %s:%d: %s\n", path.c_str(), t.line, t.name.c_str());
    } else {
      ++failed;
      std::fprintf(out, "FAILED %s:%d: %s: %s\n", path.c_str(), t.line, t.name.c_str(),
                   why.c_str());
      std::string ind;
      for (std::string_view rest = trace; !rest.empty();) {
        auto nl = rest.find('\n');
        ind += "       " + std::string(rest.substr(0, nl)) + "\n";
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      }
      std::fprintf(out, "%s", ind.c_str());
    }
  }
  std::fprintf(out, "%zu tests: %zu passed, %d failed\n", tests.size(), tests.size() - failed,
               failed);
  return failed ? 1 : 0;
}

}  // namespace ppolicy
