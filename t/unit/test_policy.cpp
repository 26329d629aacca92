// SPDX-License-Identifier: GPL-2.0-or-later
// The policy language: parser errors (exact messages, with file:line and a
// caret), evaluation of valid programs, laziness and memoisation of module
// calls, saveResult attributes.
#include <boost/test/unit_test.hpp>

#include "base/log.hpp"
#include "conf/error.hpp"
#include "policy/eval.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/runner.hpp"
#include "shm/segment.hpp"
#include "svc/services.hpp"

using namespace ppolicy;

namespace {

const std::string k_head =
    "[ppolicyd]\n"
    "[module dummy]\ntype = Dummy\n"
    "[module other]\ntype = Dummy\ntest2 = other\n"
    "[module nap]\ntype = Sleep\nsleep = 1ms\n"
    "[policy main]\n";

std::string load_error(const std::string& policy) {
  try {
    Generation::load_text(k_head + policy, "t.conf", {});
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct Env {
  std::unique_ptr<Generation> cfg;
  Segment seg{1 << 20, 1 << 20, 4096};
  std::unique_ptr<Services> svc;
  explicit Env(const std::string& policy) {
    cfg = Generation::load_text(k_head + policy, "t.conf", {});
    cfg->register_stats(seg.stats());
    svc = std::make_unique<Services>(cfg->config(), &seg);
  }
  Decision decide(Request& r, StatsBuffer* stats = nullptr) {
    const Policy* p = cfg->select_policy(r);
    BOOST_REQUIRE(p);
    ModuleRunner runner(*cfg, *svc, stats);
    Evaluation ev(*p, r, runner, SteadyClock::now() + std::chrono::seconds(5),
                  cfg->server().default_action, stats);
    return ev.decide();
  }
  uint64_t counter(const std::string& name) {
    int i = seg.stats().find(name);
    return i < 0 ? 999 : seg.stats().get(i);
  }
};

Request req(std::initializer_list<std::pair<const char*, const char*>> attrs) {
  Request r;
  r.set("request", "smtpd_access_policy");
  r.set("protocol_state", "RCPT");
  r.set("client_address", "192.0.2.10");
  r.set("client_name", "mail.example.test");
  r.set("helo_name", "MAIL.example.test");
  r.set("sender", "alice@example.test");
  r.set("recipient", "bob@example.org");
  for (const auto& [k, v] : attrs)
    r.set(k, v);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(policy)

BOOST_AUTO_TEST_CASE(parse_errors_are_exact) {
  struct {
    const char* policy;
    const char* error;
  } cases[] = {
      {"rule = greylst < 0 -> DEFER\n",
       "t.conf:11: [policy main] rule: unknown name \"greylst\" (not a module, request attribute, "
       "variable or "
       "function; attr(\"greylst\") reads any attribute)\n    greylst < 0 -> DEFER\n    ^^^^^^^ "
       "column 1"},
      {"rule = dummy -> DEFER\n",
       "t.conf:11: [policy main] rule: a rule's condition must be a condition, not a number "
       "(compare it, e.g. "
       "\"greylist < 0\")\n    dummy -> DEFER\n    ^^^^^"},
      {"rule = sender == 5 -> OK\n",
       "rule: ==: cannot apply to string and number\n    sender == 5 -> OK\n    ^^^^^^^^^^^"},
      {"rule = sender < \"a\" -> OK\n", "comparison: cannot apply to string and string"},
      {"rule = dummy == 0 -> DEFERR x\n",
       "rule: unknown action \"DEFERR\" (OK, DUNNO, REJECT, DEFER, DEFER_IF_REJECT, "
       "DEFER_IF_PERMIT, 4NN, 5NN, "
       "WARN, INFO, HOLD, DISCARD, FILTER, REDIRECT, BCC, PREPEND)\n    dummy == 0 -> DEFERR x\n   "
       "               ^^^^^^ column 15"},
      {"rule = true -> PREPEND no colon\n", "PREPEND needs \"Header-Name: value\""},
      {"rule = true -> FILTER\n", "FILTER needs transport:destination"},
      {"rule = true -> REDIRECT\n", "REDIRECT needs one address"},
      {"rule = true OK\n", "unexpected name after the expression"},
      {"rule = true\n", "expected \"-> ACTION\" after the condition"},
      {"rule = (true -> OK\n", "expected \")\""},
      {"rule = sender =~ /[/ -> OK\n", "invalid regex /[/"},
      // Found by the policy fuzzer: regcomp's memory grows exponentially with stacked repetitions.
      {"rule = sender =~ /(((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+/ -> OK\n",
       "is too complex"},
      {"rule = sender =~ /1+++++++++++++++++++++++++++++/ -> OK\n", "stacked repetition operators"},
      {"rule = sender =~ /((a{100}){100}){100}/ -> OK\n", "is too complex"},
      {"rule = sender =~ /(a|b)\\1/ -> OK\n", "back-references"},
      {"rule = sender =~ /^(localhost|1********27)$/i -> OK\n", "stacked repetition operators"},
      {"rule = sender =~ /a{2}{3}/ -> OK\n", "stacked repetition operators"},
      {"rule = sender =~ client_name -> OK\n",
       "right side of =~ must be a /regex/ or a string literal"},
      {"rule = dummy.nofield == 1 -> OK\n",
       "module dummy (Dummy) has no field \"nofield\" (fields: code, info, cached, time)"},
      {"rule = dummy(x = 1) == 0 -> OK\n", "module dummy (Dummy) has no argument \"x\""},
      {"rule = lower(5) == \"a\" -> OK\n", "argument must be a string, not a number"},
      {"rule = lower(\"a\", \"b\") == \"a\" -> OK\n", "lower() takes 1 argument"},
      {"rule = lower == \"a\" -> OK\n", "lower is a function: write lower(...)"},
      {"rule = if(true, 1, \"a\") == 1 -> OK\n",
       "if(): both results must have the same type (number, string)"},
      {"rule = sender in \"abc\" -> OK\n", "right side of \"in\" must be a [list] or a network"},
      {"rule = sender in [1, 2] -> OK\n", "\"in\": a string cannot be in a list of numbers"},
      {"rule = sender in [\"a\", 2] -> OK\n", "mixed list: a number among strings"},
      {"rule = client_address in 192.0.2.0/33 -> OK\n", "invalid network \"192.0.2.0/33\""},
      {"rule = \"unterminated -> OK\n", "unterminated string"},
      {"rule = 1 + -> OK\n", "unexpected \"->\""},
      {"set x = \"a\"\nset x = 1\n",
       "t.conf:12: [policy main] set x: variable x was a string, cannot become a number"},
      {"set x = x + 1\n", "variable x is used in its own definition"},
      {"set sender = 1\n", "\"sender\" is a module, attribute or function name; choose another"},
      {"set x = true -> 1\n", "\"->\" in set (use if(condition, a, b))"},
      {"run = true -> dummy -> other\n", "only one \"->\" in run"},
      {"default = OK\nrule = true -> OK\n",
       "t.conf:12: [policy main] rule: statement after \"default\" (line 11) is never reached"},
      {"rule = true -> OK ${sender\n", "expected \"}\" closing ${...}"},
      {"rule = true -> OK ${[\"a\"]}\n",
       "${...} must give a string, number or condition, not a list"},
      {"frobnicate = 1\n",
       "[policy main]: unknown key \"frobnicate\" (rule, set NAME, run, default, listen, context, "
       "state, shadow)"},
      {"rule = true -> OK\nstate = RCPT\n", "selectors go before the statements"},
      {"state = RCPTT\n", "unknown protocol state \"RCPTT\""},
      {"listen = inet:127.0.0.1:9\n",
       "inet:127.0.0.1:9 is not one of the [ppolicyd] listen addresses"},
      {"rule = dummy == 0\n   && true -> OK ${nope}\n",
       "t.conf:12: [policy main] rule: unknown name \"nope\""},
  };
  for (const auto& c : cases) {
    std::string err = load_error(c.policy);
    BOOST_TEST_INFO(c.policy);
    BOOST_TEST(err.find(c.error) != std::string::npos, "got: " << err);
  }
}

// A variable whose definition failed gives one error, not one more per
// statement that reads it (complex-subdomain.conf without its data file
// reported "left side of && must be a condition, not a number" three times).
BOOST_AUTO_TEST_CASE(no_follow_on_errors_of_a_failed_variable) {
  std::string err = load_error(
      "set bad = nosuch.score > 1\n"
      "set worse = bad && true\n"
      "rule = bad && dummy < 0 -> REJECT a\n"
      "rule = worse -> REJECT b\n"
      "set bad = 5\n"
      "rule = dummy.nofield == 1 -> OK\n");
  BOOST_TEST(
      err.find("t.conf:11: [policy main] set bad: unknown name \"nosuch\"") != std::string::npos,
      err);
  BOOST_TEST(err.find("has no field \"nofield\"") != std::string::npos, err);
  BOOST_TEST(err.find("must be a condition") == std::string::npos, err);
  BOOST_TEST(err.find("cannot become") == std::string::npos, err);
  BOOST_TEST(err.find("t.conf:12") == std::string::npos, err);
  BOOST_TEST(err.find("t.conf:13") == std::string::npos, err);
  BOOST_TEST(err.find("t.conf:14") == std::string::npos, err);
  BOOST_TEST(err.find("t.conf:15") == std::string::npos, err);
  // A module whose section failed: its error only.
  err = load_error(
      "set s = broken.code > 1\n"
      "rule = broken == 0 || s -> OK\n"
      "[module broken]\ntype = Dummy\nnonsense = 1\n");
  BOOST_TEST(err.find("t.conf:15: [module broken]: unknown key \"nonsense\"") != std::string::npos,
             err);
  BOOST_TEST(err.find("[policy main]") == std::string::npos, err);
}

BOOST_AUTO_TEST_CASE(evaluation) {
  struct {
    const char* policy;
    std::vector<std::pair<const char*, const char*>> attrs;
    const char* reply;
  } cases[] = {
      {"rule = sender == \"alice@example.test\" -> REJECT no\n", {}, "REJECT no"},
      {"rule = sender == \"x\" -> REJECT no\n", {}, "DUNNO"},
      {"rule = sender == \"x\" -> REJECT no\ndefault = OK\n", {}, "OK"},
      {"rule = sender_domain == \"example.test\" && recipient_domain != \"x\" -> 450 4.7.1 "
       "${sender_local} at ${recipient_domain}\n",
       {},
       "450 4.7.1 alice at example.org"},
      {"rule = client_address in [192.0.2.0/24, 2001:db8::/32] -> HOLD\n", {}, "HOLD"},
      {"rule = client_address in [192.0.2.0/24, 2001:db8::/32] -> HOLD\n",
       {{"client_address", "2001:db8::5"}},
       "HOLD"},
      {"rule = client_address in [::1, fe80::/10] -> HOLD\n", {{"client_address", "::1"}}, "HOLD"},
      {"rule = client_address in [::1, fe80::/10] -> HOLD\n",
       {{"client_address", "fe80::1:2"}},
       "HOLD"},
      {"rule = client_address not in 192.0.2.0/24 -> HOLD\n",
       {{"client_address", "198.51.100.1"}},
       "HOLD"},
      {"rule = client_address in 192.0.2.0/24 -> HOLD\n", {{"client_address", "garbage"}}, "DUNNO"},
      {"rule = sender =~ /^ALICE@/i -> DISCARD\n", {}, "DISCARD"},
      {"rule = sender !~ \"^ALICE@\" -> DISCARD\n", {}, "DISCARD"},
      {"rule = recipient_count * 2 + size / 10 == 9 -> WARN math\n",
       {{"recipient_count", "2"}, {"size", "50"}},
       "WARN math"},
      {"rule = size / 0 == 0 && size % 0 == 0 -> OK\n", {{"size", "7"}}, "OK"},
      {"rule = lower(client_name) == lower(helo_name) -> OK same\n", {}, "OK same"},
      {"rule = domain(\"A@B@EXAMPLE.NET\") + \":\" + localpart(\"a@b@c\") == \"example.net:a@b\" "
       "-> OK\n",
       {},
       "OK"},
      {"rule = contains(sender, \"@ex\") && startswith(sender, \"ali\") && endswith(sender, "
       "\".test\") && length(sender) == 18 -> OK\n",
       {},
       "OK"},
      {"rule = number(\"4.5\") + number(\"junk\") == 4.5 && string(2.5) == \"2.5\" && string(true) "
       "== \"true\" -> OK\n",
       {},
       "OK"},
      {"rule = attr(\"future_thing\") == \"x\" && present(\"future_thing\") && !present(\"nope\") "
       "-> OK\n",
       {{"future_thing", "x"}},
       "OK"},
      {"rule = min(3, 4) + max(3, 4) == 7 && -min(1, 2) == -1 -> OK\n", {}, "OK"},
      {"rule = if(sender == \"\", \"null\", \"real\") == \"real\" -> OK\n", {}, "OK"},
      {"rule = recipient in [\"bob@example.org\", \"postmaster@example.org\"] -> OK\n", {}, "OK"},
      {"rule = recipient_count in [1, 2, 3] -> OK\n", {{"recipient_count", "3"}}, "OK"},
      {"rule = client_ptr == \"\" -> OK no ptr\n", {{"client_name", "unknown"}}, "OK no ptr"},
      // Variables and the original's threshold arithmetic.
      {"set t = 5\nset t = t - if(lower(client_name) != lower(helo_name), 0.5, 0)\n"
       "set t = t - if(sender_domain != \"example.test\", 1, 0)\nrule = t == 5 -> OK ${t}\n",
       {},
       "OK 5"},
      {"set t = 5\nset t = t - if(client_name != helo_name, 0.5, 0)\nrule = t < 5 -> OK ${t}\n",
       {},
       "OK 4.5"},
      // Module codes, info, fields of the trace.
      {"rule = dummy == 0 && dummy.info == \"dummy\" -> REJECT ${dummy.info} ${dummy.code}\n",
       {},
       "REJECT dummy 0"},
      {"rule = nap == 0 && nap.time >= 0 -> OK slept\n", {}, "OK slept"},
      // Expansions that produce unsafe text are cleaned.
      {"rule = true -> REJECT ${attr(\"x\")}\n", {{"x", "a\tb"}}, "REJECT a b"},
      // An expansion that breaks a required argument falls back to default_action.
      {"rule = true -> PREPEND ${attr(\"h\")}\n", {{"h", "no colon here"}}, "DUNNO"},
  };
  for (const auto& c : cases) {
    Env env(c.policy);
    Request r = req({});
    for (const auto& [k, v] : c.attrs)
      r.set(k, v);
    BOOST_TEST_INFO(c.policy);
    BOOST_TEST(env.decide(r).reply == c.reply);
  }
}

BOOST_AUTO_TEST_CASE(reply_text_is_capped) {
  Env env("rule = true -> REJECT ${attr(\"long\")}\n");
  Request r = req({});
  r.set("long", std::string(1000, 'z'));
  BOOST_TEST(env.decide(r).reply == "REJECT " + std::string(450, 'z'));
  // On a UTF-8 character boundary.
  r.set("long", std::string(449, 'z') + "\xc3\xa9\xc3\xa9");
  BOOST_TEST(env.decide(r).reply == "REJECT " + std::string(449, 'z'));
}

BOOST_AUTO_TEST_CASE(lazy_and_memoised) {
  Env env(
      "rule = sender == \"nobody@x\" && dummy == 0 -> OK never\n"
      "rule = false || (true && !true && nap == 0) -> OK never\n"
      "rule = other == 0 && other.info == \"dummy\" && other(test1 = \"x\") == 0 -> OK other "
      "ran\n");
  StatsBuffer stats(&env.seg.stats());
  Request r = req({});
  Decision d = env.decide(r, &stats);
  stats.flush();
  BOOST_TEST(d.reply == "OK other ran");
  // Modules behind false conditions never ran.
  BOOST_TEST(env.counter("ppolicy_module_calls_total{module=\"dummy\"}") == 0u);
  BOOST_TEST(env.counter("ppolicy_module_calls_total{module=\"nap\"}") == 0u);
  // "other" ran once without arguments (memoised) and once with them.
  BOOST_TEST(env.counter("ppolicy_module_calls_total{module=\"other\"}") == 2u);
  BOOST_TEST(d.runs.size() == 2u);
  BOOST_TEST(d.runs[1].args == "test1=\"x\"");
  // saveResult: the second run of the same module is saved with "#1".
  BOOST_TEST(r.get("result_other_code") == "0");
  BOOST_TEST(r.get("result_other_info") == "dummy");
  BOOST_TEST(r.get("result_other_cache") == "0");
  BOOST_TEST(r.get("result_other#1_code") == "0");
  BOOST_TEST(env.counter("ppolicy_rule_matches_total{policy=\"main\",rule=\"3\",line=\"13\"}") ==
             1u);
}

BOOST_AUTO_TEST_CASE(result_cache_shared) {
  Env env("rule = dummy == 0 -> OK\n");
  Request a = req({{"client_address", "192.0.2.1"}});
  BOOST_TEST(!env.decide(a).runs[0].cached);
  Request b = req({{"client_address", "192.0.2.1"}});
  BOOST_TEST(env.decide(b).runs[0].cached);
  BOOST_TEST(b.get("result_dummy_cache") == "1");
  Request c = req({{"client_address", "192.0.2.2"}});
  BOOST_TEST(!env.decide(c).runs[0].cached);
}

BOOST_AUTO_TEST_CASE(deadline_gives_default_action) {
  auto cfg = Generation::load_text(
      "[ppolicyd]\ndefault_action = DEFER_IF_PERMIT try later\n[module nap]\ntype = Sleep\nsleep = "
      "2\n"
      "[policy main]\nrule = nap == 0 -> OK\n",
      "t.conf", {});
  Segment seg(1 << 20, 1 << 20, 64);
  Services svc(cfg->config(), &seg);
  Request r = req({});
  ModuleRunner runner(*cfg, svc, nullptr);
  Evaluation ev(*cfg->policies[0], r, runner, SteadyClock::now() + std::chrono::milliseconds(100),
                cfg->server().default_action, nullptr);
  auto start = SteadyClock::now();
  Decision d = ev.decide();
  double s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  BOOST_TEST(d.reply == "DEFER_IF_PERMIT try later");
  BOOST_TEST(d.timed_out);
  BOOST_TEST(s < 0.5);
}

BOOST_AUTO_TEST_CASE(policy_selection) {
  auto cfg = Generation::load_text(
      "[ppolicyd]\nlisten = inet:127.0.0.1:10030, inet:127.0.0.1:10031\n"
      "[policy submission]\ncontext = submission\ndefault = OK sub\n"
      "[policy second_port]\nlisten = inet:127.0.0.1:10031\ndefault = OK port2\n"
      "[policy eom]\nstate = END-OF-MESSAGE\ndefault = OK eom\n"
      "[policy main]\ndefault = OK main\n",
      "t.conf", {});
  Request r = req({});
  r.listener = "inet:127.0.0.1:10030";
  BOOST_TEST(cfg->select_policy(r)->name == "main");
  r.set("policy_context", "submission");
  BOOST_TEST(cfg->select_policy(r)->name == "submission");
  r.set("policy_context", "");
  r.listener = "inet:127.0.0.1:10031";
  BOOST_TEST(cfg->select_policy(r)->name == "second_port");
  r.listener = "inet:127.0.0.1:10030";
  r.set("protocol_state", "end-of-message");
  BOOST_TEST(cfg->select_policy(r)->name == "eom");
}

BOOST_AUTO_TEST_CASE(unreachable_policy_is_an_error) {
  try {
    Generation::load_text(
        "[ppolicyd]\n[policy a]\ndefault = OK\n[policy b]\ncontext = x\ndefault = OK\n", "t.conf",
        {});
    BOOST_FAIL("no error");
  } catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()).find("t.conf:4: [policy b] can never be selected") !=
                   std::string::npos,
               e.what());
  }
}

// Issue 13 §6: the text of an exception thrown under evaluation (a
// module's, which may carry request data) is logged quoted: no second log
// line, no terminal escape.
struct ThrowingRunner : CallRunner {
  ModuleRun run(const CallSite&, Request&, SteadyClock::time_point) override {
    throw std::runtime_error("boom\nppolicyd[1]: forged line\x1b[31m");
  }
};

// A comparison holds a view of its left side (an attribute) while the
// right side runs a module, whose saved results make the request's list of
// attributes grow and move: the view must stay valid (ASan sees a stale one).
struct SavingRunner : CallRunner {
  ModuleRun run(const CallSite&, Request& request, SteadyClock::time_point) override {
    for (size_t i = 0; i < 200; ++i)
      request.set_numbered(i, "saved_" + std::to_string(i), "value");
    ModuleRun m;
    m.result = Result(1, "mx.test");
    return m;
  }
};

BOOST_AUTO_TEST_CASE(attribute_view_survives_saved_results) {
  Env env("rule = sasl_username == dummy.info -> OK\ndefault = DUNNO\n");
  for (bool kept : {false, true}) {
    // An attribute as the reader leaves it (in its buffer), or copied
    // (set(), keep_values()): short enough to sit inside a std::string.
    std::string sent = "mx.test";
    Request r = req({});
    if (kept)
      r.set("sasl_username", sent);
    else
      r.set_sent("sasl_username", sent);
    const Policy* p = env.cfg->select_policy(r);
    BOOST_TEST_REQUIRE(p);
    SavingRunner runner;
    Evaluation ev(*p, r, runner, SteadyClock::now() + std::chrono::seconds(5), "DUNNO", nullptr);
    BOOST_TEST(ev.decide().reply == "OK");
    BOOST_TEST(r.size() > 200u);
  }
  // The same guarantee of Request itself.
  Request r = req({});
  r.set("sasl_username", "mx.test");
  std::string_view held = r.get(Attr::sasl_username);
  for (size_t i = 0; i < 200; ++i)
    r.set_numbered(i, "saved_" + std::to_string(i), "value");
  BOOST_TEST(held == "mx.test");
}

BOOST_AUTO_TEST_CASE(exception_text_is_logged_quoted) {
  Env env("rule = dummy == 1 -> OK\ndefault = DUNNO\n");
  Request r = req({});
  const Policy* p = env.cfg->select_policy(r);
  BOOST_TEST_REQUIRE(p);
  std::vector<std::string> lines;
  log_capture([&](LogLevel, std::string_view m) { lines.emplace_back(m); });
  ThrowingRunner runner;
  Evaluation ev(*p, r, runner, SteadyClock::now() + std::chrono::seconds(5), "DEFER_IF_PERMIT",
                nullptr);
  Decision d = ev.decide();
  log_capture(nullptr);
  BOOST_TEST(d.failed);
  BOOST_TEST(d.reply == "DEFER_IF_PERMIT");
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0] ==
             "policy main: evaluation failed: boom\\x0appolicyd[1]: forged line\\x1b[31m");
  BOOST_TEST(d.note == "boom\\x0appolicyd[1]: forged line\\x1b[31m");
}

