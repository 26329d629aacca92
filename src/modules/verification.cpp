// SPDX-License-Identifier: GPL-2.0-or-later
// Verification: does the domain of an address (`param`: sender, recipient)
// have a mail host (vtype = mx), does one accept SMTP sessions (connection),
// mail for the domain (domain: RCPT TO:<postmaster@domain>, which RFC 5321
// requires to exist) or for the address itself (user)? Worker side.
//
// Mail hosts come from our DNS layer (dns/mailhosts.hpp: MX by preference,
// the implicit MX, null MX), never the system resolver; only globally
// reachable addresses are contacted unless allowPrivate (a sender's domain
// must not make us connect into private networks): the guard of
// base/special_addr.hpp, shared with Whois. The SMTP dialogue itself is
// net/callout.cpp: at most three addresses, every step bounded by `timeout`
// and the request deadline, QUIT at the end of every session.
//
// Codes are a ladder: how far the verification got (2 mx, 3 connection,
// 4 domain, 5 user) or where it failed definitively (-2 no mail host,
// -3 no SMTP service, -4 the domain's server refuses our MAIL FROM or the
// postmaster, -5 the user is rejected). Temporary trouble (DNS errors,
// 4xx replies, timeouts, closed connections, the politeness limit) is code
// 0 and transient: never cached, never stored. vtype connection answers -3
// for hosts that refuse connections or stay silent, transient as well.
//
// Persistent cache (cacheDB): definitive answers are kept in a MySQL table
// (one row per vtype and domain, or address for vtype user) for
// dbExpirePositive / dbExpireNegative; a hit answers the code moved away
// from zero by 10 (15 user ok, -12 no mail host, ...). A database that is
// down costs no verdict: the live callout runs (the cache only saves work).
//
// Politeness: at most maxInFlight callouts to one domain at a time across
// all workers, counted in the shared records table (each callout is a
// (pid, until) slot; slots of dead workers or past their time do not count,
// so a worker killed mid-callout leaks nothing).
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <unistd.h>

#include <algorithm>

#include "base/special_addr.hpp"
#include "base/strings.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "dns/mailhosts.hpp"
#include "dns/resolver.hpp"
#include "modules/callout.hpp"
#include "modules/module.hpp"
#include "net/inflight.hpp"
#include "net/smtp_client.hpp"
#include "proto/request.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

enum class VType { mx = 2, connection = 3, domain = 4, user = 5 };

struct VerificationParams {
  std::string param;
  std::string vtype;
  long timeout_ms;
  bool cache_db;
  std::string table;
  uint32_t db_expire_positive;
  uint32_t db_expire_negative;
  uint16_t port;
  std::string mail_from;
  std::string helo_name;
  long max_in_flight;
  bool allow_private;
};

const Option k_params[] = {
    bound_row<&VerificationParams::param>(
        {"param", OptType::string, nullptr,
         "string key for data item that should be verified (sender/recipient)", nullptr, LLONG_MIN,
         LLONG_MAX, true}),
    bound_row<&VerificationParams::vtype>({"vtype", OptType::choice, "mx",
                                           "mx, connection, domain or user verification",
                                           "mx|connection|domain|user"}),
    bound_row<&VerificationParams::timeout_ms>({"timeout", OptType::millis, "20",
                                                "set SMTP connection timeout: longest wait of each "
                                                "step of a callout (connect, each reply)",
                                                nullptr, 100, 600000}),
    bound_row<&VerificationParams::cache_db>(
        {"cacheDB", OptType::boolean, "no",
         "cache results in database (almost useless for mx verification)"}),
    bound_row<&VerificationParams::table>(
        {"table", OptType::string, "verification", "database table with persistent cache"}),
    bound_row<&VerificationParams::db_expire_positive>(
        {"dbExpirePositive", OptType::duration, "2419200", "positive result expiration time in db",
         nullptr, 1, 86400LL * 3650}),
    bound_row<&VerificationParams::db_expire_negative>(
        {"dbExpireNegative", OptType::duration, "10800", "negative result expiration time in db",
         nullptr, 1, 86400LL * 3650}),
    bound_row<&VerificationParams::port>(
        {"port", OptType::integer, "25", "TCP port of the mail hosts", nullptr, 1, 65535}),
    bound_row<&VerificationParams::mail_from>(
        {"mailFrom", OptType::string, "",
         "address sent as MAIL FROM (empty: the null sender <>, which every domain must accept)"}),
    bound_row<&VerificationParams::helo_name>(
        {"heloName", OptType::string, "", "name sent with EHLO/HELO (empty: this host's name)"}),
    bound_row<&VerificationParams::max_in_flight>(
        {"maxInFlight", OptType::integer, "2",
         "most callouts to one domain at a time, across all workers (more: code 0)", nullptr, 1,
         20}),
    bound_row<&VerificationParams::allow_private>(
        {"allowPrivate", OptType::boolean, "no",
         "also contact mail hosts on loopback, private and other addresses that are not "
         "globally reachable (never: multicast, 0.0.0.0/8, reserved ranges)"}),
};

