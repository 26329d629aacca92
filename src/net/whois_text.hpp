// SPDX-License-Identifier: GPL-2.0-or-later
// Reading whois answers about IP addresses (RFC 3912 gives no format): the
// "key: value" texts of IANA, the RIRs (RIPE, APNIC, AFRINIC, LACNIC) and
// ARIN. Picks the network name, country, organisation and range, and the
// referral to another whois server (IANA "refer:", ARIN "ReferralServer:").
// Used by the Whois module (worker); only text here, no sockets.
#pragma once

#include <string>
#include <string_view>

namespace ppolicy {

struct WhoisRecord {
  std::string netname, country, org, range;
  std::string refer_host;   // referral (empty: none); its port is not used
  bool no_entries = false;  // the server said so ("% No entries found", "No match found")
  // Something useful was found (placeholder blocks such as IANA-BLK do not count).
  bool found() const;
};

WhoisRecord parse_whois(std::string_view text);

// The query line for a server: RIPE-database servers get "-r" (no contact
// objects: they count against the per-client daily limit for personal data).
std::string whois_query_for(std::string_view host, std::string_view address);

}  // namespace ppolicy
