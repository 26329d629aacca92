// SPDX-License-Identifier: GPL-2.0-or-later
// net/: p0f wire formats, LDAP filter escaping and URI checks, whois answers,
// deadline-bounded socket I/O.
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>

#include "net/ldap_client.hpp"
#include "net/p0f_proto.hpp"
#include "net/socket_io.hpp"
#include "net/whois_text.hpp"

using namespace ppolicy;

namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

template <class T>
T at(const std::string& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

template <class T>
void put(std::string& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

std::string p0f3_reply(uint32_t status) {
  std::string r(k_p0f3_reply_size, '\0');
  put<uint32_t>(r, 0, k_p0f3_reply_magic);
  put<uint32_t>(r, 4, status);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(net)

BOOST_AUTO_TEST_CASE(p0f3_query_layout) {
  std::string q = p0f3_query(ip("192.0.2.10"));
  BOOST_TEST(q.size() == 21u);
  BOOST_TEST(at<uint32_t>(q, 0) == 0x50304601u);
  BOOST_TEST(q[4] == 4);
  BOOST_TEST(std::string(q, 5, 4) == std::string("\xc0\x00\x02\x0a", 4));
  BOOST_TEST(std::string(q, 9, 12) == std::string(12, '\0'));  // IPv4 left-aligned
  q = p0f3_query(ip("2001:db8::10"));
  BOOST_TEST(q[4] == 6);
  BOOST_TEST(std::string(q, 5, 4) == std::string("\x20\x01\x0d\xb8", 4));
  BOOST_TEST(q[20] == 0x10);
}

BOOST_AUTO_TEST_CASE(p0f3_reply_parsing) {
  P0fHost h;
  std::string why;
  std::string r = p0f3_reply(0x10);
  put<uint32_t>(r, 16, 7);     // total_conn
  put<uint32_t>(r, 20, 125);   // uptime_min
  put<uint32_t>(r, 24, 49);    // up_mod_days: uptime known
  put<uint32_t>(r, 28, 1234);  // last_nat
  put<int16_t>(r, 36, 12);     // distance
  r[39] = 3;                   // fuzzy | generic
  std::memcpy(r.data() + 40, "Windows", 7);
  std::memcpy(r.data() + 72, "7 or 8\x01", 7);  // control characters are dropped
  std::memcpy(r.data() + 168, "DSL", 3);
  BOOST_TEST(p0f3_parse(r, h, &why), why);
  BOOST_TEST((h.status == P0fStatus::ok));
  BOOST_TEST(h.os == "Windows");
  BOOST_TEST(h.flavor == "7 or 8");
  BOOST_TEST(h.link == "DSL");
  BOOST_TEST(h.distance == 12);
  BOOST_TEST(h.uptime_min == 125);
  BOOST_TEST(h.total_conn == 7);
  BOOST_TEST(h.nat);
  BOOST_TEST(h.fuzzy);
  BOOST_TEST(h.generic);
  put<uint32_t>(r, 24, 0);  // no wrap-around period: uptime unknown
  BOOST_TEST(p0f3_parse(r, h, &why));
  BOOST_TEST(h.uptime_min == -1);

  BOOST_TEST(p0f3_parse(p0f3_reply(0x20), h, &why));
  BOOST_TEST((h.status == P0fStatus::no_match));
  BOOST_TEST(p0f3_parse(p0f3_reply(0x00), h, &why));
  BOOST_TEST((h.status == P0fStatus::bad_query));
  BOOST_TEST(!p0f3_parse(p0f3_reply(0x30), h, &why));
  BOOST_TEST(why == "unknown p0f status 0x30");
  BOOST_TEST(!p0f3_parse(p0f3_reply(0x10).substr(0, 200), h, &why));
  BOOST_TEST(why == "p0f reply of 200 bytes");
  std::string bad = p0f3_reply(0x10);
  put<uint32_t>(bad, 0, 0x0DEFACED);
  BOOST_TEST(!p0f3_parse(bad, h, &why));
}

BOOST_AUTO_TEST_CASE(p0f2_query_and_reply) {
  IpAddress dst = ip("127.0.0.25");
  std::string q = p0f2_query(ip("192.0.2.10"), &dst, 2525, true, 0x12345678);
  BOOST_TEST(q.size() == 24u);
  BOOST_TEST(at<uint32_t>(q, 0) == 0x0DEFACEDu);
  BOOST_TEST(q[4] == 1);
  BOOST_TEST(at<uint32_t>(q, 8) == 0x12345678u);
  BOOST_TEST(std::string(q, 12, 4) == std::string("\xc0\x00\x02\x0a", 4));
  BOOST_TEST(std::string(q, 16, 4) == std::string("\x7f\x00\x00\x19", 4));
  BOOST_TEST(at<uint16_t>(q, 20) == 0);
  BOOST_TEST(at<uint16_t>(q, 22) == 2525);
  q = p0f2_query(ip("192.0.2.10"), nullptr, 25, false, 7);
  BOOST_TEST(q.size() == 20u);
  BOOST_TEST(at<uint32_t>(q, 4) == 7u);
  BOOST_TEST(at<uint32_t>(q, 12) == 0u);  // destination 0.0.0.0

  std::string r(k_p0f2_reply_size, '\0');
  put<uint32_t>(r, 0, k_p0f2_magic);
  put<uint32_t>(r, 4, 7);
  std::memcpy(r.data() + 9, "FreeBSD", 7);
  std::memcpy(r.data() + 29, "6.x", 3);
  r[69] = 5;
  r[131] = 1;
  put<int32_t>(r, 140, 30);
  P0fHost h;
  std::string why;
  BOOST_TEST(p0f2_parse(r, 7, h, &why), why);
  BOOST_TEST(h.os == "FreeBSD");
  BOOST_TEST(h.flavor == "6.x");
  BOOST_TEST(h.distance == 5);
  BOOST_TEST(h.nat);
  BOOST_TEST(h.uptime_min == 1800);
  BOOST_TEST(!p0f2_parse(r, 8, h, &why));  // another query's answer
  r[8] = 2;
  BOOST_TEST(p0f2_parse(r, 7, h, &why));
  BOOST_TEST((h.status == P0fStatus::no_match));
}

BOOST_AUTO_TEST_CASE(p0f_versions_are_numbers) {
  BOOST_TEST(*parse_p0f_version("2.0.10") > *parse_p0f_version("2.0.8"));
  BOOST_TEST(*parse_p0f_version("3") > *parse_p0f_version("2.0.8"));
  BOOST_TEST(*parse_p0f_version("2.0.5") < (std::vector<int>{2, 0, 8}));
  BOOST_TEST(!parse_p0f_version("2..8"));
  BOOST_TEST(!parse_p0f_version("3.09b"));
  BOOST_TEST(!parse_p0f_version(""));
  BOOST_TEST(!parse_p0f_version("2.0."));
}

BOOST_AUTO_TEST_CASE(ldap_filter_escaping) {
  BOOST_TEST(ldap_filter_with("(mail=%m)", "alice@example.org") == "(mail=alice@example.org)");
  BOOST_TEST(ldap_filter_with("(mail=%m)", "*)(uid=*") == "(mail=\\2A\\29\\28uid=\\2A)");
  BOOST_TEST(ldap_filter_with("(mail=%m)", "carol*(x)@example.org") ==
             "(mail=carol\\2A\\28x\\29@example.org)");
  BOOST_TEST(ldap_filter_with("(cn=%m)", "a\\b") == "(cn=a\\5Cb)");
  BOOST_TEST(ldap_filter_with("(cn=%m)", std::string("a\0b", 3)) == "(cn=a\\00b)");
  BOOST_TEST(ldap_filter_with("(|(mail=%m)(alias=%m))", "x*") == "(|(mail=x\\2A)(alias=x\\2A))");
  BOOST_TEST(ldap_filter_with("(mail=%m)", "") == "(mail=)");
  BOOST_TEST(ldap_filter_with("(x=%%m%)", "v") == "(x=%v%)");
}

BOOST_AUTO_TEST_CASE(ldap_configuration_checks) {
  BOOST_TEST(ldap_filter_plausible("(mail=%m)"));
  BOOST_TEST(ldap_filter_plausible("(&(objectClass=person)(|(mail=%m)(uid=\\28)))"));
  BOOST_TEST(ldap_filter_plausible("mail=%m"));
  BOOST_TEST(!ldap_filter_plausible("(mail=%m"));
  BOOST_TEST(!ldap_filter_plausible("mail=%m)("));
  BOOST_TEST(!ldap_filter_plausible(""));
  BOOST_TEST(ldap_uri_valid("ldap://127.0.0.1:389/"));
  BOOST_TEST(ldap_uri_valid("ldaps://ldap.example.org"));
  BOOST_TEST(ldap_uri_valid("ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi"));
  BOOST_TEST(!ldap_uri_valid("http://ldap.example.org/"));
  BOOST_TEST(!ldap_uri_valid("ldap.example.org"));
  LdapServerSet a{{"ldap://a/"}, "cn=x", "p"}, b{{"ldap://a/"}, "cn=x", "q"};
  BOOST_TEST(a.key() != b.key());
}

BOOST_AUTO_TEST_CASE(whois_ripe_answer) {
  WhoisRecord r = parse_whois(
      "% This is the RIPE Database query service.\n"
      "% Information related to '193.0.0.0 - 193.0.7.255'\n\n"
      "inetnum:        193.0.0.0 - 193.0.7.255\n"
      "netname:        RIPE-NCC\n"
      "descr:          RIPE Network Coordination Centre\n"
      "org:            ORG-RIEN1-RIPE\n"
      "country:        nl\n\n"
      "organisation:   ORG-RIEN1-RIPE\n"
      "org-name:       Reseaux IP Europeens Network Coordination Centre (RIPE NCC)\n"
      "country:        DE\n");
  BOOST_TEST(r.netname == "RIPE-NCC");
  BOOST_TEST(r.country == "NL");  // the first value: the network's
  BOOST_TEST(r.org == "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)");
  BOOST_TEST(r.range == "193.0.0.0 - 193.0.7.255");
  BOOST_TEST(r.refer_host.empty());
  BOOST_TEST(r.found());
  // Without an organisation object: the description.
  r = parse_whois("inetnum: 10.0.0.0 - 10.0.0.255\nnetname: X\ndescr: Some net\n");
  BOOST_TEST(r.org == "Some net");
}

BOOST_AUTO_TEST_CASE(whois_arin_and_referrals) {
  WhoisRecord r = parse_whois(
      "#\n# ARIN WHOIS data\n#\n\nNetRange:       8.8.8.0 - 8.8.8.255\nCIDR:           8.8.8.0/24\n"
      "NetName:        GOGL\nOrganization:   Google LLC (GOGL)\n\nOrgName:        Google LLC\n"
      "Country:        US\n");
  BOOST_TEST(r.netname == "GOGL");
  BOOST_TEST(r.org == "Google LLC");
  BOOST_TEST(r.country == "US");
  BOOST_TEST(r.range == "8.8.8.0 - 8.8.8.255");
  BOOST_TEST(parse_whois("refer:        whois.ripe.net\n\ninetnum: 193.0.0.0 - 193.255.255.255\n")
                 .refer_host == "whois.ripe.net");
  BOOST_TEST(parse_whois("ReferralServer:  whois://whois.apnic.net\n").refer_host ==
             "whois.apnic.net");
  BOOST_TEST(parse_whois("ReferralServer:  whois://Whois.Lacnic.Net:43/\n").refer_host ==
             "whois.lacnic.net");
  BOOST_TEST(parse_whois("ReferralServer:  rwhois://rwhois.example.net:4321\n").refer_host.empty());
  BOOST_TEST(parse_whois("ReferralServer:  whois://[2001:db8::1]:43\n").refer_host ==
             "2001:db8::1");
  BOOST_TEST(parse_whois("refer: evil host;rm\n").refer_host.empty());
}

BOOST_AUTO_TEST_CASE(whois_nothing_found) {
  WhoisRecord r = parse_whois("% No entries found for the selected source(s).\n");
  BOOST_TEST(r.no_entries);
  BOOST_TEST(!r.found());
  r = parse_whois("inetnum: 0.0.0.0 - 255.255.255.255\nnetname: IANA-BLK\ncountry: EU\n");
  BOOST_TEST(!r.found());
  r = parse_whois(
      "inetnum: 1.0.0.0 - 1.255.255.255\nnetname: NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK\n");
  BOOST_TEST(!r.found());
  BOOST_TEST(!parse_whois("").found());
  BOOST_TEST(!parse_whois("Some prose: with a colon but no attributes we know\n").found());
}

BOOST_AUTO_TEST_CASE(whois_queries) {
  BOOST_TEST(whois_query_for("whois.ripe.net", "192.0.2.1") == "-r 192.0.2.1\r\n");
  BOOST_TEST(whois_query_for("WHOIS.APNIC.NET", "2001:db8::1") == "-r 2001:db8::1\r\n");
  BOOST_TEST(whois_query_for("whois.arin.net", "192.0.2.1") == "192.0.2.1\r\n");
  BOOST_TEST(whois_query_for("whois.iana.org", "192.0.2.1") == "192.0.2.1\r\n");
}

BOOST_AUTO_TEST_CASE(socket_io_deadlines) {
  int sv[2];
  BOOST_TEST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  Fd a(sv[0]), b(sv[1]);
  std::string why;
  char buf[8];
  auto start = std::chrono::steady_clock::now();
  BOOST_TEST(
      !read_exact_by(a.get(), buf, 4, deadline_in(80, start + std::chrono::seconds(5)), &why));
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(why == "read: timed out");
  BOOST_TEST((took >= std::chrono::milliseconds(80) && took < std::chrono::milliseconds(500)));
  // The request deadline wins over a longer timeout.
  start = std::chrono::steady_clock::now();
  BOOST_TEST(!read_exact_by(a.get(), buf, 4,
                            deadline_in(5000, start + std::chrono::milliseconds(50)), &why));
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::milliseconds(400)));
  auto far = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  BOOST_TEST(write_all_by(b.get(), "abcd", far, &why));
  BOOST_TEST(read_exact_by(a.get(), buf, 4, far, &why));
  BOOST_TEST(std::string(buf, 4) == "abcd");
  BOOST_TEST(write_all_by(b.get(), "xyz", far, &why));
  b.reset();
  std::string all;
  BOOST_TEST(read_to_eof_by(a.get(), all, 100, far, &why));
  BOOST_TEST(all == "xyz");
  BOOST_TEST(ms_until(std::chrono::steady_clock::now() - std::chrono::seconds(1)) == 0);
  BOOST_TEST(ms_until(std::chrono::steady_clock::now() + std::chrono::microseconds(10)) ==
             1);  // rounded up
  BOOST_TEST(!connect_unix_by("/nonexistent/p0f.sock", far, &why));
  BOOST_TEST(why == "connect: No such file or directory");
}

BOOST_AUTO_TEST_SUITE_END()