const char* vtype_name(VType v) {
  switch (v) {
    case VType::mx:
      return "mx";
    case VType::connection:
      return "connection";
    case VType::domain:
      return "domain";
    case VType::user:
      return "user";
  }
  return "?";
}

Result transient(int code, std::string info) {
  Result r(code, std::move(info));
  r.transient = true;
  return r;
}

// What the request asks to verify.
struct Target {
  bool answered = false;  // decided from the value alone (code, info)
  int code = 0;
  std::string info;
  std::string domain;  // lower case
  std::string rcpt;    // the RCPT TO address (vtype domain, user)
  std::string stored;  // the database key: the domain, or the address (vtype user)
  std::string key;     // what the result depends on (result-cache key)
};

Target parse_target(std::string_view value, bool is_sender, bool is_recipient, VType vt) {
  Target t;
  auto answer = [&](int code, std::string info) {
    t.answered = true;
    t.code = code;
    t.info = std::move(info);
    t.key = "=" + std::string(value);
    return t;
  };
  if (value.empty())
    return is_sender ? answer(1, "null sender: nothing to verify (RFC 5321 requires it)")
                     : answer(-1, "no address to verify");
  for (char c : value)
    if (static_cast<unsigned char>(c) >= 0x80)
      return answer(0, format("%s: internationalised address (SMTPUTF8) not verified",
                              log_quote(value, 100).c_str()));
  std::string local = "postmaster";
  std::string_view domain = value;
  size_t at = value.rfind('@');
  if (at == std::string_view::npos) {
    // RFC 5321 4.5.1: "postmaster" without a domain must always be accepted.
    if (iequals(value, "postmaster"))
      return answer(1, "postmaster without a domain (RFC 5321 requires it)");
  } else {
    if (at == 0)
      return answer(-1, format("address %s without a local part", log_quote(value, 100).c_str()));
    // As ppolicy 2.x: a recipient postmaster@domain is accepted without a
    // callout (RFC 5321 4.5.1: every domain must accept its postmaster).
    if (is_recipient && iequals(value.substr(0, at), "postmaster"))
      return answer(1, "postmaster@domain: every domain accepts its postmaster (RFC 5321)");
    if (vt == VType::user) local.assign(value.substr(0, at));
    domain = value.substr(at + 1);
  }
  if (!domain.empty() && domain.front() == '[')
    return answer(0, format("%s: address literal not verified", log_quote(value, 100).c_str()));
  t.domain = dns::normal_name(domain);
  if (dns::valid_name(t.domain)) t.rcpt = smtp_path_address(local, t.domain);
  if (t.rcpt.empty())
    return answer(-1, format("address %s in unknown format", log_quote(value, 100).c_str()));
  t.stored = vt == VType::user ? local + "@" + t.domain : t.domain;
  t.key = "@" + t.stored;
  return t;
}

