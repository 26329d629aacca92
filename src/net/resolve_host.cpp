// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/resolve_host.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <list>
#include <memory>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

// One asynchronous lookup; its memory must live until glibc is done with it.
struct Lookup {
  std::string host, service;
  addrinfo hints{};
  gaicb cb{};
};

// Lookups abandoned at their deadline that glibc could not cancel: freed
// once they finish (checked on every later lookup). Per worker process.
std::list<std::unique_ptr<Lookup>> g_abandoned;

void reap_abandoned() {
  for (auto it = g_abandoned.begin(); it != g_abandoned.end();) {
    if (gai_error(&(*it)->cb) == EAI_INPROGRESS) {
      ++it;
      continue;
    }
    if ((*it)->cb.ar_result) freeaddrinfo((*it)->cb.ar_result);
    it = g_abandoned.erase(it);
  }
}

bool numeric(const std::string& host, uint16_t port, std::vector<SockAddr>& out) {
  SockAddr a;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    a.len = sizeof *in4;
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    a.len = sizeof *in6;
  } else {
    return false;
  }
  out.push_back(a);
  return true;
}

}  // namespace

std::string SockAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto* in4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in4->sin_addr, buf, sizeof buf);
    return format("%s:%u", buf, ntohs(in4->sin_port));
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  return format("[%s]:%u", buf, ntohs(in6->sin6_port));
}

bool resolve_host(const std::string& host, uint16_t port, Deadline deadline,
                  std::vector<SockAddr>& out, std::string* why) {
  out.clear();
  if (numeric(host, port, out)) return true;
  reap_abandoned();
  auto l = std::make_unique<Lookup>();
  l->host = host;
  l->service = std::to_string(port);
  l->hints.ai_family = AF_UNSPEC;
  l->hints.ai_socktype = SOCK_STREAM;
  l->hints.ai_flags = AI_NUMERICSERV;
  l->cb.ar_name = l->host.c_str();
  l->cb.ar_service = l->service.c_str();
  l->cb.ar_request = &l->hints;
  gaicb* list[1] = {&l->cb};
  int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr);
  if (rc != 0) return *why = format("resolving %s: %s", host.c_str(), gai_strerror(rc)), false;
  for (;;) {
    long ms = ms_until(deadline);
    if (ms <= 0) break;
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    rc = gai_suspend(list, 1, &ts);
    if (rc == 0 || rc == EAI_ALLDONE || gai_error(&l->cb) != EAI_INPROGRESS) break;
    if (rc == EAI_AGAIN) break;  // timed out
  }
  rc = gai_error(&l->cb);
  if (rc == EAI_INPROGRESS) {
    int c = gai_cancel(&l->cb);
    if (c == EAI_NOTCANCELED)
      g_abandoned.push_back(std::move(l));  // still running: glibc owns it until it ends
    else if (c == EAI_ALLDONE && l->cb.ar_result)
      freeaddrinfo(l->cb.ar_result);
    return *why = format("resolving %s: timed out", host.c_str()), false;
  }
  if (rc != 0) return *why = format("resolving %s: %s", host.c_str(), gai_strerror(rc)), false;
  for (addrinfo* ai = l->cb.ar_result; ai; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SockAddr a;
    std::memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    out.push_back(a);
  }
  freeaddrinfo(l->cb.ar_result);
  if (out.empty()) return *why = format("resolving %s: no address", host.c_str()), false;
  return true;
}

}  // namespace ppolicy
