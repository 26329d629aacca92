// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/resolver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <udns.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "conf/config.hpp"

namespace ppolicy::dns {
namespace {

// The resolver running resolve() in this process (the udns debug hook has
// no context argument for packets that match no query).
Resolver* s_active = nullptr;

// udns calls this for every packet sent (code 1) and received (code 0 for a
// reply to a query, negative for replies it drops: late, wrong server, bad).
void on_packet(int code, const sockaddr*, unsigned, dnscc_t* pkt, int plen, const dns_query*,
               void* data) {
  if (code == 1) return;
  if (s_active) s_active->packet_seen();
  if (code == 0 && data) {
    auto* q = static_cast<Query*>(data);
    ++q->replies;
    if (plen >= 4) q->rcode = pkt[3] & 0x0f;
  }
}

IpAddress from_in4(const in_addr& a) {
  IpAddress r;
  r.v4 = true;
  r.bytes[10] = r.bytes[11] = 0xff;
  std::memcpy(&r.bytes[12], &a, 4);
  return r;
}

IpAddress from_in6(const in6_addr& a) {
  IpAddress r;
  std::memcpy(r.bytes.data(), &a, 16);
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  r.v4 = std::memcmp(r.bytes.data(), mapped, 12) == 0;
  return r;
}

bool add_server(dns_ctx* ctx, const std::string& text, int port, std::string* shown) {
  auto ip = IpAddress::parse(text);
  if (!ip) return false;
  sockaddr_storage ss{};
  if (ip->v4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&sa->sin_addr, &ip->bytes[12], 4);
    *shown = format("%s:%d", ip->str().c_str(), port);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&sa->sin6_addr, ip->bytes.data(), 16);
    *shown = format("[%s]:%d", ip->str().c_str(), port);
  }
  return dns_add_serv_s(ctx, reinterpret_cast<sockaddr*>(&ss)) >= 0;
}

// The wire form of a (valid) name, built here rather than by udns from text:
// udns reads '\' escapes in text names, and a raw label may hold any byte.
bool to_wire(std::string_view name, dnsc_t* dn) {
  size_t n = 0;
  while (!name.empty()) {
    auto dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || n + label.size() + 2 > DNS_MAXDN) return false;
    dn[n++] = static_cast<dnsc_t>(label.size());
    std::memcpy(dn + n, label.data(), label.size());
    n += label.size();
    name.remove_prefix(dot == std::string_view::npos ? name.size() : dot + 1);
  }
  dn[n] = 0;
  return true;
}

// udns gives names of answers (PTR, MX) in text form, escaping the bytes a
// master file cannot hold ("\032" for a space, "\." for a dot inside a
// label): back to raw bytes. A label with a dot inside cannot be a raw name:
// nullopt.
std::optional<std::string> from_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char c = text[++i];
    auto digit = [&](size_t k) { return k < text.size() && text[k] >= '0' && text[k] <= '9'; };
    if (digit(i) && digit(i + 1) && digit(i + 2)) {
      int v = (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
      if (v > 255) return std::nullopt;
      c = static_cast<char>(v);
      i += 2;
    }
    if (c == '.') return std::nullopt;
    out += c;
  }
  return normal_name(out);
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::nxdomain:
      return "NXDOMAIN";
    case Status::nodata:
      return "no data";
    case Status::servfail:
      return "SERVFAIL";
    case Status::timeout:
      return "timeout";
    case Status::skipped:
      return "skipped (circuit breaker open)";
    case Status::error:
      return "error";
  }
  return "?";
}

const char* qtype_name(QType t) {
  switch (t) {
    case QType::a:
      return "A";
    case QType::aaaa:
      return "AAAA";
    case QType::ptr:
      return "PTR";
    case QType::mx:
      return "MX";
    case QType::txt:
      return "TXT";
  }
  return "?";
}

Query Query::make(QType t, std::string name) {
  Query q;
  q.type = t;
  q.name = normal_name(name);
  return q;
}

bool valid_name(std::string_view name, NameRule rule) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = rule == NameRule::spf ? c >= 0x20 && c <= 0x7e
                                    : (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                          (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::string normal_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lower(name);
}

std::vector<std::string> resolv_conf_servers(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto words = split(line, " \t");
    if (words.size() < 2 || words[0] != "nameserver") continue;
    std::string addr = words[1];
    auto pct = addr.find('%');  // fe80::1%eth0: udns cannot use the scope
    if (pct != std::string::npos) continue;
    if (IpAddress::parse(addr) && out.size() < DNS_MAXSERV) out.push_back(addr);
  }
  if (out.empty()) out.push_back("127.0.0.1");  // what the C library assumes
  return out;
}

