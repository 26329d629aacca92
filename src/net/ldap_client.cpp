// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/ldap_client.hpp"

#include <algorithm>
#include <cstring>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace ppolicy {
namespace {

timeval tv_of(long ms) {
  if (ms < 1) ms = 1;
  return timeval{ms / 1000, (ms % 1000) * 1000};
}

// Wait for the whole answer to `msgid` by the deadline. Returns LDAP_SUCCESS
// with *res set (the caller frees it), LDAP_TIMEOUT, or the connection's error.
int wait_answer(LDAP* ld, int msgid, Deadline deadline, LDAPMessage** res) {
  *res = nullptr;
  long ms = ms_until(deadline);
  if (ms <= 0) return LDAP_TIMEOUT;
  timeval tv = tv_of(ms);
  int t = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, res);
  if (t > 0 && *res) return LDAP_SUCCESS;
  if (t == 0) return LDAP_TIMEOUT;
  int err = LDAP_SERVER_DOWN;
  ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
  return err == LDAP_SUCCESS ? LDAP_SERVER_DOWN : err;
}

// The result code (and diagnostic) of a result message; frees it when asked.
int result_code(LDAP* ld, LDAPMessage* res, bool free_it, std::string* why) {
  int err = LDAP_OTHER;
  char* diag = nullptr;
  int rc = ldap_parse_result(ld, res, &err, nullptr, &diag, nullptr, nullptr, free_it ? 1 : 0);
  if (rc != LDAP_SUCCESS) err = rc;
  if (err != LDAP_SUCCESS) {
    *why = ldap_err2string(err);
    if (diag && *diag) *why += format(" (%s)", diag);
  }
  if (diag) ldap_memfree(diag);
  return err;
}

// The server is gone or did not answer: reconnect (and maybe fail over).
bool server_gone(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
         rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

}  // namespace

std::string LdapServerSet::key() const {
  std::string k;
  for (const auto& u : uris)
    k += u + '\n';
  return k + '\0' + bind_dn + '\0' + bind_pass;
}

void LdapConnection::drop() {
  if (d_ld) ldap_unbind_ext_s(d_ld, nullptr, nullptr);  // frees d_ld, closes the socket
  d_ld = nullptr;
}

bool LdapConnection::open(const LdapSearch& s, size_t skip, Services& services, Deadline deadline,
                          std::string* why) {
  Breakers& breakers = services.breakers();
  std::vector<std::string> problems;
  for (size_t i = 0; i < d_set.uris.size(); ++i) {
    if (i == skip) continue;
    const std::string& uri = d_set.uris[i];
    if (!breakers.allow(backend(i), services.now())) {
      problems.push_back(uri + ": skipped (circuit breaker open)");
      continue;
    }
    long left = ms_until(deadline);
    if (left <= 0) {
      problems.push_back("request deadline reached");
      break;
    }
    LDAP* ld = nullptr;
    int rc = ldap_initialize(&ld, uri.c_str());
    if (rc != LDAP_SUCCESS || !ld) {
      problems.push_back(uri + ": " + ldap_err2string(rc));
      continue;
    }
    int v3 = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
    timeval nto = tv_of(std::min(s.network_timeout_ms, left));
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &nto);
    Deadline op = deadline_in(s.timeout_ms, deadline);
    timeval to = tv_of(ms_until(op));
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &to);

    // Simple bind (also for anonymous access: it connects now, so a dead
    // server shows here and not in the middle of a search).
    berval cred{static_cast<ber_len_t>(d_set.bind_pass.size()),
                const_cast<char*>(d_set.bind_pass.data())};
    int msgid = -1;
    std::string err;
    rc = ldap_sasl_bind(ld, d_set.bind_dn.empty() ? nullptr : d_set.bind_dn.c_str(),
                        LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, &msgid);
    LDAPMessage* res = nullptr;
    if (rc == LDAP_SUCCESS) rc = wait_answer(ld, msgid, op, &res);
    if (rc == LDAP_SUCCESS)
      rc = result_code(ld, res, true, &err);
    else if (rc == LDAP_TIMEOUT)  // the same words as a search that times out
      err = format("no answer within %ld ms", std::min(s.timeout_ms, left));
    else
      err = ldap_err2string(rc);
    if (rc == LDAP_SUCCESS) {
      d_ld = ld;
      d_current = i;
      breakers.success(backend(i), services.now());
      return true;
    }
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    // A timeout cut short by the request deadline says little about the server.
    if (!(rc == LDAP_TIMEOUT && op == deadline)) breakers.failure(backend(i), services.now(), err);
    problems.push_back(uri + ": " + err);
  }
  *why = problems.empty() ? "no LDAP server to try" : join(problems, "; ");
  return false;
}

