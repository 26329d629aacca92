// SPDX-License-Identifier: GPL-2.0-or-later
#include "policy/compile.hpp"

#include "base/listen_spec.hpp"
#include "base/strings.hpp"
#include "policy/parser.hpp"
#include "proto/action.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

// A statement's text with its continuation lines joined by single spaces,
// and where each physical line starts (for line numbers in errors).
struct Source {
  std::string key;
  std::string text;
  std::vector<std::pair<size_t, int>> lines;  // (offset in text, file line)
  int line_at(size_t pos) const {
    int l = lines.empty() ? 0 : lines.front().second;
    for (const auto& [off, ln] : lines)
      if (off <= pos) l = ln;
    return l;
  }
};

const char* const k_states[] = {"CONNECT", "EHLO",           "HELO", "MAIL", "RCPT",
                                "DATA",    "END-OF-MESSAGE", "VRFY", "ETRN"};

class Compiler {
 public:
  Compiler(Policy& p, const PolicyScope& c, ErrorList& e) : d_p(p), d_scope(c), d_errors(e) {}

  void statement(const Source& src);
  void selector(const Source& src);
  bool finished() const { return d_finished; }
  int default_line() const { return d_default_line; }

 private:
  void error(const Source& src, const std::string& msg, size_t pos, size_t len);
  Action action(const Source& src, size_t start);
  std::unique_ptr<Node> parse_expr(const Source& src, size_t start, size_t* end, bool* arrow);

  Policy& d_p;
  const PolicyScope& d_scope;
  ErrorList& d_errors;
  std::vector<Type> d_var_types;
  bool d_finished = false;
  int d_default_line = 0;
};

void Compiler::error(const Source& src, const std::string& msg, size_t pos, size_t len) {
  // "file:line: [policy main] rule: message", then the statement and a caret
  // with the column: syslog daemons escape tabs (#011) or send a multi-line
  // message as one line (#012), and some drop repeated blanks, so the
  // caret's indentation alone may not point at the place.
  if (pos > src.text.size()) pos = src.text.size();
  if (len == 0 || pos + len > src.text.size() + 1) len = 1;
  std::string caret(pos, ' ');
  for (size_t i = 0; i < pos && i < src.text.size(); ++i)
    if (src.text[i] == '\t') caret[i] = '\t';
  caret += std::string(len, '^') + format(" column %zu", pos + 1);
  d_errors.add(d_scope.file, src.line_at(pos),
               format("[policy %s] %s: %s\n    %s\n    %s", d_p.name.c_str(), src.key.c_str(),
                      msg.c_str(), src.text.c_str(), caret.c_str()));
}

std::unique_ptr<Node> Compiler::parse_expr(const Source& src, size_t start, size_t* end,
                                           bool* arrow) {
  ExprParser p(src.text, start, d_p, d_scope, d_var_types);
  auto n = p.expression();
  *arrow = p.at(Tok::arrow);
  if (!p.at(Tok::end) && !*arrow) {
    const Token& t = p.current();
    throw PolicyError(format("unexpected %s after the expression", tok_name(t.kind)), t.pos,
                      t.len ? t.len : 1);
  }
  *end = p.current().pos + p.current().len;
  return n;
}

Action Compiler::action(const Source& src, size_t start) {
  Action a;
  a.source = std::string(trim(std::string_view(src.text).substr(start)));
  size_t lead = src.text.size() - std::string_view(src.text).substr(start).size();
  while (lead < src.text.size() && (src.text[lead] == ' ' || src.text[lead] == '\t'))
    ++lead;
  std::string why;
  auto syn = split_action(a.source, &why);
  if (!syn)
    throw PolicyError(
        why, lead, a.source.find(' ') == std::string::npos ? a.source.size() : a.source.find(' '));
  a.word = syn->word;
  // The text: literal pieces and ${expression} pieces.
  size_t text_start = src.text.find(syn->text, lead + syn->word.size());
  if (syn->text.empty()) return a;
  size_t i = text_start, stop = text_start + syn->text.size();
  std::string lit;
  while (i < stop) {
    if (src.text.compare(i, 2, "${") == 0) {
      if (!lit.empty()) a.text.push_back({std::move(lit), nullptr}), lit.clear();
      ExprParser p(src.text, i + 2, d_p, d_scope, d_var_types);
      auto n = p.expression();
      if (!p.at(Tok::rbrace))
        throw PolicyError("expected \"}\" closing ${...}", p.current().pos,
                          p.current().len ? p.current().len : 1);
      if (n->type != Type::number && n->type != Type::string && n->type != Type::boolean)
        throw PolicyError(
            format("${...} must give a string, number or condition, not a %s", type_name(n->type)),
            n->pos, n->len);
      a.text.push_back({"", std::move(n)});
      i = p.current().pos + 1;
    } else {
      lit += src.text[i++];
    }
  }
  if (!lit.empty()) a.text.push_back({std::move(lit), nullptr});
  return a;
}