std::unique_ptr<Resolver> Resolver::create(Services& services) {
  return std::make_unique<Resolver>(&services, services.config().dns);
}

Resolver::Resolver(Services* services, const DnsSettings& settings)
    : d_services(services), d_timeout_ms(settings.timeout_ms) {
  // dns_reset(), not dns_init(): nothing is read from /etc/resolv.conf or
  // the environment unless we decide so.
  dns_reset(&dns_defctx);
  d_ctx = dns_new(&dns_defctx);
  if (!d_ctx) {
    log_error("dns: cannot create the resolver: out of memory");
    return;
  }
  dns_add_serv(d_ctx, nullptr);
  auto servers =
      settings.nameservers.empty() ? resolv_conf_servers("/etc/resolv.conf") : settings.nameservers;
  std::vector<std::string> shown;
  for (const auto& s : servers) {
    std::string text;
    if (add_server(d_ctx, s, settings.port, &text))
      shown.push_back(text);
    else
      log_warn("dns: nameserver %s ignored (not an IP address, or too many)", s.c_str());
  }
  d_servers_text = join(shown, ", ");
  d_breaker_key = "dns nameservers " + d_servers_text;
  // One-second udns timers (its granularity); later tries wait 2 s, 4 s.
  // The real budget is the millisecond deadline of resolve().
  dns_set_opt(d_ctx, DNS_OPT_TIMEOUT, 1);
  dns_set_opt(d_ctx, DNS_OPT_NTRIES, 3);
  dns_set_opt(d_ctx, DNS_OPT_UDPSIZE, 4096);
  dns_set_dbgfn(d_ctx, on_packet);
  d_fd = shown.empty() ? -1 : dns_open(d_ctx);
  if (d_fd < 0) {
    log_error("dns: cannot open the resolver (nameservers: %s): %s",
              d_servers_text.empty() ? "none" : d_servers_text.c_str(), std::strerror(errno));
    dns_free(d_ctx);
    d_ctx = nullptr;
    return;
  }
  log_debug("dns: resolver ready, nameservers %s, timeout %ldms", d_servers_text.c_str(),
            d_timeout_ms);
}

Resolver::~Resolver() {
  if (d_ctx) dns_free(d_ctx);
}

void Resolver::on_answer(dns_ctx* ctx, void* result, void* data) {
  auto* q = static_cast<Query*>(data);
  if (s_active) s_active->finish(*q, dns_status(ctx), result);
  std::free(result);
}

void Resolver::on_probe(dns_ctx*, void* result, void* data) {
  static_cast<Query*>(data)->done = true;
  std::free(result);
}

void Resolver::finish(Query& q, int st, void* result) {
  q.done = true;
  q.q = nullptr;  // udns freed it
  if (st >= 0 && result) {
    q.status = Status::ok;
    switch (q.type) {
      case QType::a: {
        auto* r = static_cast<dns_rr_a4*>(result);
        q.ttl = r->dnsa4_ttl;
        for (int i = 0; i < r->dnsa4_nrr; ++i)
          q.addrs.push_back(from_in4(r->dnsa4_addr[i]));
        break;
      }
      case QType::aaaa: {
        auto* r = static_cast<dns_rr_a6*>(result);
        q.ttl = r->dnsa6_ttl;
        for (int i = 0; i < r->dnsa6_nrr; ++i)
          q.addrs.push_back(from_in6(r->dnsa6_addr[i]));
        break;
      }
      case QType::ptr: {
        auto* r = static_cast<dns_rr_ptr*>(result);
        q.ttl = r->dnsptr_ttl;
        for (int i = 0; i < r->dnsptr_nrr; ++i)
          if (auto n = from_text(r->dnsptr_ptr[i])) q.names.push_back(std::move(*n));
        break;
      }
      case QType::mx: {
        auto* r = static_cast<dns_rr_mx*>(result);
        q.ttl = r->dnsmx_ttl;
        for (int i = 0; i < r->dnsmx_nrr; ++i)
          if (auto n = from_text(r->dnsmx_mx[i].name))
            q.mx.push_back({r->dnsmx_mx[i].priority, std::move(*n)});
        std::stable_sort(q.mx.begin(), q.mx.end(), [](const MxRecord& a, const MxRecord& b) {
          return a.preference < b.preference;
        });
        break;
      }
      case QType::txt: {
        auto* r = static_cast<dns_rr_txt*>(result);
        q.ttl = r->dnstxt_ttl;
        for (int i = 0; i < r->dnstxt_nrr; ++i)
          q.names.emplace_back(reinterpret_cast<const char*>(r->dnstxt_txt[i].txt),
                               static_cast<size_t>(r->dnstxt_txt[i].len));
        break;
      }
    }
    if (q.addrs.empty() && q.names.empty() && q.mx.empty()) q.status = Status::nodata;
    return;
  }
  switch (st) {
    case DNS_E_NXDOMAIN:
      q.status = Status::nxdomain;
      break;
    case DNS_E_NODATA:
      q.status = Status::nodata;
      break;
    // udns says TEMPFAIL for SERVFAIL/REFUSED/truncation and for its own
    // timeout; the replies seen tell which one it was.
    case DNS_E_TEMPFAIL:
      q.status = q.replies > 0 ? Status::servfail : Status::timeout;
      break;
    case DNS_E_PROTOCOL:
      q.status = Status::servfail;
      break;
    default:
      q.status = Status::error;
      break;
  }
}