class Verification final : public Module {
 public:
  Verification(const ModuleSetup& s, const VerificationParams& p)
      : d_name(s.name),
        d_param(trim(p.param)),
        d_vtype(vtype_of(p.vtype)),
        d_timeout_ms(p.timeout_ms),
        d_db(p.cache_db),
        d_table(checked_identifier(p.table, "table")),
        d_expire_pos(p.db_expire_positive),
        d_expire_neg(p.db_expire_negative),
        d_port(p.port),
        d_max_in_flight(p.max_in_flight),
        d_allow_private(p.allow_private) {
    if (d_param.empty()) throw KeyError("param", "is empty");
    d_is_sender = d_param == "sender";
    d_is_recipient = d_param == "recipient";
    d_mail_from = mail_from(p.mail_from);
    d_helo = std::string(trim(p.helo_name));
    if (d_helo.empty()) {
      char host[256] = {};
      if (gethostname(host, sizeof host - 1) == 0) d_helo = host;
      if (!dns::valid_name(d_helo)) d_helo = "localhost";
    } else if (!dns::valid_name(d_helo)) {
      throw KeyError("heloName", "expected a host name");
    }
    if (d_db) require_database(s.config, "cacheDB");
    const char* t = d_table.c_str();
    d_sql_read = format(
        "SELECT code, info FROM `%s` WHERE vtype = ? AND target = ? AND expire > UNIX_TIMESTAMP()",
        t);
    d_sql_write = format(
        "INSERT INTO `%s` (vtype, target, code, info, created, expire) VALUES (?, ?, ?, ?, "
        "UNIX_TIMESTAMP(), UNIX_TIMESTAMP() + ?) ON DUPLICATE KEY UPDATE code = VALUES(code), "
        "info = VALUES(info), created = VALUES(created), expire = VALUES(expire)",
        t);
  }

  void prepare(Services& services) override {
    if (!d_db) return;
    with_admin_connection(services.config(), who(), [&](DbConnection& c, const DbSettings& s) {
      ensure_tables(c, s, {table_def()}, who());
    });
  }

