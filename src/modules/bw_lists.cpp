// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/bw_lists.hpp"

#include <algorithm>
#include <iterator>

#include "base/strings.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "modules/param_values.hpp"

namespace ppolicy {

namespace {

// One color's parameters (tableWhitelist, mappingWhitelist, retcolsWhitelist).
struct BwTableParams {
  std::optional<std::string> table;
  std::string mapping;
  std::optional<std::string> retcols;
};

struct BwParams {
  std::vector<std::string> param;
  BwTableParams white, black;
  bool case_sensitive;
  bool cache_all;
  long long cache_all_refresh;
};

// bind<> for a member of a member (BwParams::white.table).
template <BwTableParams BwParams::*Color, auto M>
bool store_color(void* obj, const OptValue& v, std::string*) {
  return option_detail::assign(static_cast<BwParams*>(obj)->*Color.*M, v);
}

template <BwTableParams BwParams::*Color, auto M>
constexpr Option color_row(Option row) {
  row.store = &store_color<Color, M>;
  return row;
}

}  // namespace

const Option k_bw_params_nocache[k_bw_param_count] = {
    bound_row<&BwParams::param>(
        {"param", OptType::list, nullptr,
         "name of parameter in data dictionary (several: a tuple of values)", nullptr, LLONG_MIN,
         LLONG_MAX, true}),
    color_row<&BwParams::white, &BwTableParams::table>(
        {"tableWhitelist", OptType::string, nullptr,
         "name of whitelist database table where to search parameter"}),
    color_row<&BwParams::black, &BwTableParams::table>(
        {"tableBlacklist", OptType::string, nullptr,
         "name of blacklist database table where to search parameter"}),
    color_row<&BwParams::white, &BwTableParams::mapping>(
        {"mappingWhitelist", OptType::string, "",
         "mapping between params (and retcols) and whitelist columns: NAME:COLUMN [TYPE], ..."}),
    color_row<&BwParams::black, &BwTableParams::mapping>(
        {"mappingBlacklist", OptType::string, "",
         "mapping between params (and retcols) and blacklist columns: NAME:COLUMN [TYPE], ..."}),
    color_row<&BwParams::white, &BwTableParams::retcols>(
        {"retcolsWhitelist", OptType::string, nullptr,
         "names of whitelist columns returned by check method"}),
    color_row<&BwParams::black, &BwTableParams::retcols>(
        {"retcolsBlacklist", OptType::string, nullptr,
         "names of blacklist columns returned by check method"}),
    bound_row<&BwParams::case_sensitive>(k_case_sensitive_row),
    bound_row<&BwParams::cache_all>(k_cache_all_row),
    bound_row<&BwParams::cache_all_refresh>(k_cache_all_refresh_row),
};

// ListMailDomain: the same rows, with cacheAll on by default.
const std::array<Option, k_bw_param_count> k_bw_params_cache = [] {
  std::array<Option, k_bw_param_count> rows;
  std::copy(std::begin(k_bw_params_nocache), std::end(k_bw_params_nocache), rows.begin());
  for (auto& r : rows)
    if (std::string_view(r.name) == "cacheAll") r.def = "yes";
  return rows;
}();

BwLists::BwLists(const ModuleSetup& s, const char* type) {
  require_database(s.config, "param");
  auto p = s.bound<BwParams>();
  d_params = p.param;
  d_case = p.case_sensitive;
  d_cache_all = p.cache_all;
  if (!p.white.table && !p.black.table)
    throw KeyError("tableWhitelist", "tableWhitelist or tableBlacklist (or both) is required");
  auto make = [&](const char* color, const BwTableParams& t) -> std::unique_ptr<KeyedTable> {
    std::string table_key = std::string("table") + color, map_key = std::string("mapping") + color,
                ret_key = std::string("retcols") + color;
    if (!t.table) return nullptr;
    auto mapping = parse_mapping(t.mapping, map_key.c_str());
    KeyedTableSpec spec;
    spec.who = format("module %s (%s, %s)", s.name.c_str(), type, lower(color).c_str());
    spec.instance = s.name + "-" + lower(color);
    spec.table = checked_identifier(*t.table, table_key.c_str());
    for (const auto& name : d_params) {
      ColumnMap m = mapped(mapping, name);
      checked_identifier(m.column, "param");
      if (!keyable_sql_type(m.type))
        throw KeyError(map_key, format("%s: a key column needs a length (VARCHAR(n), not %s)",
                                       name.c_str(), m.type.c_str()));
      spec.keys.push_back(std::move(m));
    }
    spec.retcols = parse_retcols(t.retcols, ret_key.c_str(), mapping, spec.all_columns);
    spec.case_sensitive = d_case;
    spec.cache_all = d_cache_all;
    spec.refresh = p.cache_all_refresh;
    d_fields.add(spec.retcols);
    return std::make_unique<KeyedTable>(std::move(spec));
  };
  d_white = make("Whitelist", p.white);
  d_black = make("Blacklist", p.black);
}

void BwLists::prepare(Services& s) {
  for (auto* t : {d_white.get(), d_black.get()})
    if (t) t->prepare(s);
}

void BwLists::maintain(Services& s) {
  for (auto* t : {d_white.get(), d_black.get()})
    if (t) t->maintain(s);
}

Result BwLists::check(CheckContext& ctx, const std::vector<std::vector<std::string>>& candidates) {
  for (const auto& key : candidates) {
    bool in_black = false, in_white = false;
    DbRow black_row, white_row;
    std::string error;
    if (d_black && !d_black->find(ctx.services(), ctx.deadline(), key, in_black, black_row, error))
      return Result(0, error).set("list", "");
    if (!in_black && d_white &&
        !d_white->find(ctx.services(), ctx.deadline(), key, in_white, white_row, error))
      return Result(0, error).set("list", "");
    if (!in_black && !in_white) continue;
    std::string what = describe_combination(d_params, key);
    DbRow& row = in_black ? black_row : white_row;
    Result r(in_black ? -1 : 1,
             format("%s in %s", what.c_str(), in_black ? "blacklist" : "whitelist") +
                 (row.empty() ? "" : ": " + row_text(row)));
    r.set("list", in_black ? "blacklist" : "whitelist");
    r.set("match", join(key, ","));
    add_row_fields(r, row, (in_black ? d_black : d_white)->spec().retcols);
    return r;
  }
  return Result(0, "not listed").set("list", "");
}

std::vector<std::string> mail_domain_candidates(const std::string& value) {
  std::vector<std::string> out;
  size_t at = value.rfind('@');
  std::string domain = at == std::string::npos ? value : value.substr(at + 1);
  if (at != std::string::npos) {
    std::string local = value.substr(0, at);
    size_t plus = local.find('+');
    std::string bare = plus == std::string::npos || plus == 0 ? "" : local.substr(0, plus);
    out.push_back(value);
    if (!bare.empty()) out.push_back(bare + "@" + domain);
    if (!local.empty()) out.push_back(local);
    if (!bare.empty()) out.push_back(bare);
    if (!domain.empty()) out.push_back("@" + domain);
  }
  // The domain and each parent: @.sub.example.com, @.example.com, @.com; then @.
  for (std::string d = domain; !d.empty();) {
    out.push_back("@." + d);
    size_t dot = d.find('.');
    d = dot == std::string::npos ? "" : d.substr(dot + 1);
  }
  out.push_back("@.");
  return out;
}

}  // namespace ppolicy
