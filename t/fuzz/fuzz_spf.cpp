// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: SPF records and explanations as a hostile DNS server
// would send them (src/dns/spf_record.cpp, src/dns/spf_macro.cpp): record
// selection among TXT records, the ABNF check, then the expansion of every
// domain-spec and of the text as an explanation, with sender, HELO and
// local-part values taken from the input too. Checks the bounds the
// evaluator relies on: expansions never exceed k_max_expansion, names
// never 253 octets, a parse error always says why. Built with clang by
// t/fuzz/fuzz.mk; run by t/fuzz/run.sh under ASan+UBSan.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/spf_macro.hpp"
#include "dns/spf_record.hpp"

using namespace ppolicy;
using namespace ppolicy::dns;

namespace {

void check_name(const std::optional<std::string>& n) {
  if (n && (n->empty() || n->size() > 253)) __builtin_trap();
}

void check_text(const std::optional<std::string>& t) {
  if (t && t->size() > k_max_expansion) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The input: TXT records separated by NUL bytes; the last one is also the
  // local-part and HELO name of the macro values.
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> txt;
  while (!in.empty()) {
    auto nul = in.find('\0');
    txt.emplace_back(in.substr(0, nul));
    in.remove_prefix(nul == std::string_view::npos ? in.size() : nul + 1);
  }
  if (txt.empty()) return 0;
  SpfMacroValues v;
  v.local = txt.back().substr(0, 64);
  v.domain = "example.com";
  v.sender = v.local + "@" + v.domain;
  v.helo = txt.back();
  v.ip = *IpAddress::parse(size % 2 ? "192.0.2.1" : "2001:db8::1");
  v.receiver = "mx.example.net";
  v.validated = [](std::string_view d) { return std::string(d); };

  std::string why;
  for (const auto& rec : spf_records(txt)) {
    auto r = parse_spf_record(rec, &why);
    if (!r) {
      if (why.empty()) __builtin_trap();
      continue;
    }
    for (const auto& t : r->terms)
      if (!t.domain.empty()) check_name(expand_domain(t.domain, v, "d.example.com"));
    if (!r->redirect.empty()) check_name(expand_domain(r->redirect, v, "d.example.com"));
    if (!r->exp.empty()) check_name(expand_domain(r->exp, v, "d.example.com"));
  }
  for (const auto& t : txt) {
    if (valid_macro_string(t, MacroUse::explanation, &why))
      check_text(expand_macros(t, v, "d.example.com"));
    if (valid_domain_spec(t, &why)) check_name(expand_domain(t, v, "d.example.com"));
  }
  return 0;
}
