// SPDX-License-Identifier: GPL-2.0-or-later
// P0f: ask a running p0f (passive OS fingerprinting) over its unix query
// socket what it knows about the client: OS, flavor, distance, uptime. p0f 3
// (the API of `p0f -s SOCKET`, IPv4 and IPv6) by default; the p0f 2 query
// protocol (`p0f -Q SOCKET -0`, IPv4 only) when `version` is below 3.
// Runs in the worker: one short connection per query (p0f 3 serves at most
// 20 API clients, fewer than our workers), bounded by `timeout` and the
// request deadline; a p0f that keeps failing is skipped by its circuit
// breaker. The wire formats live in net/p0f_proto.cpp.
#include <cstdint>
#include <optional>

#include "base/strings.hpp"
#include "modules/module.hpp"
#include "net/p0f_proto.hpp"
#include "net/socket_io.hpp"
#include "proto/request.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

struct P0fParams {
  std::string socket;
  std::string version;
  std::optional<std::string> ip;
  uint16_t port;
  long timeout_ms;
};

const Option k_params[] = {
    bound_row<&P0fParams::socket>(
        {"socket", OptType::string, "/var/run/p0f.socket", "p0f socket for sending requests"}),
    bound_row<&P0fParams::version>({"version", OptType::string, "3",
                                    "p0f version: 3 speaks the p0f 3 API (p0f -s); below 3 the p0f "
                                    "2 protocol (p0f -Q, with -0), "
                                    "without the query type before 2.0.8"}),
    bound_row<&P0fParams::ip>({"ip", OptType::string, nullptr,
                               "IP address of destination server (p0f 2 only; default 0.0.0.0)"}),
    bound_row<&P0fParams::port>({"port", OptType::integer, "25",
                                 "port of destination server (p0f 2 only)", nullptr, 0, 65535}),
    bound_row<&P0fParams::timeout_ms>({"timeout", OptType::millis, "1s",
                                       "longest wait for p0f (never beyond the request deadline)",
                                       nullptr, 1, 600000}),
};

const FieldSpec k_fields[] = {
    {"os", Type::string,
     "detected OS (e.g. \"Linux\", \"Windows\"; empty when only HTTP was seen)"},
    {"flavor", Type::string, "details about the detected OS (e.g. \"2.2.x-3.x\")"},
    {"distance", Type::number, "network distance of the client in hops (-1 unknown)"},
    {"uptime", Type::number, "uptime of the client in minutes (-1 unknown; not reliable)"},
    {"link", Type::string, "link type (e.g. \"Ethernet or modem\", \"DSL\")"},
    {"nat", Type::number, "1 when p0f has seen signs of NAT or load balancing for this address"},
    {"fuzzy", Type::number, "p0f 3: 1 when the OS match is fuzzy"},
    {"generic", Type::number, "p0f 3: 1 when the OS match is a generic signature"},
    {"language", Type::string, "p0f 3: language seen in HTTP headers"},
    {"http", Type::string, "p0f 3: HTTP software seen (name and flavor)"},
    {"bad_sw", Type::number, "p0f 3: 1 OS mismatch with the User-Agent, 2 outright lie"},
    {"total_conn", Type::number, "p0f 3: connections p0f has seen from this address"},
    {"first_seen", Type::number, "p0f 3: when p0f first saw this address (epoch seconds)"},
    {"last_seen", Type::number, "p0f 3: when p0f last saw this address (epoch seconds)"},
};

class P0f final : public Module {
 public:
  P0f(std::string socket, bool v3, bool with_type, std::optional<IpAddress> dst, uint16_t port,
      long timeout_ms)
      : d_socket(std::move(socket)),
        d_v3(v3),
        d_with_type(with_type),
        d_dst(dst),
        d_port(port),
        d_timeout_ms(timeout_ms),
        d_backend("p0f " + d_socket) {}

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    auto a = IpAddress::parse(r.get(Attr::client_address));
    key += a ? a->str() : std::string(r.get(Attr::client_address));
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    std::string_view text = request.get(Attr::client_address);
    auto client = IpAddress::parse(text);
    if (!client)
      return Result(
          -1, format("client address \"%s\" is not an IP address", log_quote(text, 60).c_str()));
    // -1 as in ppolicy 2.x ("not IPv4"): the answer never changes for this client.
    if (!d_v3 && !client->v4) return Result(-1, "p0f 2 knows only IPv4 clients");

