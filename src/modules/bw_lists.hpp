// SPDX-License-Identifier: GPL-2.0-or-later
// The whitelist/blacklist pair behind ListBW and ListMailDomain: the same
// key (the params' values) looked up in tableWhitelist and tableBlacklist,
// each with its own mapping and retcols. Candidates (combinations of values,
// or ListMailDomain's address/domain search list) are tried in order; the
// first candidate listed anywhere decides: -1 when it is in the blacklist
// (the blacklist wins when it is in both, as in the original), 1 when it is
// in the whitelist; no candidate listed: 0 "not listed". Master side:
// parameters and tables; worker side: check().
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "modules/keyed_lookup.hpp"
#include "modules/module.hpp"

namespace ppolicy {

// The parameter rows both types share (cacheAll's default differs).
inline constexpr size_t k_bw_param_count = 10;
extern const Option k_bw_params_nocache[k_bw_param_count];  // ListBW: cacheAll = no
extern const std::array<Option, k_bw_param_count>
    k_bw_params_cache;  // ListMailDomain: cacheAll = yes

class BwLists {
 public:
  // `type` names the module type in messages.
  BwLists(const ModuleSetup& s, const char* type);

  const std::vector<std::string>& params() const { return d_params; }
  bool case_sensitive() const { return d_case; }
  bool cache_all() const { return d_cache_all; }
  const FieldSpec* field(std::string_view name) const { return d_fields.find(name); }

  // Try the candidates (each one value per param, case-folded) in order.
  Result check(CheckContext& ctx, const std::vector<std::vector<std::string>>& candidates);
  void prepare(Services& s);
  void maintain(Services& s);

 private:
  std::vector<std::string> d_params;
  bool d_case = false, d_cache_all = false;
  std::unique_ptr<KeyedTable> d_white, d_black;
  RowFields d_fields;
};

// ListMailDomain's search list for one (lower-cased) value, most specific
// first, as amavisd-new looks addresses up:
//   user+ext@sub.example.com -> user+ext@sub.example.com, user@sub.example.com,
//     user+ext, user, @sub.example.com, @.sub.example.com, @.example.com, @.com, @.
//   host.example.com (no '@') -> @.host.example.com, @.example.com, @.com, @.
//   "" -> @.
// ("@.domain" matches the domain and its subdomains.)
std::vector<std::string> mail_domain_candidates(const std::string& value);

}  // namespace ppolicy
