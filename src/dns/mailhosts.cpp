// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/mailhosts.hpp"

#include <algorithm>

#include "base/special_addr.hpp"

namespace ppolicy::dns {
namespace {

void keep_min_ttl(uint32_t& ttl, const Query& q) {
  if (q.status == Status::ok && (ttl == 0 || q.ttl < ttl)) ttl = q.ttl;
}

// The status of an address lookup pair (A and AAAA of one name).
Status pair_status(const Query& a, const Query& aaaa) {
  if (a.status == Status::ok || aaaa.status == Status::ok) return Status::ok;
  if (failed(a.status)) return a.status;
  if (failed(aaaa.status)) return aaaa.status;
  if (a.status == Status::nxdomain || aaaa.status == Status::nxdomain) return Status::nxdomain;
  return Status::nodata;
}

void append(std::vector<IpAddress>& out, const Query& q) {
  if (q.status == Status::ok) out.insert(out.end(), q.addrs.begin(), q.addrs.end());
}

}  // namespace

std::vector<IpAddress> MailHosts::addresses() const {
  std::vector<IpAddress> out;
  for (const auto& h : hosts)
    for (const auto& a : h.addrs)
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

MailHosts mailhosts(Resolver& resolver, std::string_view domain_in,
                    SteadyClock::time_point deadline, size_t max_hosts) {
  MailHosts r;
  std::string domain = normal_name(domain_in);
  if (!valid_name(domain)) {
    r.status = Status::error;
    return r;
  }
  // The domain's own addresses are asked together with its MX: when there
  // is no MX (implicit MX), no second round trip is needed.
  Query mx = Query::mx_of(domain), a = Query::a(domain), aaaa = Query::aaaa(domain);
  Query* first[] = {&mx, &a, &aaaa};
  resolver.resolve(first, deadline);
  keep_min_ttl(r.ttl, mx);

  if (mx.status == Status::nodata) {
    // RFC 5321 §5.1: no MX records, the domain itself is the mail host.
    r.implicit = true;
    MailHost h;
    h.name = domain;
    h.status = pair_status(a, aaaa);
    append(h.addrs, a);
    append(h.addrs, aaaa);
    keep_min_ttl(r.ttl, a);
    keep_min_ttl(r.ttl, aaaa);
    r.status = h.status;
    if (h.status == Status::ok) r.hosts.push_back(std::move(h));
    return r;
  }
  if (mx.status != Status::ok) {
    r.status = mx.status;
    return r;
  }
  // RFC 7505: a single "MX 0 ." says the domain accepts no mail.
  if (mx.mx.size() == 1 && mx.mx[0].host.empty()) {
    r.null_mx = true;
    r.status = Status::ok;
    return r;
  }

  std::vector<MxRecord> records;
  for (const auto& m : mx.mx)
    if (!m.host.empty() && records.size() < max_hosts) records.push_back(m);
  std::vector<Query> qs;
  qs.reserve(records.size() * 2);
  for (const auto& m : records) {
    qs.push_back(Query::a(m.host));
    qs.push_back(Query::aaaa(m.host));
  }
  std::vector<Query*> ptrs;
  for (size_t i = 0; i < records.size(); ++i) {
    // An exchanger that is the domain itself was resolved already.
    if (records[i].host == domain) {
      qs[2 * i] = a;
      qs[2 * i + 1] = aaaa;
      continue;
    }
    ptrs.push_back(&qs[2 * i]);
    ptrs.push_back(&qs[2 * i + 1]);
  }
  resolver.resolve(ptrs, deadline);

  Status worst_failure = Status::ok;
  for (size_t i = 0; i < records.size(); ++i) {
    MailHost h;
    h.name = records[i].host;
    h.preference = records[i].preference;
    h.status = pair_status(qs[2 * i], qs[2 * i + 1]);
    append(h.addrs, qs[2 * i]);
    append(h.addrs, qs[2 * i + 1]);
    keep_min_ttl(r.ttl, qs[2 * i]);
    keep_min_ttl(r.ttl, qs[2 * i + 1]);
    if (failed(h.status) && worst_failure == Status::ok) worst_failure = h.status;
    r.hosts.push_back(std::move(h));
  }
  bool any_addr = false;
  for (const auto& h : r.hosts)
    any_addr = any_addr || !h.addrs.empty();
  if (any_addr)
    r.status = Status::ok;
  else if (worst_failure != Status::ok)
    r.status = worst_failure;
  else
    r.status = Status::nodata;  // no exchanger resolves
  return r;
}

bool is_public(const IpAddress& ip) {
  const SpecialRange* r = special_range(ip);
  return !r || r->documentation;
}

}  // namespace ppolicy::dns
