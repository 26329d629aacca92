// SPDX-License-Identifier: GPL-2.0-or-later
// LDAP searches for the LookupLDAP module, on libldap (OpenLDAP 2.5).
// A worker keeps one connection per server set (the URIs and bind identity
// of a module instance; instances with the same set share it), opened on
// first use after fork, as services.resource<LdapConnections>().
//
// Failover: the URIs are tried in order; each URI has a circuit breaker in
// shared memory ("ldap URI"), so a dead or hanging server is skipped by every
// worker after a few failures and costs one timeout, not one per request.
// Reconnect: when the server went away (restart: LDAP_SERVER_DOWN,
// CONNECT_ERROR, TIMEOUT), the handle is unbound and the search is retried
// once on a new connection (a TIMEOUT retries on another server only).
// Timeouts: connecting is bounded by `network_timeout`, the bind and the
// search by `timeout`, and everything by the request deadline.
// Does not build filters from request data without escaping: use
// ldap_filter_with().
#pragma once

#include <ldap.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/socket_io.hpp"
#include "svc/services.hpp"

namespace ppolicy {

struct LdapServerSet {
  std::vector<std::string> uris;
  std::string bind_dn;  // empty: anonymous
  std::string bind_pass;
  std::string key() const;  // identity of the connection (URIs and bind identity)
};

struct LdapSearch {
  std::string base;
  int scope = LDAP_SCOPE_SUBTREE;
  std::string filter;                   // already escaped
  std::vector<std::string> attributes;  // empty: none (only the DN)
  int size_limit = 100;
  long network_timeout_ms = 3000;
  long timeout_ms = 5000;
};

struct LdapEntry {
  std::string dn;
  std::vector<std::pair<std::string, std::vector<std::string>>> attributes;
};

enum class LdapStatus {
  ok,       // the search ran (entries may be empty)
  refused,  // a server answered with an error (bad base, no access, bad filter)
  down,     // no server could be used (down, timed out, skipped by its breaker)
};

class LdapConnection {
 public:
  explicit LdapConnection(LdapServerSet set) : d_set(std::move(set)) {}
  ~LdapConnection() { drop(); }
  LdapConnection(const LdapConnection&) = delete;
  LdapConnection& operator=(const LdapConnection&) = delete;

  LdapStatus search(const LdapSearch& s, Services& services, Deadline deadline,
                    std::vector<LdapEntry>& out, std::string* why);

 private:
  bool open(const LdapSearch& s, size_t skip, Services& services, Deadline deadline,
            std::string* why);
  int run_search(const LdapSearch& s, Deadline deadline, bool* cut, std::vector<LdapEntry>& out,
                 std::string* why);
  void drop();
  std::string backend(size_t i) const { return "ldap " + d_set.uris[i]; }

  LdapServerSet d_set;
  LDAP* d_ld = nullptr;
  size_t d_current = 0;  // index of the URI d_ld is connected to
};

// The worker's LDAP connections, one per server set.
class LdapConnections : public WorkerResource {
 public:
  static std::unique_ptr<LdapConnections> create(Services&) {
    return std::make_unique<LdapConnections>();
  }
  LdapConnection& get(const LdapServerSet& set);

 private:
  std::map<std::string, std::unique_ptr<LdapConnection>> d_conns;
};

// `filter` with every "%m" replaced by `value`, escaped as RFC 4515 says
// (ldap_bv2escaped_filter_value: * ( ) \ NUL and non-ASCII as \XX).
std::string ldap_filter_with(std::string_view filter, std::string_view value);
// Check a filter template: balanced parentheses (outside escapes).
bool ldap_filter_plausible(std::string_view filter);
// Check that a URI is an LDAP URL libldap accepts (ldap://, ldaps://, ldapi://).
bool ldap_uri_valid(const std::string& uri);

}  // namespace ppolicy
