// SPDX-License-Identifier: GPL-2.0-or-later
// ListBW: is the value of `param` (or the tuple of several params' values)
// in the whitelist or the blacklist table? 1 whitelisted, -1 blacklisted
// (the blacklist wins when both list it), 0 neither (or an error; the info
// says which). Mappings ("NAME:COLUMN [TYPE], ...") and retcols per table;
// the retcols of the matching row are returned in the info and as fields.
// List values (the `values` call argument) make a cartesian product; the
// first listed combination decides. Tables, cacheAll and lookups:
// db/bw_lists.hpp, db/keyed_table.hpp.
#include "modules/bw_lists.hpp"
#include "modules/module.hpp"
#include "modules/param_values.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

const FieldSpec k_fields[] = {
    {"list", Type::string, "\"whitelist\", \"blacklist\" or \"\" (not listed)"},
    {"match", Type::string, "the value (values joined by \",\") that was found"},
};

const ArgSpec k_args[] = {k_values_arg};

class ListBw final : public Module {
 public:
  explicit ListBw(const ModuleSetup& s) : d_lists(s, "ListBW") {}

  void prepare(Services& s) override { d_lists.prepare(s); }
  void maintain(Services& s) override { d_lists.maintain(s); }
  const FieldSpec* instance_field(std::string_view name) const override {
    return d_lists.field(name);
  }

  bool cache_key(const Request& request, const CallArgs& args, std::string& key) const override {
    if (d_lists.cache_all()) return false;  // the snapshot is as cheap and fresher
    append_key(key,
               param_values(request, args, d_lists.params(), !d_lists.case_sensitive()).values);
    return true;
  }

  Result check(Request& request, const CallArgs& args, CheckContext& ctx) override {
    ParamValues pv = param_values(request, args, d_lists.params(), !d_lists.case_sensitive());
    if (!pv.missing.empty())
      return Result(0, "request has no attribute " + pv.missing).set("list", "");
    auto combos = cartesian(pv.values);
    if (combos.empty()) return Result(0, "too many value combinations").set("list", "");
    return d_lists.check(ctx, combos);
  }

 private:
  BwLists d_lists;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<ListBw>(s);
}

}  // namespace

extern const ModuleType k_list_bw_type = {
    "ListBW",
    "Check if array of defined parameters are in blacklist/whitelist. Each parameter is\n"
    "searched in b/w list and first occurrence is returned. Mappings are NAME:COLUMN [TYPE]\n"
    "lists (request attribute or retcols name -> column; unmapped: a column of the same name,\n"
    "VARCHAR(255)). When a value is in both lists, the blacklist wins.",
    k_bw_params_nocache,
    {900, 900, 900},
    k_fields,
    k_args,
    "    1 .... parameter was found in whitelist (info and fields: its retcols)\n"
    "    0 .... parameter was not found in whitelist/blacklist (info \"not listed\") or failed\n"
    "           to check (request doesn't include required param, database error, ...)\n"
    "   -1 .... parameter was found in blacklist (info and fields: its retcols)\n",
    "# check if sender is in blacklist/whitelist\n"
    "[module list1]\ntype = ListBW\nparam = sender\ntableWhitelist = list_w\ntableBlacklist = "
    "list_b\n\n"
    "# own tables and columns, return the whole row\n"
    "[module list2]\ntype = ListBW\nparam = sender\ntableBlacklist = my_blacklist\ntableWhitelist "
    "= my_whitelist\n"
    "mappingBlacklist = sender:my_column VARCHAR(50)\nmappingWhitelist = sender:my_column "
    "VARCHAR(50)\n"
    "retcolsWhitelist = *\nretcolsBlacklist = *\n",
    create,
};

}  // namespace ppolicy
