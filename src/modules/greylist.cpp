// SPDX-License-Identifier: GPL-2.0-or-later
// Greylist: delay the first mail of a (sender, recipient, client network)
// triplet; a real MTA retries after `delay` and passes, most spamware does
// not. Triplet normalisation and the state machine: db/greylist_logic.hpp.
//
// Stores: `store = mysql` (default; the table is shared by every host that
// uses the database, so a triplet greylisted on one host passes on another)
// or `store = shm` (the shared-memory records table of this host; no
// database needed; bounded: old entries are evicted when it is full).
// MySQL: one atomic statement per request. A PRIMARY KEY on the triplet and
// INSERT ... ON DUPLICATE KEY UPDATE create exactly one row however many
// first requests arrive at once, and the same statement applies the state
// machine to an existing row (its assignments are evaluated left to right:
// last_result first, from the old values, then the columns that depend on
// it); a SELECT then reads the outcome. The row lock is held only while the
// server runs the statement. All times are the database server's clock, so
// hosts agree.
//
// Caching (store = mysql; the shared-memory store is as fast as the cache):
// the result cache by the normalised triplet, with lifetimes that follow the
// state machine. A pass is kept for min(cachePositive, its remaining
// validity), a greylisted answer for min(cacheNegative, the remaining wait)
// and its wait counts down on a hit (on_cache_hit), a failure for
// cacheUnknown. The database row of a cached pass is refreshed when the
// cache entry ends (so the effective expiration is between expiration -
// cachePositive and expiration).
//
// The maintenance process deletes expired rows (store = mysql); the master
// sweeps expired shared-memory entries.
//
// domainSubject (ppolicy 2.x's behaviour, on by default): when SPF passes for
// the client, or the client is one of the sender domain's mail hosts, the
// triplet's client is the sender's domain ("@example.com"), so a provider's
// pool of outgoing servers passes once, not once per network. Costs the SPF
// check and at most the MX lookup of a request the cache did not answer; a
// DNS failure keeps the client network (2.x answered 0).
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "base/strings.hpp"
#include "conf/config.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "dns/mailhosts.hpp"
#include "dns/spf_check.hpp"
#include "modules/greylist_admin.hpp"
#include "modules/greylist_logic.hpp"
#include "modules/module.hpp"
#include "proto/request.hpp"
#include "shm/table.hpp"

namespace ppolicy {
namespace {

struct GreylistParams {
  std::string table;
  uint32_t delay;
  uint32_t must_retry;
  uint32_t expiration;
  std::string store;
  int ipv4_prefix;
  int ipv6_prefix;
  bool domain_subject;
};

const Option k_params[] = {
    bound_row<&GreylistParams::table>(
        {"table", OptType::string, "greylist", "greylist database table (store = mysql)"}),
    bound_row<&GreylistParams::delay>({"delay", OptType::duration, "600",
                                       "how long to delay mail we see its triplet first time",
                                       nullptr, 0, 86400 * 30}),
    bound_row<&GreylistParams::must_retry>(
        {"mustRetry", OptType::duration, "43200",
         "time we wait to receive next mail after we greylisted it (a later retry starts over)",
         nullptr, 1, 86400 * 365}),
    bound_row<&GreylistParams::expiration>(
        {"expiration", OptType::duration, "2678400",
         "expiration of triplets in database (sliding with every pass)", nullptr, 1, 86400 * 3650}),
    bound_row<&GreylistParams::store>({"store", OptType::choice, "mysql",
                                       "where triplets live: mysql (shared by every host using the "
                                       "database) or shm (this host only)",
                                       "mysql|shm"}),
    bound_row<&GreylistParams::ipv4_prefix>({"ipv4Prefix", OptType::integer, "24",
                                             "IPv4 clients are greylisted by this network prefix",
                                             nullptr, 8, 32}),
    bound_row<&GreylistParams::ipv6_prefix>({"ipv6Prefix", OptType::integer, "64",
                                             "IPv6 clients are greylisted by this network prefix",
                                             nullptr, 16, 128}),
    bound_row<&GreylistParams::domain_subject>(
        {"domainSubject", OptType::boolean, "yes",
         "greylist by the sender's domain instead of the client network when SPF passes for the "
         "client or the client is one of the domain's mail hosts (as ppolicy 2.x)"}),
};

const FieldSpec k_fields[] = {
    {"wait", Type::number, "seconds until a retry passes (0 when the triplet passes)"},
    {"triplet", Type::string, "the normalised triplet: sender,recipient,client network"},
};

class Greylist final : public Module {
 public:
  Greylist(const ModuleSetup& s, const GreylistParams& p)
      : d_name(s.name),
        d_table(checked_identifier(p.table, "table")),
        d_shm(p.store == "shm"),
        d_v4(p.ipv4_prefix),
        d_v6(p.ipv6_prefix),
        d_domain_subject(p.domain_subject) {
    d_timing.delay = p.delay;
    d_timing.must_retry = p.must_retry;
    d_timing.expiration = p.expiration;
    if (d_timing.must_retry <= d_timing.delay)
      throw KeyError("mustRetry", "must be longer than delay (a retry has to fit between them)");
    if (!d_shm) require_database(s.config, "store");
    const char* t = d_table.c_str();
    // Keep in step with grey_step() (db/greylist_logic.cpp), which store = shm runs.
    d_sql_upsert = format(
        "INSERT INTO `%s` (sender, recipient, client, first_seen, last_seen, expire, state, "
        "last_result, "
        "tries, passes) VALUES (?, ?, ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), UNIX_TIMESTAMP() + ?, "
        "0, -2, 1, 0) "
        "ON DUPLICATE KEY UPDATE "
        "last_result = CASE WHEN UNIX_TIMESTAMP() >= expire THEN -2 "
        "WHEN state = 0 AND UNIX_TIMESTAMP() < first_seen + ? THEN -1 ELSE 1 END, "
        "first_seen = IF(last_result = -2, UNIX_TIMESTAMP(), first_seen), "
        "tries = IF(last_result = -2, 1, tries + 1), "
        "passes = IF(last_result = -2, 0, passes + (last_result = 1)), "
        "expire = CASE last_result WHEN -2 THEN UNIX_TIMESTAMP() + ? WHEN 1 THEN UNIX_TIMESTAMP() "
        "+ ? "
        "ELSE expire END, "
        "state = IF(last_result = 1, 1, 0), "
        "last_seen = UNIX_TIMESTAMP()",
        t);
    d_sql_select = format(
        "SELECT last_result, first_seen, UNIX_TIMESTAMP() FROM `%s` WHERE sender = ? AND recipient "
        "= ? AND "
        "client = ?",
        t);
  }

