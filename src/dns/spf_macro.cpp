// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/spf_macro.hpp"

#include <algorithm>
#include <ctime>
#include <vector>

#include "base/strings.hpp"

namespace ppolicy::dns {
namespace {

// i: dotted quad; for IPv6 the 32 nibbles, dotted, most significant first
// (§7.3 "dot-format"). Upper-case hex, as the RFC 7208 test suite's
// explanations show it (DNS does not care).
std::string dotted_ip(const IpAddress& ip) {
  if (ip.v4) return ip.str();
  static const char hex[] = "0123456789ABCDEF";
  std::string r;
  r.reserve(63);
  for (uint8_t b : ip.bytes) {
    if (!r.empty()) r += '.';
    r += hex[b >> 4];
    r += '.';
    r += hex[b & 0xf];
  }
  return r;
}

std::string letter_value(char letter, const SpfMacroValues& v, std::string_view d) {
  switch (letter) {
    case 's':
      return v.sender;
    case 'l':
      return v.local;
    case 'o':
      return v.domain;
    case 'd':
      return std::string(d);
    case 'i':
      return dotted_ip(v.ip);
    case 'p':
      return v.validated ? v.validated(d) : "unknown";
    case 'v':
      return v.ip.v4 ? "in-addr" : "ip6";
    case 'h':
      return v.helo;
    case 'c':
      return v.ip.str();
    case 'r':
      return v.receiver.empty() ? "unknown" : v.receiver;
    case 't':
      return format("%lld", static_cast<long long>(std::time(nullptr)));
  }
  return "";
}

// Split on any of `delims` (empty parts kept), reverse when asked, keep the
// rightmost `keep` parts (0: all), join with '.' (§7.3).
std::string transform(const std::string& value, size_t keep, bool reverse,
                      std::string_view delims) {
  std::vector<std::string_view> parts;
  std::string_view rest = value;
  while (true) {
    auto at = rest.find_first_of(delims);
    parts.push_back(rest.substr(0, at));
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + 1);
  }
  if (reverse) std::reverse(parts.begin(), parts.end());
  size_t from = keep > 0 && keep < parts.size() ? parts.size() - keep : 0;
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) {
    if (i > from) out += '.';
    out += parts[i];
  }
  return out;
}

// RFC 3986 escaping: all but the unreserved characters, upper-case hex.
std::string url_escape(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> expand_macros(std::string_view s, const SpfMacroValues& v,
                                         std::string_view d) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() > k_max_expansion) return std::nullopt;
    if (s[i] != '%' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char n = s[++i];
    if (n == '%' || n == '_' || n == '-') {
      out += n == '%' ? "%" : n == '_' ? " " : "%20";
      continue;
    }
    if (n != '{' || i + 1 == s.size()) continue;  // not after valid_macro_string()
    char letter = s[++i];
    bool escape = letter >= 'A' && letter <= 'Z';
    size_t keep = 0;  // saturates: more parts than any value has is "all"
    while (i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9')
      keep = std::min<size_t>(keep * 10 + static_cast<size_t>(s[++i] - '0'), 1000);
    bool reverse = i + 1 < s.size() && (s[i + 1] | 0x20) == 'r';
    if (reverse) ++i;
    size_t delim_start = i + 1;
    while (i + 1 < s.size() && s[i + 1] != '}')
      ++i;
    std::string_view delims = s.substr(delim_start, i + 1 - delim_start);
    ++i;  // the '}'
    std::string value = letter_value(static_cast<char>(letter | 0x20), v, d);
    if (keep > 0 || reverse || !delims.empty())
      value = transform(value, keep, reverse, delims.empty() ? "." : delims);
    out += escape ? url_escape(value) : value;
  }
  if (out.size() > k_max_expansion) return std::nullopt;
  return out;
}

std::optional<std::string> expand_domain(std::string_view spec, const SpfMacroValues& v,
                                         std::string_view d) {
  auto name = expand_macros(spec, v, d);
  if (!name) return std::nullopt;
  if (!name->empty() && name->back() == '.') name->pop_back();
  while (name->size() > 253) {
    auto dot = name->find('.');
    if (dot == std::string::npos) return std::nullopt;
    name->erase(0, dot + 1);
  }
  if (name->empty()) return std::nullopt;
  return name;
}

}  // namespace ppolicy::dns
