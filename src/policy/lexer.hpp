// SPDX-License-Identifier: GPL-2.0-or-later
// Tokens of the policy language. The lexer is driven by the parser one token
// at a time; "/" starts a regex literal where an operand is expected and is
// division elsewhere. Network literals (192.0.2.0/24, 2001:db8::/32) are
// recognised by their shape. Offsets refer to the statement text, so errors
// can point at the offending token.
#pragma once

#include <string>
#include <string_view>

namespace ppolicy {

enum class Tok {
  end,
  number,
  string,
  regex,
  net,
  ident,
  lparen,
  rparen,
  lbrack,
  rbrack,
  rbrace,
  comma,
  dot,
  arrow,
  assign,
  not_,
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
  plus,
  minus,
  star,
  slash,
  percent,
};
const char* tok_name(Tok t);

struct Token {
  Tok kind = Tok::end;
  std::string text;  // identifier, decoded string, regex pattern, network text
  double number = 0;
  bool icase = false;  // regex flag "i"
  size_t pos = 0, len = 0;
};

class PolicyError : public std::exception {
 public:
  PolicyError(std::string msg, size_t pos, size_t len)
      : d_msg(std::move(msg)), d_pos(pos), d_len(len) {}
  // The statement uses a variable whose definition already failed: the
  // compiler reports nothing (the first error says what is wrong).
  static PolicyError follow_on() {
    PolicyError e("follow-on error", 0, 1);
    e.d_follow_on = true;
    return e;
  }
  const char* what() const noexcept override { return d_msg.c_str(); }
  size_t pos() const { return d_pos; }
  size_t len() const { return d_len; }
  bool is_follow_on() const { return d_follow_on; }

 private:
  std::string d_msg;
  size_t d_pos, d_len;
  bool d_follow_on = false;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text, size_t start = 0) : d_text(text), d_pos(start) {}
  // The next token; `operand` says whether an operand is expected (regex vs division).
  Token next(bool operand);
  size_t pos() const { return d_pos; }
  std::string_view rest() const { return d_text.substr(d_pos); }

 private:
  void skip_space();
  Token lex_string(char quote);
  Token lex_regex();
  Token lex_number_or_net();
  [[noreturn]] void fail(const std::string& msg, size_t pos, size_t len = 1) const;

  std::string_view d_text;
  size_t d_pos;
};

}  // namespace ppolicy
