// SPDX-License-Identifier: GPL-2.0-or-later
// LookupDB: look records up in a database table by the values of `param`,
// with columns named and typed by `mapping` ("sender:mail VARCHAR(50),
// recip:rmail": request attribute or retcol name -> column [type]; unmapped
// names are columns of the same name, VARCHAR(255)). `retcols` (mapped
// names, or "*") are returned in the info and as fields. Several params
// make a tuple; list values (the `values` call argument) a cartesian
// product, the first hit wins. cacheAll keeps the table in a shared
// snapshot (db/snapshot.hpp; the original's cacheAll hung its thread). The
// table the master creates has a plain index on the key columns (a lookup
// table may hold several rows per key; the first one is returned).
// Lookups: modules/keyed_lookup.hpp.
#include "base/strings.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "modules/keyed_lookup.hpp"
#include "modules/param_values.hpp"

namespace ppolicy {
namespace {

struct LookupDbParams {
  std::vector<std::string> param;
  std::string table;
  std::string mapping;
  std::optional<std::string> retcols;
  bool case_sensitive;
  bool cache_all;
  long long cache_all_refresh;
};

const Option k_params[] = {
    bound_row<&LookupDbParams::param>(
        {"param", OptType::list, nullptr,
         "name of parameter in data dictionary (several: a tuple of values)", nullptr, LLONG_MIN,
         LLONG_MAX, true}),
    bound_row<&LookupDbParams::table>({"table", OptType::string, nullptr,
                                       "name of database table where to search parameter", nullptr,
                                       LLONG_MIN, LLONG_MAX, true}),
    bound_row<&LookupDbParams::mapping>(
        {"mapping", OptType::string, "",
         "mapping between params (and retcols) and database columns: NAME:COLUMN [TYPE], ..."}),
    bound_row<&LookupDbParams::retcols>(
        {"retcols", OptType::string, nullptr,
         "names of columns returned by check method (comma list, or * for all)"}),
    bound_row<&LookupDbParams::case_sensitive>(k_case_sensitive_row),
    bound_row<&LookupDbParams::cache_all>(k_cache_all_row),
    bound_row<&LookupDbParams::cache_all_refresh>(k_cache_all_refresh_row),
};

const ArgSpec k_args[] = {k_values_arg};

class LookupDb final : public KeyedLookupModule {
 public:
  LookupDb(const ModuleSetup& s, const LookupDbParams& p)
      : KeyedLookupModule(p.param, spec(s, p)) {}

 private:
  static KeyedTableSpec spec(const ModuleSetup& s, const LookupDbParams& p) {
    require_database(s.config, "table");
    auto mapping = parse_mapping(p.mapping, "mapping");
    KeyedTableSpec spec;
    spec.who = "module " + s.name + " (LookupDB)";
    spec.instance = s.name;
    spec.table = checked_identifier(p.table, "table");
    for (const auto& name : p.param) {
      ColumnMap m = mapped(mapping, name);
      checked_identifier(m.column, "param");
      if (!keyable_sql_type(m.type))
        throw KeyError("mapping", format("%s: a key column needs a length (VARCHAR(n), not %s)",
                                         name.c_str(), m.type.c_str()));
      spec.keys.push_back(std::move(m));
    }
    spec.retcols = parse_retcols(p.retcols, "retcols", mapping, spec.all_columns);
    spec.case_sensitive = p.case_sensitive;
    spec.unique = false;
    spec.cache_all = p.cache_all;
    spec.refresh = p.cache_all_refresh;
    return spec;
  }
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<LookupDb>(s, s.bound<LookupDbParams>());
}

}  // namespace

extern const ModuleType k_lookup_db_type = {
    "LookupDB",
    "LookupDB module for searching records in DB. You can map incoming data to database\n"
    "columns using the \"mapping\" parameter: NAME:COLUMN [TYPE], ... where NAME is a request\n"
    "attribute (or a retcols name), COLUMN the database column and TYPE its SQL type (used\n"
    "when the table is created). Unmapped names are columns of the same name, VARCHAR(255).",
    k_params,
    {900, 900, 900},
    {},
    k_args,
    "    1 .... parameter was found in db (info and fields: the retcols of the row)\n"
    "    0 .... failed to check (request doesn't include required param, database error, ...)\n"
    "   -1 .... parameter was not found in db\n",
    "# check if sender is in database table lookup\n"
    "[module lookup1]\ntype = LookupDB\nparam = sender\ntable = lookup\n\n"
    "# sender and recipient in my_list, sender in column mail; return every column\n"
    "[module lookup2]\ntype = LookupDB\nparam = sender, recipient\ntable = my_list\n"
    "mapping = sender:mail VARCHAR(50)\nretcols = *\n",
    create,
};

}  // namespace ppolicy
