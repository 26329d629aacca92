// SPDX-License-Identifier: GPL-2.0-or-later
// The mail hosts of a domain as an SMTP client would find them (RFC 5321
// §5): its MX records by preference, each exchanger's A and AAAA addresses;
// without MX records the domain itself (the "implicit MX"); a null MX (RFC
// 7505, "MX 0 .") means the domain accepts no mail. Used by Resolve
// (name->mx, ip->name->mx) and by Verification. Worker side, synchronous,
// two round trips at most (MX with the domain's own A/AAAA, then the
// exchangers' addresses), all under one deadline.
//
// Not here: no filtering of addresses (callers decide whether loopback or
// private addresses count; is_public() helps), no connection attempts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.hpp"

namespace ppolicy::dns {

struct MailHost {
  std::string name;
  int preference = 0;
  Status status = Status::error;  // of its address lookups (ok when it has addresses)
  std::vector<IpAddress> addrs;   // A then AAAA
};

struct MailHosts {
  // ok: hosts found (see hosts / null_mx); nxdomain: no such domain;
  // nodata: neither MX nor address records, or no exchanger resolves;
  // servfail/timeout/skipped/error: the lookup failed.
  Status status = Status::error;
  bool null_mx = false;   // RFC 7505: the domain accepts no mail (hosts empty)
  bool implicit = false;  // no MX records: the domain's own addresses
  std::vector<MailHost> hosts;
  uint32_t ttl = 0;  // the smallest TTL seen

  // Every address, in preference order, without duplicates.
  std::vector<IpAddress> addresses() const;
};

// At most `max_hosts` exchangers are resolved (the most preferred ones).
MailHosts mailhosts(Resolver& resolver, std::string_view domain, SteadyClock::time_point deadline,
                    size_t max_hosts = 10);

// For Resolve's "public mail host": an address outside the special-purpose
// ranges of base/special_addr.hpp, except that documentation ranges count as
// public (examples and test zones use them). Not the outbound guard:
// connections go through outbound_allowed(), which refuses those too.
bool is_public(const IpAddress& ip);

}  // namespace ppolicy::dns
