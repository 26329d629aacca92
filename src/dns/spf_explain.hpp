// SPDX-License-Identifier: GPL-2.0-or-later
// What an SPF result says to people: the explanation of a fail (RFC 7208
// §6.2), and the Received-SPF header (§9.1) with its comment. Worker side,
// called by modules/spf.cpp after spf_check_host().
//
// The explanation is the exp= text of the record that failed (a redirect's
// target's, never an include's), expanded with the macros c, r and t too;
// when there is no exp=, or its name has no single TXT record, or the text
// is not a valid explanation-string (non-ASCII, a bad macro), it is the
// module's default explanation, expanded the same way. The lookup of exp=
// counts against no limit. Not here: the evaluation, the module's fields.
#pragma once

#include <string>
#include <string_view>

#include "dns/spf_check.hpp"

namespace ppolicy::dns {

// Ours: it points nowhere (libspf2's pointed at openspf.org, long gone).
inline constexpr const char* k_default_spf_explanation =
    "%{o} does not allow %{c} to send its mail (SPF)";

std::string spf_explanation(SpfLookups& dns, const SpfMacroValues& v, const SpfOutcome& o,
                            std::string_view default_text);

struct SpfHeader {
  SpfResult result = SpfResult::none;
  std::string receiver;  // this host
  IpAddress ip;
  std::string envelope;          // MAIL FROM as sent ("" for the null sender)
  std::string helo;              // as sent
  std::string identity;          // "mailfrom" or "helo"
  std::string identity_address;  // what was checked: the sender or postmaster@HELO
};

// "receiver: domain of S designates IP as permitted sender", and the like.
std::string spf_comment(const SpfHeader& h);
// The header value: "RESULT (COMMENT) client-ip=...; envelope-from=...;
// helo=...; identity=...;".
std::string spf_header(const SpfHeader& h);

}  // namespace ppolicy::dns
