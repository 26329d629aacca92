// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/spf_record.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "base/strings.hpp"

namespace ppolicy::dns {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

bool fail(std::string* why, std::string text) {
  *why = std::move(text);
  return false;
}

// The macro-string grammar; *last_expand: the string ends with a
// macro-expand (for domain-end).
bool scan_macro_string(std::string_view s, MacroUse use, std::string* why, bool* last_expand) {
  const char* letters = use == MacroUse::domain ? "slodiphv" : "slodiphvcrt";
  *last_expand = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    *last_expand = false;
    if (c != '%') {
      bool ok = (c > 0x20 && c < 0x7f) || (c == ' ' && use == MacroUse::explanation);
      if (!ok) return fail(why, format("invalid character 0x%02x", static_cast<unsigned char>(c)));
      continue;
    }
    if (i + 1 == s.size()) return fail(why, "'%' at the end");
    char n = s[++i];
    *last_expand = true;
    if (n == '%' || n == '_' || n == '-') continue;
    if (n != '{') return fail(why, format("invalid macro \"%%%c\"", n));
    size_t start = i - 1;
    if (++i == s.size()) return fail(why, "unterminated macro");
    char letter = static_cast<char>(s[i] | 0x20);
    if (!is_alpha(s[i]) || !std::strchr(letters, letter)) return fail(why, "invalid macro letter");
    ++i;
    size_t digits = i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
    if (i > digits && s.substr(digits, i - digits).find_first_not_of('0') == std::string::npos)
      return fail(why, "macro with 0 parts");
    if (i < s.size() && (s[i] | 0x20) == 'r') ++i;
    while (i < s.size() && std::strchr(".-+,/_=", s[i]) && s[i] != '\0')
      ++i;
    if (i == s.size() || s[i] != '}')
      return fail(
          why, format("invalid macro \"%s\"", std::string(s.substr(start, i + 1 - start)).c_str()));
  }
  return true;
}

// toplabel = ( *alphanum ALPHA *alphanum ) /
//            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view t) {
  if (t.empty() || !is_alnum(t.front()) || !is_alnum(t.back())) return false;
  bool alpha = false, dash = false;
  for (char c : t) {
    if (c == '-')
      dash = true;
    else if (is_alpha(c))
      alpha = true;
    else if (!is_digit(c))
      return false;
  }
  return alpha || dash;
}

// "0" or a number without leading zeros, at most `max`.
bool cidr_value(std::string_view digits, int max, int* out) {
  if (!all_digits(digits) || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
    return false;
  int v = 0;
  for (char c : digits)
    v = v * 10 + (c - '0');
  if (v > max) return false;
  *out = v;
  return true;
}

// Takes a trailing dual-cidr-length ("/N", "//N", "/N//M") off `s`.
bool take_dual_cidr(std::string_view& s, SpfTerm& t, std::string* why) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos || !all_digits(s.substr(slash + 1))) return true;
  if (slash > 0 && s[slash - 1] == '/') {
    if (!cidr_value(s.substr(slash + 1), 128, &t.cidr6))
      return fail(why, "invalid IPv6 prefix length");
    s = s.substr(0, slash - 1);
    slash = s.rfind('/');
    if (slash == std::string_view::npos || !all_digits(s.substr(slash + 1))) return true;
  }
  if (!cidr_value(s.substr(slash + 1), 32, &t.cidr4))
    return fail(why, "invalid IPv4 prefix length");
  s = s.substr(0, slash);
  return true;
}

// ip4-network: four qnums (0-255, no leading zeros).
bool parse_ip4(std::string_view s, IpAddress* out) {
  auto parts = split(s, ".");
  if (parts.size() != 4 || s.front() == '.' || s.back() == '.' || s.find("..") != s.npos)
    return false;
  int dummy;
  for (const auto& p : parts)
    if (!cidr_value(p, 255, &dummy)) return false;
  auto ip = IpAddress::parse(s);
  if (!ip || !ip->v4) return false;
  *out = *ip;
  return true;
}

bool parse_ip6(std::string_view s, IpAddress* out) {
  if (s.empty() || s.size() > 45) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  in6_addr a{};
  if (inet_pton(AF_INET6, buf, &a) != 1) return false;
  std::memcpy(out->bytes.data(), &a, 16);
  out->v4 = false;  // ip6 mechanisms never match an IPv4 client (RFC 7208 §5.6)
  return true;
}