    Breakers& breakers = ctx.services().breakers();
    uint32_t now = ctx.services().now();
    if (!breakers.allow(d_backend, now)) return failure(-1, "p0f skipped: circuit breaker open");
    std::string why;
    P0fHost host;
    if (!ask(*client, ctx, host, &why)) {
      if (!ctx.expired()) breakers.failure(d_backend, now, why);  // else the deadline, not p0f
      return failure(-1, format("p0f %s: %s", d_socket.c_str(), why.c_str()));
    }
    breakers.success(d_backend, now);
    if (host.status == P0fStatus::bad_query) return Result(-1, "p0f: bad query");
    if (host.status == P0fStatus::no_match) return Result(0, "p0f: no match");
    return result_of(host);
  }

 private:
  static Result failure(int code, std::string why) {
    Result r(code, std::move(why));
    r.transient = true;
    return r;
  }

  bool ask(const IpAddress& client, CheckContext& ctx, P0fHost& host, std::string* why) {
    Deadline deadline = deadline_in(d_timeout_ms, ctx.deadline());
    Fd fd = connect_unix_by(d_socket, deadline, why);
    if (!fd) return false;
    if (d_v3) {
      std::string reply(k_p0f3_reply_size, '\0');
      return write_all_by(fd.get(), p0f3_query(client), deadline, why) &&
             read_exact_by(fd.get(), reply.data(), reply.size(), deadline, why) &&
             p0f3_parse(reply, host, why);
    }
    uint32_t id = ++d_next_id;
    std::string reply(k_p0f2_reply_size, '\0');
    return write_all_by(fd.get(),
                        p0f2_query(client, d_dst ? &*d_dst : nullptr, d_port, d_with_type, id),
                        deadline, why) &&
           read_exact_by(fd.get(), reply.data(), reply.size(), deadline, why) &&
           p0f2_parse(reply, id, host, why);
  }

  static Result result_of(const P0fHost& h) {
    std::string info = h.os.empty() ? "unknown OS" : h.os;
    if (!h.flavor.empty()) info += " " + h.flavor;
    if (h.distance >= 0) info += format(", distance %ld", h.distance);
    if (h.uptime_min >= 0)
      info += format(", uptime %ldh%02ldm", h.uptime_min / 60, h.uptime_min % 60);
    if (h.nat) info += ", NAT";
    Result r(1, info);
    r.set("os", h.os);
    r.set("flavor", h.flavor);
    r.set("distance", static_cast<double>(h.distance));
    r.set("uptime", static_cast<double>(h.uptime_min));
    r.set("link", h.link);
    r.set("nat", h.nat ? 1.0 : 0.0);
    r.set("fuzzy", h.fuzzy ? 1.0 : 0.0);
    r.set("generic", h.generic ? 1.0 : 0.0);
    r.set("language", h.language);
    r.set("http", std::string(trim(h.http_name + " " + h.http_flavor)));
    r.set("bad_sw", static_cast<double>(h.bad_sw));
    r.set("total_conn", static_cast<double>(h.total_conn));
    r.set("first_seen", static_cast<double>(h.first_seen));
    r.set("last_seen", static_cast<double>(h.last_seen));
    return r;
  }

  std::string d_socket;
  bool d_v3, d_with_type;
  std::optional<IpAddress> d_dst;
  uint16_t d_port;
  long d_timeout_ms;
  std::string d_backend;
  uint32_t d_next_id = 0x12345678;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<P0fParams>();
  const std::string& sock = p.socket;
  if (sock.empty() || sock[0] != '/') throw KeyError("socket", "must be an absolute path");
  auto version = parse_p0f_version(p.version);
  if (!version) throw KeyError("version", "expected a version number such as 3 or 2.0.8");
  bool v3 = (*version)[0] >= 3;
  bool with_type = *version >= std::vector<int>{2, 0, 8};
  std::optional<IpAddress> dst;
  if (p.ip) {
    dst = IpAddress::parse(*p.ip);
    if (!dst || !dst->v4) throw KeyError("ip", "must be an IPv4 address (p0f 2 knows only IPv4)");
  }
  return std::make_unique<P0f>(sock, v3, with_type, dst, p.port, p.timeout_ms);
}

}  // namespace

extern const ModuleType k_p0f_type = {
    "P0f",
    "P0f module detects the client's OS with p0f (passive OS fingerprinting) through p0f's\n"
    "unix query socket: OS, flavor, network distance and uptime, as info and as fields.\n"
    "p0f must watch the interface the clients connect to; start p0f 3 as\n"
    "  p0f -i eth0 -s /var/run/p0f.socket 'tcp dst port 25'\n"
    "and make the socket accessible to the daemon's user. With version below 3 the p0f 2\n"
    "query protocol is used (p0f 2 started with -Q SOCKET and -0, so that only the client\n"
    "address matters; IPv4 only). The original's default version was 2.0.8; p0f 2 is long\n"
    "gone from distributions, so the default here is 3.",
    k_params,
    {3600, 900, 3600},
    k_fields,
    {},
    "    1 .... success (p0f knows the client; fields os, flavor, distance, uptime, ...)\n"
    "    0 .... undefined (no data: p0f has not seen the client)\n"
    "   -1 .... failed (error getting data from p0f: no socket, timeout, bad answer, or the\n"
    "           client address is not an IP address, or p0f 2 and an IPv6 client);\n"
    "           errors of p0f are not cached\n",
    "[module p0f1]\ntype = P0f\n\n[module p0f2]\ntype = P0f\nsocket = /tmp/p0f.socket\nversion = "
    "2.0.8\n"
    "ip = 192.168.0.1\nport = 1234\n",
    create,
};

}  // namespace ppolicy
