// SPDX-License-Identifier: GPL-2.0-or-later
#include "policy/parser.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "base/strings.hpp"
#include "modules/instance.hpp"
#include "policy/compile.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct BuiltinInfo {
  const char* name;
  Builtin id;
  int args;
};

const BuiltinInfo k_builtins[] = {
    {"lower", Builtin::lower, 1},
    {"upper", Builtin::upper, 1},
    {"domain", Builtin::domain, 1},
    {"localpart", Builtin::localpart, 1},
    {"length", Builtin::length, 1},
    {"contains", Builtin::contains, 2},
    {"startswith", Builtin::startswith, 2},
    {"endswith", Builtin::endswith, 2},
    {"if", Builtin::if_, 3},
    {"number", Builtin::number, 1},
    {"string", Builtin::string, 1},
    {"attr", Builtin::attr, 1},
    {"present", Builtin::present, 1},
    {"min", Builtin::min, 2},
    {"max", Builtin::max, 2},
};

const BuiltinInfo* find_builtin(std::string_view n) {
  for (const auto& b : k_builtins)
    if (n == b.name) return &b;
  return nullptr;
}

std::unique_ptr<Node> make(Op op, Type type, const Token& t) {
  auto n = std::make_unique<Node>();
  n->op = op;
  n->type = type;
  n->pos = t.pos;
  n->len = t.len;
  return n;
}

void span_over(Node& n, const Node& a, const Node& b) {
  size_t start = std::min(a.pos, b.pos);
  size_t end = std::max(a.pos + a.len, b.pos + b.len);
  n.pos = start;
  n.len = end - start;
}

}  // namespace

bool is_builtin_name(std::string_view name) {
  return find_builtin(name) != nullptr;
}

ExprParser::ExprParser(std::string_view text, size_t start, Policy& policy,
                       const PolicyScope& scope, std::vector<Type>& var_types)
    : d_lex(text, start), d_policy(policy), d_scope(scope), d_var_types(var_types) {
  advance();
}

void ExprParser::advance() {
  d_cur = d_lex.next(d_operand);
  switch (d_cur.kind) {
    case Tok::number:
    case Tok::string:
    case Tok::regex:
    case Tok::net:
    case Tok::ident:
    case Tok::rparen:
    case Tok::rbrack:
      d_operand = false;
      break;
    default:
      d_operand = true;
  }
}

void ExprParser::fail(const std::string& msg, const Token& t) const {
  throw PolicyError(msg, t.pos, t.len ? t.len : 1);
}
void ExprParser::fail(const std::string& msg, const Node& n) const {
  throw PolicyError(msg, n.pos, n.len ? n.len : 1);
}

void ExprParser::require(const Node& n, Type want, const char* what) {
  if (n.type == want) return;
  std::string hint;
  if (want == Type::boolean && n.type == Type::number)
    hint = " (compare it, e.g. \"greylist < 0\")";
  throw PolicyError(
      format("%s must be a %s, not a %s%s", what, type_name(want), type_name(n.type), hint.c_str()),
      n.pos, n.len ? n.len : 1);
}

std::unique_ptr<Node> ExprParser::expression() {
  return or_expr();
}

