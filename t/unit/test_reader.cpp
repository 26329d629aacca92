// SPDX-License-Identifier: GPL-2.0-or-later
// proto/reader: the streaming policy-protocol parser.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "proto/reader.hpp"

using namespace ppolicy;

namespace {
const std::string k_req =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b\nrecipient=c@d\n\n";
}

BOOST_AUTO_TEST_SUITE(reader)

// attr_from_name looks among the names of the same length only: every
// documented name maps to its attribute, nothing else does.
BOOST_AUTO_TEST_CASE(attribute_names) {
  for (int i = 0; i < k_attr_count; ++i) {
    auto a = static_cast<Attr>(i);
    std::string name = attr_name(a);
    BOOST_TEST((attr_from_name(name) == a));
    BOOST_TEST(!attr_from_name(name + "x"));
    BOOST_TEST(!attr_from_name(name.substr(0, name.size() - 1)));
    std::string other = name;
    other.back() = other.back() == 'z' ? 'y' : 'z';
    BOOST_TEST(!attr_from_name(other));
    BOOST_TEST(!attr_from_name("result_" + name + "_code"));
  }
  BOOST_TEST(!attr_from_name(""));
  BOOST_TEST(!attr_from_name("Sender"));
  BOOST_TEST(!attr_from_name(std::string(300, 'a')));
  BOOST_TEST(!attr_from_name(std::string_view("sender\0", 7)));
  Request q;
  q.set("client_port", "25");
  q.set("server_port", "10030");
  q.set("result_dos_time", "0.004");
  BOOST_TEST(q.get(Attr::client_port) == "25");
  BOOST_TEST(q.get(Attr::server_port) == "10030");
  BOOST_TEST(q.get("result_dos_time") == "0.004");
}

BOOST_AUTO_TEST_CASE(byte_by_byte) {
  RequestReader r({});
  Request q;
  std::string why;
  for (size_t i = 0; i + 1 < k_req.size(); ++i) {
    r.append(k_req.substr(i, 1));
    BOOST_TEST((r.next(q, &why) == RequestReader::Status::need_more));
  }
  r.append("\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get("sender") == "a@b");
  BOOST_TEST(q.get(Attr::recipient) == "c@d");
  BOOST_TEST(!r.has_pending());
}

BOOST_AUTO_TEST_CASE(pipelined_and_crlf) {
  RequestReader r({});
  Request q;
  std::string why, crlf = k_req;
  for (size_t p = 0; (p = crlf.find('\n', p)) != std::string::npos; p += 2)
    crlf.replace(p, 1, "\r\n");
  r.append(k_req + crlf + "request=smtpd_access_policy\nsender=x");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get("sender") == "a@b");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::need_more));
  BOOST_TEST(r.has_pending());
  r.append("y\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get("sender") == "xy");
  BOOST_TEST(q.get("recipient") == "");  // nothing left over from the previous request
}

