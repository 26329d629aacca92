// SPDX-License-Identifier: GPL-2.0-or-later
// Policy tests: files of requests with the decisions they must get, kept
// next to the policies (ppolicy.conf(5), POLICY TESTS). A test may fix the
// result of any module instance (`greylist = -1`, `dnsbl.hits = 2`), so the
// policy's logic is proved without its backends; a module that a test
// reaches without a fixed result fails that test instead of touching DNS or
// a database. The files named by [ppolicyd] policy_tests run at every load
// (start, -t, SIGHUP): a failing test is a configuration error, so a reload
// that breaks an expected decision is refused like a syntax error.
// `ppolicyd -T FILE` runs one file and prints the trace of each failure.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conf/error.hpp"
#include "modules/module.hpp"

namespace ppolicy {

class Generation;
struct ModuleInstance;

struct PolicyTest {
  std::string name, file;
  int line = 0;
  std::string expect;              // action word, or the whole reply when it has a space
  std::optional<int> expect_rule;  // rule number; 0: the policy's default
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string listener;  // selects the policy as the listener would
  std::vector<std::pair<const ModuleInstance*, Result>> fixed;
};

// Read a test file against a loaded generation (module names and fields are
// checked here); problems go to `errors` as "file:line: what".
std::vector<PolicyTest> read_policy_tests(const std::string& path, const Generation& gen,
                                          ErrorList& errors);

// Run one test; "" when it passed, else what went wrong. With `trace`, the
// `ppolicyd -e` trace of the evaluation is appended to it.
std::string run_policy_test(const Generation& gen, const PolicyTest& test,
                            std::string* trace = nullptr);

// Every file of [ppolicyd] policy_tests (relative names: to the
// configuration file's folder); each failure goes to `errors`. Returns the
// number of tests run.
size_t check_policy_tests(const Generation& gen, ErrorList& errors);

// ppolicyd -T: run `path`, print each result to `out`; the exit status
// (0 all passed, 1 a test failed or the file has errors).
int run_policy_test_file(const Generation& gen, const std::string& path, FILE* out);

// A test file name as the configuration names it: relative to its folder.
std::string policy_test_path(const Generation& gen, const std::string& name);

}  // namespace ppolicy
