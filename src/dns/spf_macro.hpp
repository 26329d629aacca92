// SPDX-License-Identifier: GPL-2.0-or-later
// SPF macro expansion (RFC 7208 §7): the letters, the transformers (parts,
// reversal, delimiters), URL escaping of upper-case letters, and the names
// a domain-spec expands to (trailing dot off, cut from the left to 253
// octets, §7.3). Worker side (spf_check.cpp, spf_explain.cpp).
//
// Only strings that passed valid_macro_string() (spf_record.hpp) come here;
// the expander still never reads past the string and bounds its output
// (k_max_expansion), whatever the values. The p macro needs DNS: it is a
// callback (spf_layer.cpp answers it). Not here: the syntax check, DNS.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/net.hpp"

namespace ppolicy::dns {

// What the letters stand for in one evaluation; d (the current domain)
// comes with each expansion.
struct SpfMacroValues {
  std::string sender;    // s: the identity, "postmaster@" added when it had no local-part
  std::string local;     // l
  std::string domain;    // o
  std::string helo;      // h: the HELO/EHLO name as the client sent it
  IpAddress ip;          // i, c, v (an IPv4-mapped address is IPv4)
  std::string receiver;  // r: this host's name
  // p: the validated name of ip, preferring d or a name under d ("unknown").
  std::function<std::string(std::string_view d)> validated;
};

// An expansion longer than this fails (a record of macros of long values).
inline constexpr size_t k_max_expansion = 8192;

// The expansion of a valid macro-string, nullopt when longer than
// k_max_expansion.
std::optional<std::string> expand_macros(std::string_view s, const SpfMacroValues& v,
                                         std::string_view d);

// The name a valid domain-spec stands for: expanded, without a trailing
// dot, whole labels taken off the left until it has at most 253 octets.
// nullopt when that leaves nothing. The name may still be one DNS cannot
// carry (an empty label, one over 63 octets): the lookup decides.
std::optional<std::string> expand_domain(std::string_view spec, const SpfMacroValues& v,
                                         std::string_view d);

}  // namespace ppolicy::dns
