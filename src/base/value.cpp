// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/value.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "base/strings.hpp"

namespace ppolicy {

const char* type_name(Type t) {
  switch (t) {
    case Type::none:
      return "nothing";
    case Type::boolean:
      return "condition";
    case Type::number:
      return "number";
    case Type::string:
      return "string";
    case Type::regex:
      return "regex";
    case Type::net:
      return "network";
    case Type::list:
      return "list";
  }
  return "?";
}

namespace {

// glibc's regcomp expands repetitions by copying the repeated subtree
// ("a+" is "aa*", "x{3,5}" five copies), so stacked or nested repetitions
// grow exponentially: /1++++++++++++++++++++++++++++++/ (found by the
// policy fuzzer) took gigabytes to compile, and stacked stars ("1***...")
// seconds. Estimate the size of the expanded tree and refuse patterns that
// would be too large, refuse stacked repetition operators (undefined in
// POSIX) and more than 100 of them, and refuse back-references, whose
// matching time can explode on a hostile value.
constexpr double k_max_regex_cost = 20000;

double regex_cost(const std::string& p, std::string* why) {
  // Per nesting level: the cost of the sequence so far, the cost of the
  // alternatives before it, and the cost of the last atom (for a quantifier).
  struct Level {
    double seq = 0, alts = 0, last = 0;
  };
  std::vector<Level> st(1);
  bool after_quantifier = false;
  int quantifiers = 0;
  auto atom = [&](double c) {
    st.back().seq += c;
    st.back().last = c;
  };
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    bool quantifier =
        c == '*' || c == '?' || c == '+' || (c == '{' && p.find('}', i) != std::string::npos);
    if (quantifier && after_quantifier) {
      // POSIX leaves "a**" undefined; glibc's closure computation over
      // stacked stars takes seconds (found by the policy fuzzer).
      *why = "stacked repetition operators (like \"a**\" or \"a+?\") are not allowed";
      return -1;
    }
    after_quantifier = quantifier;
    if (quantifier && ++quantifiers > 100) return k_max_regex_cost + 1;
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] >= '1' && p[i + 1] <= '9') {
        *why = "back-references (\\1 ...) are not supported";
        return -1;
      }
      ++i;
      atom(1);
    } else if (c == '[') {
      // A bracket expression is one atom: "]" first is literal; [:x:] etc. nest.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') {
        if (p[j] == '[' && j + 1 < p.size() &&
            (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
          size_t e = p.find(std::string(1, p[j + 1]) + "]", j + 2);
          j = e == std::string::npos ? p.size() : e + 2;
        } else {
          ++j;
        }
      }
      i = j;
      atom(1);
    } else if (c == '(') {
      st.emplace_back();
    } else if (c == ')' && st.size() > 1) {
      Level l = st.back();
      st.pop_back();
      atom(l.alts + l.seq + 1);
    } else if (c == '|') {
      st.back().alts += st.back().seq;
      st.back().seq = st.back().last = 0;
    } else if (c == '*' || c == '?' || c == '+' || c == '{') {
      double times = c == '+' ? 2 : 1;
      if (c == '{') {
        size_t e = p.find('}', i);
        if (e == std::string::npos) {
          atom(1);
          continue;
        }
        long lo = std::strtol(p.c_str() + i + 1, nullptr, 10), hi = lo;
        auto comma = p.find(',', i);
        if (comma != std::string::npos && comma < e)
          hi = comma + 1 == e ? lo + 1 : std::strtol(p.c_str() + comma + 1, nullptr, 10);
        times = static_cast<double>(std::max({lo, hi, 1L}));
        i = e;
      }
      Level& l = st.back();
      l.seq += l.last * (times - 1);
      l.last *= times;
    } else {
      atom(1);
    }
    if (st.back().seq + st.back().alts > k_max_regex_cost) break;
  }
  double total = 0;
  for (const auto& l : st)
    total += l.seq + l.alts;
  return total;
}

}  // namespace

Regex::Regex(std::string pattern, bool icase) : d_pattern(std::move(pattern)), d_icase(icase) {
  std::string why;
  double cost = regex_cost(d_pattern, &why);
  if (cost < 0)
    throw std::runtime_error(format("invalid regex /%s/: %s", d_pattern.c_str(), why.c_str()));
  if (cost > k_max_regex_cost)
    throw std::runtime_error(
        format("regex /%s/ is too complex (nested or large repetitions)", d_pattern.c_str()));
  int rc = regcomp(&d_re, d_pattern.c_str(), REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
  if (rc != 0) {
    char buf[256];
    regerror(rc, &d_re, buf, sizeof buf);
    throw std::runtime_error(format("invalid regex /%s/: %s", d_pattern.c_str(), buf));
  }
}

Regex::~Regex() {
  regfree(&d_re);
}

bool Regex::search(std::string_view text) const {
  // glibc's regexec takes time quadratic in the length of the text ((a|aa)*b
  // on 8 kB: ~200 ms), so only the first k_regex_max_input bytes are
  // searched. REG_NOTEOL keeps '$' from matching at the cut: what matches
  // the prefix matches the whole value; only text past the cut goes unseen.
  int flags = 0;
  if (text.size() > k_regex_max_input) {
    text = text.substr(0, k_regex_max_input);
    flags = REG_NOTEOL;
  }
  // regexec needs a NUL-terminated string; attribute values never contain NUL.
  std::string tmp(text);
  return regexec(&d_re, tmp.c_str(), 0, nullptr, flags) == 0;
}

Value Value::strings(const std::vector<std::string>& v) {
  auto items = std::make_shared<std::vector<Value>>();
  for (const auto& s : v)
    items->push_back(string(s));
  Value x;
  x.type = Type::list;
  x.elem = Type::string;
  x.list = std::move(items);
  return x;
}

std::string number_text(double n) {
  std::string s;
  if (std::isfinite(n) && n == std::floor(n) && std::fabs(n) < 1e15) {
    append_int(s, static_cast<long long>(n));  // "%lld"
    return s;
  }
  append_fixed(s, n, 6);  // "%.6f"
  while (!s.empty() && s.back() == '0')
    s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string Value::text() const {
  switch (type) {
    case Type::none:
      return "";
    case Type::boolean:
      return b ? "true" : "false";
    case Type::number:
      return number_text(n);
    case Type::string:
      return s;
    case Type::regex:
      return re ? "/" + re->pattern() + "/" : "";
    case Type::net: {
      std::vector<std::string> parts;
      if (net)
        for (const auto& x : net->nets)
          parts.push_back(x.str());
      return join(parts, ",");
    }
    case Type::list: {
      std::vector<std::string> parts;
      if (list)
        for (const auto& x : *list)
          parts.push_back(x.text());
      return join(parts, ",");
    }
  }
  return "";
}

std::vector<std::string> Value::as_strings() const {
  if (type == Type::list && list) {
    std::vector<std::string> r;
    for (const auto& x : *list)
      r.push_back(x.text());
    return r;
  }
  if (type == Type::none) return {};
  return {text()};
}

}  // namespace ppolicy
