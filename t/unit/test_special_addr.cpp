// SPDX-License-Identifier: GPL-2.0-or-later
// base/special_addr: the outbound guard's table. Every range of the IANA
// special-purpose registries the guard knows, at its first and last address
// (in) and the addresses just outside (out), both families; IPv4-mapped
// IPv6 addresses judged by their IPv4 address; what allowPrivate admits.
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "base/special_addr.hpp"

using namespace ppolicy;

namespace {

enum Want { G, P, N };  // globally reachable, non_global, never

Want use_of(const IpAddress& ip) {
  const SpecialRange* r = special_range(ip);
  if (!r) return G;
  return r->use == AddrUse::never ? N : P;
}

Want use_of(const char* text) {
  auto ip = IpAddress::parse(text);
  BOOST_TEST_REQUIRE(ip.has_value());
  return use_of(*ip);
}

// ::ffff:a.b.c.d as an IPv6 value whose v4 flag is not set (the guard must
// not trust the flag).
IpAddress mapped_unflagged(const char* v4) {
  IpAddress ip = *IpAddress::parse(v4);
  ip.v4 = false;
  return ip;
}

// The first and last address of a prefix.
std::pair<IpAddress, IpAddress> bounds(const char* prefix) {
  IpNetwork n = *IpNetwork::parse(prefix);
  IpAddress first = n.base, last = n.base;
  int host_bits = (n.base.v4 ? 32 : 128) - n.bits;
  for (int i = 0; i < host_bits; ++i)
    last.bytes[15 - i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  return {first, last};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(special_addr)

BOOST_AUTO_TEST_CASE(ipv4_boundaries) {
  const std::pair<const char*, Want> cases[] = {
      {"0.0.0.0", N},         {"0.255.255.255", N},   {"1.0.0.0", G},      {"9.255.255.255", G},
      {"10.0.0.0", P},        {"10.255.255.255", P},  {"11.0.0.0", G},     {"100.63.255.255", G},
      {"100.64.0.0", P},      {"100.127.255.255", P}, {"100.128.0.0", G},  {"126.255.255.255", G},
      {"127.0.0.0", P},       {"127.255.255.255", P}, {"128.0.0.0", G},    {"169.253.255.255", G},
      {"169.254.0.0", P},     {"169.254.255.255", P}, {"169.255.0.0", G},  {"172.15.255.255", G},
      {"172.16.0.0", P},      {"172.31.255.255", P},  {"172.32.0.0", G},   {"191.255.255.255", G},
      {"192.0.0.0", P},       {"192.0.0.255", P},     {"192.0.1.0", G},    {"192.0.1.255", G},
      {"192.0.2.0", P},       {"192.0.2.255", P},     {"192.0.3.0", G},    {"192.88.98.255", G},
      {"192.88.99.0", P},     {"192.88.99.255", P},   {"192.88.100.0", G}, {"192.167.255.255", G},
      {"192.168.0.0", P},     {"192.168.255.255", P}, {"192.169.0.0", G},  {"198.17.255.255", G},
      {"198.18.0.0", P},      {"198.19.255.255", P},  {"198.20.0.0", G},   {"198.51.99.255", G},
      {"198.51.100.0", P},    {"198.51.100.255", P},  {"198.51.101.0", G}, {"203.0.112.255", G},
      {"203.0.113.0", P},     {"203.0.113.255", P},   {"203.0.114.0", G},  {"223.255.255.255", G},
      {"224.0.0.0", N},       {"239.255.255.255", N}, {"240.0.0.0", N},    {"255.255.255.254", N},
      {"255.255.255.255", N}, {"8.8.8.8", G},         {"193.0.6.139", G},
  };
  for (const auto& [text, want] : cases) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(use_of(text) == want);
  }
}

BOOST_AUTO_TEST_CASE(ipv6_boundaries) {
  const std::pair<const char*, Want> cases[] = {
      {"::", N},
      {"::1", P},
      {"::2", N},  // ::/8, reserved (IPv4-compatible)
      {"::7f00:1", N},
      {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", N},
      {"64:ff9b::", P},
      {"64:ff9b::ffff:ffff", P},
      {"64:ff9b::1:0:0", N},
      {"64:ff9b:1::", P},
      {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", P},
      {"64:ff9b:2::", N},
      {"100::", N},
      {"100::ffff:ffff:ffff:ffff", N},
      {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", N},
      {"2000::", G},
      {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G},
      {"2001::", P},  // Teredo
      {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"2001:1::", P},  // 2001::/23
      {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"2001:200::", G},
      {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", G},
      {"2001:db8::", P},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"2001:db9::", G},
      {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G},
      {"2002::", P},
      {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"2003::", G},
      {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G},
      {"3fff::", P},
      {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"3fff:1000::", G},
      {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G},
      {"4000::", N},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", N},
      {"fc00::", P},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"fe00::", N},
      {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", N},
      {"fe80::", P},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", P},
      {"fec0::", N},
      {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", N},
      {"ff00::", N},
      {"ff02::1", N},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", N},
      {"2a00:1450:4001::1", G},
  };
  for (const auto& [text, want] : cases) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(use_of(text) == want);
  }
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_is_judged_as_ipv4) {
  // ::ffff:0:0/96 is not a range of its own: each address is its IPv4
  // address, with or without the v4 flag.
  const std::pair<const char*, Want> cases[] = {
      {"::ffff:127.0.0.1", P}, {"::ffff:10.1.2.3", P}, {"::ffff:0.0.0.0", N},
      {"::ffff:224.0.0.1", N}, {"::ffff:8.8.8.8", G},  {"::ffff:255.255.255.255", N},
  };
  for (const auto& [text, want] : cases) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(use_of(text) == want);
    BOOST_TEST(use_of(mapped_unflagged(text + 7)) == want);
  }
  // Just outside the mapped block: ::/8 (reserved), never usable.
  BOOST_TEST(use_of("::fffe:ffff:ffff") == N);
  BOOST_TEST(use_of("::1:0:0:0") == N);
}

BOOST_AUTO_TEST_CASE(every_row_holds_its_first_and_last_address) {
  size_t v4 = 0, v6 = 0;
  for (const auto& r : special_ranges()) {
    BOOST_TEST_INFO(r.prefix);
    BOOST_TEST_REQUIRE(IpNetwork::parse(r.prefix).has_value());
    auto [first, last] = bounds(r.prefix);
    BOOST_TEST(special_range(first) != nullptr);
    BOOST_TEST(special_range(last) != nullptr);
    BOOST_TEST(!outbound_allowed(first, false, nullptr));
    BOOST_TEST(!outbound_allowed(last, false, nullptr));
    (first.v4 ? v4 : v6)++;
  }
  BOOST_TEST(v4 == 16u);
  BOOST_TEST(v6 == 27u);
}

BOOST_AUTO_TEST_CASE(allow_private_admits_non_global_only) {
  std::string why;
  BOOST_TEST(!outbound_allowed(*IpAddress::parse("10.1.2.3"), false, &why));
  BOOST_TEST(why == "10.1.2.3 is private-use (RFC 1918)");
  BOOST_TEST(outbound_allowed(*IpAddress::parse("10.1.2.3"), true, &why));
  for (const char* s : {"127.0.0.1", "::1", "192.0.2.1", "fd00::1", "2002:7f00:1::"}) {
    BOOST_TEST_INFO(s);
    BOOST_TEST(!outbound_allowed(*IpAddress::parse(s), false, nullptr));
    BOOST_TEST(outbound_allowed(*IpAddress::parse(s), true, nullptr));
  }
  for (const char* s : {"0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "255.255.255.255", "ff02::1",
                        "::ffff:0.0.0.0", "100::1", "fec0::1"}) {
    BOOST_TEST_INFO(s);
    BOOST_TEST(!outbound_allowed(*IpAddress::parse(s), true, &why));
  }
  BOOST_TEST(!outbound_allowed(mapped_unflagged("0.0.0.0"), true, &why));
  BOOST_TEST(why == "::ffff:0.0.0.0 is \"this network\" (RFC 791)");
  BOOST_TEST(outbound_allowed(*IpAddress::parse("193.0.6.139"), false, nullptr));
  BOOST_TEST(outbound_allowed(*IpAddress::parse("2001:67c:2e8:22::c100:68b"), false, nullptr));
}

BOOST_AUTO_TEST_SUITE_END()
