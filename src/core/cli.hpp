// SPDX-License-Identifier: GPL-2.0-or-later
// The command-line modes that do not run the daemon: module documentation
// (-M), and evaluating requests from standard input (-e).
#pragma once

#include <string>

namespace ppolicy {

class Config;
class Generation;

// MODULES-style documentation of one module type, or of all ("" = all).
// Returns false when `type` is unknown.
bool print_module_docs(const std::string& type);

// The fixed sections ([ppolicyd], [dns], [database]) with every key, its
// default and its help, in ppolicy.conf syntax (like postconf -d).
void print_defaults();

// The fixed sections' keys whose effective value (file and -o) differs from
// the default, in ppolicy.conf syntax (like postconf -n); sections without
// such a key are left out.
void print_non_defaults(const Config& config);

// Read Postfix policy requests from stdin and print, for each, the action,
// the rule that decided and every module run. Returns the exit status.
int evaluate_stdin(Generation& gen);

}  // namespace ppolicy
