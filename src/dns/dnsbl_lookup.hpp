// SPDX-License-Identifier: GPL-2.0-or-later
// DNSBL lookups for the Dnsbl, DnsblDynamic and DnsblScore modules: collect
// (list, subject) pairs, send every distinct query name in one batch
// (several SpamAssassin rules on one zone share one query), and judge each
// answer against its list's listed ranges. Worker side.
//
// Each zone has a circuit breaker shared by all workers: a zone that times
// out `breaker_failures` times in a row is not asked for `breaker_cooldown`
// (its lookups end as skipped). Answers no list of the zone knows (such as
// Spamhaus's 127.255.255.x "query refused" codes) never count as listings
// and are logged, at most once per zone and answer every 10 minutes per
// worker.
#pragma once

#include <string>
#include <vector>

#include "dns/dnsbl_data.hpp"
#include "dns/resolver.hpp"

namespace ppolicy::dns {

struct ListLookup {
  const Blacklist* list = nullptr;
  std::string subject;  // the address or domain looked up
  bool applicable =
      true;  // false: the list cannot take this subject (IPv6 on an ip4 list, defunct)
  Status status = Status::error;
  bool listed = false;
  std::vector<IpAddress> answers;  // answers that are listings of this list
  std::vector<IpAddress> unknown;  // answers no list of the zone knows
  uint32_t ttl = 0;
};

class DnsblLookup {
 public:
  explicit DnsblLookup(const BlacklistData& data) : d_data(data) {}
  // An IP subject for an ip4/ip46 list (ignored for domain lists).
  void add_ip(const Blacklist& list, const IpAddress& ip);
  // A domain subject for a domain list (ignored for IP lists).
  void add_domain(const Blacklist& list, std::string_view domain);
  // One batch, with `extra` queries of the caller in it (e.g. the client's
  // PTR); `services` may be null (no breakers).
  void run(Resolver& resolver, Services* services, SteadyClock::time_point deadline,
           std::span<Query* const> extra = {});

  // The queries run() would send now, for the cold-path prefetch
  // (modules/prefetch.hpp): zones whose breaker is not closed are left to
  // run() (skipped, or its trial).
  void questions(Services* services, std::vector<Query>& out) const;

  std::vector<ListLookup> results;

 private:
  const BlacklistData& d_data;
  std::vector<std::string> d_names;  // query name per result ("" when not applicable)
};

}  // namespace ppolicy::dns
