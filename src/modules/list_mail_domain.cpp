// SPDX-License-Identifier: GPL-2.0-or-later
// ListMailDomain: ListBW for one mail address or host name, looked up the
// way amavisd-new looks addresses up (db/bw_lists.hpp,
// mail_domain_candidates()): the full address, without its +extension, the
// local part alone, the domain, then the domain and each parent as
// "@.domain" (the domain with its subdomains), then "@." (everything). The
// most specific entry listed in either table decides (the blacklist wins
// when both list it). cacheAll is on by default: both tables live in shared
// snapshots refreshed off the request path.
#include "base/strings.hpp"
#include "modules/bw_lists.hpp"
#include "modules/module.hpp"
#include "modules/param_values.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

const FieldSpec k_fields[] = {
    {"list", Type::string, "\"whitelist\", \"blacklist\" or \"\" (not listed)"},
    {"match", Type::string, "the entry that was found (e.g. \"@.example.com\")"},
};

class ListMailDomain final : public Module {
 public:
  explicit ListMailDomain(const ModuleSetup& s) : d_lists(s, "ListMailDomain") {
    if (d_lists.params().size() != 1)
      throw KeyError("param", "exactly one parameter (an address or host name)");
  }

  void prepare(Services& s) override { d_lists.prepare(s); }
  void maintain(Services& s) override { d_lists.maintain(s); }
  const FieldSpec* instance_field(std::string_view name) const override {
    return d_lists.field(name);
  }

  bool cache_key(const Request& request, const CallArgs&, std::string& key) const override {
    if (d_lists.cache_all()) return false;
    bool found = false;
    key += request_value(request, d_lists.params()[0], &found);
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    bool found = false;
    std::string value = lower(request_value(request, d_lists.params()[0], &found));
    if (!found) return Result(0, "request has no attribute " + d_lists.params()[0]).set("list", "");
    std::vector<std::vector<std::string>> candidates;
    for (auto& c : mail_domain_candidates(value))
      candidates.push_back({std::move(c)});
    return d_lists.check(ctx, candidates);
  }

 private:
  BwLists d_lists;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<ListMailDomain>(s);
}

}  // namespace

extern const ModuleType k_list_mail_domain_type = {
    "ListMailDomain",
    "Check mail address or its part is in database. Can be used for black/white listing\n"
    "sender or recipient mail addresses (or client names). The value is looked up as\n"
    "user+ext@sub.example.com, user@sub.example.com, user+ext, user, @sub.example.com,\n"
    "@.sub.example.com, @.example.com, @.com, @. (\"@.domain\": the domain and its\n"
    "subdomains); the most specific entry found decides.",
    k_bw_params_cache,
    {900, 900, 900},
    k_fields,
    {},
    "    1 .... parameter was found in whitelist (info and fields: its retcols)\n"
    "    0 .... parameter was not found in whitelist/blacklist (info \"not listed\") or failed\n"
    "           to check (request doesn't include required param, database error, ...)\n"
    "   -1 .... parameter was found in blacklist (info and fields: its retcols)\n",
    "# check if sender is in database b/w list\n"
    "[module list1]\ntype = ListMailDomain\nparam = sender\ntableWhitelist = whitelist_sender\n"
    "tableBlacklist = blacklist_sender\n\n"
    "# client name in own tables\n"
    "[module list2]\ntype = ListMailDomain\nparam = client_name\ntableWhitelist = my_whitelist\n"
    "tableBlacklist = my_blacklist\nmappingWhitelist = client_name:name\nmappingBlacklist = "
    "client_name:name\n",
    create,
};

}  // namespace ppolicy
