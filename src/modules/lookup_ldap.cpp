// SPDX-License-Identifier: GPL-2.0-or-later
// LookupLDAP: search an LDAP directory with a filter built from one request
// attribute ("%m" in `filter`, RFC 4515-escaped, so a value such as
// "*)(uid=*" matches only itself) and answer found (1) / not found (-1) /
// error (0), with the requested attributes of the entries in the info and as
// fields of the policy language (NAME.cn, NAME.mail, ...).
// Runs in the worker on the worker's LDAP connection for this server set
// (net/ldap_client.cpp: failover over the URIs, bind, reconnect after a
// server restart, timeouts, circuit breakers). No connection in the master.
#include "base/strings.hpp"
#include "modules/module.hpp"
#include "net/ldap_client.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct LookupLdapParams {
  std::string param;
  std::string uri;
  std::string base;
  std::string filter;
  std::string scope;
  std::optional<std::string> bind_dn;
  std::optional<std::string> bind_pass;
  std::vector<std::string> attributes;
  long network_timeout_ms;
  long timeout_ms;
};

const Option k_params[] = {
    bound_row<&LookupLdapParams::param>(
        {"param", OptType::string, nullptr,
         "name of the request attribute whose value replaces %m in the filter", nullptr, LLONG_MIN,
         LLONG_MAX, true}),
    bound_row<&LookupLdapParams::uri>(
        {"uri", OptType::string, nullptr,
         "LDAP server URI; several space-separated URIs are tried in order (failover)", nullptr,
         LLONG_MIN, LLONG_MAX, true}),
    bound_row<&LookupLdapParams::base>({"base", OptType::string, nullptr, "LDAP search base",
                                        nullptr, LLONG_MIN, LLONG_MAX, true}),
    bound_row<&LookupLdapParams::filter>(
        {"filter", OptType::string, nullptr,
         "LDAP filter (%m will be replaced by the escaped \"param\" value)", nullptr, LLONG_MIN,
         LLONG_MAX, true}),
    bound_row<&LookupLdapParams::scope>({"scope", OptType::choice, "2",
                                         "LDAP search scope: 0 or base, 1 or one, 2 or sub",
                                         "0|1|2|base|one|sub|onelevel|subtree"}),
    bound_row<&LookupLdapParams::bind_dn>(
        {"bind_dn", OptType::string, nullptr, "LDAP bind DN (None == anonymous bind)"}),
    bound_row<&LookupLdapParams::bind_pass>(
        {"bind_pass", OptType::string, nullptr, "LDAP bind password"}),
    {"bind_method", OptType::choice, "128", "LDAP bind method (only simple, 128, is supported)",
     "128|simple"},
    bound_row<&LookupLdapParams::attributes>(
        {"attributes", OptType::list, nullptr,
         "attributes returned by LDAP query (in the info and as fields NAME.attribute)"}),
    bound_row<&LookupLdapParams::network_timeout_ms>({"network_timeout", OptType::millis, "3s",
                                                      "longest wait for a connection to one server",
                                                      nullptr, 1, 600000}),
    bound_row<&LookupLdapParams::timeout_ms>({"timeout", OptType::millis, "5s",
                                              "longest wait for the bind and for the search",
                                              nullptr, 1, 600000}),
};

const FieldSpec k_fields[] = {
    {"dn", Type::string, "DN of the first entry found"},
    {"count", Type::number, "number of entries found"},
};

// Entries found, limited: a lookup is about one address or name.
constexpr int k_size_limit = 100;
constexpr size_t k_info_max = 1000;

// The value of a request attribute, also a derived one (sender_domain, ...).
std::string param_value(const Request& r, const std::string& name) {
  if (r.find(name)) return std::string(r.get(name));
  if (auto d = derived_from_name(name)) return r.derived(*d);
  return "";
}

// A field name of the policy language for an LDAP attribute name.
std::string field_name(std::string_view attr) {
  std::string f(attr);
  for (char& c : f)
    if (c == '-' || c == ';') c = '_';
  return f;
}

class LookupLdap final : public Module {
 public:
  LookupLdap(std::string param, LdapServerSet servers, LdapSearch search)
      : d_param(std::move(param)),
        d_servers(std::move(servers)),
        d_search(std::move(search)),
        d_template(d_search.filter) {
    for (const auto& a : d_search.attributes)
      d_names.push_back(field_name(a));
    for (const auto& n : d_names)
      d_fields.push_back({n.c_str(), Type::string, "an LDAP attribute of the entry"});
  }

