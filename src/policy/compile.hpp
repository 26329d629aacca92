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

#include <memory>
#include <string>
#include <vector>

#include "conf/error.hpp"
#include "conf/ini.hpp"
#include "policy/ast.hpp"

namespace ppolicy {

class Config;

std::unique_ptr<Policy> compile_policy(const std::string& name, int line,
                                       const std::vector<const IniEntry*>& entries, Config& config,
                                       ErrorList& errors);

}  // namespace ppolicy