  void prepare(Services& services) override {
    if (!d_shm)
      with_admin_connection(services.config(), who(), [&](DbConnection& c, const DbSettings& s) {
        ensure_tables(c, s, tables(), who());
      });
  }

  void maintain(Services& services) override {
    if (d_shm) return;  // the master sweeps shared memory
    with_admin_connection(services.config(), who(), [&](DbConnection& c, const DbSettings& s) {
      if (ensure_tables(c, s, tables(), who()))
        expire_rows(c, d_table, "expire", ExpiryColumn::unix_seconds);
    });
  }

  bool cache_key(const Request& request, const CallArgs&, std::string& key) const override {
    Triplet tr;
    if (d_shm || triplet(request, tr) != TripletProblem::none) return false;
    key += tr.sender + '\n' + tr.recipient + '\n' + tr.client;
    // The domain subject depends on the client's own address.
    if (d_domain_subject) key += '\n' + std::string(request.get(Attr::client_address));
    return true;
  }

  void on_cache_hit(Result& r, uint32_t age) const override {
    const Value* wait = r.field("wait");
    if (r.code >= 0 || !wait) return;
    // Cached no longer than the wait, so some of it is left.
    uint32_t left = wait->n > age ? static_cast<uint32_t>(wait->n) - age : 1;
    const Value* tr = r.field("triplet");
    std::string triplet = tr ? tr->s : "";
    r = answer(GreyOutcome{-1, left, false}).set("triplet", triplet);
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    if (is_postmaster(request.get(Attr::recipient)))
      return Result(2, "allow mail to postmaster without greylisting").set("wait", 0);
    Triplet tr;
    switch (triplet(request, tr)) {
      case TripletProblem::bad_sender:
        return Result(-2, "sender address format incorrect: " +
                              log_quote(request.get(Attr::sender), 100))
            .set("wait", 0);
      case TripletProblem::bad_client:
        return Result(0, "no valid client address: " +
                             log_quote(request.get(Attr::client_address), 60))
            .set("wait", 0);
      case TripletProblem::none:
        break;
    }
    if (d_domain_subject) {
      std::string subject = domain_subject(request, ctx);
      if (!subject.empty()) tr.client = bounded_key(subject, 50);
    }
    Result r = d_shm ? check_shm(tr, ctx) : check_mysql(tr, ctx);
    r.set("triplet", tr.sender + "," + tr.recipient + "," + tr.client);
    return r;
  }

