// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/spf_layer.hpp"

// <spf2/spf.h> is not self-contained and has no extern "C".
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/types.h>
extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_log.h>
}

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "base/log.hpp"

namespace ppolicy::dns {
namespace {

SPF_dns_stat_t herrno_of(const Query& q, const Resolver& r) {
  switch (q.status) {
    case Status::ok:
      return NETDB_SUCCESS;
    case Status::nxdomain:
      return HOST_NOT_FOUND;
    case Status::nodata:
      return NO_DATA;
    case Status::servfail:
    case Status::timeout:
    case Status::skipped:
      return TRY_AGAIN;  // temperror
    case Status::error:
      return r.usable() ? HOST_NOT_FOUND : TRY_AGAIN;  // an invalid name does not exist
  }
  return NO_RECOVERY;
}

bool add_text(SPF_dns_rr_t* rr, int i, const std::string& s) {
  if (SPF_dns_rr_buf_realloc(rr, i, s.size() + 1) != SPF_E_SUCCESS) return false;
  std::memcpy(rr->rr[i]->txt, s.data(), s.size());  // txt, ptr and mx share the storage
  rr->rr[i]->txt[s.size()] = '\0';
  return true;
}

SPF_dns_rr_t* lookup(SPF_dns_server_t* server, const char* domain, ns_type type,
                     int /*should_cache*/) {
  auto* hook = static_cast<SpfDns*>(server->hook);
  QType qt;
  switch (type) {
    case ns_t_a:
      qt = QType::a;
      break;
    case ns_t_aaaa:
      qt = QType::aaaa;
      break;
    case ns_t_mx:
      qt = QType::mx;
      break;
    case ns_t_ptr:
      qt = QType::ptr;
      break;
    case ns_t_txt:
      qt = QType::txt;
      break;
    default:
      return SPF_dns_rr_new_init(server, domain, type, 0,
                                 NO_DATA);  // e.g. the obsolete type SPF (99)
  }
  Query q = Query::make(qt, domain ? domain : "");
  hook->resolver->resolve(q, hook->deadline);
  ++hook->lookups;
  if (failed(q.status) && hook->worst == Status::ok) hook->worst = q.status;
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, static_cast<int>(q.ttl),
                                         herrno_of(q, *hook->resolver));
  if (!rr || q.status != Status::ok) return rr;
  int n = 0;
  switch (qt) {
    case QType::a:
    case QType::aaaa:
      for (const auto& a : q.addrs) {
        if (a.v4 != (qt == QType::a)) continue;
        size_t len = qt == QType::a ? sizeof(in_addr) : sizeof(in6_addr);
        if (SPF_dns_rr_buf_realloc(rr, n, len) != SPF_E_SUCCESS) break;
        if (qt == QType::a)
          std::memcpy(&rr->rr[n]->a, &a.bytes[12], 4);
        else
          std::memcpy(&rr->rr[n]->aaaa, a.bytes.data(), 16);
        ++n;
      }
      break;
    case QType::mx:
      for (const auto& m : q.mx)
        if (!m.host.empty() && add_text(rr, n, m.host)) ++n;  // a null MX names no host
      break;
    case QType::ptr:
    case QType::txt:
      for (const auto& s : q.names)
        if (add_text(rr, n, s)) ++n;
      break;
  }
  rr->num_rr = n;
  if (n == 0) rr->herrno = NO_DATA;
  return rr;
}

void destroy(SPF_dns_server_t* server) {
  std::free(server);
}

bool rate_ok() {
  static time_t window = 0;
  static int count = 0;
  time_t now = std::time(nullptr);
  if (now / 60 != window) window = now / 60, count = 0;
  return ++count <= 10;  // at most 10 libspf2 warnings a minute per worker
}

// GNU spelling: clang makes it part of the type, as libspf2's handler pointer is.
__attribute__((noreturn)) void on_error(const char* file, int line, const char* msg) {
  log_error("libspf2: fatal error at %s:%d: %s", file ? file : "?", line, msg ? msg : "");
  std::abort();  // libspf2 cannot continue after SPF_error(); the master replaces the worker
}

void on_warning(const char* file, int line, const char* msg) {
  if (rate_ok()) log_warn("libspf2: %s (%s:%d)", msg ? msg : "", file ? file : "?", line);
}

void on_info(const char*, int, const char* msg) {
  log_debug("libspf2: %s", msg ? msg : "");
}

}  // namespace

SPF_dns_server_struct* new_spf_dns_layer(SpfDns* hook) {
  auto* s = static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t)));
  if (!s) return nullptr;
  s->destroy = destroy;
  s->lookup = lookup;
  s->get_spf = nullptr;
  s->get_exp = nullptr;
  s->add_cache = nullptr;
  s->layer_below = nullptr;
  s->name = "ppolicy-udns";
  s->debug = 0;
  s->hook = hook;
  return s;
}

void install_spf_log_handlers() {
  SPF_error_handler = on_error;
  SPF_warning_handler = on_warning;
  SPF_info_handler = on_info;
  SPF_debug_handler = on_info;
}

}  // namespace ppolicy::dns