BOOST_AUTO_TEST_CASE(repeated_attribute_last_wins) {
  RequestReader r({});
  Request q;
  std::string why;
  r.append("request=smtpd_access_policy\nsender=a\nsender=b\nx=1\nx=2\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get("sender") == "b");
  BOOST_TEST(q.get("x") == "2");
  BOOST_TEST(q.size() == 3u);
}

// Saved results are set by number (ResultSaver): the same value as set()
// by name, found again by number within a request, a fresh slot after
// clear(), and a client's own attribute of that name overwritten, not doubled.
BOOST_AUTO_TEST_CASE(numbered_attributes) {
  RequestReader r({});
  Request q;
  std::string why;
  r.append("request=smtpd_access_policy\nsender=a\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  q.set_numbered(5, "dummy_code", "1");
  q.set_numbered(6, "dummy_info", "first");
  q.set_numbered(5, "dummy_code", "2");
  BOOST_TEST(q.get("dummy_code") == "2");
  BOOST_TEST(q.get("dummy_info") == "first");
  BOOST_TEST(q.size() == 4u);
  q.set("dummy_info", "by name");  // set() finds the numbered entry
  BOOST_TEST(q.get("dummy_info") == "by name");
  BOOST_TEST(q.size() == 4u);

  // The next request: nothing numbered is left over.
  r.append("request=smtpd_access_policy\ndummy_code=from the client\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get("dummy_info") == "");
  BOOST_TEST(q.size() == 2u);
  q.set_numbered(5, "dummy_code", "0");
  BOOST_TEST(q.get("dummy_code") == "0");
  BOOST_TEST(q.size() == 2u);
  q.set_numbered(6, "dummy_info", "again");
  BOOST_TEST(q.get("dummy_info") == "again");
  BOOST_TEST(q.size() == 3u);
}

// Postfix repeats its order of names: a name found where the previous
// request had it is not looked up again, yet a repeated name still keeps
// one entry (the last value), and a changed order is parsed all the same.
BOOST_AUTO_TEST_CASE(names_in_the_order_of_the_previous_request) {
  RequestReader r({});
  Request q;
  std::string why;
  r.append("request=smtpd_access_policy\nsender=a\nrecipient=b\nx=1\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  r.append("request=smtpd_access_policy\nrecipient=0\nrecipient=2\nx=3\nx=4\nsender=s\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get(Attr::recipient) == "2");
  BOOST_TEST(q.get("x") == "4");
  BOOST_TEST(q.get(Attr::sender) == "s");
  BOOST_TEST(q.size() == 4u);
  r.append("request=smtpd_access_policy\nsender=t\nrecipient=u\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get(Attr::sender) == "t");
  BOOST_TEST(q.get(Attr::recipient) == "u");
  BOOST_TEST(q.get("x") == "");
  BOOST_TEST(q.size() == 3u);
  std::vector<std::string> seen;
  for (const auto& [k, v] : q.attributes())
    seen.push_back(std::string(k) + "=" + std::string(v));
  BOOST_TEST(
      (seen == std::vector<std::string>{"request=smtpd_access_policy", "sender=t", "recipient=u"}));
}

// Values point into the reader's buffer while a request is handled; a
// request that arrives in parts keeps the values of its first part when
// the buffer grows (under ASan a value left pointing into the old buffer
// is a use after free). A part that is not plain ASCII is checked line by
// line however plain the bytes before it were.
BOOST_AUTO_TEST_CASE(request_in_parts) {
  RequestReader r({});
  Request q;
  std::string why;
  r.append("request=smtpd_access_policy\nsender=first@part\nhelo_name=mx");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::need_more));
  r.append(".example\nrecipient=" + std::string(5000, 'r') + "\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::need_more));
  r.append("client_name=caf\xc3\xa9.example\n\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::complete));
  BOOST_TEST(q.get(Attr::sender) == "first@part");
  BOOST_TEST(q.get(Attr::helo_name) == "mx.example");
  BOOST_TEST(q.get(Attr::recipient) == std::string(5000, 'r'));
  BOOST_TEST(q.get(Attr::client_name) == "caf\xc3\xa9.example");
  // Plain requests first, then one with a NUL byte and one with bad UTF-8.
  for (const char* bad : {"a=\x01\0b", "helo_name=\xc3\x28"}) {
    RequestReader p({});
    p.append(k_req + k_req);
    BOOST_TEST((p.next(q, &why) == RequestReader::Status::complete));
    BOOST_TEST((p.next(q, &why) == RequestReader::Status::complete));
    std::string tail = "request=smtpd_access_policy\n";
    tail += std::string(bad, bad[0] == 'a' ? 5 : 12);
    p.append(tail + "\n\n");
    BOOST_TEST((p.next(q, &why) == RequestReader::Status::error));
  }
}

BOOST_AUTO_TEST_CASE(errors) {
  struct {
    std::string input;
    const char* why;
  } cases[] = {
      {"request=smtpd_access_policy\nsender=" + std::string(200, 'a') + "\n\n",
       "line longer than 100 bytes"},
      {"request=smtpd_access_policy\nsender=" + std::string(200, 'a'),
       "line longer than 100 bytes"},
      {"request=smtpd_access_policy\n" + std::string(12, 'x') + "\n\n", "malformed line"},
      {"request=smtpd_access_policy\n=value\n\n", "malformed line"},
      {std::string("request=smtpd_access_policy\na=\x01\0b\n\n", 35), "NUL byte"},
      {std::string("request=smtpd_access_policy\nhelo_name=\xc3\x28\n\n"), "invalid UTF-8"},
      {"sender=a\n\n", "without request="},
      {"request=other\n\n", "unsupported request type"},
      {"\n", "empty request"},
  };
  for (const auto& c : cases) {
    RequestReader r({100, 1000, 8});
    Request q;
    std::string why;
    r.append(c.input);
    BOOST_TEST_INFO(c.why);
    BOOST_TEST((r.next(q, &why) == RequestReader::Status::error));
    BOOST_TEST(why.find(c.why) != std::string::npos, why);
  }
  RequestReader r({100, 1000, 8});
  Request q;
  std::string why, many = "request=smtpd_access_policy\n";
  for (int i = 0; i < 10; ++i)
    many += "a" + std::to_string(i) + "=1\n";
  r.append(many + "\n");
  BOOST_TEST((r.next(q, &why) == RequestReader::Status::error));
  BOOST_TEST(why == "more than 8 attributes (max_attributes)");
  RequestReader big({100, 300, 100});
  std::string large = "request=smtpd_access_policy\n";
  for (int i = 0; i < 20; ++i)
    large += "a" + std::to_string(i) + "=" + std::string(30, 'v') + "\n";
  big.append(large);
  BOOST_TEST((big.next(q, &why) == RequestReader::Status::error));
  BOOST_TEST(why == "request larger than 300 bytes (max_request_size)");
}

BOOST_AUTO_TEST_CASE(derived_attributes) {
  Request q;
  q.set("sender", "Alice+tag@Example.ORG");
  q.set("recipient", "bob@example.net");
  q.set("client_name", "unknown");
  BOOST_TEST(q.derived(Derived::sender_domain) == "example.org");
  BOOST_TEST(q.derived(Derived::sender_local) == "Alice+tag");
  BOOST_TEST(q.derived(Derived::recipient_domain) == "example.net");
  BOOST_TEST(q.derived(Derived::client_ptr) == "");
}

BOOST_AUTO_TEST_SUITE_END()