std::unique_ptr<Node> ExprParser::binary(Op op, std::unique_ptr<Node> l, std::unique_ptr<Node> r,
                                         const Token& t) {
  auto n = make(op, Type::none, t);
  span_over(*n, *l, *r);
  auto mismatch = [&](const char* what) {
    fail(format("%s: cannot apply to %s and %s", what, type_name(l->type), type_name(r->type)), *n);
  };
  switch (op) {
    case Op::and_:
    case Op::or_:
      require(*l, Type::boolean, op == Op::and_ ? "left side of &&" : "left side of ||");
      require(*r, Type::boolean, op == Op::and_ ? "right side of &&" : "right side of ||");
      n->type = Type::boolean;
      break;
    case Op::eq:
    case Op::ne:
      if (l->type != r->type ||
          (l->type != Type::number && l->type != Type::string && l->type != Type::boolean))
        mismatch(op == Op::eq ? "==" : "!=");
      n->type = Type::boolean;
      break;
    case Op::lt:
    case Op::le:
    case Op::gt:
    case Op::ge:
      if (l->type != Type::number || r->type != Type::number) mismatch("comparison");
      n->type = Type::boolean;
      break;
    case Op::match:
    case Op::nomatch:
      require(*l, Type::string, "left side of =~");
      if (r->type == Type::string && r->op == Op::lit) {
        // A string literal on the right is a case-sensitive regex.
        try {
          r->value.re = std::make_shared<Regex>(r->value.s, false);
        } catch (const std::exception& e) {
          fail(e.what(), *r);
        }
        r->value.type = r->type = Type::regex;
      }
      if (r->type != Type::regex || r->op != Op::lit)
        fail("right side of =~ must be a /regex/ or a string literal", *r);
      n->type = Type::boolean;
      break;
    case Op::in:
    case Op::notin:
      if (r->type == Type::net) {
        require(*l, Type::string, "left side of \"in\" a network");
      } else if (r->type == Type::list) {
        if (l->type != r->elem)
          fail(format("\"in\": a %s cannot be in a list of %ss", type_name(l->type),
                      type_name(r->elem)),
               *n);
      } else {
        fail("right side of \"in\" must be a [list] or a network (use contains() for text)", *r);
      }
      n->type = Type::boolean;
      break;
    case Op::add:
      if (l->type == Type::string && r->type == Type::string) {
        n->op = Op::concat;
        n->type = Type::string;
        break;
      }
      [[fallthrough]];
    case Op::sub:
    case Op::mul:
    case Op::div:
    case Op::mod:
      if (l->type != Type::number || r->type != Type::number) mismatch("arithmetic");
      n->type = Type::number;
      break;
    default:
      break;
  }
  n->kids.push_back(std::move(l));
  n->kids.push_back(std::move(r));
  return n;
}

std::unique_ptr<Node> ExprParser::or_expr() {
  auto l = and_expr();
  while (at(Tok::or_)) {
    Token t = d_cur;
    advance();
    l = binary(Op::or_, std::move(l), and_expr(), t);
  }
  return l;
}

std::unique_ptr<Node> ExprParser::and_expr() {
  auto l = not_expr();
  while (at(Tok::and_)) {
    Token t = d_cur;
    advance();
    l = binary(Op::and_, std::move(l), not_expr(), t);
  }
  return l;
}

std::unique_ptr<Node> ExprParser::not_expr() {
  if (at(Tok::not_)) {
    Token t = d_cur;
    advance();
    auto inner = not_expr();
    require(*inner, Type::boolean, "operand of !");
    auto n = make(Op::not_, Type::boolean, t);
    span_over(*n, *n, *inner);
    n->kids.push_back(std::move(inner));
    return n;
  }
  return cmp_expr();
}

std::unique_ptr<Node> ExprParser::cmp_expr() {
  // The comparison tokens and the operation each one makes.
  static constexpr std::pair<Tok, Op> k_cmp[] = {
      {Tok::eq, Op::eq},       {Tok::ne, Op::ne}, {Tok::lt, Op::lt},
      {Tok::le, Op::le},       {Tok::gt, Op::gt}, {Tok::ge, Op::ge},
      {Tok::match, Op::match}, {Tok::in, Op::in}, {Tok::nomatch, Op::nomatch}};
  auto l = sum_expr();
  const auto* hit = std::find_if(std::begin(k_cmp), std::end(k_cmp),
                                 [&](const auto& c) { return c.first == d_cur.kind; });
  Op op;
  if (hit != std::end(k_cmp)) {
    op = hit->second;
  } else if (at(Tok::ident) && d_cur.text == "not") {
    op = Op::notin;
    advance();
    if (!at(Tok::in)) fail("expected \"in\" after \"not\"", d_cur);
  } else {
    return l;
  }
  Token t = d_cur;
  d_operand = true;  // after an operator an operand follows (a regex may start)
  advance();
  return binary(op, std::move(l), sum_expr(), t);
}

std::unique_ptr<Node> ExprParser::sum_expr() {
  auto l = prod_expr();
  while (at(Tok::plus) || at(Tok::minus)) {
    Token t = d_cur;
    Op op = at(Tok::plus) ? Op::add : Op::sub;
    advance();
    l = binary(op, std::move(l), prod_expr(), t);
  }
  return l;
}