void Compiler::statement(const Source& src) {
  if (d_finished) {
    error(src, format("statement after \"default\" (line %d) is never reached", d_default_line), 0,
          src.text.size());
    return;
  }
  Statement st;
  st.line = src.line_at(0);
  st.text = src.text;
  st.number = static_cast<int>(d_p.statements.size()) + 1;
  try {
    size_t end = 0;
    bool arrow = false;
    if (src.key == "rule") {
      st.kind = Statement::rule;
      st.cond = parse_expr(src, 0, &end, &arrow);
      if (!arrow)
        throw PolicyError("expected \"-> ACTION\" after the condition", src.text.size(), 1);
      ExprParser::require(*st.cond, Type::boolean, "a rule's condition");
      st.action = action(src, end);
    } else if (src.key == "default") {
      st.kind = Statement::default_;
      st.action = action(src, 0);
      d_finished = true;
      d_default_line = st.line;
    } else if (src.key == "run") {
      st.kind = Statement::run;
      auto first = parse_expr(src, 0, &end, &arrow);
      if (arrow) {
        ExprParser::require(*first, Type::boolean, "the condition of run");
        st.cond = std::move(first);
        bool again = false;
        st.expr = parse_expr(src, end, &end, &again);
        if (again) throw PolicyError("only one \"->\" in run", end - 2, 2);
      } else {
        st.expr = std::move(first);
      }
    } else {
      // "set NAME"
      auto words = split(src.key, " \t");
      st.kind = Statement::set;
      const std::string& var = words[1];
      if (!(std::isalpha(static_cast<unsigned char>(var[0])) || var[0] == '_'))
        throw PolicyError("a variable name starts with a letter", 0, 1);
      for (char c : var)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
          throw PolicyError(format("invalid variable name \"%s\"", var.c_str()), 0, 1);
      if (d_scope.module(var) || attr_from_name(var) || derived_from_name(var) ||
          is_builtin_name(var) || var == "true" || var == "false")
        throw PolicyError(
            format("\"%s\" is a module, attribute or function name; choose another", var.c_str()),
            0, 1);
      int slot = -1;
      for (size_t i = 0; i < d_p.vars.size(); ++i)
        if (d_p.vars[i] == var) slot = static_cast<int>(i);
      bool fresh = slot < 0;
      if (fresh) {
        d_p.vars.push_back(var);
        d_var_types.push_back(Type::none);  // not readable inside its own first definition
        slot = static_cast<int>(d_p.vars.size() - 1);
      }
      st.var = slot;
      st.expr = parse_expr(src, 0, &end, &arrow);
      if (arrow) throw PolicyError("\"->\" in set (use if(condition, a, b))", end - 2, 2);
      Type t = st.expr->type;
      if (t != Type::number && t != Type::string && t != Type::boolean)
        throw PolicyError(
            format("a variable holds a number, string or condition, not a %s", type_name(t)),
            st.expr->pos, st.expr->len);
      if (!fresh && d_var_types[slot] == ExprParser::k_failed_var) throw PolicyError::follow_on();
      if (!fresh && d_var_types[slot] != t)
        throw PolicyError(format("variable %s was a %s, cannot become a %s", var.c_str(),
                                 type_name(d_var_types[slot]), type_name(t)),
                          st.expr->pos, st.expr->len);
      d_var_types[slot] = t;
    }
  } catch (const PolicyError& e) {
    if (!e.is_follow_on()) error(src, e.what(), e.pos(), e.len());
    // A variable without a valid first definition: what reads it fails silently.
    if (st.kind == Statement::set && st.var >= 0 && d_var_types[st.var] == Type::none)
      d_var_types[st.var] = ExprParser::k_failed_var;
    return;
  }
  d_p.statements.push_back(std::move(st));
}

