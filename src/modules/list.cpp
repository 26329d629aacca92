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
// has several (in the shared cache). Lookups: db/keyed_table.hpp.
#include "db/identifiers.hpp"
#include "db/keyed_table.hpp"
#include "db/param_values.hpp"
#include "db/schema.hpp"
#include "modules/module.hpp"
#include "proto/request.hpp"
#include "base/strings.hpp"

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
    {"cacheCaseSensitive", OptType::boolean, "no",
     "case-sensitive cache (set to yes if you are using case-sensitive text comparator on DB "
     "column)"},
    {"memCacheExpire", OptType::duration, "900",
     "memory cache expiration - used only if param value is array"},
    {"memCacheSize", OptType::integer, "1000",
     "memory cache max size - used only if param value is array (the shared cache_size bounds it)",
     nullptr, 0},
    {"cacheAll", OptType::boolean, "no", "cache all records in memory (a shared snapshot)"},
    {"cacheAllRefresh", OptType::duration, "900", "refresh time in case of caching all records",
     nullptr, 1},
};

const ArgSpec k_args[] = {k_values_arg};

class List final : public Module {
 public:
  explicit List(const ModuleSetup& s) {
    require_database(s.config, "table");
    d_params = s.params.list("param");
    std::vector<std::string> columns = s.params.has("column") ? s.params.list("column") : d_params;
    if (columns.size() != d_params.size())
      throw KeyError("column", format("%zu columns for %zu params: give one column per param",
                                      columns.size(), d_params.size()));
    KeyedTableSpec spec;
    spec.who = "module " + s.name + " (List)";
    spec.instance = s.name;
    spec.table = checked_identifier(s.params.str("table"), "table");
    for (size_t i = 0; i < columns.size(); ++i)
      spec.keys.push_back({d_params[i], checked_identifier(columns[i], "column"), "VARCHAR(255)"});
    spec.retcols = parse_retcols(s.params, "retcols", {}, spec.all_columns);
    spec.case_sensitive = s.params.boolean("cacheCaseSensitive");
    spec.cache_all = s.params.boolean("cacheAll");
    spec.refresh = s.params.integer("cacheAllRefresh");
    spec.mem_cache = s.params.integer("memCacheSize") > 0 ? s.params.integer("memCacheExpire") : 0;
    d_fields.add(spec.retcols);
    d_table = std::make_unique<KeyedTable>(std::move(spec));
  }

  void prepare(Services& s) override { d_table->prepare(s); }
  void maintain(Services& s) override { d_table->maintain(s); }
  const FieldSpec* instance_field(std::string_view name) const override {
    return d_fields.find(name);
  }

  bool cache_key(const Request& request, const CallArgs& args, std::string& key) const override {
    // A snapshot lookup is as cheap as the result cache and always fresher.
    if (d_table->spec().cache_all) return false;
    append_key(key, param_values(request, args, d_params, !d_table->spec().case_sensitive).values);
    return true;
  }

  Result check(Request& request, const CallArgs& args, CheckContext& ctx) override {
    const auto& spec = d_table->spec();
    ParamValues pv = param_values(request, args, d_params, !spec.case_sensitive);
    if (!pv.missing.empty()) return Result(0, "request has no attribute " + pv.missing);
    auto combos = cartesian(pv.values);
    if (combos.empty()) return Result(0, "too many value combinations");
    for (const auto& combo : combos) {
      bool found = false;
      DbRow row;
      std::string error;
      if (!d_table->find(ctx, combo, found, row, error, combos.size() > 1)) return Result(0, error);
      if (found) {
        Result r(1, row.empty() ? "found " + describe_combination(d_params, combo) : row_text(row));
        add_row_fields(r, row, spec.retcols);
        return r;
      }
    }
    return Result(-1, "not found");
  }

 private:
  std::vector<std::string> d_params;
  std::unique_ptr<KeyedTable> d_table;
  RowFields d_fields;
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
