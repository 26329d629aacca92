// SPDX-License-Identifier: GPL-2.0-or-later
// The compiled form of a policy: expression nodes with their static types
// resolved (attributes to ids, module references to call sites, variables
// to slots), statements, actions with templates, and the policy sections
// with their selectors. Built once in the master when the configuration is
// loaded, shared read-only by the workers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/value.hpp"
#include "modules/module.hpp"

namespace ppolicy {

struct ModuleInstance;

enum class Op : unsigned char {
  lit,
  attr,
  derived,
  var,
  mod_code,
  mod_info,
  mod_cached,
  mod_time,
  mod_field,
  not_,
  neg,
  and_,
  or_,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  match,
  nomatch,
  in,
  notin,
  add,
  sub,
  mul,
  div,
  mod,
  concat,
  builtin,
};

enum class Builtin : unsigned char {
  lower,
  upper,
  domain,
  localpart,
  length,
  contains,
  startswith,
  endswith,
  if_,
  number,
  string,
  attr,
  present,
  min,
  max,
};

struct Node {
  Op op = Op::lit;
  Type type = Type::none;
  Type elem = Type::none;   // element type of lists
  Value value;              // literal value (also the compiled regex of =~)
  int index = -1;           // attribute id, derived id, variable slot, call site, field, builtin
  size_t pos = 0, len = 0;  // in the statement text, for errors
  std::vector<std::unique_ptr<Node>> kids;
};

// A module reference with fixed arguments. Every distinct (instance, arguments)
// in a policy is one call site, run at most once per request.
struct CallSite {
  ModuleInstance* inst = nullptr;
  CallArgs args;
};

struct TemplatePart {
  std::string literal;
  std::unique_ptr<Node> expr;  // when set, the part is ${expr}
};

struct Action {
  std::string word;                // canonical: OK, DUNNO, REJECT, 450, PREPEND, ...
  std::vector<TemplatePart> text;  // optional text after the word
  std::string source;              // as written, for logs and -e
};

struct Statement {
  enum Kind { rule, set, run, default_ } kind = rule;
  int line = 0;
  int number = 0;                // 1-based position in the policy, for logs
  std::string text;              // source text (continuations joined)
  std::unique_ptr<Node> cond;    // rule condition; run guard (optional)
  std::unique_ptr<Node> expr;    // set value; run expression
  int var = -1;                  // set: variable slot
  Action action;                 // rule, default
  int stat_matches = -1;         // statistics counter
  int stat_shadow_differs = -1;  // shadow policies: decisions that differ from the live one
};

struct Policy {
  std::string name;
  int line = 0;
  std::vector<std::string> listen, context, state;  // selectors (empty: any)
  // A shadow policy decides nothing: it is evaluated beside the live policy
  // after the reply was sent, and its differences are logged and counted.
  bool shadow = false;
  int stat_shadow_runs = -1, stat_shadow_incomplete = -1;
  std::vector<Statement> statements;
  std::vector<CallSite> calls;
  std::vector<std::string> vars;
};

}  // namespace ppolicy