std::unique_ptr<Node> ExprParser::prod_expr() {
  auto l = unary_expr();
  while (at(Tok::star) || at(Tok::slash) || at(Tok::percent)) {
    Token t = d_cur;
    Op op = at(Tok::star) ? Op::mul : at(Tok::slash) ? Op::div : Op::mod;
    advance();
    l = binary(op, std::move(l), unary_expr(), t);
  }
  return l;
}

std::unique_ptr<Node> ExprParser::unary_expr() {
  if (at(Tok::minus)) {
    Token t = d_cur;
    advance();
    auto inner = unary_expr();
    require(*inner, Type::number, "operand of unary -");
    if (inner->op == Op::lit) {
      inner->value.n = -inner->value.n;
      inner->pos = t.pos;
      return inner;
    }
    auto n = make(Op::neg, Type::number, t);
    span_over(*n, *n, *inner);
    n->kids.push_back(std::move(inner));
    return n;
  }
  return primary();
}

std::unique_ptr<Node> ExprParser::list_literal() {
  Token open = d_cur;
  advance();
  auto items = std::make_shared<std::vector<Value>>();
  auto nets = std::make_shared<NetSet>();
  Type elem = Type::none;
  while (!at(Tok::rbrack)) {
    Token t = d_cur;
    Value v;
    if (t.kind == Tok::string) {
      v = Value::string(t.text);
    } else if (t.kind == Tok::number) {
      v = Value::number(t.number);
    } else if (t.kind == Tok::minus) {
      advance();
      if (!at(Tok::number)) fail("expected a number after \"-\"", d_cur);
      v = Value::number(-d_cur.number);
    } else if (t.kind == Tok::net) {
      v.type = Type::net;
      nets->nets.push_back(*IpNetwork::parse(t.text));
    } else {
      fail("list elements must be strings, numbers or networks (constants)", t);
    }
    if (elem != Type::none && v.type != elem)
      fail(format("mixed list: a %s among %ss", type_name(v.type), type_name(elem)), t);
    elem = v.type;
    if (v.type != Type::net) items->push_back(std::move(v));
    advance();
    if (at(Tok::comma)) {
      advance();
    } else if (!at(Tok::rbrack)) {
      fail("expected \",\" or \"]\" in list", d_cur);
    }
  }
  Token close = d_cur;
  advance();
  auto n = make(Op::lit, Type::list, open);
  n->len = close.pos + close.len - open.pos;
  if (elem == Type::net) {
    n->type = n->value.type = Type::net;
    n->value.net = nets;
  } else {
    n->value.type = Type::list;
    n->elem = n->value.elem = elem == Type::none ? Type::string : elem;
    n->value.list = items;
  }
  return n;
}

std::unique_ptr<Node> ExprParser::builtin_call(const Token& name) {
  const BuiltinInfo* b = find_builtin(name.text);
  advance();  // "("
  auto n = make(Op::builtin, Type::none, name);
  n->index = static_cast<int>(b->id);
  while (!at(Tok::rparen)) {
    n->kids.push_back(expression());
    if (at(Tok::comma)) {
      advance();
    } else if (!at(Tok::rparen)) {
      fail("expected \",\" or \")\"", d_cur);
    }
  }
  n->len = d_cur.pos + d_cur.len - name.pos;
  advance();
  if (static_cast<int>(n->kids.size()) != b->args)
    fail(format("%s() takes %d argument%s", b->name, b->args, b->args == 1 ? "" : "s"), *n);
  auto& k = n->kids;
  switch (b->id) {
    case Builtin::lower:
    case Builtin::upper:
    case Builtin::domain:
    case Builtin::localpart:
      require(*k[0], Type::string, "argument");
      n->type = Type::string;
      break;
    case Builtin::length:
    case Builtin::number:
      require(*k[0], Type::string, "argument");
      n->type = Type::number;
      break;
    case Builtin::contains:
    case Builtin::startswith:
    case Builtin::endswith:
      require(*k[0], Type::string, "first argument");
      require(*k[1], Type::string, "second argument");
      n->type = Type::boolean;
      break;
    case Builtin::if_:
      require(*k[0], Type::boolean, "first argument of if()");
      if (k[1]->type != k[2]->type)
        fail(format("if(): both results must have the same type (%s, %s)", type_name(k[1]->type),
                    type_name(k[2]->type)),
             *n);
      n->type = k[1]->type;
      n->elem = k[1]->elem;
      break;
    case Builtin::string:
      if (k[0]->type != Type::number && k[0]->type != Type::string && k[0]->type != Type::boolean)
        fail("string() takes a number, string or condition", *k[0]);
      n->type = Type::string;
      break;
    case Builtin::attr:
      require(*k[0], Type::string, "attribute name");
      n->type = Type::string;
      break;
    case Builtin::present:
      require(*k[0], Type::string, "attribute name");
      n->type = Type::boolean;
      break;
    case Builtin::min:
    case Builtin::max:
      require(*k[0], Type::number, "first argument");
      require(*k[1], Type::number, "second argument");
      n->type = Type::number;
      break;
  }
  return n;
}

