// SPDX-License-Identifier: GPL-2.0-or-later
// Whois: who holds the client's network? Asks a whois server (RFC 3912, TCP
// port 43) about the address in `param` (the client address), follows the
// referral to the registry that holds it (whois.iana.org refers to RIPE,
// ARIN, ...; ARIN's ReferralServer too), and answers with the network name,
// country and organisation in the info and as fields. The original module
// was a stub with a leftover `test1` parameter, still accepted and ignored.
// Runs in the worker: one short TCP connection per server asked, every step
// bounded by `timeout` and the request deadline; a server that keeps failing
// is skipped by its circuit breaker. Results are cached per address.
// Server names (the configured one and referrals) are resolved through the
// [dns] resolver like every other lookup, never the system resolver, and
// every address passes the outbound guard (base/special_addr.hpp, shared
// with Verification) before a connection: a server's answer must not make
// us connect into a private network, to loopback or to 0.0.0.0. A referral
// the guard refuses is not followed (the answer so far stands); a refused
// configured server is an error. Answers are read by net/whois_text.cpp.
// Addresses only: no domain whois.
#include "base/net.hpp"
#include "base/special_addr.hpp"
#include "base/strings.hpp"
#include "dns/resolver.hpp"
#include "modules/module.hpp"
#include "net/sock_addr.hpp"
#include "net/socket_io.hpp"
#include "net/whois_text.hpp"
#include "proto/request.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

struct WhoisParams {
  std::string param;
  std::string server;
  uint16_t port;
  int referrals;
  long timeout_ms;
  bool allow_private;
};

const Option k_params[] = {
    {"test1", OptType::string, "client_address",
     "ignored (a leftover test parameter of the original stub)"},
    bound_row<&WhoisParams::param>({"param", OptType::string, "client_address",
                                    "name of the request attribute holding the IP address"}),
    bound_row<&WhoisParams::server>({"server", OptType::string, "whois.iana.org",
                                     "whois server asked first (host name or address)"}),
    bound_row<&WhoisParams::port>(
        {"port", OptType::integer, "43", "TCP port of the whois servers", nullptr, 1, 65535}),
    bound_row<&WhoisParams::referrals>({"referrals", OptType::integer, "2",
                                        "most referrals to other whois servers followed (0: none)",
                                        nullptr, 0, 5}),
    bound_row<&WhoisParams::timeout_ms>(
        {"timeout", OptType::millis, "5s",
         "longest exchange with one server (never beyond the request deadline)", nullptr, 1,
         600000}),
    bound_row<&WhoisParams::allow_private>(
        {"allowPrivate", OptType::boolean, "no",
         "also connect to whois servers (configured or referred to) on loopback, private and "
         "other addresses that are not globally reachable (never: multicast, 0.0.0.0/8, "
         "reserved ranges)"}),
};

const FieldSpec k_fields[] = {
    {"netname", Type::string, "network name (netname, NetName)"},
    {"country", Type::string, "country code of the network (upper case)"},
    {"org", Type::string,
     "organisation holding the network (org-name, OrgName, owner, ...; else descr)"},
    {"range", Type::string, "the network (inetnum, inet6num, NetRange)"},
    {"server", Type::string, "the whois server that answered last"},
};

// Whois answers are a few kB; a server that sends much more is broken.
constexpr size_t k_max_answer = 256 * 1024;

std::string param_value(const Request& r, const std::string& name) {
  if (r.find(name)) return std::string(r.get(name));
  if (auto d = derived_from_name(name)) return r.derived(*d);
  return "";
}

