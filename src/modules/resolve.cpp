// SPDX-License-Identifier: GPL-2.0-or-later
// Resolve: does an address or name of the request translate in DNS as it
// should (reverse record, forward-confirmed reverse DNS, mail exchangers)?
// IPv4 and IPv6 throughout; addresses are compared as addresses, names
// without regard to case. Each step's lookups go out in one batch. Unlike
// the original, a DNS error or timeout is 0 (unknown), never -1.
#include <algorithm>

#include "base/strings.hpp"
#include "dns/mailhosts.hpp"
#include "dns/resolver.hpp"
#include "modules/module.hpp"
#include "modules/prefetch.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

using namespace dns;

enum class Kind {
  ip_name,
  name_ip,
  name_mx,
  ip_name_ip,
  name_ip_name,
  ip1_name_ip2,
  ip_name_mx,
  name1_ip_name2
};

struct KindRow {
  const char* text;
  Kind kind;
  bool from_ip;
};
const KindRow k_kinds[] = {
    {"ip->name", Kind::ip_name, true},
    {"name->ip", Kind::name_ip, false},
    {"name->mx", Kind::name_mx, false},
    {"ip->name->ip", Kind::ip_name_ip, true},
    {"name->ip->name", Kind::name_ip_name, false},
    {"ip1->name->ip2", Kind::ip1_name_ip2, true},
    {"ip->name->mx", Kind::ip_name_mx, true},
    {"name1->ip->name2", Kind::name1_ip_name2, false},
};

struct ResolveParams {
  std::string param;
  std::string type;
};

const Option k_params[] = {
    bound_row<&ResolveParams::param>(
        {"param", OptType::string, nullptr,
         "which request attribute to resolve (an address, a name, or a mail address: its domain)",
         nullptr, LLONG_MIN, LLONG_MAX, true}),
    bound_row<&ResolveParams::type>({"type", OptType::choice, nullptr,
                                     "the translation to check (in the section, the second "
                                     "\"type\" line; the first is the module "
                                     "type)",
                                     "ip->name|name->ip|name->mx|ip->name->ip|name->ip->name|ip1->"
                                     "name->ip2|ip->name->mx|name1->ip-"
                                     ">name2",
                                     LLONG_MIN, LLONG_MAX, true}),
};

const FieldSpec k_fields[] = {
    {"names", Type::string, "names found (PTR targets or mail hosts), comma-separated"},
    {"addresses", Type::string, "addresses found, comma-separated"},
};

constexpr size_t k_max_fanout = 10;  // names or addresses followed per step

// The outcome of a step that fans out: ok if any branch is ok, else failed
// (unknown) if any branch failed, else negative.
struct Tally {
  bool ok = false, failure = false;
  Status first_failure = Status::timeout;
  void add(Status s) {
    if (s == Status::ok) {
      ok = true;
    } else if (failed(s) && !failure) {
      failure = true;
      first_failure = s;
    }
  }
};

