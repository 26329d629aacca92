// SPDX-License-Identifier: GPL-2.0-or-later
// The DNS side of one SPF evaluation (check_host() with its includes and
// redirects, spf_check.cpp): lookups through the worker's Resolver, so SPF
// asks the same [dns] nameservers as every other module and stops at the
// same deadline, and the processing limits of RFC 7208 §4.6.4 that bound
// what a record can make us ask:
//   - at most 10 terms that query DNS (include, a, mx, ptr, exists,
//     redirect) in the whole evaluation: the 11th is a permerror;
//   - at most 2 void lookups (NXDOMAIN or no data) for those terms' own
//     names: the 3rd is a permerror (lookups of MX hosts and PTR names, and
//     of exp=, do not count);
//   - at most 10 names of an MX answer (more: permerror, spf_check.cpp) and
//     of a PTR answer (the rest ignored) are looked up.
// Names are asked under NameRule::spf (any printable ASCII); a name DNS
// cannot carry is answered as not existing, without a query.
//
// Worker side; one object per evaluation. Not here: records, macros.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dns/resolver.hpp"

namespace ppolicy::dns {

class SpfLookups {
 public:
  static constexpr int k_max_terms = 10;
  static constexpr int k_max_void = 2;
  static constexpr size_t k_max_names = 10;

  SpfLookups(Resolver& resolver, SteadyClock::time_point deadline, const IpAddress& client)
      : d_resolver(resolver), d_deadline(deadline), d_client(client) {}

  // A DNS-querying term starts; false when it would be the 11th.
  bool begin_term() { return ++d_terms <= k_max_terms; }
  // One lookup. `counts_void`: a term's own name, counted when void.
  Query lookup(QType type, const std::string& name, bool counts_void);
  // The address records (A for an IPv4 client, AAAA for IPv6) of several
  // names in one round trip; none counts as void.
  std::vector<Query> addresses(const std::vector<std::string>& names);
  bool void_exceeded() const { return d_voids > k_max_void; }

  // The client's validated names (§5.5): the first 10 names of its PTR
  // record whose addresses include it. A failed PTR lookup gives none; a
  // name whose lookup fails is skipped. Asked once per evaluation.
  // `counts_void`: for the ptr mechanism (a PTR lookup without data).
  const std::vector<std::string>& validated_names(bool counts_void);
  // %{p}: d itself if validated, else a validated name under d, else the
  // first validated name, else "unknown" (§7.3).
  std::string validated_name(std::string_view d);

  const IpAddress& client() const { return d_client; }
  int lookups() const { return d_lookups; }
  Status worst() const { return d_worst; }  // the first failure seen

 private:
  void note(const Query& q);

  Resolver& d_resolver;
  SteadyClock::time_point d_deadline;
  IpAddress d_client;
  int d_terms = 0;
  int d_voids = 0;
  int d_lookups = 0;
  Status d_worst = Status::ok;
  std::optional<std::vector<std::string>> d_validated;
};

// Whether `a` is in the network base/bits of its own family.
bool spf_net_match(const IpAddress& base, int bits, const IpAddress& a);
// Whether `name` is `d` or a name under it (any case).
bool spf_name_under(std::string_view name, std::string_view d);

}  // namespace ppolicy::dns