  // Live state commands (ppolicyd -C): modules/greylist_admin.cpp.
  void admin_show(Services& sv, const AdminSubject& s, std::vector<AdminRecord>& out) override {
    Triplet tr;
    GreyField field;
    if (!grey_subject(s, d_v4, d_v6, tr, field)) return;
    std::string error;
    if (d_shm && sv.records())
      grey_show_shm(*sv.records(), sv.now(), d_name, d_timing, tr, field, out);
    else if (!d_shm && !grey_show_mysql(sv, d_table, d_timing, tr, field, out, error))
      out.push_back({{"kind", "greylist"}, {"error", error}});
  }

  bool admin_release(Services& sv, const AdminSubject& s, std::string& done,
                     std::string& error) override {
    Triplet tr;
    GreyField field;
    if (!grey_subject(s, d_v4, d_v6, tr, field) || field != GreyField::triplet) {
      error = "needs a client address (or @domain), a sender with '@' (or <>) and a recipient";
      return false;
    }
    done = tr.sender + "," + tr.recipient + "," + tr.client;
    if (!d_shm) return grey_release_mysql(sv, d_table, d_timing, tr, error);
    if (!sv.records()) return error = "no shared memory", false;
    return grey_release_shm(*sv.records(), sv.now(), d_name, d_timing, tr);
  }

 private:
  // The normalised triplet of the request (bounded to its column widths).
  TripletProblem triplet(const Request& request, Triplet& tr) const {
    TripletProblem p = make_triplet(request.get(Attr::sender), request.get(Attr::recipient),
                                    request.get(Attr::client_address), d_v4, d_v6, tr);
    tr.sender = bounded_key(tr.sender, 255);
    tr.recipient = bounded_key(tr.recipient, 255);
    return p;
  }

  std::string who() const { return "module " + d_name + " (Greylist)"; }

  // "@domain" when SPF passes for the client or the client is one of the
  // sender domain's mail hosts; "" otherwise (also on DNS failures).
  static std::string domain_subject(const Request& request, CheckContext& ctx) {
    std::string sender(request.get(Attr::sender));
    auto at = sender.rfind('@');
    auto ip = IpAddress::parse(request.get(Attr::client_address));
    if (at == std::string::npos || !ip) return "";
    std::string domain = dns::normal_name(std::string_view(sender).substr(at + 1));
    if (!dns::spf_valid_domain(domain)) return "";
    dns::Resolver& resolver = ctx.services().resource<dns::Resolver>();
    dns::SpfMacroValues v;
    v.local = at == 0 ? "postmaster" : sender.substr(0, at);
    v.domain = domain;
    v.sender = v.local + "@" + domain;
    v.helo = request.get(Attr::helo_name);
    v.ip = *ip;
    v.receiver = "unknown";  // only explanations use it
    dns::SpfLookups lookups(resolver, ctx.deadline(), *ip);
    v.validated = [&lookups](std::string_view d) { return lookups.validated_name(d); };
    if (dns::spf_check_host(lookups, v, domain).result == dns::SpfResult::pass) return "@" + domain;
    dns::MailHosts hosts = dns::mailhosts(resolver, domain, ctx.deadline());
    for (const auto& a : hosts.addresses())
      if (a == *ip) return "@" + domain;
    return "";
  }

  std::vector<TableDef> tables() const {
    return {{d_table, format("CREATE TABLE IF NOT EXISTS `%s` (\n"
                             "  sender VARBINARY(255) NOT NULL,\n"
                             "  recipient VARBINARY(255) NOT NULL,\n"
                             "  client VARBINARY(50) NOT NULL,\n"
                             "  first_seen INT UNSIGNED NOT NULL,\n"
                             "  last_seen INT UNSIGNED NOT NULL,\n"
                             "  expire INT UNSIGNED NOT NULL,\n"
                             "  state TINYINT NOT NULL DEFAULT 0,\n"
                             "  last_result TINYINT NOT NULL DEFAULT -2,\n"
                             "  tries INT UNSIGNED NOT NULL DEFAULT 0,\n"
                             "  passes INT UNSIGNED NOT NULL DEFAULT 0,\n"
                             "  PRIMARY KEY (sender, recipient, client),\n"
                             "  KEY expire (expire)\n"
                             ") ENGINE=InnoDB",
                             d_table.c_str())}};
  }

  static Result answer(const GreyOutcome& o) {
    if (o.code > 0) return Result(1, "greylisting was already done").set("wait", 0);
    return Result(-1, format("greylisting in progress: retry in %us", o.wait)).set("wait", o.wait);
  }