  std::span<const FieldSpec> instance_fields() const override { return d_fields; }

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += param_value(r, d_param);
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    LdapSearch s = d_search;
    s.filter = ldap_filter_with(d_template, param_value(request, d_param));
    std::vector<LdapEntry> entries;
    std::string why;
    auto& conn = ctx.services().resource<LdapConnections>().get(d_servers);
    switch (conn.search(s, ctx.services(), ctx.deadline(), entries, &why)) {
      case LdapStatus::down: {
        Result r(0, "LDAP unavailable: " + why);
        r.transient = true;  // not an answer: do not share it
        return r;
      }
      case LdapStatus::refused:
        return Result(0, "LDAP error: " + why);
      case LdapStatus::ok:
        break;
    }
    if (entries.empty()) return Result(-1, "not found");
    return found(entries);
  }

 private:
  Result found(const std::vector<LdapEntry>& entries) const {
    std::string info;
    for (const auto& e : entries) {
      if (!info.empty()) info += " | ";
      info += e.dn;
      for (const auto& [name, values] : e.attributes)
        info += format("; %s=%s", name.c_str(), join(values, ", ").c_str());
      if (info.size() > k_info_max) {
        info.resize(k_info_max);
        info += "...";
        break;
      }
    }
    Result r(1, info);
    r.set("dn", entries[0].dn);
    r.set("count", static_cast<double>(entries.size()));
    // Attribute names are case-insensitive; the fields use the configured spelling.
    for (size_t i = 0; i < d_search.attributes.size(); ++i) {
      std::string value;
      for (const auto& [name, values] : entries[0].attributes)
        if (iequals(name, d_search.attributes[i])) value = join(values, ", ");
      r.set(d_names[i], value);
    }
    return r;
  }

  std::string d_param;
  LdapServerSet d_servers;
  LdapSearch d_search;
  std::string d_template;
  std::vector<std::string> d_names;
  std::vector<FieldSpec> d_fields;  // point into d_names
};

int scope_of(const std::string& s) {
  if (s == "0" || s == "base") return LDAP_SCOPE_BASE;
  if (s == "1" || s == "one" || s == "onelevel") return LDAP_SCOPE_ONELEVEL;
  return LDAP_SCOPE_SUBTREE;
}

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<LookupLdapParams>();
  LdapServerSet servers;
  servers.uris = split(p.uri, " \t");
  if (servers.uris.empty()) throw KeyError("uri", "no LDAP URI given");
  for (const auto& u : servers.uris)
    if (!ldap_uri_valid(u))
      throw KeyError("uri", format("\"%s\" is not an LDAP URI (ldap://HOST[:PORT]/)", u.c_str()));
  if (p.bind_dn) {
    servers.bind_dn = *p.bind_dn;
    if (!p.bind_pass || p.bind_pass->empty())
      throw KeyError(
          "bind_pass",
          "is required with bind_dn (an empty password would be an unauthenticated bind)");
    servers.bind_pass = *p.bind_pass;
  } else if (p.bind_pass) {
    throw KeyError("bind_pass", "given without bind_dn");
  }
  LdapSearch search;
  search.base = p.base;
  search.scope = scope_of(p.scope);
  search.filter = p.filter;
  if (search.filter.find("%m") == std::string::npos)
    throw KeyError("filter", "has no %m (the looked-up value)");
  if (!ldap_filter_plausible(search.filter)) throw KeyError("filter", "has unbalanced parentheses");
  for (const auto& a : p.attributes) {
    for (char c : a)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != ';' && c != '.')
        throw KeyError("attributes", format("\"%s\" is not an attribute name", a.c_str()));
    search.attributes.push_back(a);
  }
  search.size_limit = k_size_limit;
  search.network_timeout_ms = p.network_timeout_ms;
  search.timeout_ms = p.timeout_ms;
  const std::string& param = p.param;
  if (param.empty()) throw KeyError("param", "is empty");
  return std::make_unique<LookupLdap>(param, std::move(servers), std::move(search));
}

}  // namespace

extern const ModuleType k_lookup_ldap_type = {
    "LookupLDAP",
    "LookupLDAP module for searching records in LDAP. The value of the request attribute\n"
    "\"param\" replaces %m in the filter, escaped as RFC 4515 says (a value like \"*)(uid=*\"\n"
    "matches only itself). Several URIs are tried in order; each worker keeps one connection\n"
    "(simple bind, or anonymous), reconnects after a server restart, and skips a server that\n"
    "keeps failing for breaker_cooldown ([ppolicyd]). The requested attributes of the entries\n"
    "found are in the info, and those of the first entry are fields: NAME.ATTRIBUTE (a '-' in\n"
    "the attribute name becomes '_'; several values are joined with \", \").",
    k_params,
    {900, 900, 900},
    k_fields,
    {},
    "    1 .... ok, found records for the filter\n"
    "    0 .... undefined (problem with LDAP query, e.g. failing connection; a failing\n"
    "           connection is not cached)\n"
    "   -1 .... failed to find records for the filter\n",
    "[module lookup_ldap1]\ntype = LookupLDAP\nparam = recipient\n"
    "uri = ldap://ldap1.domain.tld ldap://ldap2.domain.tld\nbase = ou=People,dc=domain,dc=tld\n"
    "filter = (mail=%m)\n\n"
    "[module lookup_ldap2]\ntype = LookupLDAP\nparam = recipient\n"
    "uri = ldap://ldap1.domain.tld ldap://ldap2.domain.tld\nbase = ou=People,dc=domain,dc=tld\n"
    "bind_dn = cn=PPolicy User,ou=People,dc=domain,dc=tld\nbind_pass = secret\nscope = one\n"
    "filter = (mail=%m)\nattributes = cn\n",
    create,
};

}  // namespace ppolicy
