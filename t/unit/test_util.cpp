// SPDX-License-Identifier: GPL-2.0-or-later
// util/strings and util/net.
#include <boost/test/unit_test.hpp>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "base/net.hpp"
#include "base/strings.hpp"
#include "base/value.hpp"

using namespace ppolicy;

BOOST_AUTO_TEST_SUITE(util)

// The per-request formatters must write what snprintf wrote before them:
// log lines, saved _time attributes and DOS info texts are compared byte by
// byte by the integration tests and by whoever parses the logs.
namespace {
// snprintf with "%g" (precision -1) or "%.<precision>f".
std::string printf_text(int precision, double v) {
  char b[400];
  if (precision < 0)
    std::snprintf(b, sizeof b, "%g", v);
  else
    std::snprintf(b, sizeof b, "%.*f", precision, v);
  return b;
}

std::vector<double> format_samples() {
  std::vector<double> v = {
      0.0,        -0.0,         1.0,          -1.0,     0.5,      0.05,      0.0005,    0.00049999,
      0.0015,     0.0025,       0.05,         0.15,     0.25,     0.35,      0.45,      1.25,
      2.5,        2.55,         9.95,         99.95,    999.9995, 0.1,       0.2,       0.3,
      1.0 / 3,    2.0 / 3,      1e6,          999999.5, 999999.4, 1234567.0, 1e-4,      1e-5,
      0.0001234,  123456.0,     1234567.89,   1e15,     1e16,     1e21,      1e300,     DBL_MAX,
      DBL_MIN,    DBL_TRUE_MIN, 4294967295.0, 100000.0, 99999.95, 0.001,     0.0009995, 12.0005,
      1000.0 / 3, 65.4321};
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> ms(0, 2000), count(0, 1e6);
  std::uniform_int_distribution<long long> thousandths(0, 200000000);
  for (int i = 0; i < 20000; ++i) {
    v.push_back(ms(rng));
    v.push_back(count(rng));
    v.push_back(static_cast<double>(thousandths(rng)) / 1000.0);  // DOS counts
    v.push_back(std::ldexp(ms(rng), static_cast<int>(rng() % 80) - 40));
    // Exact binary values with few bits (k / 2^n): ties at one to three
    // decimals (2.25, 0.125, 0.0625), which printf rounds to even.
    v.push_back(std::ldexp(static_cast<double>(rng() % 100000), -static_cast<int>(rng() % 12)));
  }
  v.push_back(0.0);  // and -0.0 below: "-0.0"
  for (double w : {1.0, 7.0, 999999.0, 999999.0000001, 12345.0, 100000.0})
    v.push_back(w);  // whole numbers (append_g prints them as integers)
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(number_appends_match_snprintf) {
  int checked = 0;
  for (double x : format_samples()) {
    for (double v : {x, -x}) {
      std::string g, f1, f2, f3;
      append_g(g, v);
      append_fixed(f1, v, 1);
      append_fixed(f2, v, 2);
      append_fixed(f3, v, 3);
      BOOST_TEST(g == printf_text(-1, v));
      BOOST_TEST(f1 == printf_text(1, v));
      BOOST_TEST(f2 == printf_text(2, v));
      BOOST_TEST(f3 == printf_text(3, v));
      ++checked;
    }
  }
  BOOST_TEST(checked > 80000);
  for (double v : {HUGE_VAL, -HUGE_VAL}) {
    std::string g, f;
    append_g(g, v);
    append_fixed(f, v, 3);
    BOOST_TEST(g == printf_text(-1, v));
    BOOST_TEST(f == printf_text(3, v));
  }
  // Appends keep what is there.
  std::string s = "time=";
  append_fixed(s, 2.25, 1);
  BOOST_TEST(s == "time=2.2");  // printf rounds the binary value: 2.25 is exact, to even
  for (long long i : {0LL, 1LL, -1LL, 42LL, -1000LL, LLONG_MAX, LLONG_MIN}) {
    std::string a;
    append_int(a, i);
    BOOST_TEST(a == format("%lld", i));
  }
  for (unsigned long long u : {0ULL, 7ULL, 1000000000ULL, ULLONG_MAX}) {
    std::string a = "x";
    append_uint(a, u);
    BOOST_TEST(a == format("x%llu", u));
  }
}

namespace {
// log_quote as it was written with snprintf, the reference for the append.
std::string old_log_quote(std::string_view s, size_t max) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (r.size() >= max) {
      r += "...";
      break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\')
      r += static_cast<char>(c);
    else
      r += format("\\x%02x", c);
  }
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(log_quote_matches_the_printf_version) {
  std::mt19937 rng(17);
  const char alphabet[] = "ab\\\x01\n\x7f\xff\xc3\xa9 <>[]=\"";
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 40, 'a');
    for (char& c : s)
      c = rng() % 3 ? static_cast<char>('a' + rng() % 26) : alphabet[rng() % (sizeof alphabet - 1)];
    size_t max = rng() % 45;
    std::string appended = "prefix ";
    log_quote_append(appended, s, max);
    BOOST_TEST(log_quote(s, max) == old_log_quote(s, max));
    BOOST_TEST(appended == "prefix " + old_log_quote(s, max));
  }
  // Every byte value at every place around the eight-byte steps of the
  // printable-run scan, in a line that is otherwise printable.
  for (int c = 0; c < 256; ++c)
    for (size_t at = 0; at < 19; ++at) {
      std::string s(19, 'x');
      s[at] = static_cast<char>(c);
      BOOST_TEST(log_quote(s, 100) == old_log_quote(s, 100), "byte " << c << " at " << at);
    }
  BOOST_TEST(log_quote(std::string_view("a\0b", 3)) == "a\\x00b");
  BOOST_TEST(log_quote("abcdef", 3) == "abc...");
  BOOST_TEST(log_quote("abc", 3) == "abc");
}

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
  // ASCII goes eight bytes per step: a bad byte is found at every offset,
  // before, inside and after the 16- and 8-byte steps, and good sequences between them.
  for (size_t at = 0; at < 40; ++at) {
    std::string t(40, 'a');
    BOOST_TEST(plain_ascii(t));
    t[at] = '\0';
    BOOST_TEST(!plain_ascii(t), "NUL at " << at);
    t[at] = '\x80';
    BOOST_TEST(!plain_ascii(t), "0x80 at " << at);
    t[at] = '\x01';
    BOOST_TEST(plain_ascii(t), "0x01 at " << at);
    std::string s(40, 'a');
    s[at] = '\xff';
    BOOST_TEST(!valid_utf8(s), "0xff at " << at);
    s[at] = '\x7f';
    BOOST_TEST(valid_utf8(s), "0x7f at " << at);
    if (at + 2 <= s.size()) {
      s.replace(at, 2, "\xc3\xa9");
      BOOST_TEST(valid_utf8(s), "U+00E9 at " << at);
      s[at + 1] = 'a';  // the lead byte without its continuation
      BOOST_TEST(!valid_utf8(s), "lone lead byte at " << at);
    }
  }
}

