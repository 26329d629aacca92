// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/special_addr.hpp"

#include <cstring>
#include <vector>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

constexpr AddrUse N = AddrUse::never;
constexpr AddrUse P = AddrUse::non_global;

// IANA IPv4 and IPv6 Special-Purpose Address Registries (rows whose
// "Globally Reachable" is False or N/A), the multicast and reserved blocks
// of the address-space registries. Lookup takes the first row that holds
// the address, so a row inside a larger one comes first.
const SpecialRange k_ranges[] = {
    {"0.0.0.0/8", N, "\"this network\" (RFC 791)"},
    {"10.0.0.0/8", P, "private-use (RFC 1918)"},
    {"100.64.0.0/10", P, "shared address space (RFC 6598)"},
    {"127.0.0.0/8", P, "loopback (RFC 1122)"},
    {"169.254.0.0/16", P, "link-local (RFC 3927)"},
    {"172.16.0.0/12", P, "private-use (RFC 1918)"},
    {"192.0.0.0/24", P, "IETF protocol assignments (RFC 6890)"},
    {"192.0.2.0/24", P, "documentation TEST-NET-1 (RFC 5737)", true},
    {"192.88.99.0/24", P, "6to4 relay anycast (RFC 7526)"},
    {"192.168.0.0/16", P, "private-use (RFC 1918)"},
    {"198.18.0.0/15", P, "benchmarking (RFC 2544)"},
    {"198.51.100.0/24", P, "documentation TEST-NET-2 (RFC 5737)", true},
    {"203.0.113.0/24", P, "documentation TEST-NET-3 (RFC 5737)", true},
    {"224.0.0.0/4", N, "multicast (RFC 5771)"},
    {"255.255.255.255/32", N, "limited broadcast (RFC 919)"},
    {"240.0.0.0/4", N, "reserved (RFC 1112)"},
    // IPv6. ::ffff:0:0/96 (IPv4-mapped) never gets here: see special_range().
    {"::/128", N, "unspecified address (RFC 4291)"},
    {"::1/128", P, "loopback (RFC 4291)"},
    {"64:ff9b::/96", P, "NAT64 well-known prefix (RFC 6052)"},
    {"64:ff9b:1::/48", P, "local-use NAT64 (RFC 8215)"},
    {"::/8", N, "reserved: IPv4-compatible and IPv4-translated (RFC 4291, RFC 2765)"},
    {"100::/64", N, "discard-only (RFC 6666)"},
    {"2001::/32", P, "Teredo (RFC 4380)"},
    {"2001:db8::/32", P, "documentation (RFC 3849)", true},
    {"2001::/23", P, "IETF protocol assignments (RFC 2928)"},
    {"2002::/16", P, "6to4 (RFC 3056)"},
    {"3fff::/20", P, "documentation (RFC 9637)", true},
    {"fc00::/7", P, "unique-local (RFC 4193)"},
    {"fe80::/10", P, "link-local (RFC 4291)"},
    {"ff00::/8", N, "multicast (RFC 4291)"},
    // The rest outside 2000::/3 is not assigned for global unicast (IANA
    // IPv6 address space registry).
    {"100::/8", N, "reserved by the IETF (RFC 4291)"},
    {"200::/7", N, "reserved by the IETF (RFC 4048)"},
    {"400::/6", N, "reserved by the IETF (RFC 4291)"},
    {"800::/5", N, "reserved by the IETF (RFC 4291)"},
    {"1000::/4", N, "reserved by the IETF (RFC 4291)"},
    {"4000::/2", N, "reserved by the IETF (RFC 4291)"},
    {"8000::/2", N, "reserved by the IETF (RFC 4291)"},
    {"c000::/3", N, "reserved by the IETF (RFC 4291)"},
    {"e000::/4", N, "reserved by the IETF (RFC 4291)"},
    {"f000::/5", N, "reserved by the IETF (RFC 4291)"},
    {"f800::/6", N, "reserved by the IETF (RFC 4291)"},
    {"fe00::/9", N, "reserved by the IETF (RFC 4291)"},
    {"fec0::/10", N, "deprecated site-local (RFC 3879)"},
};

// The rows as networks, parsed once (the table is constant).
const std::vector<IpNetwork>& networks() {
  static const std::vector<IpNetwork> nets = [] {
    std::vector<IpNetwork> v;
    for (const auto& r : k_ranges)
      v.push_back(*IpNetwork::parse(r.prefix));
    return v;
  }();
  return nets;
}

}  // namespace

std::span<const SpecialRange> special_ranges() {
  return k_ranges;
}

const SpecialRange* special_range(const IpAddress& ip_in) {
  IpAddress ip = ip_in;
  // ::ffff:a.b.c.d reaches a.b.c.d: judge the IPv4 address, whatever flag
  // the caller's value carries.
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ip.v4 = std::memcmp(ip.bytes.data(), mapped, 12) == 0;
  const auto& nets = networks();
  for (size_t i = 0; i < nets.size(); ++i)
    if (nets[i].contains(ip)) return &k_ranges[i];
  return nullptr;
}

bool outbound_allowed(const IpAddress& ip, bool allow_private, std::string* why) {
  const SpecialRange* r = special_range(ip);
  if (!r || (allow_private && r->use == AddrUse::non_global)) return true;
  if (why) *why = format("%s is %s", ip.str().c_str(), r->name);
  return false;
}

}  // namespace ppolicy