Value ExprParser::constant(Type) {
  Token t = d_cur;
  Value v;
  if (t.kind == Tok::string) {
    v = Value::string(t.text);
  } else if (t.kind == Tok::number) {
    v = Value::number(t.number);
  } else if (t.kind == Tok::minus) {
    advance();
    if (!at(Tok::number)) fail("expected a number", d_cur);
    v = Value::number(-d_cur.number);
  } else if (t.kind == Tok::ident && (t.text == "true" || t.text == "false")) {
    v = Value::boolean(t.text == "true");
  } else if (t.kind == Tok::lbrack) {
    auto n = list_literal();
    if (n->type != Type::list) fail("argument lists hold strings or numbers", *n);
    return n->value;
  } else {
    fail("module arguments must be constants (string, number, true/false or [list])", t);
  }
  advance();
  return v;
}

std::unique_ptr<Node> ExprParser::module_ref(const Token& name, ModuleInstance* inst) {
  CallArgs args;
  size_t end = name.pos + name.len;
  if (at(Tok::lparen)) {
    advance();
    while (!at(Tok::rparen)) {
      if (!at(Tok::ident)) fail("expected an argument name (name = value)", d_cur);
      Token an = d_cur;
      const ArgSpec* spec = nullptr;
      for (const auto& a : inst->type->args)
        if (an.text == a.name) spec = &a;
      if (!spec) {
        std::vector<std::string> names;
        for (const auto& a : inst->type->args)
          names.push_back(a.name);
        fail(format("module %s (%s) has no argument \"%s\"%s%s", inst->name.c_str(),
                    inst->type->name, an.text.c_str(),
                    names.empty() ? "" : "; it takes: ", join(names, ", ").c_str()),
             an);
      }
      advance();
      if (!at(Tok::assign)) fail("expected \"=\" after the argument name", d_cur);
      advance();
      Token vt = d_cur;
      Value v = constant(spec->type);
      if (spec->type == Type::list && v.type == Type::string) v = Value::strings({v.s});
      if (v.type != spec->type || (v.type == Type::list && v.elem != Type::string))
        fail(format("argument %s must be a %s%s", spec->name, type_name(spec->type),
                    spec->type == Type::list ? " of strings" : ""),
             vt);
      for (const auto& [k, _] : args.items)
        if (k == spec->name) fail(format("argument %s given twice", spec->name), an);
      args.items.emplace_back(spec->name, std::move(v));
      if (at(Tok::comma)) {
        advance();
      } else if (!at(Tok::rparen)) {
        fail("expected \",\" or \")\"", d_cur);
      }
    }
    end = d_cur.pos + d_cur.len;
    advance();
  }
  // One call site per distinct (instance, arguments): run at most once per request.
  int site = -1;
  std::string key = args.key();
  for (size_t i = 0; i < d_policy.calls.size(); ++i)
    if (d_policy.calls[i].inst == inst && d_policy.calls[i].args.key() == key)
      site = static_cast<int>(i);
  if (site < 0) {
    d_policy.calls.push_back({inst, std::move(args)});
    site = static_cast<int>(d_policy.calls.size() - 1);
  }
  auto n = make(Op::mod_code, Type::number, name);
  n->index = site;
  n->len = end - name.pos;
  if (at(Tok::dot)) {
    advance();
    if (!at(Tok::ident)) fail("expected a field name after \".\"", d_cur);
    const std::string& f = d_cur.text;
    if (f == "code") {
    } else if (f == "info") {
      n->op = Op::mod_info, n->type = Type::string;
    } else if (f == "cached") {
      n->op = Op::mod_cached, n->type = Type::boolean;
    } else if (f == "time") {
      n->op = Op::mod_time, n->type = Type::number;
    } else {
      const FieldSpec* fs = find_field(*inst, f);
      if (!fs) {
        std::vector<std::string> names = {"code", "info", "cached", "time"};
        for (const auto& x : inst->type->fields)
          names.push_back(x.name);
        if (inst->module)
          for (const auto& x : inst->module->instance_fields())
            names.push_back(x.name);
        fail(format("module %s (%s) has no field \"%s\" (fields: %s)", inst->name.c_str(),
                    inst->type->name, f.c_str(), join(names, ", ").c_str()),
             d_cur);
      }
      n->op = Op::mod_field;
      n->type = fs->type;
      n->value = Value::string(fs->name);
    }
    n->len = d_cur.pos + d_cur.len - name.pos;
    advance();
  }
  return n;
}

