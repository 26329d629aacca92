// SPDX-License-Identifier: GPL-2.0-or-later
// SPF without DNS: record selection and the ABNF (spf_record.cpp), macro
// expansion with the examples of RFC 7208 §7.4 (spf_macro.cpp), and the
// Received-SPF header (spf_explain.cpp). The evaluation against DNS is
// t/integration/spf_suite.py (the RFC 7208 test suite).
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "dns/spf_explain.hpp"
#include "dns/spf_macro.hpp"
#include "dns/spf_record.hpp"

using namespace ppolicy;
using namespace ppolicy::dns;

namespace {

bool parses(const std::string& record) {
  std::string why;
  bool ok = parse_spf_record(record, &why).has_value();
  if (!ok) BOOST_TEST(!why.empty(), record << ": an error says why");
  return ok;
}

SpfMacroValues rfc_values(const char* ip) {
  SpfMacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local = "strong-bad";
  v.domain = "email.example.com";
  v.helo = "mx.example.org";
  v.ip = *IpAddress::parse(ip);
  v.receiver = "mx.example.net";
  v.validated = [](std::string_view) { return std::string("mx.example.org"); };
  return v;
}

std::string expand(const char* s, const SpfMacroValues& v) {
  std::string why;
  BOOST_TEST_REQUIRE(valid_macro_string(s, MacroUse::explanation, &why), s << ": " << why);
  return expand_macros(s, v, "email.example.com").value_or("(none)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf)

BOOST_AUTO_TEST_CASE(record_selection) {
  std::vector<std::string> txt = {"v=spf10", "v=spf1 mx", "V=SpF1", "v=spf1mx", "other", ""};
  auto r = spf_records(txt);
  BOOST_TEST(r.size() == 2u);
  BOOST_TEST(r[0] == "v=spf1 mx");
  BOOST_TEST(r[1] == "V=SpF1");
}

BOOST_AUTO_TEST_CASE(record_grammar) {
  for (const char* ok :
       {"v=spf1", "v=spf1 ", "v=spf1  a  -all ", "v=spf1 +all", "v=spf1 ?all ~all -all",
        "v=spf1 a a:mail.example.com a/24 a//64 a/24//64 a:x.example.com/0//0",
        "v=spf1 mx:foo:bar/baz.example.com mx:%{d} a:%{l1r-}.example.com",
        "v=spf1 ip4:1.2.3.4 ip4:0.0.0.0/0 ip4:255.255.255.255/32",
        "v=spf1 ip6:::1 ip6:2001:db8::/32 ip6:::ffff:1.2.3.4 ip6:::/0",
        "v=spf1 include:_spf.example.com exists:%{i}.x.example.com ptr ptr:example.com",
        "v=spf1 redirect=_spf.example.com exp=explain.%{d}",
        "v=spf1 moo.cow-far_out=man:dog/cat default=+ x=%{c}",
        "v=spf1 a:example.xn--zckzah a:example.com. a:x.1-2 a:macro%%percent%_%-x.example.com",
        "v=spf1 A:Example.COM MX IP4:1.2.3.4 Redirect=x.example.com"}) {
    BOOST_TEST_INFO(ok);
    BOOST_TEST(parses(ok));
  }
  for (const char* bad : {"v=spf1 a:foo.example.com\x01",
                          "v=spf1 a:\xef\xbb\xbfx.example.net",
                          "v=spf1 \x80",
                          "v=spf1 a:b.example.com\r",
                          "v=spf1 moo",
                          "v=spf1 all.",
                          "v=spf1 -all:x",
                          "v=spf1 all/8",
                          "v=spf1 =all",
                          "v=spf1 1up=foo",
                          "v=spf1 moo.cow/x=y",
                          "v=spf1 redirect:x.example.com",
                          "v=spf1 a:foo-bar",
                          "v=spf1 a:museum",
                          "v=spf1 a:museum.",
                          "v=spf1 a:111.222.33.44",
                          "v=spf1 a:abc.123",
                          "v=spf1 a:example.-com",
                          "v=spf1 a:example.com-",
                          "v=spf1 a:",
                          "v=spf1 a:example.com:8080",
                          "v=spf1 a/33",
                          "v=spf1 a//129",
                          "v=spf1 a/24/64",
                          "v=spf1 a/032",
                          "v=spf1 mx:",
                          "v=spf1 ptr:",
                          "v=spf1 ptr/0",
                          "v=spf1 include",
                          "v=spf1 include:",
                          "v=spf1 include:x.example.com/24",
                          "v=spf1 exists",
                          "v=spf1 exists:x.example.com/24",
                          "v=spf1 ip4",
                          "v=spf1 ip4:1.2.3",
                          "v=spf1 ip4:1.2.3.4:8080",
                          "v=spf1 ip4:1.2.3.4/33",
                          "v=spf1 ip4:1.2.3.4/032",
                          "v=spf1 ip4:1.2.3.4//32",
                          "v=spf1 ip4:01.2.3.4",
                          "v=spf1 ip4:1.2.3.256",
                          "v=spf1 ip6",
                          "v=spf1 ip6::CAFE::BABE",
                          "v=spf1 ip6:::1/129",
                          "v=spf1 ip6:::1//33",
                          "v=spf1 ip6:1.2.3.4",
                          "v=spf1 exp=",
                          "v=spf1 exp=-all",
                          "v=spf1 redirect=",
                          "v=spf1 redirect=-all",
                          "v=spf1 exp=a.example.com exp=b.example.com",
                          "v=spf1 redirect=a.example.com redirect=a.example.com",
                          "v=spf1 foo=%abc",
                          "v=spf1 a:%{x}.example.com",
                          "v=spf1 exp=%{r}.example.com",
                          "v=spf1 a:%{c}.example.com",
                          "v=spf1 a:%{d0}.example.com",
                          "v=spf1 a:%(ir).example.com",
                          "v=spf1 a:foo%.example.com",
                          "v=spf1 a:%{d",
                          "v=spf1 a:x%",
                          "v=spf10",
                          "spf1"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!parses(bad));
  }
}

BOOST_AUTO_TEST_CASE(record_terms) {
  std::string why;
  auto r = parse_spf_record(
      "v=spf1 -a:foo:bar/baz.example.com/24//64 mx//0 ~ip6:Cafe::/33 "
      "?ip4:1.2.3.4/0 redirect=r.example.com exp=e.%{d} all",
      &why);
  BOOST_TEST_REQUIRE(r.has_value(), why);
  BOOST_TEST_REQUIRE(r->terms.size() == 5u);
  BOOST_TEST(r->terms[0].qualifier == '-');
  BOOST_TEST(r->terms[0].domain == "foo:bar/baz.example.com");
  BOOST_TEST(r->terms[0].cidr4 == 24);
  BOOST_TEST(r->terms[0].cidr6 == 64);
  BOOST_TEST(r->terms[1].domain == "");
  BOOST_TEST(r->terms[1].cidr4 == 32);
  BOOST_TEST(r->terms[1].cidr6 == 0);
  BOOST_TEST(r->terms[2].qualifier == '~');
  BOOST_TEST(!r->terms[2].net.v4);
  BOOST_TEST(r->terms[2].cidr6 == 33);
  BOOST_TEST(r->terms[3].cidr4 == 0);
  BOOST_TEST((r->terms[4].mech == SpfMech::all));
  BOOST_TEST(r->redirect == "r.example.com");
  BOOST_TEST(r->exp == "e.%{d}");
}

BOOST_AUTO_TEST_CASE(domain_specs) {
  std::string why;
  for (const char* ok : {"example.com", ".com", "example.com.", "%{d}", "x.%{d2}", "%{l}%%",
                         "%{h}.%-", "x.%_", "a-b.c-d", "x.1-2", "foo:bar/baz.example.com"})
    BOOST_TEST(valid_domain_spec(ok, &why), ok);
  for (const char* bad : {"", "com", "com.", ".", "x.%{d}x", "x.-a", "x.a-", "x.12", "x.a_b",
                          "x.%{l.}com", "%{c}.example.com", "a b.example.com"})
    BOOST_TEST(!valid_domain_spec(bad, &why), bad);
  // Explanation text allows spaces and c, r, t.
  BOOST_TEST(valid_macro_string("%{c} is not %{r} at %{t}", MacroUse::explanation, &why));
  BOOST_TEST(!valid_macro_string("%{c}", MacroUse::domain, &why));
  BOOST_TEST(!valid_macro_string("a b", MacroUse::domain, &why));
  BOOST_TEST(!valid_macro_string("The %{x}-files.", MacroUse::explanation, &why));
  BOOST_TEST(!valid_macro_string("caf\xc3\xa9", MacroUse::explanation, &why));
}

// RFC 7208 §7.4, the examples.
BOOST_AUTO_TEST_CASE(macro_examples) {
  auto v = rfc_values("192.0.2.3");
  const char* cases[][2] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
      {"%{p} %{h} %{r} %{c}", "mx.example.org mx.example.org mx.example.net 192.0.2.3"},
      {"%% %_%- x", "%  %20 x"},
      {"%{L}|%{S}", "strong-bad|strong-bad%40email.example.com"},
      {"%{l1000r-}", "bad.strong"},
  };
  for (auto& c : cases)
    BOOST_TEST(expand(c[0], v) == c[1], c[0]);
  auto v6 = rfc_values("2001:db8::cb01");
  BOOST_TEST(
      expand("%{ir}.%{v}._spf.%{d2}", v6) ==
      "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
  BOOST_TEST(expand("%{c}", v6) == "2001:db8::cb01");
  v.local = "~jack&jill=up-a_b3.c";
  BOOST_TEST(expand("l=%{L}", v) == "l=~jack%26jill%3Dup-a_b3.c");
  auto mapped = rfc_values("::ffff:192.0.2.3");
  BOOST_TEST(expand("%{i} %{v} %{c}", mapped) == "192.0.2.3 in-addr 192.0.2.3");
}

BOOST_AUTO_TEST_CASE(domain_expansion_bounds) {
  auto v = rfc_values("192.0.2.3");
  v.domain = "somewhat.long.exp.example.com";
  // RFC 7208 §7.3: over 253 octets, whole labels go from the left.
  auto n = expand_domain("foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com.", v, "x");
  BOOST_TEST_REQUIRE(n.has_value());
  BOOST_TEST(n->size() <= 253u);
  BOOST_TEST(n->rfind("somewhat.long.exp.example.com.somewhat", 0) == 0u);
  BOOST_TEST(n->substr(n->size() - 12) == ".example.com");
  BOOST_TEST(*expand_domain("%{d}.", v, "x.example.com") == "x.example.com");
  v.local = std::string(300, 'a');
  BOOST_TEST(!expand_domain("%{l}", v, "x").has_value());  // one label of 300: nothing left
  // Macros of long values cannot make the expansion grow without bound.
  std::string many;
  for (int i = 0; i < 100; ++i)
    many += "%{l}";
  BOOST_TEST(!expand_macros(many, v, "x").has_value());
  BOOST_TEST(!expand_domain(many + ".example.com", v, "x").has_value());
}

BOOST_AUTO_TEST_CASE(received_spf_header) {
  SpfHeader h;
  h.result = SpfResult::fail;
  h.receiver = "mx.example.net";
  h.ip = *IpAddress::parse("2001:db8::1");
  h.envelope = "a (b)@example.com";
  h.helo = "mail.example.com";
  h.identity = "mailfrom";
  h.identity_address = "a (b)@example.com";
  BOOST_TEST(spf_header(h) ==
             "fail (mx.example.net: domain of a \\(b\\)@example.com does not designate "
             "2001:db8::1 as permitted sender) client-ip=\"2001:db8::1\"; "
             "envelope-from=\"a (b)@example.com\"; helo=mail.example.com; identity=mailfrom;");
  h.result = SpfResult::pass;
  h.envelope = h.identity_address = "a@example.com";
  h.ip = *IpAddress::parse("192.0.2.1");
  BOOST_TEST(spf_header(h) ==
             "pass (mx.example.net: domain of a@example.com designates 192.0.2.1 as permitted "
             "sender) client-ip=192.0.2.1; envelope-from=a@example.com; helo=mail.example.com; "
             "identity=mailfrom;");
  h.envelope = "";
  h.helo = "a\r\nb";
  BOOST_TEST(spf_header(h).find("envelope-from=\"\"; helo=\"a??b\";") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
