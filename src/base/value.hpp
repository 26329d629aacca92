// SPDX-License-Identifier: GPL-2.0-or-later
// Values of the policy language, also used for module call arguments and
// module info fields. Types are checked when the configuration is loaded, so
// evaluation never meets a mismatch it did not expect.
#pragma once

#include <regex.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/net.hpp"

namespace ppolicy {

enum class Type : unsigned char { none, boolean, number, string, regex, net, list };
const char* type_name(Type t);

// A compiled POSIX extended regular expression (glibc: no recursion, so no
// stack exhaustion on hostile input, unlike std::regex).
// The most bytes of a value a regex searches (see Regex::search).
inline constexpr size_t k_regex_max_input = 1024;

class Regex {
 public:
  // Throws std::runtime_error with the regcomp message.
  Regex(std::string pattern, bool icase);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Searches the first k_regex_max_input bytes of `text`; '$' does not
  // match where a longer text was cut.
  bool search(std::string_view text) const;
  const std::string& pattern() const { return d_pattern; }
  bool icase() const { return d_icase; }

 private:
  std::string d_pattern;
  bool d_icase;
  regex_t d_re;
};

struct Value {
  Type type = Type::none;
  bool b = false;
  double n = 0;
  std::string s;
  std::shared_ptr<const Regex> re;
  std::shared_ptr<const NetSet> net;
  std::shared_ptr<const std::vector<Value>> list;
  Type elem = Type::none;  // element type of a list

  static Value boolean(bool v) {
    Value x;
    x.type = Type::boolean;
    x.b = v;
    return x;
  }
  static Value number(double v) {
    Value x;
    x.type = Type::number;
    x.n = v;
    return x;
  }
  static Value string(std::string v) {
    Value x;
    x.type = Type::string;
    x.s = std::move(v);
    return x;
  }
  static Value strings(const std::vector<std::string>& v);

  // Text form for templates and logs: numbers without trailing zeros.
  std::string text() const;
  // Elements of a string list (or the string itself as one element).
  std::vector<std::string> as_strings() const;
};

std::string number_text(double n);

}  // namespace ppolicy
