// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/sock_addr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {

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

SockAddr sockaddr_of(const IpAddress& ip, uint16_t port) {
  SockAddr a;
  if (ip.v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes.data() + 12, 4);
    a.len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
    a.len = sizeof *sin6;
  }
  return a;
}

}  // namespace ppolicy
