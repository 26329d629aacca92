// SPDX-License-Identifier: GPL-2.0-or-later
// The worker's DNS resolver: one udns context per worker process, created
// after fork on first use (services.resource<dns::Resolver>()), asking the
// [dns] nameservers (default: those of /etc/resolv.conf).
//
// resolve() sends a whole batch of queries at once and waits until every one
// is answered or the deadline passes: min([dns] timeout, the caller's
// deadline, i.e. the request's remaining time). Twenty DNSBL lookups cost one
// round trip, not twenty. udns keeps whole-second timers, so the millisecond
// deadline is enforced here: what is unanswered then is cancelled.
//
// Every query ends with a Status that tells a definite "no such name / no
// such data" (nxdomain, nodata) apart from a failure (servfail, timeout,
// skipped, error); answers keep their TTL. A nameserver set that stops
// answering altogether opens a circuit breaker shared by all workers; while
// it is open, queries end at once as `skipped`. Silent zones (dead DNSBLs, a
// domain's dead nameservers) never open it: a batch that hears nothing for
// half its wait sends a probe (the root's NS) that any live server answers,
// and only a batch whose probe went unanswered too counts against the server.
//
// Not here: no answer cache (module results are cached by the daemon), no
// TCP fallback (udns is UDP only; EDNS0 with 4096-byte buffers), no search
// list (every name is absolute).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/net.hpp"
#include "conf/error.hpp"
#include "conf/option.hpp"
#include "conf/settings.hpp"
#include "svc/services.hpp"

struct dns_ctx;
struct dns_query;

namespace ppolicy::dns {

enum class Status : uint8_t {
  ok,        // answered with data
  nxdomain,  // the name does not exist
  nodata,    // the name exists, but has no data of this type
  servfail,  // the server answered SERVFAIL/REFUSED (or a truncated reply)
  timeout,   // no answer before the deadline
  skipped,   // not asked: the nameservers' (or the zone's) circuit breaker is open
  error,     // invalid name, resolver unusable
};
const char* status_name(Status s);
// Definite negative answers (the data does not exist).
inline bool negative(Status s) {
  return s == Status::nxdomain || s == Status::nodata;
}
// Failures: nothing is known about the data.
inline bool failed(Status s) {
  return s != Status::ok && !negative(s);
}

enum class QType : uint8_t { a, aaaa, ptr, mx, txt };
const char* qtype_name(QType t);

struct MxRecord {
  int preference = 0;
  std::string host;  // "" for a null MX (RFC 7505: "MX 0 .")
};

// Which names a query may ask for. `host`: labels of letters, digits, '-'
// and '_', what host names, DNSBL zones and reverse names are (a hostile
// value never becomes a query for something else). `spf`: any printable
// ASCII (0x20-0x7e) in a label, the names RFC 7208 records and their macro
// expansion make (§7.1: a domain-spec may hold any visible character; %%,
// %_ and %- expand to '%', ' ' and "%20").
enum class NameRule : uint8_t { host, spf };

struct Query {
  QType type = QType::a;
  std::string name;  // absolute, without trailing dot; labels as raw bytes
  NameRule rule = NameRule::host;
  // Optional grouping for breaker decisions (a DNSBL zone); default: the
  // last two labels of the name.
  std::string zone;

  Status status = Status::error;
  uint32_t ttl = 0;
  std::vector<IpAddress> addrs;  // A, AAAA
  // PTR targets (raw bytes: a target with a '.' inside a label is dropped);
  // TXT records (the strings of one record joined).
  std::vector<std::string> names;
  std::vector<MxRecord> mx;  // MX, sorted by preference

  static Query a(std::string name) { return make(QType::a, std::move(name)); }
  static Query aaaa(std::string name) { return make(QType::aaaa, std::move(name)); }
  static Query ptr(const IpAddress& ip) { return make(QType::ptr, ip.ptr_name()); }
  static Query mx_of(std::string name) { return make(QType::mx, std::move(name)); }
  static Query txt(std::string name) { return make(QType::txt, std::move(name)); }
  static Query make(QType t, std::string name);

  // Internal state of one resolve() call.
  dns_query* q = nullptr;
  bool done = false;
  int replies = 0;  // reply packets seen for this query
  int rcode = -1;   // rcode of the last reply
};

// A name the rule allows: labels of 1..63 bytes, at most 253 bytes in all
// (a trailing dot is allowed), of the characters of the rule (see NameRule).
bool valid_name(std::string_view name, NameRule rule = NameRule::host);
// Lower case, without a trailing dot.
std::string normal_name(std::string_view name);

// "nameserver ADDR" lines of a resolv.conf file (127.0.0.1 when none).
std::vector<std::string> resolv_conf_servers(const std::string& path);

class Resolver : public WorkerResource {
 public:
  static std::unique_ptr<Resolver> create(Services& services);
  // `services` may be null (unit tests: no breakers).
  Resolver(Services* services, const DnsSettings& settings);
  ~Resolver() override;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Send every query at once; return when all are answered or at
  // min(now + [dns] timeout, deadline). Each query's status says what happened.
  void resolve(std::span<Query* const> queries, SteadyClock::time_point deadline);
  void resolve(Query& query, SteadyClock::time_point deadline);

  // The answers of one request (the module runner turns this on when it
  // prefetches, and off when the request ends): while on, a question asked
  // again in the request (prefetched, or asked by an earlier module) is
  // answered from here, not sent. Answers live no longer than the request,
  // so their TTL does not matter.
  void begin_memo();
  void end_memo();
  // The prefetch batch: resolve() of all `queries`, but only the first
  // `needed` (the module about to run) are waited for in full; the others
  // get as long again as those took, then are left unanswered (status
  // skipped, not remembered: a module that needs one asks it itself). So a
  // slow question of a later module never delays an early decision more
  // than the early module's own lookups took.
  void prefetch(std::span<Query* const> queries, size_t needed, SteadyClock::time_point deadline);
  long memo_hits() const { return d_memo_hits; }  // answered from the memo since creation

  long timeout_ms() const { return d_timeout_ms; }
  const std::string& servers() const { return d_servers_text; }  // "127.0.0.1:53, ..."
  bool usable() const { return d_ctx != nullptr; }

  // For the udns callbacks.
  void packet_seen() { ++d_packets; }

 private:
  void ask(std::span<Query* const> queries, SteadyClock::time_point deadline,
           size_t needed = SIZE_MAX);
  bool recall(Query& q) const;
  void remember(const Query& q);
  void finish(Query& q, int status, void* result);
  static void on_answer(dns_ctx* ctx, void* result, void* data);
  static void on_probe(dns_ctx* ctx, void* result, void* data);

  Services* d_services;
  dns_ctx* d_ctx = nullptr;
  int d_fd = -1;
  long d_timeout_ms;
  std::string d_servers_text;
  std::string d_breaker_key;
  long d_packets = 0;
  bool d_memo_on = false;
  std::vector<Query> d_memo;
  long d_memo_hits = 0;
};

}  // namespace ppolicy::dns