BOOST_AUTO_TEST_CASE(ip_addresses) {
  auto a = IpAddress::parse("192.0.2.77");
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->v4);
  BOOST_TEST(a->str() == "192.0.2.77");
  BOOST_TEST(a->masked(24).str() == "192.0.2.0");
  // Membership compares the prefix's whole bytes, then the bits of the
  // last one (IPv4, IPv6, every prefix length at the edges).
  auto in = [](const char* net, const char* addr) {
    auto n = IpNetwork::parse(net);
    auto x = IpAddress::parse(addr);
    BOOST_TEST_REQUIRE((n && x), net << " " << addr);
    return n->contains(*x);
  };
  BOOST_TEST(in("172.16.0.0/12", "172.31.255.255"));
  BOOST_TEST(!in("172.16.0.0/12", "172.32.0.0"));
  BOOST_TEST(!in("172.16.0.0/12", "172.15.255.255"));
  BOOST_TEST(in("192.0.2.77/32", "192.0.2.77"));
  BOOST_TEST(!in("192.0.2.77/32", "192.0.2.76"));
  BOOST_TEST(in("0.0.0.0/0", "203.0.113.9"));
  BOOST_TEST(!in("0.0.0.0/0", "2001:db8::1"));
  BOOST_TEST(in("10.0.0.0/8", "10.200.1.1"));
  BOOST_TEST(!in("10.0.0.0/8", "11.0.0.0"));
  BOOST_TEST(in("fc00::/7", "fdff::1"));
  BOOST_TEST(!in("fc00::/7", "fe00::1"));
  BOOST_TEST(in("2001:db8::/33", "2001:db8:7fff::1"));
  BOOST_TEST(!in("2001:db8::/33", "2001:db8:8000::1"));
  BOOST_TEST(in("::/0", "::1"));
  BOOST_TEST(!in("::1/128", "::2"));
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
  BOOST_TEST(IpAddress::parse("::ffff:192.0.2.1")->str() == "192.0.2.1");
  // IPv4 text is written by hand: the same as inet_ntop for every octet.
  for (unsigned o = 0; o < 256; ++o) {
    std::string text =
        std::to_string(o) + "." + std::to_string(255 - o) + ".0." + std::to_string(o * 7 % 256);
    auto x = IpAddress::parse(text);
    BOOST_TEST_REQUIRE(x.has_value());
    BOOST_TEST(x->str() == text);
  }
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