  void maintain(Services& services) override {
    if (!d_db) return;
    with_admin_connection(services.config(), who(), [&](DbConnection& c, const DbSettings& s) {
      if (ensure_tables(c, s, {table_def()}, who()))
        expire_rows(c, d_table, "expire", ExpiryColumn::unix_seconds);
    });
  }

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += parse_target(value_of(r), d_is_sender, d_is_recipient, d_vtype).key;
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    Target t = parse_target(value_of(request), d_is_sender, d_is_recipient, d_vtype);
    if (t.answered) return Result(t.code, t.info);
    Result r;
    if (d_db && db_lookup(t, ctx, r)) return r;
    r = verify(t, ctx);
    if (d_db && !r.transient && (r.code >= 2 || r.code <= -2)) db_store(t, r, ctx);
    return r;
  }

 private:
  static VType vtype_of(const std::string& s) {
    if (s == "connection") return VType::connection;
    if (s == "domain") return VType::domain;
    if (s == "user") return VType::user;
    return VType::mx;
  }

  static std::string mail_from(std::string_view text) {
    std::string_view a = trim(text);
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
    if (a.empty()) return "<>";
    size_t at = a.rfind('@');
    std::string path;
    if (at != std::string_view::npos && dns::valid_name(a.substr(at + 1)))
      path = smtp_path_address(a.substr(0, at), a.substr(at + 1));
    if (path.empty())
      throw KeyError("mailFrom",
                     "expected an address such as postmaster@example.org (empty: the null sender)");
    return "<" + path + ">";
  }

  std::string value_of(const Request& r) const {
    if (r.find(d_param)) return std::string(trim(r.get(d_param)));
    if (auto d = derived_from_name(d_param)) return r.derived(*d);
    return "";
  }

  std::string who() const { return "module " + d_name + " (Verification)"; }

  TableDef table_def() const {
    return {d_table, format("CREATE TABLE IF NOT EXISTS `%s` (\n"
                            "  vtype VARBINARY(10) NOT NULL,\n"
                            "  target VARBINARY(255) NOT NULL,\n"
                            "  code TINYINT NOT NULL,\n"
                            "  info VARBINARY(255) NOT NULL,\n"
                            "  created INT UNSIGNED NOT NULL,\n"
                            "  expire INT UNSIGNED NOT NULL,\n"
                            "  PRIMARY KEY (vtype, target),\n"
                            "  KEY expire (expire)\n"
                            ") ENGINE=InnoDB",
                            d_table.c_str())};
  }

  // A stored definitive answer, moved away from zero by 10.
  bool db_lookup(const Target& t, CheckContext& ctx, Result& out) {
    bool hit = false;
    int code = 0;
    std::string info, error;
    bool ok = ctx.services().resource<Database>().run(
        ctx.deadline(),
        [&](DbConnection& c) {
          auto& st = c.prepare(d_sql_read);
          st.setString(1, vtype_name(d_vtype));
          st.setString(2, bounded_key(t.stored, 255));
          std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
          if (rs->next()) {
            hit = true;
            code = rs->getInt(1);
            info = db_string(*rs, 2);
          }
        },
        error);
    // A database that fails costs nothing but the lookup: the callout runs.
    if (!ok || !hit || code < -5 || code > 5 || (code > -2 && code < 2)) return false;
    out = Result(code > 0 ? code + 10 : code - 10, info + " (database cache)");
    return true;
  }

  void db_store(const Target& t, const Result& r, CheckContext& ctx) {
    std::string error;
    std::string info = r.info.substr(0, 255);
    ctx.services().resource<Database>().run(
        ctx.deadline(),
        [&](DbConnection& c) {
          auto& st = c.prepare(d_sql_write);
          st.setString(1, vtype_name(d_vtype));
          st.setString(2, bounded_key(t.stored, 255));
          st.setInt(3, r.code);
          st.setString(4, info);
          st.setUInt(5, r.code > 0 ? d_expire_pos : d_expire_neg);
          st.executeUpdate();
        },
        error);  // a failed write is logged by Database; the answer stands
  }

  Result verify(const Target& t, CheckContext& ctx) {
    const char* d = t.domain.c_str();
    auto& resolver = ctx.services().resource<dns::Resolver>();
    dns::MailHosts mh = dns::mailhosts(resolver, t.domain, ctx.deadline());
    if (dns::failed(mh.status))
      return transient(0, format("DNS error looking up the mail hosts of %s: %s", d,
                                 dns::status_name(mh.status)));
    if (mh.null_mx) return Result(-2, format("%s accepts no mail (null MX, RFC 7505)", d));
    if (mh.status == dns::Status::nxdomain) return Result(-2, format("no such domain %s", d));
    if (mh.status != dns::Status::ok) return Result(-2, format("no mail host for %s", d));

    std::vector<MailAddr> addrs;
    bool dns_failed = false;
    std::string refused;  // why the first address was refused
    for (const auto& h : mh.hosts) {
      dns_failed = dns_failed || dns::failed(h.status);
      for (const auto& ip : h.addrs) {
        std::string why;
        if (!outbound_allowed(ip, d_allow_private, &why)) {
          if (refused.empty()) refused = why;
          continue;
        }
        if (std::none_of(addrs.begin(), addrs.end(), [&](const MailAddr& m) { return m.ip == ip; }))
          addrs.push_back({h.name, ip});
      }
    }
    if (addrs.empty())
      return dns_failed
                 ? transient(0, format("DNS error looking up the mail hosts of %s", d))
                 : Result(-2, format("no mail host of %s has a%s address (%s)", d,
                                     d_allow_private ? " usable" : " public", refused.c_str()));
    if (d_vtype == VType::mx)
      return Result(2, format("mail host for %s exists: %s%s", d, addrs[0].host.c_str(),
                              mh.implicit ? " (implicit MX)" : ""));
    return callout(t, addrs, ctx);
  }

  // The SMTP part, unless maxInFlight callouts to the domain run already.
  Result callout(const Target& t, const std::vector<MailAddr>& addrs, CheckContext& ctx) {
    long remaining = ctx.remaining_ms();
    if (remaining < 50) return transient(0, format("no time left to verify %s", t.domain.c_str()));
    Services& sv = ctx.services();
    InFlight slot;
    uint32_t now = sv.now();
    if (!slot.acquire(sv.records(), t.domain, d_max_in_flight, now,
                      now + static_cast<uint32_t>(remaining / 1000) + 2))
      return transient(0, format("%ld callouts to %s in progress already (maxInFlight)",
                                 d_max_in_flight, t.domain.c_str()));
    CalloutSpec spec;
    spec.level = static_cast<int>(d_vtype);
    spec.domain = t.domain;
    spec.rcpt = t.rcpt;
    spec.mail_from = d_mail_from;
    spec.helo = d_helo;
    spec.port = d_port;
    spec.step_ms = d_timeout_ms;
    return smtp_callout(addrs, spec, ctx);
  }

  std::string d_name, d_param;
  VType d_vtype;
  long d_timeout_ms;
  bool d_db;
  std::string d_table;
  uint32_t d_expire_pos, d_expire_neg;
  uint16_t d_port;
  long d_max_in_flight;
  bool d_allow_private;
  bool d_is_sender = false;
  bool d_is_recipient = false;
  std::string d_mail_from, d_helo;
  std::string d_sql_read, d_sql_write;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<Verification>(s, s.bound<VerificationParams>());
}

}  // namespace

