// SPDX-License-Identifier: GPL-2.0-or-later
// List: is the value of `param` (or the tuple of several params' values) in
// a database table? Key columns are `column` (one per param; default: the
// param names); `retcols` names the columns a hit returns (in the info and
// as fields), "*" all of them. Without retcols a hit still needs a row: the
// original answered "found" for every value (SELECT COUNT(*) always has a
// row); here a missing row is -1. Values that are lists (the `values` call
// argument) make a cartesian product; the first combination found wins.
// cacheAll keeps the table in a shared snapshot (db/snapshot.hpp) refreshed
// off the request path; memCache* remember single combinations when a call
// has several (in the shared cache). Lookups: modules/keyed_lookup.hpp.
#include "base/strings.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "modules/keyed_lookup.hpp"
#include "modules/param_values.hpp"

namespace ppolicy {
namespace {

const Option k_params[] = {
    {"param", OptType::list, nullptr,
     "name of parameter in data dictionary (several: a tuple of values)", nullptr, LLONG_MIN,
     LLONG_MAX, true},
    {"table", OptType::string, nullptr, "name of database table where to search parameter", nullptr,
     LLONG_MIN, LLONG_MAX, true},
    {"column", OptType::list, nullptr,
     "name of database column or array of columns according \"param\" "
     "(default: the param names)"},
    {"retcols", OptType::string, nullptr,
     "name of columns returned by check method (comma list, or * for all)"},
    k_case_sensitive_row,
    {"memCacheExpire", OptType::duration, "900",
     "memory cache expiration - used only if param value is array"},
    {"memCacheSize", OptType::integer, "1000",
     "memory cache max size - used only if param value is array (the shared cache_size bounds it)",
     nullptr, 0},
    k_cache_all_row,
    k_cache_all_refresh_row,
};

const ArgSpec k_args[] = {k_values_arg};

class List final : public Module {
 public:
  explicit List(const ModuleSetup& s) : d_lookup(s.params.list("param"), spec(s)) {}

  void prepare(Services& s) override { d_lookup.prepare(s); }
  void maintain(Services& s) override { d_lookup.maintain(s); }
  const FieldSpec* instance_field(std::string_view name) const override {
    return d_lookup.field(name);
  }
  bool cache_key(const Request& request, const CallArgs& args, std::string& key) const override {
    return d_lookup.cache_key(request, args, key);
  }
  Result check(Request& request, const CallArgs& args, CheckContext& ctx) override {
    return d_lookup.check(request, args, ctx);
  }

 private:
  static KeyedTableSpec spec(const ModuleSetup& s) {
    require_database(s.config, "table");
    const auto& params = s.params.list("param");
    std::vector<std::string> columns = s.params.has("column") ? s.params.list("column") : params;
    if (columns.size() != params.size())
      throw KeyError("column", format("%zu columns for %zu params: give one column per param",
                                      columns.size(), params.size()));
    KeyedTableSpec spec;
    spec.who = "module " + s.name + " (List)";
    spec.instance = s.name;
    spec.table = checked_identifier(s.params.str("table"), "table");
    for (size_t i = 0; i < columns.size(); ++i)
      spec.keys.push_back({params[i], checked_identifier(columns[i], "column"), "VARCHAR(255)"});
    spec.retcols = parse_retcols(s.params, "retcols", {}, spec.all_columns);
    spec.case_sensitive = s.params.boolean("cacheCaseSensitive");
    spec.cache_all = s.params.boolean("cacheAll");
    spec.refresh = s.params.integer("cacheAllRefresh");
    spec.mem_cache = s.params.integer("memCacheSize") > 0 ? s.params.integer("memCacheExpire") : 0;
    return spec;
  }

  KeyedLookup d_lookup;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<List>(s);
}

}  // namespace

extern const ModuleType k_list_type = {
    "List",
    "Check if parameter value (or array of parameter values) is in database table. If you\n"
    "don't need complex cartesian product searches then it can be more efficient to use\n"
    "simple LookupDB module. If an input value is an array (the `values` call argument),\n"
    "the cartesian product of all input values is searched: { param1: [a, b], param2: [c, d] }\n"
    "searches (a, c), (a, d), (b, c), (b, d); the first one found wins.",
    k_params,
    {900, 900, 900},
    {},
    k_args,
    "    1 .... parameter was found in db (info and fields: the retcols of the row)\n"
    "    0 .... failed to check (request doesn't include required param, database error, ...)\n"
    "   -1 .... parameter was not found in db\n",
    "# check if sender is in database table list\n"
    "[module list1]\ntype = List\nparam = sender\ntable = list\n\n"
    "# check sender and recipient, return the whole row\n"
    "[module list2]\ntype = List\nparam = sender, recipient\ntable = my_list\ncolumn = my_column1, "
    "my_column2\n"
    "retcols = *\n",
    create,
};

}  // namespace ppolicy
