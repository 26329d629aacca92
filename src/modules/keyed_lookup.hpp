// SPDX-License-Identifier: GPL-2.0-or-later
// The keyed-lookup core of the list modules: List and LookupDB are this
// core with their own parameters; ListBW, ListMailDomain and ListDyn use
// its pieces. The values of the module's params (or of the `values` call
// argument) make key combinations (modules/param_values.hpp); each is
// looked up in a KeyedTable (db/keyed_table.hpp) until one is found; a hit
// answers 1 with the row's retcols as info and fields, no hit -1, a
// failure 0. Worker side: check(); master/maintenance: prepare(),
// maintain().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/keyed_table.hpp"
#include "modules/module.hpp"

namespace ppolicy {

// The parameter rows the list modules share, as in the original's MODULES.
inline constexpr Option k_case_sensitive_row = {
    "cacheCaseSensitive", OptType::boolean, "no",
    "case-sensitive cache (set to yes if you are using case-sensitive text comparator on DB "
    "column)"};
inline constexpr Option k_cache_all_row = {"cacheAll", OptType::boolean, "no",
                                           "cache all records in memory (a shared snapshot)"};
inline constexpr Option k_cache_all_refresh_row = {"cacheAllRefresh",
                                                   OptType::duration,
                                                   "900",
                                                   "refresh time in case of caching all records",
                                                   nullptr,
                                                   1};

// Result helpers of a hit: info text and fields. Columns whose mapped type
// is numeric become number fields.
void add_row_fields(Result& r, const DbRow& row, const std::vector<ColumnMap>& retcols);
std::string row_text(const DbRow& row);

// Instance fields of the list modules: one per retcol (numeric SQL types
// give numbers, others strings).
class RowFields {
 public:
  void add(const std::vector<ColumnMap>& retcols);
  const FieldSpec* find(std::string_view name) const;

 private:
  std::vector<std::unique_ptr<std::string>> d_names;
  std::vector<FieldSpec> d_fields;
};

class KeyedLookup {
 public:
  // `params`: the request attributes of the key columns (spec.keys), in order.
  KeyedLookup(std::vector<std::string> params, KeyedTableSpec spec);

  void prepare(Services& s) { d_table.prepare(s); }
  void maintain(Services& s) { d_table.maintain(s); }
  const FieldSpec* field(std::string_view name) const { return d_fields.find(name); }
  const KeyedTableSpec& spec() const { return d_table.spec(); }

  bool cache_key(const Request& request, const CallArgs& args, std::string& key) const;
  Result check(Request& request, const CallArgs& args, CheckContext& ctx);

 private:
  std::vector<std::string> d_params;
  KeyedTable d_table;
  RowFields d_fields;
};

// A module that is a KeyedLookup and nothing more (List, LookupDB): only the
// parameters and the table spec they build differ.
class KeyedLookupModule : public Module {
 public:
  KeyedLookupModule(std::vector<std::string> params, KeyedTableSpec spec)
      : d_lookup(std::move(params), std::move(spec)) {}

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
  KeyedLookup d_lookup;
};

}  // namespace ppolicy
