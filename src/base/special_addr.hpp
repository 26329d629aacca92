// SPDX-License-Identifier: GPL-2.0-or-later
// Where may ppolicyd open a connection? The one outbound guard for
// addresses that request data or remote answers choose: Verification's mail
// hosts (a sender's domain picks them) and Whois servers and the referrals
// their answers carry. One table, built from the IANA special-purpose
// address registries (IPv4: RFC 6890 and its updates; IPv6: likewise, plus
// the IPv6 address-space registry's reserved blocks and the multicast
// blocks of both families). An IPv4-mapped IPv6 address (::ffff:0:0/96) is
// judged by the IPv4 address it carries, because connecting to it reaches
// that address.
//
// Each row says how the range may be used:
//   never       not a unicast destination at all (this network 0/8, ::,
//               multicast, broadcast, reserved): refused always (connecting
//               to 0.0.0.0 reaches the local host, for one);
//   non_global  unicast but not globally reachable (loopback, private,
//               link-local, shared, documentation, benchmarking, NAT64 and
//               6to4/Teredo, which embed an IPv4 address): refused unless
//               the module's allowPrivate says otherwise (tests use it to
//               reach servers on loopback).
// Ranges the registries mark globally reachable (AS112, AMT anycast) are not
// listed. Used by the worker; no I/O, no state.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/net.hpp"

namespace ppolicy {

enum class AddrUse : uint8_t { never, non_global };

struct SpecialRange {
  const char* prefix;  // "10.0.0.0/8"
  AddrUse use;
  const char* name;  // "private-use (RFC 1918)"
  bool documentation = false;
};

// Every row, in the order they are tried (more specific rows first).
std::span<const SpecialRange> special_ranges();

// The row holding `ip`, or null for a globally reachable unicast address.
const SpecialRange* special_range(const IpAddress& ip);

// The outbound guard: may a connection go to `ip`? `allow_private` admits
// the non_global rows, never the `never` ones. When refused, `why` says
// which range ("10.1.2.3 is private-use (RFC 1918)").
bool outbound_allowed(const IpAddress& ip, bool allow_private, std::string* why);

}  // namespace ppolicy