extern const ModuleType k_verification_type = {
    "Verification",
    "Module for mx, connection, domain and user verification. It check domain existence\n"
    "and then it try to establish SMTP connection with mailhost for the domain (MX, A or\n"
    "AAAA DNS records - see RFC 5321, chapter 5; a null MX, RFC 7505, means no mail).\n"
    "vtype mx: the domain has a mail host; connection: one of its mail hosts greets\n"
    "(220); domain: it accepts RCPT TO:<postmaster@domain>; user: it accepts the\n"
    "address itself (MAIL FROM is the null sender unless mailFrom says otherwise).\n"
    "Temporary failures (DNS errors, 4xx replies, timeouts, maxInFlight callouts to the\n"
    "domain already running) are code 0 and never cached. Definitive answers can be kept\n"
    "in the database (cacheDB); a hit returns the code moved away from zero by 10.\n"
    "Be careful when turning on verification and first read\n"
    "http://www.postfix.org/ADDRESS_VERIFICATION_README.html to see limitation and\n"
    "problem that can happen (servers that accept every address, callouts that count as\n"
    "abuse, greylisting of the callout itself).",
    k_params,
    {86400, 900, 3600},
    {},
    {},
    "    5 (15) ..... user verification was successful (hit permanent cache)\n"
    "    4 (14) ..... domain verification was successful (hit permanent cache)\n"
    "    3 (13) ..... connection verification was successful (hit permanent cache)\n"
    "    2 (12) ..... mx verification was successful (hit permanent cache)\n"
    "    1 .......... check succeeded according RFC (null sender, postmaster recipient)\n"
    "    0 .......... undefined (e.g. DNS error, SMTP error: 4xx, timeout, refused\n"
    "                 session, maxInFlight reached; never cached)\n"
    "   -1 .......... check failed, mail format invalid\n"
    "   -2 (-12) .... mx verification failed: no mail host (hit permanent cache)\n"
    "   -3 (-13) .... connection verification failed (hit permanent cache); hosts that\n"
    "                 refuse or ignore connections give -3 too, never cached\n"
    "   -4 (-14) .... domain verification failed: postmaster or MAIL FROM rejected\n"
    "                 (hit permanent cache)\n"
    "   -5 (-15) .... user verification failed: the address is rejected (hit\n"
    "                 permanent cache)\n",
    "# sender domain verification\n"
    "[module verification]\ntype = Verification\nparam = sender\n\n"
    "# recipient user verification\n"
    "[module verification_user]\ntype = Verification\nparam = recipient\nvtype = user\n"
    "timeout = 10\n",
    create,
};

}  // namespace ppolicy