void Resolver::resolve(Query& query, SteadyClock::time_point deadline) {
  Query* one[] = {&query};
  resolve(one, deadline);
}

void Resolver::begin_memo() {
  d_memo.clear();
  d_memo_on = true;
}

void Resolver::end_memo() {
  d_memo.clear();
  d_memo_on = false;
}

bool Resolver::recall(Query& q) const {
  for (const Query& m : d_memo) {
    if (m.type != q.type || m.rule != q.rule || m.name != q.name) continue;
    q.status = m.status;
    q.ttl = m.ttl;
    q.addrs = m.addrs;
    q.names = m.names;
    q.mx = m.mx;
    q.q = nullptr;
    q.done = true;
    q.replies = m.replies;
    q.rcode = m.rcode;
    return true;
  }
  return false;
}

void Resolver::remember(const Query& q) {
  // Not an invalid name (never sent) nor a breaker's skip: asking again
  // costs nothing then.
  if (q.status == Status::error || q.status == Status::skipped) return;
  Query& m = d_memo.emplace_back();
  m.type = q.type;
  m.rule = q.rule;
  m.name = q.name;
  m.status = q.status;
  m.ttl = q.ttl;
  m.addrs = q.addrs;
  m.names = q.names;
  m.mx = q.mx;
  m.replies = q.replies;
  m.rcode = q.rcode;
}

void Resolver::resolve(std::span<Query* const> queries, SteadyClock::time_point deadline) {
  if (!d_memo_on) {
    ask(queries, deadline);
    return;
  }
  std::vector<Query*> rest;
  for (Query* q : queries) {
    if (recall(*q))
      ++d_memo_hits;
    else
      rest.push_back(q);
  }
  ask(rest, deadline);
  for (Query* q : rest)
    remember(*q);
}

void Resolver::prefetch(std::span<Query* const> queries, size_t needed,
                        SteadyClock::time_point deadline) {
  std::vector<Query*> rest;
  size_t rest_needed = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    if (d_memo_on && recall(*queries[i])) continue;
    rest.push_back(queries[i]);
    if (i < needed) rest_needed = rest.size();
  }
  ask(rest, deadline, rest_needed);
  if (d_memo_on)
    for (Query* q : rest)
      remember(*q);
}