int LdapConnection::run_search(const LdapSearch& s, Deadline deadline, bool* cut,
                               std::vector<LdapEntry>& out, std::string* why) {
  std::vector<char*> attrs;
  for (const auto& a : s.attributes)
    attrs.push_back(const_cast<char*>(a.c_str()));
  if (attrs.empty()) attrs.push_back(const_cast<char*>(LDAP_NO_ATTRS));  // "1.1": only the DN
  attrs.push_back(nullptr);
  Deadline op = deadline_in(s.timeout_ms, deadline);
  *cut = op == deadline;
  timeval limit = tv_of(std::max(1000L, ms_until(op)));  // server-side time limit (whole seconds)
  int msgid = -1;
  int rc = ldap_search_ext(d_ld, s.base.c_str(), s.scope, s.filter.c_str(), attrs.data(), 0,
                           nullptr, nullptr, &limit, s.size_limit, &msgid);
  LDAPMessage* res = nullptr;
  if (rc == LDAP_SUCCESS) rc = wait_answer(d_ld, msgid, op, &res);
  if (rc != LDAP_SUCCESS) {
    *why =
        rc == LDAP_TIMEOUT ? format("no answer within %ld ms", s.timeout_ms) : ldap_err2string(rc);
    if (rc == LDAP_TIMEOUT && msgid >= 0) ldap_abandon_ext(d_ld, msgid, nullptr, nullptr);
    return rc;
  }
  for (LDAPMessage* e = ldap_first_entry(d_ld, res); e; e = ldap_next_entry(d_ld, e)) {
    LdapEntry entry;
    if (char* dn = ldap_get_dn(d_ld, e)) {
      entry.dn = dn;
      ldap_memfree(dn);
    }
    BerElement* ber = nullptr;
    for (char* a = ldap_first_attribute(d_ld, e, &ber); a; a = ldap_next_attribute(d_ld, e, ber)) {
      std::vector<std::string> values;
      if (berval** vals = ldap_get_values_len(d_ld, e, a)) {
        for (size_t i = 0; vals[i]; ++i)
          values.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
        ldap_value_free_len(vals);
      }
      entry.attributes.emplace_back(a, std::move(values));
      ldap_memfree(a);
    }
    if (ber) ber_free(ber, 0);
    out.push_back(std::move(entry));
  }
  return result_code(d_ld, res, true, why);
}

LdapStatus LdapConnection::search(const LdapSearch& s, Services& services, Deadline deadline,
                                  std::vector<LdapEntry>& out, std::string* why) {
  Breakers& breakers = services.breakers();
  size_t skip = d_set.uris.size();  // none
  std::string earlier;              // why the first attempt failed
  for (int attempt = 0;; ++attempt) {
    // Another worker may have opened this server's breaker: leave it too.
    if (d_ld && !breakers.allow(backend(d_current), services.now())) drop();
    bool fresh = !d_ld;
    if (!d_ld && !open(s, skip, services, deadline, why)) {
      if (!earlier.empty()) *why = earlier + (d_set.uris.size() > 1 ? "; " + *why : "");
      return LdapStatus::down;
    }
    bool cut = false;
    out.clear();
    int rc = run_search(s, deadline, &cut, out, why);
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED ||
        (rc == LDAP_TIMELIMIT_EXCEEDED && !out.empty())) {
      breakers.success(backend(d_current), services.now());
      return LdapStatus::ok;
    }
    if (!server_gone(rc)) return LdapStatus::refused;  // the server answered: it is alive
    size_t failed = d_current;
    std::string reason = *why;
    *why = d_set.uris[failed] + ": " + reason;
    drop();
    // A stale connection (the server restarted) is no fault of the server:
    // only a fresh connection that fails, or a real timeout, counts.
    if (fresh || (rc == LDAP_TIMEOUT && !cut))
      breakers.failure(backend(failed), services.now(), reason);
    if (attempt > 0 || ms_until(deadline) <= 0) return LdapStatus::down;
    if (rc == LDAP_TIMEOUT) skip = failed;  // a hanging server: retry on another one only
    earlier = *why;
    log_info("LDAP %s: %s; reconnecting", d_set.uris[failed].c_str(), reason.c_str());
  }
}

LdapConnection& LdapConnections::get(const LdapServerSet& set) {
  auto key = set.key();
  auto it = d_conns.find(key);
  if (it == d_conns.end()) it = d_conns.emplace(key, std::make_unique<LdapConnection>(set)).first;
  return *it->second;
}

std::string ldap_filter_with(std::string_view filter, std::string_view value) {
  std::string escaped;
  berval in{static_cast<ber_len_t>(value.size()), const_cast<char*>(value.data())};
  berval esc{0, nullptr};
  if (!value.empty() && ldap_bv2escaped_filter_value(&in, &esc) == 0 && esc.bv_val) {
    escaped.assign(esc.bv_val, esc.bv_len);
    ber_memfree(esc.bv_val);
  } else if (!value.empty()) {
    throw std::bad_alloc();  // the library's only failure is memory
  }
  std::string out;
  for (size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() && filter[i + 1] == 'm') {
      out += escaped;
      ++i;
    } else {
      out += filter[i];
    }
  }
  return out;
}

bool ldap_filter_plausible(std::string_view filter) {
  int depth = 0;
  bool any = false;
  for (size_t i = 0; i < filter.size(); ++i) {
    char c = filter[i];
    if (c == '\\') {
      ++i;
    } else if (c == '(') {
      ++depth;
      any = true;
    } else if (c == ')') {
      if (--depth < 0) return false;
    }
  }
  return depth == 0 && (any || !trim(filter).empty());
}

bool ldap_uri_valid(const std::string& uri) {
  LDAPURLDesc* lud = nullptr;
  if (ldap_url_parse(uri.c_str(), &lud) != LDAP_URL_SUCCESS || !lud) return false;
  std::string scheme = lud->lud_scheme ? lower(lud->lud_scheme) : "";
  ldap_free_urldesc(lud);
  return scheme == "ldap" || scheme == "ldaps" || scheme == "ldapi";
}

}  // namespace ppolicy
