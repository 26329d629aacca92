// SPDX-License-Identifier: GPL-2.0-or-later
// conf/: the INI layer, option rows, the whole-file model and -o overrides.
#include <boost/test/unit_test.hpp>

#include "conf/config.hpp"
#include "conf/error.hpp"
#include "conf/ini.hpp"
#include "runtime/generation.hpp"

using namespace ppolicy;

namespace {

std::string error_of(const std::string& text, std::vector<Override> ov = {}) {
  try {
    Generation::load_text(text, "p.conf", ov);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const char* k_min = "[ppolicyd]\n[policy main]\ndefault = DUNNO\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(ini_lines_continuations_comments) {
  ErrorList errors;
  IniFile f = read_ini_text(
      "# comment\n[policy main]\nrule = a == \"x ; y\" ; trailing comment\n"
      "   && b   ; comment on a continuation\n  ; indented comment line\nrule = c\n[empty]\n",
      "x.conf", errors);
  BOOST_TEST(errors.empty());
  BOOST_TEST_REQUIRE(f.entries.size() == 3u);
  BOOST_TEST(f.entries[0].value == "a == \"x ; y\"");
  BOOST_TEST(f.entries[0].line == 3);
  BOOST_TEST(f.entries[1].continuation);
  BOOST_TEST(f.entries[1].value == "&& b");
  BOOST_TEST(f.entries[1].line == 4);
  BOOST_TEST(!f.entries[2].continuation);
  BOOST_TEST(f.sections.size() == 2u);  // [empty] is seen although it has no keys
  BOOST_TEST(f.sections[1].name == "empty");
}

BOOST_AUTO_TEST_CASE(ini_errors) {
  ErrorList e1;
  read_ini_text("[ppolicyd]\nno equals sign here\n", "x.conf", e1);
  BOOST_TEST(e1.errors().at(0).find("x.conf:2: syntax error") == 0u, e1.errors().at(0));
  ErrorList e2;
  read_ini_text("[ppolicyd]\nlisten = " + std::string(5000, 'x') + "\n", "x.conf", e2);
  BOOST_TEST(e2.errors().at(0).find("x.conf:2: line longer than") == 0u, e2.errors().at(0));
  ErrorList e3;
  read_ini_text("orphan = 1\n", "x.conf", e3);
  BOOST_TEST(e3.errors().at(0) == "x.conf:1: \"orphan\" outside of a [section]");
}

BOOST_AUTO_TEST_CASE(defaults_and_values) {
  auto c = Generation::load_text(k_min, "p.conf", {});
  BOOST_TEST(c->server().listen == std::vector<std::string>{"inet:127.0.0.1:10030"});
  BOOST_TEST(c->server().user == "ppolicy");
  BOOST_TEST(c->server().request_timeout_ms == 10000);
  BOOST_TEST(c->server().idle_timeout_s == 330);
  BOOST_TEST(c->server().default_action == "DUNNO");
  BOOST_TEST(c->server().max_request_size == 65536u);
  BOOST_TEST(c->server().state_file == "/var/lib/ppolicy/ppolicyd.state");
  auto d = Generation::load_text(
      "[ppolicyd]\nlisten = inet:127.0.0.1:1, inet:[::1]:2\n  unix:/run/x.sock\nrequest_timeout = "
      "250ms\n"
      "default_action = defer_if_permit Service temporarily unavailable\nunix_socket_mode = 0660\n"
      "[policy main]\ndefault = DUNNO\n",
      "p.conf", {});
  BOOST_TEST(d->server().listen.size() == 3u);
  BOOST_TEST(d->server().request_timeout_ms == 250);
  BOOST_TEST(d->server().default_action == "DEFER_IF_PERMIT Service temporarily unavailable");
  BOOST_TEST(d->server().unix_socket_mode == 0660u);
}

BOOST_AUTO_TEST_CASE(errors_with_file_and_line) {
  struct {
    std::string text;
    const char* error;
  } cases[] = {
      {"[ppolicyd]\nmin_workers = many\n",
       "p.conf:2: [ppolicyd] \"min_workers\": invalid integer \"many\""},
      {"[ppolicyd]\nmin_workers = 0\n",
       "p.conf:2: [ppolicyd] \"min_workers\": value 0 is outside 1..10000"},
      {"[ppolicyd]\nmin_workers = 9\nmax_workers = 5\n",
       "p.conf:2: [ppolicyd] \"min_workers\": is larger than max_workers"},
      {"[ppolicyd]\nfrobnicate = 1\n", "p.conf:2: [ppolicyd]: unknown key \"frobnicate\""},
      {"[ppolicyd]\nuser = a\nuser = b\n",
       "p.conf:3: [ppolicyd]: \"user\" is duplicate (first set on line 2)"},
      {"[ppolicyd]\nlisten = tcp:1.2.3.4:5\n", "expected inet:HOST:PORT or unix:/PATH"},
      {"[ppolicyd]\nlisten = inet:localhost:5\n",
       "HOST must be a numeric IPv4 address or [IPv6] address"},
      {"[ppolicyd]\nlisten = inet:::1:5\n", "write IPv6 addresses in brackets"},
      {"[ppolicyd]\nlisten = inet:127.0.0.1:70000\n", "invalid port"},
      {"[ppolicyd]\nlisten = unix:relative/path\n", "unix: needs an absolute path"},
      {"[ppolicyd]\nrequest_timeout = soon\n", "invalid duration \"soon\""},
      {"[ppolicyd]\ndefault_action = MAYBE\n",
       "p.conf:2: [ppolicyd] \"default_action\": unknown action \"MAYBE\""},
      {"[ppolicyd]\nlog = somewhere\n", "invalid value \"somewhere\" (one of auto|syslog|stderr)"},
      {"[ppolicyd]\nsyslog_facility = mial\n", "unknown facility"},
      {"[ppolicyd]\nunix_socket_mode = rw\n", "not an octal mode"},
      {"[frob]\nx = 1\n", "p.conf:1: unknown section [frob]"},
      {"[module]\ntype = Dummy\n", "p.conf:1: [module]: expected \"[module NAME]\""},
      {"[module x]\ntest1 = 1\n", "p.conf:1: [module x]: \"type\" is required"},
      {"[module x]\ntype = Frob\n",
       "p.conf:2: [module x]: unknown module type \"Frob\" (known: Dummy,"},
      {"[module 1x]\ntype = Dummy\n", "a module name is letters, digits and \"_\""},
      {"[module sender]\ntype = Dummy\n",
       "[module sender]: the name is a request attribute or function"},
      {"[module x]\ntype = Dummy\nbogus = 1\n", "p.conf:3: [module x]: unknown key \"bogus\""},
      {"[module x]\ntype = Dummy\ntype = Sleep\n",
       "p.conf:3: [module x]: \"type\" is duplicate (the module type was set on line 2)"},
      {"[module x]\ntype = Dummy\ncachePositive = forever\n",
       "p.conf:3: [module x] \"cachePositive\": invalid duration"},
      {"[module d]\ntype = DumpDataFile\n", "[module d]: \"fileName\" is required"},
      {"[module d]\ntype = DumpDataFile\nfileName = /nonexistent/dir/f\n",
       "p.conf:3: [module d] \"fileName\": directory /nonexistent/dir does not exist"},
      {"[ppolicyd]\n", "no [policy NAME] section"},
  };
  for (const auto& c : cases) {
    std::string text = c.text;
    if (text.find("[policy") == std::string::npos &&
        std::string(c.error) != "no [policy NAME] section")
      text += "[policy main]\ndefault = DUNNO\n";
    std::string err = error_of(text);
    BOOST_TEST_INFO(c.text);
    BOOST_TEST(err.find(c.error) != std::string::npos, "got: " << err);
  }
}

BOOST_AUTO_TEST_CASE(all_errors_reported_at_once) {
  std::string err = error_of(
      "[ppolicyd]\nmin_workers = x\nbogus = 1\n[module a]\ntype = Nope\n[policy main]\nrule = zz "
      "-> OK\n");
  BOOST_TEST(err.find("p.conf:2:") != std::string::npos);
  BOOST_TEST(err.find("p.conf:3:") != std::string::npos);
  BOOST_TEST(err.find("p.conf:5:") != std::string::npos);
  BOOST_TEST(err.find("p.conf:7:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(overrides) {
  auto o = parse_override("ppolicyd.listen=inet:127.0.0.1:10031");
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(o->section == "ppolicyd");
  BOOST_TEST(o->key == "listen");
  BOOST_TEST(o->value == "inet:127.0.0.1:10031");
  auto m = parse_override("module greylist.delay = 60");
  BOOST_TEST(m->section == "module greylist");
  BOOST_TEST(m->key == "delay");
  BOOST_TEST(!parse_override("nodot=1").has_value());
  auto c = Generation::load_text(
      "[ppolicyd]\nlisten = inet:127.0.0.1:1\n   inet:127.0.0.1:2\n[policy main]\ndefault = "
      "DUNNO\n",
      "p.conf", {*o, *parse_override("ppolicyd.min_workers=7")});
  BOOST_TEST(c->server().listen == std::vector<std::string>{"inet:127.0.0.1:10031"});
  BOOST_TEST(c->server().min_workers == 7);
  std::string err = error_of(k_min, {*parse_override("ppolicyd.nokey=1")});
  BOOST_TEST(err.find("unknown key \"nokey\"") != std::string::npos, err);
}

BOOST_AUTO_TEST_CASE(module_fingerprints_change_with_parameters) {
  auto a = Generation::load_text("[module d]\ntype = Dummy\n[policy main]\ndefault = DUNNO\n",
                                 "p.conf", {});
  auto b = Generation::load_text(
      "[module d]\ntype = Dummy\ntest2 = x\n[policy main]\ndefault = DUNNO\n", "p.conf", {});
  auto c = Generation::load_text("[module d]\ntype = dummy\n[policy main]\ndefault = DUNNO\n",
                                 "p.conf", {});
  BOOST_TEST(a->module("d")->key_prefix != b->module("d")->key_prefix);
  BOOST_TEST(a->module("d")->key_prefix ==
             c->module("d")->key_prefix);  // type names are case-insensitive
  BOOST_TEST(a->module("d")->cache.positive == 900);
}

BOOST_AUTO_TEST_SUITE_END()
