// SPDX-License-Identifier: GPL-2.0-or-later
// util/strings and util/net.
#include <boost/test/unit_test.hpp>
#include <chrono>

#include "base/net.hpp"
#include "base/strings.hpp"
#include "base/value.hpp"

using namespace ppolicy;

BOOST_AUTO_TEST_SUITE(util)

BOOST_AUTO_TEST_CASE(durations_and_sizes) {
  struct {
    const char* in;
    long long want;  // -1: invalid
  } d[] = {{"600", 600}, {"90s", 90}, {"10m", 600}, {"2h", 7200}, {"1d", 86400}, {"1w", 604800},
           {"", -1},     {"x", -1},   {"-5", -1},   {"5x", -1},   {" 7 ", 7}};
  for (const auto& c : d) {
    auto v = parse_duration(c.in);
    BOOST_TEST_INFO(c.in);
    BOOST_TEST((v ? *v : -1) == c.want);
  }
  BOOST_TEST(*parse_size("64k") == 65536);
  BOOST_TEST(*parse_size("32M") == 32LL * 1024 * 1024);
  BOOST_TEST(!parse_size("1T"));
  BOOST_TEST(*parse_millis("250ms") == 250);
  BOOST_TEST(*parse_millis("2s") == 2000);
  BOOST_TEST(*parse_millis("3") == 3000);
  BOOST_TEST(*parse_bool("Yes") == true);
  BOOST_TEST(*parse_bool("off") == false);
  BOOST_TEST(!parse_bool("maybe"));
}

BOOST_AUTO_TEST_CASE(addresses) {
  BOOST_TEST(address_domain("a@b@Example.ORG") == "Example.ORG");
  BOOST_TEST(address_local("a@b@example.org") == "a@b");
  BOOST_TEST(address_domain("postmaster") == "");
  BOOST_TEST(split(" a, b ,,c  d", ", ") == std::vector<std::string>({"a", "b", "c", "d"}));
}

BOOST_AUTO_TEST_CASE(utf8) {
  BOOST_TEST(valid_utf8("plain ascii"));
  BOOST_TEST(valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  BOOST_TEST(!valid_utf8("\xff"));
  BOOST_TEST(!valid_utf8("\xc0\xaf"));      // overlong "/"
  BOOST_TEST(!valid_utf8("\xed\xa0\x80"));  // surrogate
  BOOST_TEST(!valid_utf8("\xe2\x82"));      // truncated
}

BOOST_AUTO_TEST_CASE(ip_addresses) {
  auto a = IpAddress::parse("192.0.2.77");
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->v4);
  BOOST_TEST(a->str() == "192.0.2.77");
  BOOST_TEST(a->masked(24).str() == "192.0.2.0");
  BOOST_TEST(a->reverse_labels() == "77.2.0.192");
  BOOST_TEST(a->ptr_name() == "77.2.0.192.in-addr.arpa");
  auto b = IpAddress::parse("2001:db8::66");
  BOOST_TEST_REQUIRE(b.has_value());
  BOOST_TEST(!b->v4);
  // RFC 5782 section 2.4 nibble form.
  BOOST_TEST(b->reverse_labels() ==
             "6.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
  BOOST_TEST(b->masked(64).str() == "2001:db8::");
  BOOST_TEST(IpAddress::parse("::ffff:192.0.2.1")->v4);
  BOOST_TEST(IpAddress::parse("[2001:db8::1]").has_value());
  BOOST_TEST(IpAddress::parse("IPv6:2001:db8::1").has_value());
  BOOST_TEST(!IpAddress::parse("192.0.2").has_value());
  BOOST_TEST(!IpAddress::parse("example.org").has_value());
}

BOOST_AUTO_TEST_CASE(networks) {
  NetSet s;
  s.nets.push_back(*IpNetwork::parse("192.0.2.0/24"));
  s.nets.push_back(*IpNetwork::parse("2001:db8::/32"));
  BOOST_TEST(s.contains("192.0.2.200"));
  BOOST_TEST(!s.contains("192.0.3.1"));
  BOOST_TEST(s.contains("2001:db8:ffff::1"));
  BOOST_TEST(!s.contains("2001:db9::1"));
  BOOST_TEST(!s.contains("not an address"));
  BOOST_TEST(!IpNetwork::parse("192.0.2.0/33").has_value());
  BOOST_TEST(IpNetwork::parse("10.1.2.3/8")->str() == "10.0.0.0/8");
}

// Issue 13 §6: a pathological pattern on an 8 kB value took ~200 ms (glibc's
// matcher is quadratic in the length); only the first 1024 bytes are
// searched, and '$' does not match at the cut.
BOOST_AUTO_TEST_CASE(regex_search_is_bounded) {
  Regex slow("(a|aa)*b", false);
  std::string v(8192, 'a');
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!slow.search(v));
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("(a|aa)*b on 8 kB: " << ms << " ms");
  BOOST_TEST(ms < 60.0);
  Regex b("b", false), whole("^a+$", false), start("^a{10}", false);
  BOOST_TEST(b.search(std::string(1023, 'a') + "b"));
  BOOST_TEST(!b.search(std::string(1024, 'a') + "b"));  // past the cut
  BOOST_TEST(whole.search(std::string(1024, 'a')));
  BOOST_TEST(!whole.search(std::string(1025, 'a')));  // '$' is not at the cut
  BOOST_TEST(!whole.search(std::string(1024, 'a') + "!"));
  BOOST_TEST(start.search(std::string(5000, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()
