// SPDX-License-Identifier: GPL-2.0-or-later
// SPF records as RFC 7208 writes them: which TXT record of a domain is its
// SPF record (§4.5), and the record checked against the ABNF (§4.6.1, §5,
// §6, §7.1, §12) into terms, before anything of it is evaluated: any syntax
// error anywhere is a permerror (§4.6), also in a term evaluation would
// never reach. Worker side (spf_check.cpp), and the module's configuration
// check (the default explanation).
//
// Not here: macro expansion (spf_macro.cpp), DNS, evaluation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/net.hpp"

namespace ppolicy::dns {

enum class SpfMech : uint8_t { all, include, a, mx, ptr, ip4, ip6, exists };

struct SpfTerm {
  SpfMech mech = SpfMech::all;
  char qualifier = '+';  // + - ~ ?
  std::string domain;    // the domain-spec, unexpanded; "" = the current domain
  IpAddress net;         // ip4, ip6 (ip6 never marked v4)
  int cidr4 = 32;        // a, mx, ip4
  int cidr6 = 128;       // a, mx, ip6
  std::string text;      // the term as written
};

struct SpfRecord {
  std::vector<SpfTerm> terms;  // the mechanisms, in order
  std::string redirect;        // domain-spec of redirect=, "" when none
  std::string exp;             // domain-spec of exp=, "" when none
};

// Of a domain's TXT records, those that are SPF records: "v=spf1" (any
// case) alone or followed by a space. More than one is a permerror.
std::vector<std::string> spf_records(const std::vector<std::string>& txt);

// The record's terms; nullopt and *why on a syntax error.
std::optional<SpfRecord> parse_spf_record(std::string_view text, std::string* why);

// Where a macro-string is: a domain-spec allows the letters s l o d i p h
// v; explanation text (the TXT record exp= names) adds c r t (§7.3) and
// spaces; the value of an unknown modifier, never expanded, is held to the
// ABNF alone (all eleven letters).
enum class MacroUse : uint8_t { domain, explanation, modifier };
// The macro-string grammar (§7.1): literals are visible ASCII but '%';
// "%%", "%_", "%-" and "%{" letter *DIGIT ["r"] *delimiter "}" (DIGIT not
// zero). Error text in *why.
bool valid_macro_string(std::string_view s, MacroUse use, std::string* why);
// domain-spec = macro-string domain-end; domain-end = "." toplabel ["."]
// or a macro-expand; toplabel: alphanumerics and '-', not all digits, not
// starting or ending with '-' (§7.1). Not empty.
bool valid_domain_spec(std::string_view s, std::string* why);

}  // namespace ppolicy::dns
