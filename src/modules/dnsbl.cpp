// SPDX-License-Identifier: GPL-2.0-or-later
// Dnsbl: is the client address (or, for a domain list, the sender's domain)
// listed in one DNS blacklist of the blacklist data file? Unlike the
// original, an RHSBL list really looks up the sender domain, IPv6 clients
// are looked up where the list supports them (RFC 5782), a DNS failure is 0
// (not "not listed"), and only answers in the list's listed range count.
#include "base/strings.hpp"
#include "dns/dnsbl_data.hpp"
#include "dns/dnsbl_lookup.hpp"
#include "modules/module.hpp"
#include "modules/prefetch.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

using namespace dns;

struct DnsblParams {
  std::optional<std::string> data_file;
  std::string dnsbl;
};

const Option k_params[] = {
    bound_row<&DnsblParams::dnsbl>(
        {"dnsbl", OptType::string, nullptr,
         "name of the DNS blacklist (a NAME of the data file; ppolicyd -M Dnsbl)", nullptr,
         LLONG_MIN, LLONG_MAX, true}),
    data_file_row<&DnsblParams::data_file>(),
};

const FieldSpec k_fields[] = {
    {"hits", Type::number, "number of listed answers"},
    {"answer", Type::string, "the listed answers (A records), comma-separated"},
    {"zone", Type::string, "the DNS zone of the list"},
    {"ttl", Type::number, "TTL of the answer (seconds)"},
};

class Dnsbl final : public Module, public DnsPrefetch {
 public:
  Dnsbl(std::shared_ptr<const BlacklistData> data, const Blacklist& list)
      : d_data(std::move(data)), d_list(list) {}

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    if (d_list.kind == ListKind::domain)
      key += lower(address_domain(r.get(Attr::sender)));
    else
      key += r.get(Attr::client_address);
    return true;
  }

  void first_questions(const Request& request, const CallArgs&, Services& services,
                       std::vector<Query>& out) const override {
    DnsblLookup lookup(*d_data);
    if (d_list.defunct || !subject(request, lookup)) return;
    lookup.questions(&services, out);
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    if (d_list.defunct) return Result(0, format("%s is defunct: not queried", d_list.name.c_str()));
    DnsblLookup lookup(*d_data);
    if (!subject(request, lookup))
      return Result(0, d_list.kind == ListKind::domain
                           ? format("%s: no sender domain to look up", d_list.name.c_str())
                           : format("%s: no valid client address", d_list.name.c_str()));
    ListLookup& r = lookup.results.front();
    if (!r.applicable)
      return Result(0, format("%s: cannot look up %s (the list has no IPv6 data)",
                              d_list.name.c_str(), r.subject.c_str()));
    lookup.run(ctx.services().resource<Resolver>(), &ctx.services(), ctx.deadline());

    Result res;
    res.set("zone", d_list.zone);
    if (r.listed) {
      std::vector<std::string> answers;
      for (const auto& a : r.answers)
        answers.push_back(a.str());
      res.code = 1;
      res.info = format("%s listed in %s (%s)", r.subject.c_str(), d_list.name.c_str(),
                        join(answers, ",").c_str());
      res.set("hits", static_cast<double>(r.answers.size()));
      res.set("answer", join(answers, ","));
      res.set("ttl", static_cast<double>(r.ttl));
      return res;
    }
    res.set("hits", 0.0);
    if (failed(r.status)) {
      res.transient = true;  // a DNS failure says nothing about the client: never cached
      res.info = format("%s: lookup of %s failed: %s", d_list.name.c_str(), r.subject.c_str(),
                        status_name(r.status));
      return res;
    }
    if (!r.unknown.empty()) {
      // Only answers the list does not define (error codes such as "query
      // refused"): nothing is known about the client.
      res.transient = true;
      res.info = format("%s: %s answered %s, not a listing", d_list.name.c_str(),
                        d_list.zone.c_str(), r.unknown.front().str().c_str());
      return res;
    }
    res.code = -1;
    res.info = format("%s not listed in %s", r.subject.c_str(), d_list.name.c_str());
    return res;
  }

 private:
  // The sender domain or the client address, added to `lookup`; false when
  // the request has none.
  bool subject(const Request& request, DnsblLookup& lookup) const {
    if (d_list.kind == ListKind::domain) {
      std::string domain = lower(address_domain(request.get(Attr::sender)));
      if (domain.empty()) return false;
      lookup.add_domain(d_list, domain);
      return true;
    }
    auto ip = IpAddress::parse(request.get(Attr::client_address));
    if (!ip) return false;
    lookup.add_ip(d_list, *ip);
    return true;
  }

  std::shared_ptr<const BlacklistData> d_data;
  const Blacklist& d_list;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<DnsblParams>();
  auto data = load_module_data(p.data_file);
  const Blacklist& list = module_list(*data, p.dnsbl, "dnsbl");
  return std::make_unique<Dnsbl>(std::move(data), list);
}

}  // namespace

extern const ModuleType k_dnsbl_type = {
    "Dnsbl",
    "Check if the client address is listed in the specified DNS blacklist (for a list of\n"
    "kind \"domain\", an RHSBL, the sender's domain). The blacklists are those of the data\n"
    "file (dataFile): `ppolicyd -M Dnsbl` lists them with their zones, kinds and scores.\n"
    "IPv6 clients are looked up in lists of kind ip46 (RFC 5782). Only answers in the\n"
    "list's listed range count; other answers (e.g. 127.255.255.254, \"query refused\")\n"
    "are logged and give 0.",
    k_params,
    {21600, 1800, 43200},
    k_fields,
    {},
    "    1 .... listed in dnsbl\n"
    "    0 .... unknown error (DNS problems, an answer outside the listed range, no IPv6\n"
    "           data in this list, defunct list)\n"
    "   -1 .... not listed\n",
    "[module dnsbl_zen]\ntype = Dnsbl\ndnsbl = ZEN\n\n[policy main]\n"
    "rule = dnsbl_zen > 0 -> REJECT 5.7.1 ${client_address} listed (${dnsbl_zen.answer})\n",
    create,
    print_blacklists,
};

}  // namespace ppolicy
