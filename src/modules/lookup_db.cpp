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
// Lookups: db/keyed_table.hpp.
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
    {"mapping", OptType::string, "",
     "mapping between params (and retcols) and database columns: NAME:COLUMN [TYPE], ..."},
    {"retcols", OptType::string, nullptr,
     "names of columns returned by check method (comma list, or * for all)"},
    {"cacheCaseSensitive", OptType::boolean, "no",
     "case-sensitive cache (set to yes if you are using case-sensitive text comparator on DB "
     "column)"},
    {"cacheAll", OptType::boolean, "no", "cache all records in memory (a shared snapshot)"},
    {"cacheAllRefresh", OptType::duration, "900", "refresh time in case of caching all records",
     nullptr, 1},
};

const ArgSpec k_args[] = {k_values_arg};

class LookupDb final : public Module {
 public:
  explicit LookupDb(const ModuleSetup& s) {
    require_database(s.config, "table");
    d_params = s.params.list("param");
    auto mapping = parse_mapping(s.params.str("mapping"), "mapping");
    KeyedTableSpec spec;
    spec.who = "module " + s.name + " (LookupDB)";
    spec.instance = s.name;
    spec.table = checked_identifier(s.params.str("table"), "table");
    for (const auto& p : d_params) {
      ColumnMap m = mapped(mapping, p);
      checked_identifier(m.column, "param");
      if (!keyable_sql_type(m.type))
        throw KeyError("mapping", format("%s: a key column needs a length (VARCHAR(n), not %s)",
                                         p.c_str(), m.type.c_str()));
      spec.keys.push_back(std::move(m));
    }
    spec.retcols = parse_retcols(s.params, "retcols", mapping, spec.all_columns);
    spec.case_sensitive = s.params.boolean("cacheCaseSensitive");
    spec.unique = false;
    spec.cache_all = s.params.boolean("cacheAll");
    spec.refresh = s.params.integer("cacheAllRefresh");
    d_fields.add(spec.retcols);
    d_table = std::make_unique<KeyedTable>(std::move(spec));
  }

  void prepare(Services& s) override { d_table->prepare(s); }
  void maintain(Services& s) override { d_table->maintain(s); }
  const FieldSpec* instance_field(std::string_view name) const override {
    return d_fields.find(name);
  }

  bool cache_key(const Request& request, const CallArgs& args, std::string& key) const override {
    if (d_table->spec().cache_all) return false;  // the snapshot is as cheap and fresher
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
      if (!d_table->find(ctx, combo, found, row, error)) return Result(0, error);
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
  return std::make_unique<LookupDb>(s);
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