void Resolver::ask(std::span<Query* const> queries, SteadyClock::time_point deadline,
                   size_t needed) {
  needed = std::min(needed, queries.size());
  for (Query* q : queries) {
    q->status = Status::error;
    q->ttl = 0;
    q->addrs.clear();
    q->names.clear();
    q->mx.clear();
    q->q = nullptr;
    q->done = false;
    q->replies = 0;
    q->rcode = -1;
  }
  if (queries.empty()) return;
  if (!d_ctx) {
    for (Query* q : queries)
      q->done = true;
    return;
  }
  auto start = SteadyClock::now();
  auto end = std::min(deadline, start + std::chrono::milliseconds(d_timeout_ms));
  if (end <= start) {
    for (Query* q : queries)
      q->status = Status::timeout, q->done = true;
    return;
  }

  // A nameserver set whose breaker is open is not asked at all.
  Breakers* breakers = d_services ? &d_services->breakers() : nullptr;
  uint32_t now_s = d_services ? d_services->now() : 0;
  if (breakers) {
    if (!breakers->allow(d_breaker_key, now_s)) {
      for (Query* q : queries)
        q->status = Status::skipped, q->done = true;
      return;
    }
  }

  s_active = this;
  d_packets = 0;
  int pending = 0;
  for (Query* q : queries) {
    dnsc_t dn[DNS_MAXDN];
    if (!valid_name(q->name, q->rule) || !to_wire(q->name, dn)) {
      q->done = true;
      continue;
    }
    dns_parse_fn* parse = nullptr;
    int type = 0;
    switch (q->type) {
      case QType::a:
        parse = dns_parse_a4, type = DNS_T_A;
        break;
      case QType::aaaa:
        parse = dns_parse_a6, type = DNS_T_AAAA;
        break;
      case QType::ptr:
        parse = dns_parse_ptr, type = DNS_T_PTR;
        break;
      case QType::mx:
        parse = dns_parse_mx, type = DNS_T_MX;
        break;
      case QType::txt:
        parse = dns_parse_txt, type = DNS_T_TXT;
        break;
    }
    dns_query* dq = dns_submit_dn(d_ctx, dn, DNS_C_IN, type, 0, parse, on_answer, q);
    if (!dq) {
      q->done = true;  // invalid name or no memory: status stays error
      continue;
    }
    q->q = dq;
    ++pending;
  }

  // The loop: dns_timeouts() sends what is queued and retries what is due;
  // replies run on_answer(). Our deadline, not udns's, ends the wait.
  auto count_pending = [&] {
    int n = 0;
    for (Query* q : queries)
      n += !q->done;
    return n;
  };
  // A prefetch: once the needed queries are done, the others get as long
  // again (grace_end), then are given up.
  auto needed_done = [&] {
    for (size_t i = 0; i < needed; ++i)
      if (!queries[i]->done) return false;
    return true;
  };
  bool partial = needed < queries.size();
  auto grace_end = SteadyClock::time_point::max();
  bool gave_up = false;
  // Silence for half the wait: ask the nameservers something every server
  // answers at once (the root's NS: a cache, or REFUSED from an
  // authoritative-only server). Any reply proves the server alive, so
  // silence below is the zones', not the server's.
  auto probe_at = start + (end - start) / 2;
  Query probe;
  dns_query* probe_q = nullptr;
  while (pending > 0) {
    int tmo_s = dns_timeouts(d_ctx, -1, 0);
    pending = count_pending();
    if (pending == 0) break;
    auto now = SteadyClock::now();
    if (now >= end) break;
    if (partial && grace_end == SteadyClock::time_point::max() && needed_done())
      grace_end = now + (now - start);
    if (now >= grace_end) {
      gave_up = true;
      break;
    }
    if (now >= probe_at && !probe_q && !probe.done && d_packets == 0) {
      static const dnsc_t root[] = {0};
      probe_q = dns_submit_dn(d_ctx, root, DNS_C_IN, DNS_T_NS, 0, nullptr, on_probe, &probe);
      probe.done = probe_q == nullptr;  // no memory: no probe, no verdict on the server
      dns_timeouts(d_ctx, -1, 0);       // send it now
    }
    long left =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::min(end, grace_end) - now)
            .count() +
        1;
    long wait = tmo_s < 0 ? left : std::min(left, static_cast<long>(tmo_s) * 1000);
    if (now < probe_at && !probe_q)
      wait = std::min(
          wait, static_cast<long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(probe_at - now).count()) +
                    1);
    pollfd p{d_fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(wait));
    if (r > 0) dns_ioevent(d_ctx, 0);
    pending = count_pending();
  }

  // Cancel what is left: a reply that has only said SERVFAIL so far (udns is
  // trying another server) is a SERVFAIL, silence a timeout.
  int timeouts = 0;
  for (Query* q : queries) {
    if (!q->done) {
      dns_cancel(d_ctx, q->q);
      std::free(q->q);
      q->q = nullptr;
      q->done = true;
      // Given up by a prefetch, not timed out: nothing is known.
      q->status = gave_up ? Status::skipped : q->replies > 0 ? Status::servfail : Status::timeout;
    }
    if (q->status == Status::timeout) {
      ++timeouts;
    }
  }
  bool probed = probe_q != nullptr;
  if (probe_q && !probe.done) {
    dns_cancel(d_ctx, probe_q);
    std::free(probe_q);
  }
  s_active = nullptr;

  // Breaker accounting for the nameservers. Any packet (an answer, or the
  // probe's) proves them alive: then the silence is the zones' (dead DNSBLs,
  // a domain's dead nameservers), which never stops the lookups the server
  // answers. Only a batch whose probe went unanswered too counts against the
  // server (the probe is sent in every silent batch that lasts long enough).
  if (breakers) {
    if (d_packets > 0) {
      breakers->success(d_breaker_key, d_services->now());
    } else if (timeouts > 0 && probed) {
      breakers->failure(
          d_breaker_key, d_services->now(),
          format("%d lookups unanswered after %ldms", timeouts,
                 static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       SteadyClock::now() - start)
                                       .count())));
    }
  }
}

}  // namespace ppolicy::dns
