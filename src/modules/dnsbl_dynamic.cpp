// SPDX-License-Identifier: GPL-2.0-or-later
// DnsblDynamic: does the client look like a host on a dynamically assigned
// (dial-up, DSL, cable) address? Two signs: its reverse name has the shape
// providers give such hosts ("84-23-11-2.dsl.provider.com"), or a
// dynamic-range blacklist (e.g. PBL) lists it. The name patterns are the
// original's, as POSIX EREs matched without regard to case; names of big
// senders' outbound hosts ("mail-...", "...-out-...") are excluded from the
// name test. The reverse name is Postfix's reverse_client_name, or looked up
// (in the same round trip as the blacklists) when Postfix did not send it.
#include "base/strings.hpp"
#include "dns/dnsbl_data.hpp"
#include "dns/dnsbl_lookup.hpp"
#include "dns/dynamic_names.hpp"
#include "modules/module.hpp"
#include "modules/prefetch.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

using namespace dns;

struct DnsblDynamicParams {
  std::optional<std::string> data_file;
  std::optional<std::vector<std::string>> dnsbl;
  bool check_name;
};

const Option k_params[] = {
    bound_row<&DnsblDynamicParams::dnsbl>(
        {"dnsbl", OptType::list, nullptr,
         "dynamic-range blacklists to use (NAMEs of the data file); unset: none"}),
    bound_row<&DnsblDynamicParams::check_name>(
        {"check_name", OptType::boolean, "yes",
         "check the format of the client name (e.g. xxx-yyy-zzz.dsl.provider.com)"}),
    data_file_row<&DnsblDynamicParams::data_file>(),
};

const FieldSpec k_fields[] = {
    {"reason", Type::string,
     "\"name\" (the name pattern matched), \"dnsbl\" (a list listed it) or \"\""},
    {"name", Type::string, "the client's reverse name that was checked"},
    {"lists", Type::string, "the lists that listed the client, comma-separated"},
};

class DnsblDynamic final : public Module, public DnsPrefetch {
 public:
  DnsblDynamic(std::shared_ptr<const BlacklistData> data, std::vector<const Blacklist*> lists,
               bool check_name)
      : d_data(std::move(data)), d_lists(std::move(lists)), d_check_name(check_name) {}

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += r.get(Attr::client_address);
    key += '\0';
    if (auto n = r.find("reverse_client_name"))
      key += lower(*n);
    else
      key += '\1';  // absent: looked up
    return true;
  }

  void first_questions(const Request& request, const CallArgs&, Services& services,
                       std::vector<Query>& out) const override {
    auto ip = IpAddress::parse(request.get(Attr::client_address));
    if (!ip) return;
    DnsblLookup lookup(*d_data);
    for (const auto* l : d_lists)
      lookup.add_ip(*l, *ip);
    lookup.questions(&services, out);
    if (d_check_name && !request.find("reverse_client_name")) out.push_back(Query::ptr(*ip));
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    auto ip = IpAddress::parse(request.get(Attr::client_address));
    if (!ip) return Result(0, "no valid client address");
    auto sent = request.find("reverse_client_name");
    std::string name = sent && *sent != "unknown" ? normal_name(*sent) : "";

    DnsblLookup lookup(*d_data);
    for (const auto* l : d_lists)
      lookup.add_ip(*l, *ip);
    // Postfix < 2.3 sends no reverse_client_name: look the name up ourselves,
    // in the same round trip as the blacklists.
    Query ptr = Query::ptr(*ip);
    bool need_ptr = d_check_name && !sent;
    std::vector<Query*> extra;
    if (need_ptr) extra.push_back(&ptr);
    lookup.run(ctx.services().resource<Resolver>(), &ctx.services(), ctx.deadline(), extra);
    bool name_failed = false;
    if (need_ptr) {
      if (ptr.status == Status::ok && !ptr.names.empty()) name = ptr.names.front();
      name_failed = failed(ptr.status);
    }

    Result res;
    res.set("name", name);
    std::vector<std::string> listed;
    bool list_failed = false;
    for (const auto& r : lookup.results) {
      if (r.listed) listed.push_back(r.list->name);
      if (r.applicable && failed(r.status)) list_failed = true;
    }
    res.set("lists", join(listed, ","));
    std::string who = name.empty() ? ip->str() : format("%s (%s)", ip->str().c_str(), name.c_str());
    if (d_check_name && !name.empty() && d_patterns.dynamic(name)) {
      res.code = 1;
      res.info = who + " is dynamic identified by regex";
      res.set("reason", "name");
      return res;
    }
    if (!listed.empty()) {
      res.code = 1;
      res.info = format("%s is dynamic listed in %s", who.c_str(), join(listed, ", ").c_str());
      res.set("reason", "dnsbl");
      return res;
    }
    res.set("reason", "");
    if (name_failed || list_failed) {
      res.transient = true;
      res.info =
          format("%s: %s failed", who.c_str(), name_failed ? "reverse lookup" : "blacklist lookup");
      return res;
    }
    res.code = -1;
    res.info = who + " is not in dynamic range";
    return res;
  }

 private:
  std::shared_ptr<const BlacklistData> d_data;
  std::vector<const Blacklist*> d_lists;
  bool d_check_name;
  DynamicNames d_patterns;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<DnsblDynamicParams>();
  auto data = load_module_data(p.data_file);
  std::vector<const Blacklist*> lists;
  if (p.dnsbl)
    for (const auto& name : *p.dnsbl) {
      const Blacklist& b = module_list(*data, name, "dnsbl");
      if (b.kind == ListKind::domain)
        throw KeyError("dnsbl",
                       format("%s is a domain list; dynamic ranges are IP lists", b.name.c_str()));
      lists.push_back(&b);
    }
  return std::make_unique<DnsblDynamic>(std::move(data), std::move(lists), p.check_name);
}

}  // namespace

extern const ModuleType k_dnsbl_dynamic_type = {
    "DnsblDynamic",
    "Check if the client address is in a dynamically allocated range. It uses the client's\n"
    "reverse name (names like xxx-yyy-zzz.dsl.provider.com, matched without regard to case;\n"
    "outbound hosts of big senders such as mail-...google.com are excluded) and the given\n"
    "dynamic-range blacklists (e.g. PBL).\n"
    "There will be many \"correct\" mail servers on dynamically allocated addresses: use the\n"
    "result as one of the decision rules, never reject mail only because of it.",
    k_params,
    {21600, 1800, 43200},
    k_fields,
    {},
    "    1 .... client address seems to be in dynamic ip range\n"
    "    0 .... unknown error (e.g. DNS problems)\n"
    "   -1 .... client address doesn't seem to be in dynamic ip range\n",
    "[module dnsbldynamic]\ntype = DnsblDynamic\ndnsbl = PBL\n\n[policy main]\n"
    "rule = dnsbldynamic > 0 && spf < 0 -> DEFER_IF_PERMIT 4.7.1 dynamic client without SPF pass\n",
    create,
    print_blacklists,
};

}  // namespace ppolicy
