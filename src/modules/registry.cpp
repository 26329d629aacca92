// SPDX-License-Identifier: GPL-2.0-or-later
// The one registry of module types. To add a module: write
// src/modules/<name>.cpp exporting one ModuleType, declare it below, list
// it in k_types, and add the file to Makefile.am.
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/strings.hpp"
#include "modules/instance.hpp"
#include "modules/module.hpp"

namespace ppolicy {

// Core modules.
extern const ModuleType k_dummy_type;
extern const ModuleType k_dump_data_file_type;
extern const ModuleType k_sleep_type;

// DNS, SPF and GeoIP modules.
extern const ModuleType k_country_type;
extern const ModuleType k_dnsbl_type;
extern const ModuleType k_dnsbl_dynamic_type;
extern const ModuleType k_dnsbl_score_type;
extern const ModuleType k_resolve_type;
extern const ModuleType k_spf_type;

// Database and shared-state modules.
extern const ModuleType k_dos_type;
extern const ModuleType k_dump_data_db_type;
extern const ModuleType k_greylist_type;
extern const ModuleType k_list_type;
extern const ModuleType k_list_bw_type;
extern const ModuleType k_list_dyn_type;
extern const ModuleType k_list_mail_domain_type;
extern const ModuleType k_lookup_db_type;
extern const ModuleType k_trap_type;

// Network-service modules.
extern const ModuleType k_lookup_ldap_type;
extern const ModuleType k_p0f_type;
extern const ModuleType k_verification_type;
extern const ModuleType k_whois_type;

namespace {

template <long CacheLifetimes::*M>
bool store_lifetime(void* obj, const OptValue& v, std::string*) {
  static_cast<ModuleInstance*>(obj)->cache.*M = static_cast<long>(v.i);
  return true;
}

const ModuleType* const k_types[] = {
    // Core modules.
    &k_dummy_type,
    &k_dump_data_file_type,
    &k_sleep_type,

    // DNS, SPF and GeoIP modules.
    &k_country_type,
    &k_dnsbl_type,
    &k_dnsbl_dynamic_type,
    &k_dnsbl_score_type,
    &k_resolve_type,
    &k_spf_type,

    // Database and shared-state modules.
    &k_dos_type,
    &k_dump_data_db_type,
    &k_greylist_type,
    &k_list_type,
    &k_list_bw_type,
    &k_list_dyn_type,
    &k_list_mail_domain_type,
    &k_lookup_db_type,
    &k_trap_type,

    // Network-service modules.
    &k_lookup_ldap_type,
    &k_p0f_type,
    &k_verification_type,
    &k_whois_type,
};

}  // namespace

std::span<const ModuleType* const> module_types() {
  return k_types;
}

bool changes_state(const ModuleType& type) {
  static const ModuleType* const k_stateful[] = {
      &k_dos_type,          &k_trap_type,  &k_greylist_type,       &k_list_dyn_type,
      &k_dump_data_db_type, &k_sleep_type, &k_dump_data_file_type, &k_verification_type,
      &k_whois_type};
  for (const auto* t : k_stateful)
    if (t == &type) return true;
  return false;
}

const ModuleType* find_module_type(std::string_view name) {
  for (const auto* t : k_types)
    if (iequals(t->name, name)) return t;
  return nullptr;
}

std::span<const Option> module_param_rows(const ModuleType& type) {
  // Built once per type: the type's rows, then the base rows every module
  // has, with this type's cache lifetimes as defaults.
  static std::mutex mu;
  static std::map<const ModuleType*, std::vector<Option>> rows;
  static std::deque<std::string> texts;  // storage for the default strings
  std::lock_guard<std::mutex> lock(mu);
  auto it = rows.find(&type);
  if (it != rows.end()) return it->second;
  std::vector<Option> r(type.params.begin(), type.params.end());
  auto text = [&](long v) { return texts.emplace_back(std::to_string(v)).c_str(); };
  // Their values go into the ModuleInstance (Generation::make_instance).
  r.push_back({.name = "cachePositive",
               .type = OptType::duration,
               .def = text(type.cache.positive),
               .help = "how long a positive result (code > 0) is shared from the result cache "
                       "(0: never)",
               .store = store_lifetime<&CacheLifetimes::positive>});
  r.push_back({.name = "cacheUnknown",
               .type = OptType::duration,
               .def = text(type.cache.unknown),
               .help = "how long an unknown result (code 0) is shared from the result cache "
                       "(0: never)",
               .store = store_lifetime<&CacheLifetimes::unknown>});
  r.push_back({.name = "cacheNegative",
               .type = OptType::duration,
               .def = text(type.cache.negative),
               .help = "how long a negative result (code < 0) is shared from the result cache "
                       "(0: never)",
               .store = store_lifetime<&CacheLifetimes::negative>});
  r.push_back({.name = "saveResult",
               .type = OptType::boolean,
               .def = "yes",
               .help = "save code, info, cache hit and time into the request for later modules "
                       "and dumps",
               .store = bind<&ModuleInstance::save_result>()});
  r.push_back({.name = "saveResultPrefix",
               .type = OptType::string,
               .def = "result_",
               .help = "prefix of the saved attribute names",
               .store = bind<&ModuleInstance::save_prefix>()});
  return rows.emplace(&type, std::move(r)).first->second;
}

}  // namespace ppolicy
