// SPDX-License-Identifier: GPL-2.0-or-later
// Host name to socket addresses by a deadline, for modules that connect to
// a configured server by name (Whois: whois.iana.org and the registries it
// refers to). Numeric addresses need no lookup; names go through the
// system's resolver (getaddrinfo_a: /etc/hosts, then DNS), and a lookup that
// outlives the deadline is abandoned, not waited for. Worker only.
// Not for request data: test data must never reach the system resolver.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/socket_io.hpp"

namespace ppolicy {

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
  std::string str() const;  // "192.0.2.1:43", "[2001:db8::1]:43"
};

bool resolve_host(const std::string& host, uint16_t port, Deadline deadline,
                  std::vector<SockAddr>& out, std::string* why);

}  // namespace ppolicy