// A module that throws (a backend's error text, which may carry request
// data): runner.cpp logs the text quoted on one line, the call answers 0
// with "<name> failed: <text>" as its info, and the failure is never put in
// the result cache (the next request runs the module again).
struct ThrowingModule : Module {
  int calls = 0;
  bool cache_key(const Request&, const CallArgs&, std::string& key) const override {
    key += "same for every request";
    return true;
  }
  Result check(Request&, const CallArgs&, CheckContext&) override {
    ++calls;
    throw std::runtime_error("backend said \"no\"\nppolicyd[1]: forged line\x1b[31m");
  }
};

BOOST_AUTO_TEST_CASE(module_exception_is_quoted_answers_0_and_is_not_cached) {
  Env env("rule = dummy == 0 -> OK module failed\ndefault = DUNNO\n");
  ModuleInstance* inst = nullptr;
  for (auto& m : env.cfg->modules)
    if (m->name == "dummy") inst = m.get();
  BOOST_TEST_REQUIRE(inst);
  inst->cache = CacheLifetimes{600, 600, 600};  // would be cached, were it an answer
  auto owned = std::make_unique<ThrowingModule>();
  ThrowingModule* thrower = owned.get();
  inst->module = std::move(owned);
  std::vector<std::string> lines;
  log_capture([&](LogLevel, std::string_view m) { lines.emplace_back(m); });
  Request r = req({});
  Decision d = env.decide(r);
  Request again = req({});
  Decision d2 = env.decide(again);
  log_capture(nullptr);
  const std::string quoted = "backend said \"no\"\\x0appolicyd[1]: forged line\\x1b[31m";
  BOOST_TEST(d.reply == "OK module failed");
  BOOST_TEST_REQUIRE(d.runs.size() == 1u);
  BOOST_TEST(d.runs[0].result.code == 0);
  BOOST_TEST(d.runs[0].result.info == "dummy failed: " + quoted);
  BOOST_TEST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(lines[0] == "module dummy (Dummy): " + quoted);
  BOOST_TEST(thrower->calls == 2);
  BOOST_TEST_REQUIRE(d2.runs.size() == 1u);
  BOOST_TEST(!d2.runs[0].cached);
  BOOST_TEST(d2.reply == "OK module failed");
}

BOOST_AUTO_TEST_SUITE_END()
