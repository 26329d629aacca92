// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/dnsbl_lookup.hpp"

#include <ctime>
#include <map>
#include <set>
#include <unordered_map>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace ppolicy::dns {
namespace {

constexpr time_t k_log_every = 600;

// Rate limit per worker: one line per (zone, answer) every k_log_every.
bool should_log(const std::string& key) {
  static std::unordered_map<std::string, time_t> last;
  time_t now = std::time(nullptr);
  if (last.size() > 1000) last.clear();  // bounded; losing history only logs again
  auto it = last.find(key);
  if (it != last.end() && now - it->second < k_log_every) return false;
  last[key] = now;
  return true;
}

std::string breaker_key(const std::string& zone) {
  return "dnsbl zone " + zone;
}

}  // namespace

void DnsblLookup::add_ip(const Blacklist& list, const IpAddress& ip) {
  if (list.kind == ListKind::domain) return;
  ListLookup r;
  r.list = &list;
  r.subject = ip.str();
  r.applicable = !list.defunct && list.takes_ip(ip);
  results.push_back(std::move(r));
  d_names.push_back(results.back().applicable ? ip.reverse_labels() + "." + list.zone : "");
}

void DnsblLookup::add_domain(const Blacklist& list, std::string_view domain) {
  if (list.kind != ListKind::domain) return;
  ListLookup r;
  r.list = &list;
  r.subject = normal_name(domain);
  r.applicable = !list.defunct && valid_name(r.subject);
  std::string name = r.applicable ? r.subject + "." + list.zone : "";
  if (name.size() > 253) {  // too long to look up: the domain cannot be listed under this zone
    r.applicable = false;
    name.clear();
  }
  results.push_back(std::move(r));
  d_names.push_back(name);
}

void DnsblLookup::questions(Services* services, std::vector<Query>& out) const {
  Breakers* breakers = services ? &services->breakers() : nullptr;
  uint32_t now = services ? services->now() : 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].applicable) continue;
    const std::string& zone = results[i].list->zone;
    if (breakers && breakers->state(breaker_key(zone), now) != 0) continue;
    Query q = Query::a(d_names[i]);
    q.zone = zone;
    out.push_back(std::move(q));
  }
}

void DnsblLookup::run(Resolver& resolver, Services* services, SteadyClock::time_point deadline,
                      std::span<Query* const> extra) {
  Breakers* breakers = services ? &services->breakers() : nullptr;
  uint32_t now = services ? services->now() : 0;

  // Zones whose breaker is open are not asked.
  std::map<std::string, bool> zone_allowed;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].applicable) continue;
    const std::string& zone = results[i].list->zone;
    if (zone_allowed.count(zone)) continue;
    zone_allowed[zone] = !breakers || breakers->allow(breaker_key(zone), now);
  }

  // One query per distinct name.
  std::vector<Query> queries;
  std::map<std::string, size_t> by_name;
  std::vector<long> query_of(results.size(), -1);
  queries.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].applicable) continue;
    if (!zone_allowed[results[i].list->zone]) {
      results[i].status = Status::skipped;
      continue;
    }
    auto it = by_name.find(d_names[i]);
    if (it == by_name.end()) {
      Query q = Query::a(d_names[i]);
      q.zone = results[i].list->zone;
      queries.push_back(std::move(q));
      it = by_name.emplace(d_names[i], queries.size() - 1).first;
    }
    query_of[i] = static_cast<long>(it->second);
  }
  std::vector<Query*> ptrs;
  for (auto& q : queries)
    ptrs.push_back(&q);
  ptrs.insert(ptrs.end(), extra.begin(), extra.end());
  resolver.resolve(ptrs, deadline);

  for (size_t i = 0; i < results.size(); ++i) {
    if (query_of[i] < 0) continue;
    ListLookup& r = results[i];
    const Query& q = queries[static_cast<size_t>(query_of[i])];
    r.status = q.status;
    r.ttl = q.ttl;
    for (const auto& a : q.addrs) {
      if (r.list->lists(a))
        r.answers.push_back(a);
      else if (!d_data.known_answer(r.list->zone, a))
        r.unknown.push_back(a);
    }
    r.listed = !r.answers.empty();
    for (const auto& a : r.unknown)
      if (should_log(r.list->zone + " " + a.str()))
        log_warn(
            "dnsbl zone %s answered %s for %s: not a listing of any list of this zone (error "
            "code?); "
            "ignored",
            r.list->zone.c_str(), a.str().c_str(), r.subject.c_str());
  }

  // Zone breakers: a timeout counts against the zone, an answer for it.
  if (!breakers) return;
  std::map<std::string, std::pair<int, int>> per_zone;  // zone -> (timeouts, answers)
  for (const auto& q : queries) {
    auto& c = per_zone[q.zone];
    if (q.status == Status::timeout)
      ++c.first;
    else if (q.status == Status::ok || negative(q.status))
      ++c.second;
  }
  now = services->now();
  for (const auto& [zone, c] : per_zone) {
    if (c.first > 0)
      breakers->failure(breaker_key(zone), now, format("%d lookups timed out", c.first));
    else if (c.second > 0)
      breakers->success(breaker_key(zone), now);
  }
}

}  // namespace ppolicy::dns
