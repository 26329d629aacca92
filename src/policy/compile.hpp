// SPDX-License-Identifier: GPL-2.0-or-later
// Compiling one [policy NAME] section: its selectors (listen, context,
// state) and its statements, in order:
//
//   rule = CONDITION -> ACTION      first true rule answers
//   set NAME = EXPRESSION           a variable for later statements
//   run = [CONDITION ->] EXPRESSION run modules for their side effects
//   default = ACTION                the answer when no rule matched
//
// Errors name file:line and show the statement with a caret under the
// offending token.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/error.hpp"
#include "conf/ini.hpp"
#include "policy/ast.hpp"

namespace ppolicy {

class Request;

struct ModuleInstance;

// What a policy is compiled against: the module instances it may call, and
// the listeners its `listen` selector may name.
struct PolicyScope {
  const std::string& file;                 // for messages
  const std::vector<std::string>& listen;  // [ppolicyd] listen
  const std::vector<std::string>& broken;  // instances whose sections have errors
  std::function<ModuleInstance*(std::string_view name)> module;
};

std::unique_ptr<Policy> compile_policy(const std::string& name, int line,
                                       const std::vector<IniEntry>& entries,
                                       const PolicyScope& scope, ErrorList& errors);

// Does `policy` take `request` (its listen, context and state selectors)?
bool policy_selects(const Policy& policy, const Request& request);

}  // namespace ppolicy