bool parse_mechanism(std::string_view term, SpfTerm& t, std::string* why) {
  t.text = std::string(term);
  if (!term.empty() && std::strchr("+-~?", term.front())) {
    t.qualifier = term.front();
    term.remove_prefix(1);
  }
  auto end = term.find_first_of(":/");
  std::string name = lower(term.substr(0, end));
  std::string_view rest = end == std::string_view::npos ? "" : term.substr(end);
  auto domain_arg = [&](bool required, bool cidr) {
    if (cidr && !take_dual_cidr(rest, t, why)) return fail(why, "\"" + t.text + "\": " + *why);
    if (rest.empty() && !required) return true;
    if (rest.empty() || rest.front() != ':') return fail(why, "\"" + t.text + "\": syntax error");
    t.domain = std::string(rest.substr(1));
    if (!valid_domain_spec(t.domain, why)) return fail(why, "\"" + t.text + "\": " + *why);
    return true;
  };
  if (name == "all") {
    t.mech = SpfMech::all;
    return rest.empty() || fail(why, "\"" + t.text + "\": \"all\" takes no argument");
  }
  if (name == "include" || name == "exists") {
    t.mech = name == "include" ? SpfMech::include : SpfMech::exists;
    return domain_arg(true, false);
  }
  if (name == "a" || name == "mx") {
    t.mech = name == "a" ? SpfMech::a : SpfMech::mx;
    return domain_arg(false, true);
  }
  if (name == "ptr") {
    t.mech = SpfMech::ptr;
    return domain_arg(false, false);
  }
  if (name == "ip4" || name == "ip6") {
    bool v4 = name == "ip4";
    t.mech = v4 ? SpfMech::ip4 : SpfMech::ip6;
    if (rest.empty() || rest.front() != ':') return fail(why, "\"" + t.text + "\": no address");
    rest.remove_prefix(1);
    auto slash = rest.find('/');
    std::string_view addr = rest.substr(0, slash);
    bool ok = v4 ? parse_ip4(addr, &t.net) : parse_ip6(addr, &t.net);
    if (ok && slash != std::string_view::npos)
      ok = cidr_value(rest.substr(slash + 1), v4 ? 32 : 128, v4 ? &t.cidr4 : &t.cidr6);
    return ok || fail(why, "\"" + t.text + "\": invalid network");
  }
  return fail(why, "unknown mechanism \"" + t.text + "\"");
}

bool name_char(char c) {
  return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

}  // namespace

bool valid_macro_string(std::string_view s, MacroUse use, std::string* why) {
  bool last = false;
  return scan_macro_string(s, use, why, &last);
}

bool valid_domain_spec(std::string_view s, std::string* why) {
  bool last_expand = false;
  if (s.empty()) return fail(why, "empty domain");
  if (!scan_macro_string(s, MacroUse::domain, why, &last_expand)) return false;
  if (last_expand) return true;
  if (s.back() == '.') s.remove_suffix(1);
  auto dot = s.rfind('.');
  if (dot == std::string_view::npos || !valid_toplabel(s.substr(dot + 1)))
    return fail(why, "invalid domain");
  return true;
}

std::vector<std::string> spf_records(const std::vector<std::string>& txt) {
  std::vector<std::string> out;
  for (const auto& t : txt)
    if (t.size() >= 6 && iequals(std::string_view(t).substr(0, 6), "v=spf1") &&
        (t.size() == 6 || t[6] == ' '))
      out.push_back(t);
  return out;
}

std::optional<SpfRecord> parse_spf_record(std::string_view text, std::string* why) {
  for (char c : text)
    if (c < 0x20 || c > 0x7e) {
      *why = format("control or non-ASCII character 0x%02x", static_cast<unsigned char>(c));
      return std::nullopt;
    }
  if (spf_records({std::string(text)}).empty()) {
    *why = "not an SPF record";
    return std::nullopt;
  }
  SpfRecord rec;
  bool has_redirect = false, has_exp = false;
  text.remove_prefix(6);
  for (const auto& term : split(text, " ")) {
    size_t n = 0;
    while (n < term.size() && name_char(term[n]))
      ++n;
    if (n < term.size() && term[n] == '=') {
      if (n == 0 || !is_alpha(term[0])) {
        *why = "invalid modifier \"" + term + "\"";
        return std::nullopt;
      }
      std::string name = lower(std::string_view(term).substr(0, n));
      std::string_view value = std::string_view(term).substr(n + 1);
      if (name == "redirect" || name == "exp") {
        bool& seen = name == "exp" ? has_exp : has_redirect;
        if (seen) {
          *why = "\"" + name + "=\" twice";
          return std::nullopt;
        }
        seen = true;
        if (!valid_domain_spec(value, why)) {
          *why = "\"" + term + "\": " + *why;
          return std::nullopt;
        }
        (name == "exp" ? rec.exp : rec.redirect) = std::string(value);
      } else if (!valid_macro_string(value, MacroUse::modifier, why)) {
        *why = "\"" + term + "\": " + *why;  // unknown modifiers are ignored, but checked
        return std::nullopt;
      }
      continue;
    }
    SpfTerm t;
    if (!parse_mechanism(term, t, why)) return std::nullopt;
    rec.terms.push_back(std::move(t));
  }
  return rec;
}

}  // namespace ppolicy::dns
