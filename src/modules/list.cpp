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

struct ListParams {
  std::vector<std::string> param;
  std::string table;
  std::optional<std::vector<std::string>> column;
  std::optional<std::string> retcols;
  long long mem_cache_expire;
  long long mem_cache_size;
  bool case_sensitive;
  bool cache_all;
  long long cache_all_refresh;
};

const Option k_params[] = {
    bound_row<&ListParams::param>(
        {"param", OptType::list, nullptr,
         "name of parameter in data dictionary (several: a tuple of values)", nullptr, LLONG_MIN,
         LLONG_MAX, true}),
    bound_row<&ListParams::table>({"table", OptType::string, nullptr,
                                   "name of database table where to search parameter", nullptr,
                                   LLONG_MIN, LLONG_MAX, true}),
    bound_row<&ListParams::column>({"column", OptType::list, nullptr,
                                    "name of database column or array of columns according "
                                    "\"param\" (default: the param names)"}),
    bound_row<&ListParams::retcols>(
        {"retcols", OptType::string, nullptr,
         "name of columns returned by check method (comma list, or * for all)"}),
    bound_row<&ListParams::case_sensitive>(k_case_sensitive_row),
    bound_row<&ListParams::mem_cache_expire>(
        {"memCacheExpire", OptType::duration, "900",
         "memory cache expiration - used only if param value is array"}),
    bound_row<&ListParams::mem_cache_size>(
        {"memCacheSize", OptType::integer, "1000",
         "memory cache max size - used only if param value is array (the shared cache_size "
         "bounds it)",
         nullptr, 0}),
    bound_row<&ListParams::cache_all>(k_cache_all_row),
    bound_row<&ListParams::cache_all_refresh>(k_cache_all_refresh_row),
};

const ArgSpec k_args[] = {k_values_arg};

class List final : public KeyedLookupModule {
 public:
  List(const ModuleSetup& s, const ListParams& p) : KeyedLookupModule(p.param, spec(s, p)) {}

 private:
  static KeyedTableSpec spec(const ModuleSetup& s, const ListParams& p) {
    require_database(s.config, "table");
    const auto& params = p.param;
    std::vector<std::string> columns = p.column.value_or(params);
    if (columns.size() != params.size())
      throw KeyError("column", format("%zu columns for %zu params: give one column per param",
                                      columns.size(), params.size()));
    KeyedTableSpec spec;
    spec.who = "module " + s.name + " (List)";
    spec.instance = s.name;
    spec.table = checked_identifier(p.table, "table");
    for (size_t i = 0; i < columns.size(); ++i)
      spec.keys.push_back({params[i], checked_identifier(columns[i], "column"), "VARCHAR(255)"});
    spec.retcols = parse_retcols(p.retcols, "retcols", {}, spec.all_columns);
    spec.case_sensitive = p.case_sensitive;
    spec.cache_all = p.cache_all;
    spec.refresh = p.cache_all_refresh;
    spec.mem_cache = p.mem_cache_size > 0 ? p.mem_cache_expire : 0;
    return spec;
  }
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<List>(s, s.bound<ListParams>());
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
