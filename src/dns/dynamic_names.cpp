// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/dynamic_names.hpp"

namespace ppolicy::dns {
namespace {

#define DYN_WORDS                                                                              \
  "(user|host|pool|dial|dialup|dip0|ppp(oe)?|dhcp|(a|s|x)?dsl|internetdsl|dynamic|dyn-ip|dyn|" \
  "static|cable|"                                                                              \
  "catv|broadband[0-9]*)"

// The original's include patterns, converted from Python re to POSIX ERE:
// \d -> [0-9], \w -> [[:alnum:]_], an empty alternative "(|x)" -> "(x)?".
// Only the existence of a match matters, which both dialects agree on.
const char* const k_include[] = {
    "([0-9]{1,3}[.x-]){2}[0-9]{1,3}\\.[^.]+\\.[^.]+",            // 84-23-11-2.dsl.provider.com
    "ip(-[0-9]{1,3}){2}\\.[^.]+\\.[^.]+",                        // ip-12-34.provider.com
    "([[:alnum:]_]+-){3}[[:alnum:]_]+\\.[^.]+\\.[^.]+",          // abc-123-abc-123.provider.com
    "[0-9]{12,}[[:alnum:]_]*\\.[^.]+\\.[^.]+",                   // 087206149137.provider.com
    "net[0-9]{9,}[[:alnum:]_]*\\.[^.]+\\.[^.]+",                 // net220216005.provider.com
    DYN_WORDS "(\\.|x|-)?[0-9]+([.x-][0-9]+)+\\.[^.]+\\.[^.]+",  // pool12-34.provider.com
    "[.-]" DYN_WORDS "(-[^.]+)?\\.[^.]+\\.[^.]+",                // host.dhcp.isp.net
    // at least six labels, one of them ending in digits: dlp-14.as2.tz-1.bih.net.ba
    ".+-?[0-9]+(\\..+){5,}|(\\..+){1,}.+-?[0-9]+(\\..+){4}|(\\..+){2,}.+-?[0-9]+(\\..+){3}|"
    "(\\..+){3,}.+-?[0-9]+(\\..+){2}",
};
const char* const k_exclude[] = {
    "[.-](smtp|mail)[0-9]*(-[^.]+)?\\.[^.]+\\.[^.]+",  // ...mail-iw0-f181.google.com
    "[.-]out(-[^.]+)?\\.[^.]+\\.[^.]+",                // mm-retail-out-13101.amazon.com
};

}  // namespace

DynamicNames::DynamicNames() {
  for (const char* p : k_include)
    d_include.push_back(std::make_unique<Regex>(p, true));
  for (const char* p : k_exclude)
    d_exclude.push_back(std::make_unique<Regex>(p, true));
}

bool DynamicNames::dynamic(std::string_view name) const {
  for (const auto& re : d_exclude)
    if (re->search(name)) return false;
  for (const auto& re : d_include)
    if (re->search(name)) return true;
  return false;
}

}  // namespace ppolicy::dns
