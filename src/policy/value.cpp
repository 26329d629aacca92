// SPDX-License-Identifier: GPL-2.0-or-later
#include "policy/value.hpp"

#include <cmath>
#include <stdexcept>

#include "util/strings.hpp"

namespace ppolicy {

const char* type_name(Type t) {
  switch (t) {
    case Type::none: return "nothing";
    case Type::boolean: return "condition";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::regex: return "regex";
    case Type::net: return "network";
    case Type::list: return "list";
  }
  return "?";
}

Regex::Regex(std::string pattern, bool icase) : d_pattern(std::move(pattern)), d_icase(icase) {
  int rc = regcomp(&d_re, d_pattern.c_str(), REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
  if (rc != 0) {
    char buf[256];
    regerror(rc, &d_re, buf, sizeof buf);
    throw std::runtime_error(format("invalid regex /%s/: %s", d_pattern.c_str(), buf));
  }
}

Regex::~Regex() { regfree(&d_re); }

bool Regex::search(std::string_view text) const {
  // regexec needs a NUL-terminated string; attribute values never contain NUL.
  std::string tmp(text);
  return regexec(&d_re, tmp.c_str(), 0, nullptr, 0) == 0;
}

Value Value::strings(const std::vector<std::string>& v) {
  auto items = std::make_shared<std::vector<Value>>();
  for (const auto& s : v) items->push_back(string(s));
  Value x;
  x.type = Type::list;
  x.elem = Type::string;
  x.list = std::move(items);
  return x;
}

std::string number_text(double n) {
  if (std::isfinite(n) && n == std::floor(n) && std::fabs(n) < 1e15)
    return format("%lld", static_cast<long long>(n));
  std::string s = format("%.6f", n);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string Value::text() const {
  switch (type) {
    case Type::none: return "";
    case Type::boolean: return b ? "true" : "false";
    case Type::number: return number_text(n);
    case Type::string: return s;
    case Type::regex: return re ? "/" + re->pattern() + "/" : "";
    case Type::net: {
      std::vector<std::string> parts;
      if (net)
        for (const auto& x : net->nets) parts.push_back(x.str());
      return join(parts, ",");
    }
    case Type::list: {
      std::vector<std::string> parts;
      if (list)
        for (const auto& x : *list) parts.push_back(x.text());
      return join(parts, ",");
    }
  }
  return "";
}

std::vector<std::string> Value::as_strings() const {
  if (type == Type::list && list) {
    std::vector<std::string> r;
    for (const auto& x : *list) r.push_back(x.text());
    return r;
  }
  if (type == Type::none) return {};
  return {text()};
}

}  // namespace ppolicy