class Resolve final : public Module, public DnsPrefetch {
 public:
  Resolve(std::string param, const KindRow& kind) : d_param(std::move(param)), d_kind(kind) {}

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += lower(r.get(d_param));
    return true;
  }

  // The first step only: PTR of the address, or the name's A and AAAA (with
  // its MX for the mail-host kinds, as mailhosts() asks them).
  void first_questions(const Request& request, const CallArgs&, Services&,
                       std::vector<Query>& out) const override {
    auto value = request.find(d_param);
    if (!value) return;
    if (d_kind.from_ip) {
      if (auto ip = IpAddress::parse(*value)) out.push_back(Query::ptr(*ip));
      return;
    }
    std::string name = start_name(*value);
    if (name.empty()) return;
    if (d_kind.kind == Kind::name_mx) out.push_back(Query::mx_of(name));
    out.push_back(Query::a(name));
    out.push_back(Query::aaaa(name));
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    auto value = request.find(d_param);
    if (!value) return Result(0, format("%s: no %s in the request", d_kind.text, d_param.c_str()));
    d_resolver = &ctx.services().resource<Resolver>();
    d_deadline = ctx.deadline();
    d_names.clear();
    d_addrs.clear();
    Outcome o;
    if (d_kind.from_ip) {
      auto ip = IpAddress::parse(*value);
      if (!ip)
        return finish(Outcome{Status::nxdomain,
                              format("\"%s\" is not an IP address", std::string(*value).c_str())});
      o = from_ip(*ip);
    } else {
      std::string name = start_name(*value);
      if (name.empty())
        return finish(Outcome{Status::nxdomain,
                              format("\"%s\" is not a host name", std::string(*value).c_str())});
      o = from_name(name);
    }
    return finish(o);
  }

 private:
  // The name a name->... check starts from (a mail address: its domain),
  // normalised; "" when the value is no host name.
  static std::string start_name(std::string_view value) {
    std::string name(value.find('@') != std::string_view::npos ? address_domain(value) : value);
    if (name == "unknown") return "";  // Postfix's "no name"
    if (name.empty() || !valid_name(name)) return "";
    return normal_name(name);
  }

  struct Outcome {
    Status status;  // ok, a negative, or a failure
    std::string what;
  };

  Result finish(const Outcome& o) {
    Result r;
    r.code = o.status == Status::ok ? 1 : failed(o.status) ? 0 : -1;
    r.transient = failed(o.status);  // a DNS error is never cached
    if (failed(o.status))
      r.info = format("%s: %s (DNS error: %s)", d_kind.text, o.what.c_str(), status_name(o.status));
    else if (o.status != Status::ok)
      r.info = format("%s: %s (translation failed)", d_kind.text, o.what.c_str());
    else
      r.info = format("%s: resolve ok (%s)", d_kind.text, o.what.c_str());
    r.set("names", join(d_names, ","));
    std::vector<std::string> a;
    for (const auto& x : d_addrs)
      a.push_back(x.str());
    r.set("addresses", join(a, ","));
    return r;
  }

  static Status tally_status(const Tally& t, Status negative_status = Status::nodata) {
    return t.ok ? Status::ok : t.failure ? t.first_failure : negative_status;
  }

  // PTR names of an address (at most k_max_fanout).
  Status names_of(const IpAddress& ip, std::vector<std::string>& out) {
    Query q = Query::ptr(ip);
    d_resolver->resolve(q, d_deadline);
    for (const auto& n : q.names)
      if (out.size() < k_max_fanout && valid_name(n)) out.push_back(n);
    if (q.status == Status::ok && out.empty()) return Status::nodata;
    return q.status;
  }

  // A and AAAA of several names in one batch; per name the pair's status.
  std::vector<Status> addrs_of(const std::vector<std::string>& names,
                               std::vector<std::vector<IpAddress>>& out) {
    std::vector<Query> qs;
    for (const auto& n : names) {
      qs.push_back(Query::a(n));
      qs.push_back(Query::aaaa(n));
    }
    std::vector<Query*> ptrs;
    for (auto& q : qs)
      ptrs.push_back(&q);
    d_resolver->resolve(ptrs, d_deadline);
    std::vector<Status> st;
    out.assign(names.size(), {});
    for (size_t i = 0; i < names.size(); ++i) {
      const Query &a = qs[2 * i], &b = qs[2 * i + 1];
      for (const Query* q : {&a, &b})
        for (const auto& x : q->addrs)
          if (out[i].size() < k_max_fanout) out[i].push_back(x);
      Tally t;
      t.add(a.status);
      t.add(b.status);
      st.push_back(!out[i].empty() ? Status::ok : t.failure ? t.first_failure : Status::nxdomain);
    }
    return st;
  }

  // PTR names of several addresses in one batch.
  std::vector<Status> ptrs_of(const std::vector<IpAddress>& ips,
                              std::vector<std::vector<std::string>>& out) {
    std::vector<Query> qs;
    for (const auto& ip : ips)
      qs.push_back(Query::ptr(ip));
    std::vector<Query*> ptrs;
    for (auto& q : qs)
      ptrs.push_back(&q);
    d_resolver->resolve(ptrs, d_deadline);
    std::vector<Status> st;
    out.assign(ips.size(), {});
    for (size_t i = 0; i < ips.size(); ++i) {
      out[i] = qs[i].names;
      st.push_back(qs[i].status == Status::ok && out[i].empty() ? Status::nodata : qs[i].status);
    }
    return st;
  }

  void note_names(const std::vector<std::string>& n) {
    for (const auto& x : n)
      if (std::find(d_names.begin(), d_names.end(), x) == d_names.end()) d_names.push_back(x);
  }
  void note_addrs(const std::vector<IpAddress>& n) {
    for (const auto& x : n)
      if (std::find(d_addrs.begin(), d_addrs.end(), x) == d_addrs.end()) d_addrs.push_back(x);
  }

  // Has the name a mail host with a public address?
  Status public_mailhost(const std::string& name) {
    MailHosts mh = mailhosts(*d_resolver, name, d_deadline);
    for (const auto& h : mh.hosts) {
      bool pub = false;
      for (const auto& a : h.addrs)
        pub = pub || is_public(a);
      if (pub) {
        d_names.push_back(h.name);
        note_addrs(h.addrs);
        return Status::ok;
      }
    }
    if (failed(mh.status)) return mh.status;
    return Status::nodata;
  }

  Outcome from_ip(const IpAddress& ip) {
    std::vector<std::string> names;
    Status s = names_of(ip, names);
    note_names(names);
    if (s != Status::ok) return {s, format("no name for %s", ip.str().c_str())};
    if (d_kind.kind == Kind::ip_name) return {Status::ok, names.front()};

    if (d_kind.kind == Kind::ip_name_mx) {
      Tally t;
      for (const auto& n : names) {
        Status m = public_mailhost(n);
        t.add(m);
        if (m == Status::ok) return {Status::ok, format("%s has a mail host", n.c_str())};
      }
      return {tally_status(t), format("no public mail host for %s", join(names, ",").c_str())};
    }
    // ip->name->ip, ip1->name->ip2
    std::vector<std::vector<IpAddress>> addrs;
    auto st = addrs_of(names, addrs);
    Tally t;
    for (size_t i = 0; i < names.size(); ++i) {
      note_addrs(addrs[i]);
      t.add(st[i]);
      if (d_kind.kind == Kind::ip1_name_ip2 && !addrs[i].empty())
        return {Status::ok, format("%s has addresses", names[i].c_str())};
      if (d_kind.kind == Kind::ip_name_ip &&
          std::find(addrs[i].begin(), addrs[i].end(), ip) != addrs[i].end())
        return {Status::ok, format("%s resolves back to %s", names[i].c_str(), ip.str().c_str())};
    }
    t.ok = false;  // names with addresses that do not include ip do not pass
    return {tally_status(t), d_kind.kind == Kind::ip_name_ip
                                 ? format("%s does not resolve back to %s",
                                          join(names, ",").c_str(), ip.str().c_str())
                                 : format("%s has no address", join(names, ",").c_str())};
  }

  Outcome from_name(const std::string& name) {
    if (d_kind.kind == Kind::name_mx) {
      Status m = public_mailhost(name);
      return {m, m == Status::ok ? format("%s has a mail host", name.c_str())
                                 : format("no public mail host for %s", name.c_str())};
    }
    std::vector<std::vector<IpAddress>> addrs;
    auto st = addrs_of({name}, addrs);
    note_addrs(addrs[0]);
    if (st[0] != Status::ok) return {st[0], format("no address for %s", name.c_str())};
    if (d_kind.kind == Kind::name_ip) return {Status::ok, addrs[0].front().str()};

    // name->ip->name, name1->ip->name2
    std::vector<std::vector<std::string>> names;
    auto pst = ptrs_of(addrs[0], names);
    Tally t;
    for (size_t i = 0; i < names.size(); ++i) {
      note_names(names[i]);
      t.add(pst[i]);
      if (d_kind.kind == Kind::name1_ip_name2 && !names[i].empty())
        return {Status::ok, format("%s has a name", addrs[0][i].str().c_str())};
      if (d_kind.kind == Kind::name_ip_name &&
          std::find(names[i].begin(), names[i].end(), name) != names[i].end())
        return {Status::ok,
                format("%s points back to %s", addrs[0][i].str().c_str(), name.c_str())};
    }
    t.ok = false;
    return {tally_status(t), d_kind.kind == Kind::name_ip_name
                                 ? format("no address of %s points back to it", name.c_str())
                                 : format("no address of %s has a name", name.c_str())};
  }

  std::string d_param;
  const KindRow& d_kind;
  // State of one check.
  Resolver* d_resolver = nullptr;
  SteadyClock::time_point d_deadline{};
  std::vector<std::string> d_names;
  std::vector<IpAddress> d_addrs;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<ResolveParams>();
  for (const auto& k : k_kinds)
    if (p.type == k.text) return std::make_unique<Resolve>(p.param, k);
  throw KeyError("type", "unknown type");
}

}  // namespace

extern const ModuleType k_resolve_type = {
    "Resolve",
    "Try to resolve ip->name, name->ip, name->mx, ip->name->ip, name->ip->name,\n"
    "ip1->name->ip2, ip->name->mx, name1->ip->name2 (IPv4 and IPv6). A name taken from a\n"
    "mail address (param = sender) is its domain. ->mx needs a mail host (MX, or the\n"
    "name's own address without MX, RFC 5321) with a public address; a null MX (RFC 7505)\n"
    "fails. ip->name->ip is forward-confirmed reverse DNS; name->ip->name the same from\n"
    "the name's side.",
    k_params,
    {86400, 1800, 21600},
    k_fields,
    {},
    "    1 .... all translations were successful and equal\n"
    "    0 .... problem resolving ip or name (DNS error, timeout; or the attribute is absent)\n"
    "   -1 .... translation failed\n",
    "[module resolve_sender]\ntype = Resolve\nparam = sender\ntype = name->ip\n\n"
    "[module resolve_ptr]\ntype = Resolve\nparam = client_address\ntype = ip->name\n\n"
    "[module fcrdns]\ntype = Resolve\nparam = client_address\ntype = ip->name->ip\n",
    create,
};

}  // namespace ppolicy