std::unique_ptr<Node> ExprParser::primary() {
  Token t = d_cur;
  switch (t.kind) {
    case Tok::number: {
      advance();
      auto n = make(Op::lit, Type::number, t);
      n->value = Value::number(t.number);
      return n;
    }
    case Tok::string: {
      advance();
      auto n = make(Op::lit, Type::string, t);
      n->value = Value::string(t.text);
      return n;
    }
    case Tok::regex: {
      advance();
      auto n = make(Op::lit, Type::regex, t);
      n->value.type = Type::regex;
      try {
        n->value.re = std::make_shared<Regex>(t.text, t.icase);
      } catch (const std::exception& e) {
        fail(e.what(), t);
      }
      return n;
    }
    case Tok::net: {
      advance();
      auto n = make(Op::lit, Type::net, t);
      n->value.type = Type::net;
      auto set = std::make_shared<NetSet>();
      set->nets.push_back(*IpNetwork::parse(t.text));
      n->value.net = set;
      return n;
    }
    case Tok::lbrack:
      return list_literal();
    case Tok::lparen: {
      advance();
      auto n = expression();
      if (!at(Tok::rparen)) fail("expected \")\"", d_cur);
      advance();
      return n;
    }
    case Tok::ident:
      break;
    case Tok::end:
      fail("expression expected", t);
    default:
      fail(format("unexpected %s", tok_name(t.kind)), t);
  }
  advance();
  const std::string& name = t.text;
  if (name == "true" || name == "false") {
    auto n = make(Op::lit, Type::boolean, t);
    n->value = Value::boolean(name == "true");
    return n;
  }
  if (at(Tok::lparen) && find_builtin(name)) return builtin_call(t);
  for (size_t i = 0; i < d_policy.vars.size(); ++i) {
    if (d_policy.vars[i] == name) {
      if (d_var_types[i] == k_failed_var) throw PolicyError::follow_on();
      if (d_var_types[i] == Type::none)
        fail(format("variable %s is used in its own definition", name.c_str()), t);
      auto n = make(Op::var, d_var_types[i], t);
      n->index = static_cast<int>(i);
      return n;
    }
  }
  if (ModuleInstance* inst = d_scope.module(name)) return module_ref(t, inst);
  if (auto a = attr_from_name(name)) {
    auto n = make(Op::attr, attr_is_numeric(*a) ? Type::number : Type::string, t);
    n->index = static_cast<int>(*a);
    return n;
  }
  if (auto d = derived_from_name(name)) {
    auto n = make(Op::derived, Type::string, t);
    n->index = static_cast<int>(*d);
    return n;
  }
  if (find_builtin(name))
    fail(format("%s is a function: write %s(...)", name.c_str(), name.c_str()), t);
  // A module whose section has errors: that error is reported; a second one
  // for each statement that uses the module would only bury it.
  for (const auto& b : d_scope.broken)
    if (b == name) throw PolicyError::follow_on();
  fail(format("unknown name \"%s\" (not a module, request attribute, variable or function; "
              "attr(\"%s\") reads any attribute)",
              name.c_str(), name.c_str()),
       t);
}

}  // namespace ppolicy
