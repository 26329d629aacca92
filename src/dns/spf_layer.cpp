// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/spf_layer.hpp"

#include "base/strings.hpp"

namespace ppolicy::dns {
namespace {

QType address_type(const IpAddress& client) {
  return client.v4 ? QType::a : QType::aaaa;
}

}  // namespace

bool spf_name_under(std::string_view name, std::string_view d) {
  if (name.size() == d.size()) return iequals(name, d);
  return name.size() > d.size() && name[name.size() - d.size() - 1] == '.' &&
         iequals(name.substr(name.size() - d.size()), d);
}

bool spf_net_match(const IpAddress& base, int bits, const IpAddress& a) {
  return base.v4 == a.v4 && base.masked(bits) == a.masked(bits);
}

void SpfLookups::note(const Query& q) {
  ++d_lookups;
  if (failed(q.status) && d_worst == Status::ok) d_worst = q.status;
}

Query SpfLookups::lookup(QType type, const std::string& name, bool counts_void) {
  Query q = Query::make(type, name);
  q.rule = NameRule::spf;
  if (valid_name(q.name, NameRule::spf)) {
    d_resolver.resolve(q, d_deadline);
    note(q);
  } else {
    q.status = Status::nxdomain;  // a name DNS cannot carry does not exist (RFC 7208 §4.3)
  }
  if (counts_void && negative(q.status)) ++d_voids;
  return q;
}

std::vector<Query> SpfLookups::addresses(const std::vector<std::string>& names) {
  std::vector<Query> qs;
  qs.reserve(names.size());
  for (const auto& n : names) {
    qs.push_back(Query::make(address_type(d_client), n));
    qs.back().rule = NameRule::spf;
  }
  std::vector<Query*> ask;
  for (auto& q : qs) {
    if (valid_name(q.name, NameRule::spf))
      ask.push_back(&q);
    else
      q.status = Status::nxdomain;
  }
  if (!ask.empty()) d_resolver.resolve(ask, d_deadline);
  for (Query* q : ask)
    note(*q);
  return qs;
}

const std::vector<std::string>& SpfLookups::validated_names(bool counts_void) {
  if (d_validated) return *d_validated;
  d_validated.emplace();
  Query ptr = Query::ptr(d_client);  // a reverse name: the strict rule
  d_resolver.resolve(ptr, d_deadline);
  note(ptr);
  if (counts_void && negative(ptr.status)) ++d_voids;
  if (ptr.status != Status::ok) return *d_validated;
  std::vector<std::string> names(ptr.names.begin(),
                                 ptr.names.begin() + std::min(ptr.names.size(), k_max_names));
  auto answers = addresses(names);
  for (size_t i = 0; i < names.size(); ++i) {
    for (const auto& a : answers[i].addrs) {
      if (a == d_client) {
        d_validated->push_back(names[i]);
        break;
      }
    }
  }
  return *d_validated;
}

std::string SpfLookups::validated_name(std::string_view d) {
  const auto& names = validated_names(false);
  for (const auto& n : names)
    if (iequals(n, d)) return n;
  for (const auto& n : names)
    if (spf_name_under(n, d)) return n;
  return names.empty() ? "unknown" : names.front();
}

}  // namespace ppolicy::dns
