// SPDX-License-Identifier: GPL-2.0-or-later
#include "policy/lexer.hpp"

#include <algorithm>
#include <cctype>

#include "base/net.hpp"
#include "base/strings.hpp"

namespace ppolicy {

const char* tok_name(Tok t) {
  switch (t) {
    case Tok::end:
      return "end of statement";
    case Tok::number:
      return "number";
    case Tok::string:
      return "string";
    case Tok::regex:
      return "regex";
    case Tok::net:
      return "network";
    case Tok::ident:
      return "name";
    case Tok::lparen:
      return "\"(\"";
    case Tok::rparen:
      return "\")\"";
    case Tok::lbrack:
      return "\"[\"";
    case Tok::rbrack:
      return "\"]\"";
    case Tok::rbrace:
      return "\"}\"";
    case Tok::comma:
      return "\",\"";
    case Tok::dot:
      return "\".\"";
    case Tok::arrow:
      return "\"->\"";
    case Tok::assign:
      return "\"=\"";
    case Tok::not_:
      return "\"!\"";
    case Tok::and_:
      return "\"&&\"";
    case Tok::or_:
      return "\"||\"";
    case Tok::eq:
      return "\"==\"";
    case Tok::ne:
      return "\"!=\"";
    case Tok::lt:
      return "\"<\"";
    case Tok::le:
      return "\"<=\"";
    case Tok::gt:
      return "\">\"";
    case Tok::ge:
      return "\">=\"";
    case Tok::match:
      return "\"=~\"";
    case Tok::nomatch:
      return "\"!~\"";
    case Tok::in:
      return "\"in\"";
    case Tok::plus:
      return "\"+\"";
    case Tok::minus:
      return "\"-\"";
    case Tok::star:
      return "\"*\"";
    case Tok::slash:
      return "\"/\"";
    case Tok::percent:
      return "\"%\"";
  }
  return "?";
}

void Lexer::fail(const std::string& msg, size_t pos, size_t len) const {
  throw PolicyError(msg, pos, len);
}

void Lexer::skip_space() {
  while (d_pos < d_text.size() && (d_text[d_pos] == ' ' || d_text[d_pos] == '\t'))
    ++d_pos;
}

Token Lexer::lex_string(char quote) {
  Token t;
  t.kind = Tok::string;
  t.pos = d_pos++;
  while (true) {
    if (d_pos >= d_text.size()) fail("unterminated string", t.pos, d_pos - t.pos);
    char c = d_text[d_pos++];
    if (c == quote) break;
    if (c == '\\' && d_pos < d_text.size()) {
      char e = d_text[d_pos++];
      switch (e) {
        case 'n':
          t.text += '\n';
          break;
        case 't':
          t.text += '\t';
          break;
        default:
          t.text += e;
          break;  // \\ \" \' and anything else literally
      }
    } else {
      t.text += c;
    }
  }
  t.len = d_pos - t.pos;
  return t;
}

Token Lexer::lex_regex() {
  Token t;
  t.kind = Tok::regex;
  t.pos = d_pos++;
  while (true) {
    if (d_pos >= d_text.size())
      fail("unterminated regex (missing closing \"/\")", t.pos, d_pos - t.pos);
    char c = d_text[d_pos++];
    if (c == '/') break;
    if (c == '\\' && d_pos < d_text.size() && d_text[d_pos] == '/') {
      t.text += '/';
      ++d_pos;
      continue;
    }
    t.text += c;
  }
  while (d_pos < d_text.size() && std::isalpha(static_cast<unsigned char>(d_text[d_pos]))) {
    if (d_text[d_pos] != 'i')
      fail(format("unknown regex flag \"%c\" (only \"i\")", d_text[d_pos]), d_pos);
    t.icase = true;
    ++d_pos;
  }
  t.len = d_pos - t.pos;
  return t;
}

Token Lexer::lex_number_or_net() {
  Token t;
  t.pos = d_pos;
  // The longest run that could be an address: hex digits, ':' and '.'.
  size_t e = d_pos;
  while (e < d_text.size() && (std::isxdigit(static_cast<unsigned char>(d_text[e])) ||
                               d_text[e] == ':' || d_text[e] == '.'))
    ++e;
  std::string_view run = d_text.substr(d_pos, e - d_pos);
  size_t colons = 0, dots = 0;
  for (char c : run)
    colons += c == ':', dots += c == '.';
  bool v4 = colons == 0 && dots == 3;
  if (colons >= 2 || v4) {
    size_t end = e;
    if (end < d_text.size() && d_text[end] == '/') {
      ++end;
      while (end < d_text.size() && std::isdigit(static_cast<unsigned char>(d_text[end])))
        ++end;
    }
    std::string_view text = d_text.substr(d_pos, end - d_pos);
    if (!IpNetwork::parse(text))
      fail(format("invalid network \"%.*s\"", static_cast<int>(text.size()), text.data()), d_pos,
           end - d_pos);
    t.kind = Tok::net;
    t.text = std::string(text);
    d_pos = end;
    t.len = d_pos - t.pos;
    return t;
  }
  // A plain number: digits with at most one '.'.
  e = d_pos;
  while (e < d_text.size() &&
         (std::isdigit(static_cast<unsigned char>(d_text[e])) || d_text[e] == '.'))
    ++e;
  std::string_view text = d_text.substr(d_pos, e - d_pos);
  auto v = parse_double(text);
  if (!v || dots > 1)
    fail(format("invalid number \"%.*s\"", static_cast<int>(text.size()), text.data()), d_pos,
         e - d_pos);
  t.kind = Tok::number;
  t.number = *v;
  t.text = std::string(text);
  d_pos = e;
  t.len = d_pos - t.pos;
  return t;
}

Token Lexer::next(bool operand) {
  skip_space();
  Token t;
  t.pos = d_pos;
  if (d_pos >= d_text.size()) return t;
  char c = d_text[d_pos];
  char n = d_pos + 1 < d_text.size() ? d_text[d_pos + 1] : '\0';
  auto one = [&](Tok k) {
    t.kind = k;
    t.len = 1;
    ++d_pos;
    return t;
  };
  auto two = [&](Tok k) {
    t.kind = k;
    t.len = 2;
    d_pos += 2;
    return t;
  };
  if (c == '"' || c == '\'') return lex_string(c);
  if (c == '/' && operand) return lex_regex();
  if (std::isdigit(static_cast<unsigned char>(c)) || (c == ':' && n == ':'))
    return lex_number_or_net();
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
    // Could be an IPv6 network starting with a hex letter ("fe80::/10").
    size_t e = d_pos;
    while (e < d_text.size() &&
           (std::isxdigit(static_cast<unsigned char>(d_text[e])) || d_text[e] == ':'))
      ++e;
    if (d_text.substr(d_pos, e - d_pos).find("::") != std::string_view::npos ||
        std::count(d_text.begin() + static_cast<long>(d_pos), d_text.begin() + static_cast<long>(e),
                   ':') >= 2)
      return lex_number_or_net();
    e = d_pos;
    while (e < d_text.size() &&
           (std::isalnum(static_cast<unsigned char>(d_text[e])) || d_text[e] == '_'))
      ++e;
    t.text = std::string(d_text.substr(d_pos, e - d_pos));
    t.kind = t.text == "in" ? Tok::in : Tok::ident;
    d_pos = e;
    t.len = d_pos - t.pos;
    return t;
  }
  switch (c) {
    case '(':
      return one(Tok::lparen);
    case ')':
      return one(Tok::rparen);
    case '[':
      return one(Tok::lbrack);
    case ']':
      return one(Tok::rbrack);
    case '}':
      return one(Tok::rbrace);
    case ',':
      return one(Tok::comma);
    case '.':
      return one(Tok::dot);
    case '+':
      return one(Tok::plus);
    case '*':
      return one(Tok::star);
    case '/':
      return one(Tok::slash);
    case '%':
      return one(Tok::percent);
    case '-':
      return n == '>' ? two(Tok::arrow) : one(Tok::minus);
    case '!':
      return n == '=' ? two(Tok::ne) : n == '~' ? two(Tok::nomatch) : one(Tok::not_);
    case '=':
      return n == '=' ? two(Tok::eq) : n == '~' ? two(Tok::match) : one(Tok::assign);
    case '<':
      return n == '=' ? two(Tok::le) : one(Tok::lt);
    case '>':
      return n == '=' ? two(Tok::ge) : one(Tok::gt);
    case '&':
      if (n == '&') return two(Tok::and_);
      break;
    case '|':
      if (n == '|') return two(Tok::or_);
      break;
    default:
      break;
  }
  fail(format("unexpected character \"%c\"", c), d_pos);
}

}  // namespace ppolicy