class Whois final : public Module {
 public:
  Whois(std::string param, std::string server, uint16_t port, int referrals, long timeout_ms,
        bool allow_private)
      : d_param(std::move(param)),
        d_server(std::move(server)),
        d_port(port),
        d_referrals(referrals),
        d_timeout_ms(timeout_ms),
        d_allow_private(allow_private) {}

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    std::string v = param_value(r, d_param);
    auto a = IpAddress::parse(v);
    key += a ? a->str() : v;
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    std::string v = param_value(request, d_param);
    auto addr = IpAddress::parse(v);
    if (!addr) return Result(-1, format("\"%s\" is not an IP address", log_quote(v, 60).c_str()));
    std::string address = addr->str();
    Breakers& breakers = ctx.services().breakers();
    std::string host = lower(d_server);
    const uint16_t port = d_port;
    WhoisRecord rec;       // the answer so far
    std::string answered;  // from this server
    for (int hop = 0;; ++hop) {
      std::string backend = format("whois %s:%u", host.c_str(), port);
      if (!breakers.allow(backend, ctx.services().now()))
        return failure(format("whois %s skipped: circuit breaker open", host.c_str()));
      Deadline deadline = deadline_in(d_timeout_ms, ctx.deadline());
      std::vector<SockAddr> addrs;
      std::string why;
      switch (addresses(host, port, deadline, ctx, addrs, &why)) {
        case Found::ok:
          break;
        case Found::dns_failed:
          return failure(format("whois %s: %s", host.c_str(), why.c_str()));
        case Found::refused:
          if (hop == 0) return failure(format("whois %s refused: %s", host.c_str(), why.c_str()));
          // Refused referral: the referring server's answer stands.
          {
            Result r = found(rec, address, answered);
            r.info += format("; referral to %s refused: %s", host.c_str(), why.c_str());
            return r;
          }
      }
      std::string answer;
      if (!ask(addrs, whois_query_for(host, address), deadline, answer, &why)) {
        // Past the request deadline the server is not to blame.
        if (!ctx.expired()) breakers.failure(backend, ctx.services().now(), why);
        return failure(format("whois %s: %s", host.c_str(), why.c_str()));
      }
      breakers.success(backend, ctx.services().now());
      rec = parse_whois(answer);
      answered = host;
      // Referrals go to the configured port only: a whois server must not
      // be able to point us at another service.
      if (!rec.refer_host.empty() && hop < d_referrals && rec.refer_host != host) {
        host = rec.refer_host;
        continue;
      }
      return found(rec, address, host);
    }
  }

 private:
  enum class Found { ok, dns_failed, refused };

  static Result failure(std::string why) {
    Result r(0, std::move(why));
    r.transient = true;
    return r;
  }

  static Result found(const WhoisRecord& rec, const std::string& address, const std::string& host) {
    if (!rec.found())
      return Result(-1, format("nothing found for %s (%s)", address.c_str(), host.c_str()));
    return result_of(rec, host);
  }

  // The addresses of `host` the guard lets us connect to: a literal address
  // as it is, a name through the [dns] resolver (A and AAAA at once).
  Found addresses(const std::string& host, uint16_t port, Deadline deadline, CheckContext& ctx,
                  std::vector<SockAddr>& out, std::string* why) {
    std::vector<IpAddress> ips;
    if (auto ip = IpAddress::parse(host)) {
      ips.push_back(*ip);
    } else {
      if (!dns::valid_name(host)) return *why = "not a host name", Found::dns_failed;
      auto& resolver = ctx.services().resource<dns::Resolver>();
      dns::Query a = dns::Query::a(host), aaaa = dns::Query::aaaa(host);
      dns::Query* qs[] = {&a, &aaaa};
      resolver.resolve(qs, deadline);
      for (const dns::Query* q : qs)
        if (q->status == dns::Status::ok) ips.insert(ips.end(), q->addrs.begin(), q->addrs.end());
      if (ips.empty()) {
        dns::Status st = dns::failed(a.status) ? a.status : aaaa.status;
        return *why = format("resolving %s: %s", host.c_str(), dns::status_name(st)),
               Found::dns_failed;
      }
    }
    std::string refused;
    for (const auto& ip : ips) {
      std::string w;
      if (outbound_allowed(ip, d_allow_private, &w))
        out.push_back(sockaddr_of(ip, port));
      else if (refused.empty())
        refused = w;
    }
    if (out.empty()) return *why = refused, Found::refused;
    return Found::ok;
  }

  // One whois exchange: connect (to each address in turn), send the query,
  // read the answer until the server closes.
  static bool ask(const std::vector<SockAddr>& addrs, const std::string& query, Deadline deadline,
                  std::string& answer, std::string* why) {
    Fd fd;
    std::vector<std::string> problems;
    for (const auto& a : addrs) {
      fd = connect_by(a.get(), a.len, deadline, why);
      if (fd) break;
      problems.push_back(a.str() + " " + *why);
    }
    if (!fd) return *why = join(problems, "; "), false;
    return write_all_by(fd.get(), query, deadline, why) &&
           read_to_eof_by(fd.get(), answer, k_max_answer, deadline, why);
  }

  static Result result_of(const WhoisRecord& rec, const std::string& host) {
    std::string info;
    auto add = [&](const char* k, const std::string& v) {
      if (v.empty()) return;
      if (!info.empty()) info += ", ";
      info += format("%s %s", k, log_quote(v, 120).c_str());
    };
    add("netname", rec.netname);
    add("country", rec.country);
    add("org", rec.org);
    add("range", rec.range);
    info += format(" (%s)", host.c_str());
    Result r(1, info);
    r.set("netname", rec.netname);
    r.set("country", rec.country);
    r.set("org", rec.org);
    r.set("range", rec.range);
    r.set("server", host);
    return r;
  }

  std::string d_param, d_server;
  uint16_t d_port;
  int d_referrals;
  long d_timeout_ms;
  bool d_allow_private;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<WhoisParams>();
  std::string server(trim(p.server));
  if (server.empty()) throw KeyError("server", "is empty");
  for (char c : server)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':')
      throw KeyError("server", "expected a host name or an IP address");
  if (trim(p.param).empty()) throw KeyError("param", "is empty");
  return std::make_unique<Whois>(std::string(trim(p.param)), server, p.port, p.referrals,
                                 p.timeout_ms, p.allow_private);
}

}  // namespace

extern const ModuleType k_whois_type = {
    "Whois",
    "Whois module can be used to return IP whois information: it asks a whois server\n"
    "(whois.iana.org by default, following its referral to the registry holding the\n"
    "address, e.g. whois.ripe.net) about the client address and returns the network name,\n"
    "country and organisation in the info and as fields (NAME.netname, NAME.country,\n"
    "NAME.org). Results are cached per address (cachePositive/cacheNegative: 1 hour).\n"
    "Every query leaves the host: mind the registries' limits and use it only where a\n"
    "cheaper check could not decide. `test1` of the original stub is accepted and ignored.",
    k_params,
    {3600, 900, 3600},
    k_fields,
    {},
    "    1 .... ok (the registry knows the network: netname, country or organisation)\n"
    "    0 .... undefined (no answer: timeout, connection refused, server skipped by its\n"
    "           circuit breaker; not cached)\n"
    "   -1 .... failed (nothing found for the address, or the value is not an IP address)\n",
    "[module whois1]\ntype = Whois\n\n[module whois2]\ntype = Whois\nparam = client_address\n"
    "server = whois.ripe.net\nreferrals = 0\ntimeout = 3s\n",
    create,
};

}  // namespace ppolicy