  Result check_shm(const Triplet& tr, CheckContext& ctx) {
    ShmTable* records = ctx.services().records();
    if (!records) return Result(0, "no shared memory").set("wait", 0);
    std::string key = grey_shm_key(d_name, tr);
    uint32_t now = ctx.services().now();
    GreyOutcome out;
    bool ok = records->update(key, now, [&](std::string& v, uint32_t& expire, bool found) {
      GreyRecord rec;
      if (found && !decode_grey(v, rec)) found = false;
      out = grey_step(rec, found, now, d_timing);
      v = encode_grey(rec);
      expire = rec.expire;
      return true;
    });
    if (!ok) return Result(0, "greylist record does not fit the shared memory slot").set("wait", 0);
    return answer(out);
  }

  Result check_mysql(const Triplet& tr, CheckContext& ctx) {
    GreyOutcome out;
    std::string error;
    Database& db = ctx.services().resource<Database>();
    bool ok = db.run(
        ctx.deadline(), [&](DbConnection& c) { out = mysql_step(c, tr); }, error);
    if (!ok) return Result(0, error).set("wait", 0);
    Result r = answer(out);
    // A pass is good until its row expires, a greylisted answer until the wait ends.
    r.ttl = out.code > 0 ? (d_timing.expiration > 60 ? d_timing.expiration - 60 : 0) : out.wait;
    return r;
  }

  GreyOutcome mysql_step(DbConnection& c, const Triplet& tr) {
    // One transaction (run() commits it): when the connection is lost after
    // the upsert, the server rolls it back, so run()'s retry on a new
    // connection cannot count the request twice; and the select reads the
    // row as our upsert left it (it stays locked until the commit).
    c.begin();
    auto& up = c.prepare(d_sql_upsert);
    up.setString(1, tr.sender);
    up.setString(2, tr.recipient);
    up.setString(3, tr.client);
    up.setUInt(4, d_timing.must_retry);
    up.setUInt(5, d_timing.delay);
    up.setUInt(6, d_timing.must_retry);
    up.setUInt(7, d_timing.expiration);
    up.executeUpdate();
    auto& sel = c.prepare(d_sql_select);
    sel.setString(1, tr.sender);
    sel.setString(2, tr.recipient);
    sel.setString(3, tr.client);
    std::unique_ptr<sql::ResultSet> rs(sel.executeQuery());
    if (!rs->next()) throw std::runtime_error("greylist row vanished right after its upsert");
    GreyOutcome o;
    int last = rs->getInt(1);
    uint32_t first_seen = rs->getUInt(2), now = rs->getUInt(3);
    o.code = last == 1 ? 1 : -1;
    o.fresh = last == -2;
    o.wait =
        o.code > 0 || now >= first_seen + d_timing.delay ? 0 : first_seen + d_timing.delay - now;
    return o;
  }

  std::string d_name, d_table;
  bool d_shm;
  int d_v4, d_v6;
  bool d_domain_subject;
  GreyTiming d_timing;
  std::string d_sql_upsert, d_sql_select;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<Greylist>(s, s.bound<GreylistParams>());
}

}  // namespace

extern const ModuleType k_greylist_type = {
    "Greylist",
    "Greylist implementation. Mail whose triplet (from, to, client) was not seen before is\n"
    "answered \"greylisted\" (the policy defers it with a 4xx code); a correctly configured\n"
    "mail server retries (RFC 5321) and passes once `delay` is over, most spam software\n"
    "does not. The sender is normalised (case, +extension, BATV, SRS, VERP, numbers) and\n"
    "the client reduced to its network (ipv4Prefix, ipv6Prefix), or replaced by the sender's\n"
    "domain when SPF passes for the client or it is one of the domain's mail hosts\n"
    "(domainSubject). A retry later than\n"
    "mustRetry starts over; a triplet that passed stays valid for `expiration` after its\n"
    "last pass. Recipient postmaster is never greylisted; the null sender is greylisted on\n"
    "the client network only. store = mysql shares the triplets with every host using the\n"
    "database; store = shm keeps them in this host's shared memory (no database needed).\n"
    "Expired triplets are removed by the daemon's maintenance (no cron job).",
    k_params,
    {86400, 30, 60},
    k_fields,
    {},
    "    2 .... always allow postmaster\n"
    "    1 .... was seen before (passes)\n"
    "    0 .... some error occurred (database, no client address, ...)\n"
    "   -1 .... greylist in progress (field wait: seconds until a retry passes)\n"
    "   -2 .... invalid sender address\n",
    "[module greylist1]\ntype = Greylist\n\n"
    "[module greylist2]\ntype = Greylist\ntable = grey\ndelay = 60\nexpiration = 365d\n\n"
    "[module greylist_local]\ntype = Greylist\nstore = shm\n",
    create,
};

}  // namespace ppolicy