void Compiler::selector(const Source& src) {
  auto values = split(src.text);
  if (values.empty()) {
    error(src, "needs at least one value", 0, 1);
    return;
  }
  if (src.key == "listen") {
    for (const auto& v : values) {
      std::string why;
      auto spec = ListenSpec::parse(v, &why);
      if (!spec) {
        error(src, why, src.text.find(v), v.size());
        continue;
      }
      bool known = false;
      for (const auto& l : d_scope.listen) {
        auto other = ListenSpec::parse(l, &why);
        known = known || (other && other->text == spec->text);
      }
      if (!known) {
        error(src, format("%s is not one of the [ppolicyd] listen addresses", spec->text.c_str()),
              src.text.find(v), v.size());
        continue;
      }
      d_p.listen.push_back(spec->text);
    }
  } else if (src.key == "context") {
    for (const auto& v : values)
      d_p.context.push_back(v);
  } else {
    for (const auto& v : values) {
      std::string s = upper(v);
      bool ok = false;
      for (const char* k : k_states)
        ok = ok || s == k;
      if (!ok)
        error(src,
              format("unknown protocol state \"%s\" (CONNECT, EHLO, HELO, MAIL, RCPT, DATA, "
                     "END-OF-MESSAGE, VRFY, ETRN)",
                     v.c_str()),
              src.text.find(v), v.size());
      else
        d_p.state.push_back(s);
    }
  }
}

}  // namespace

std::unique_ptr<Policy> compile_policy(const std::string& name, int line,
                                       const std::vector<IniEntry>& entries,
                                       const PolicyScope& scope, ErrorList& errors) {
  auto p = std::make_unique<Policy>();
  p->name = name;
  p->line = line;
  // Join continuation lines into their statements first.
  std::vector<Source> sources;
  for (const auto& e : entries) {
    if (e.continuation && !sources.empty()) {
      Source& s = sources.back();
      s.text += ' ';
      s.lines.emplace_back(s.text.size(), e.line);
      s.text += e.value;
    } else {
      sources.push_back({e.key, e.value, {{0, e.line}}});
    }
  }
  Compiler c(*p, scope, errors);
  size_t before = errors.size();
  for (const auto& src : sources) {
    auto words = split(src.key, " \t");
    if (src.key == "rule" || src.key == "run" || src.key == "default") {
      c.statement(src);
    } else if (words.size() == 2 && words[0] == "set") {
      c.statement(src);
    } else if (src.key == "shadow") {
      auto on = parse_bool(trim(src.text));
      if (!on)
        errors.add(
            scope.file, src.line_at(0),
            format("[policy %s] shadow: yes or no, not \"%s\"", name.c_str(), src.text.c_str()));
      else if (!p->statements.empty())
        errors.add(scope.file, src.line_at(0),
                   format("[policy %s] shadow: goes before the statements", name.c_str()));
      else
        p->shadow = *on;
    } else if (src.key == "listen" || src.key == "context" || src.key == "state") {
      if (!p->statements.empty())
        errors.add(scope.file, src.line_at(0),
                   format("[policy %s] %s: selectors go before the statements", name.c_str(),
                          src.key.c_str()));
      else
        c.selector(src);
    } else {
      errors.add(scope.file, src.line_at(0),
                 format("[policy %s]: unknown key \"%s\" (rule, set NAME, run, default, listen, "
                        "context, state, shadow)",
                        name.c_str(), src.key.c_str()));
    }
  }
  if (errors.size() != before) return nullptr;
  return p;
}

bool policy_selects(const Policy& p, const Request& request) {
  auto in = [](const std::vector<std::string>& list, std::string_view v) {
    for (const auto& x : list)
      if (x == v) return true;
    return false;
  };
  if (!p.listen.empty() && !in(p.listen, request.listener)) return false;
  if (!p.context.empty() && !in(p.context, request.get(Attr::policy_context))) return false;
  return p.state.empty() || in(p.state, upper(request.get(Attr::protocol_state)));
}

}  // namespace ppolicy
