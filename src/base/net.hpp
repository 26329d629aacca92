// SPDX-License-Identifier: GPL-2.0-or-later
// IPv4/IPv6 addresses and CIDR networks, as the policy language, Greylist
// (prefix reduction) and the DNS modules (reverse names) need them.
// IPv4 is kept as an IPv4-mapped IPv6 address internally so one code path
// serves both; text output gives back the familiar form.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
  bool v4 = false;

  static std::optional<IpAddress> parse(std::string_view text);
  std::string str() const;
  // Keep the first `bits` bits of the address (IPv4: of the 32-bit address).
  IpAddress masked(int bits) const;
  // "4.3.2.1" for 1.2.3.4; RFC 5782 nibble form "b.a.9.8....1.0.0.2" for IPv6.
  std::string reverse_labels() const;
  // Reverse-lookup name: ...in-addr.arpa / ...ip6.arpa
  std::string ptr_name() const;
  bool operator==(const IpAddress&) const = default;
};

struct IpNetwork {
  IpAddress base;
  int bits = 0;  // prefix length in the address family's own terms

  static std::optional<IpNetwork> parse(
      std::string_view text);  // "a.b.c.d/n", "x::/n", plain address
  bool contains(const IpAddress& a) const;
  std::string str() const;
};

// A set of networks with a linear membership test (sets are small: lists in
// the policy, "listed" ranges of a DNSBL).
struct NetSet {
  std::vector<IpNetwork> nets;
  bool contains(const IpAddress& a) const;
  bool contains(std::string_view text) const;
};

}  // namespace ppolicy
