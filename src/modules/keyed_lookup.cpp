// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/keyed_lookup.hpp"

#include "base/strings.hpp"
#include "db/identifiers.hpp"
#include "modules/param_values.hpp"
#include "proto/request.hpp"
#include "svc/services.hpp"

namespace ppolicy {

void add_row_fields(Result& r, const DbRow& row, const std::vector<ColumnMap>& retcols) {
  for (const auto& [col, value] : row) {
    // A retcol's field is named like the retcol (its mapping name).
    std::string name = col;
    bool number = false;
    for (const auto& m : retcols)
      if (m.column == col) name = m.name, number = numeric_sql_type(m.type);
    if (number)
      r.set(name, parse_double(value).value_or(0));
    else
      r.set(name, value);
  }
}

std::string row_text(const DbRow& row) {
  std::vector<std::string> v;
  for (const auto& [k, x] : row)
    v.push_back(x);
  return join(v, ", ");
}

void RowFields::add(const std::vector<ColumnMap>& retcols) {
  for (const auto& m : retcols) {
    if (find(m.name)) continue;
    d_names.push_back(std::make_unique<std::string>(m.name));
    d_fields.push_back({d_names.back()->c_str(),
                        numeric_sql_type(m.type) ? Type::number : Type::string,
                        "a column returned by the lookup"});
  }
}

const FieldSpec* RowFields::find(std::string_view name) const {
  for (const auto& f : d_fields)
    if (name == f.name) return &f;
  return nullptr;
}

KeyedLookup::KeyedLookup(std::vector<std::string> params, KeyedTableSpec spec)
    : d_params(std::move(params)), d_table(std::move(spec)) {
  d_fields.add(d_table.spec().retcols);
}

bool KeyedLookup::cache_key(const Request& request, const CallArgs& args, std::string& key) const {
  // A snapshot lookup is as cheap as the result cache and always fresher.
  if (d_table.spec().cache_all) return false;
  append_key(key, param_values(request, args, d_params, !d_table.spec().case_sensitive).values);
  return true;
}

Result KeyedLookup::check(Request& request, const CallArgs& args, CheckContext& ctx) {
  const auto& spec = d_table.spec();
  ParamValues pv = param_values(request, args, d_params, !spec.case_sensitive);
  if (!pv.missing.empty()) return Result(0, "request has no attribute " + pv.missing);
  auto combos = cartesian(pv.values);
  if (combos.empty()) return Result(0, "too many value combinations");
  for (const auto& combo : combos) {
    bool found = false;
    DbRow row;
    std::string error;
    // Single answers of a call with several combinations are remembered
    // (List's memCache*): the whole call's result is what the result cache keeps.
    if (!d_table.find(ctx.services(), ctx.deadline(), combo, found, row, error, combos.size() > 1))
      return Result(0, error);
    if (found) {
      Result r(1, row.empty() ? "found " + describe_combination(d_params, combo) : row_text(row));
      add_row_fields(r, row, spec.retcols);
      return r;
    }
  }
  return Result(-1, "not found");
}

}  // namespace ppolicy
