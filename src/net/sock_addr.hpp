// SPDX-License-Identifier: GPL-2.0-or-later
// A socket address for connect(), made from an IpAddress and a port: the
// modules that open TCP connections (Verification's callouts, Whois) have
// their addresses from our DNS layer or the configuration, never from the
// system resolver, and pass them through base/special_addr.hpp's guard
// first. Worker only; no I/O.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "base/net.hpp"

namespace ppolicy {

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
  std::string str() const;  // "192.0.2.1:43", "[2001:db8::1]:43"
};

// IPv4 (and IPv4-mapped) addresses give an AF_INET address, others AF_INET6.
SockAddr sockaddr_of(const IpAddress& ip, uint16_t port);

}  // namespace ppolicy
