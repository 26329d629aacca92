// SPDX-License-Identifier: GPL-2.0-or-later
// Recursive-descent parser of policy expressions with static typing: names
// are resolved (variable, module instance, function, request attribute) and
// every operator's operand types are checked, so a configuration that loads
// cannot meet a type error at run time. Errors are PolicyError with the
// offending token's position, for a caret under the statement.
//
//   expr   := or
//   or     := and ("||" and)*
//   and    := not ("&&" not)*
//   not    := "!" not | cmp
//   cmp    := sum [("=="|"!="|"<"|"<="|">"|">="|"=~"|"!~"|"in"|"not" "in") sum]
//   sum    := prod (("+"|"-") prod)*
//   prod   := unary (("*"|"/"|"%") unary)*
//   unary  := "-" unary | primary
//   primary:= NUMBER | STRING | REGEX | NETWORK | "true" | "false" | "[" list "]"
//           | "(" expr ")" | FUNCTION "(" args ")" | VARIABLE | ATTRIBUTE
//           | MODULE ["(" name "=" constant ("," name "=" constant)* ")"] ["." FIELD]
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/ast.hpp"
#include "policy/lexer.hpp"

namespace ppolicy {

struct PolicyScope;

bool is_builtin_name(std::string_view name);

class ExprParser {
 public:
  // `vars` are the variables set by earlier statements (name -> slot, type
  // in `var_types`); module references become call sites of `policy`.
  ExprParser(std::string_view text, size_t start, Policy& policy, const PolicyScope& scope,
             std::vector<Type>& var_types);
  // In var_types: a variable whose first definition failed. Statements that
  // read it fail silently (PolicyError::follow_on), so one broken module or
  // expression gives one error, not one per statement that uses it.
  static constexpr Type k_failed_var = static_cast<Type>(0xff);

  std::unique_ptr<Node> expression();
  const Token& current() const { return d_cur; }
  bool at(Tok k) const { return d_cur.kind == k; }
  void advance();
  // Fail unless the expression has type `want`.
  static void require(const Node& n, Type want, const char* what);

 private:
  std::unique_ptr<Node> or_expr();
  std::unique_ptr<Node> and_expr();
  std::unique_ptr<Node> not_expr();
  std::unique_ptr<Node> cmp_expr();
  std::unique_ptr<Node> sum_expr();
  std::unique_ptr<Node> prod_expr();
  std::unique_ptr<Node> unary_expr();
  std::unique_ptr<Node> primary();
  std::unique_ptr<Node> list_literal();
  std::unique_ptr<Node> builtin_call(const Token& name);
  std::unique_ptr<Node> module_ref(const Token& name, ModuleInstance* inst);
  std::unique_ptr<Node> binary(Op op, std::unique_ptr<Node> l, std::unique_ptr<Node> r,
                               const Token& t);
  Value constant(Type want_list_elem);
  [[noreturn]] void fail(const std::string& msg, const Token& t) const;
  [[noreturn]] void fail(const std::string& msg, const Node& n) const;

  Lexer d_lex;
  Token d_cur;
  bool d_operand = true;  // an operand is expected next (regex vs division)
  Policy& d_policy;
  const PolicyScope& d_scope;
  std::vector<Type>& d_var_types;
};

}  // namespace ppolicy
