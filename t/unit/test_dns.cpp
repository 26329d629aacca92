// SPDX-License-Identifier: GPL-2.0-or-later
// The DNS layer: the blacklist data file, the dynamic-name patterns, name
// and address helpers, and the Resolver against an in-process UDP responder
// on loopback (answers, NXDOMAIN, no data, SERVFAIL, silence, late answers),
// checking statuses, TTLs and the millisecond deadline of a batch.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "dns/dnsbl_data.hpp"
#include "dns/dynamic_names.hpp"
#include "dns/mailhosts.hpp"
#include "dns/resolver.hpp"

namespace ppolicy::dns {
std::ostream& operator<<(std::ostream& o, Status s) {
  return o << status_name(s);
}
std::ostream& operator<<(std::ostream& o, ListKind k) {
  return o << kind_name(k);
}
}  // namespace ppolicy::dns

using namespace ppolicy;
using namespace ppolicy::dns;
using Clock = std::chrono::steady_clock;

namespace {

// A tiny DNS responder on 127.0.0.1 run by a thread. What it does depends
// on the first label of the query name:
//   ok*    A 127.0.0.2 (TTL 123) for A queries, no data for other types
//   nx*    NXDOMAIN          sf*   SERVFAIL
//   drop*  no answer         slow* the "ok" answer after 300 ms
class FakeDns {
 public:
  explicit FakeDns(bool ipv6 = false) {
    sockaddr_storage ss{};
    socklen_t len;
    if (ipv6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      sa->sin6_addr = in6addr_loopback;
      len = sizeof *sa;
    } else {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *sa;
    }
    d_fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    bind(d_fd, reinterpret_cast<sockaddr*>(&ss), len);
    getsockname(d_fd, reinterpret_cast<sockaddr*>(&ss), &len);
    d_port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    d_thread = std::thread([this] { run(); });
  }
  ~FakeDns() {
    d_stop = true;
    d_thread.join();
    close(d_fd);
  }
  int port() const { return d_port; }
  int received() const { return d_received; }
  // The first label of the last query, as it came on the wire.
  std::string last_label() {
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_last_label;
  }

 private:
  struct Pending {
    Clock::time_point due;
    std::vector<unsigned char> reply;
    sockaddr_storage to;
    socklen_t len;
  };

  void run() {
    std::vector<Pending> later;
    while (!d_stop) {
      pollfd p{d_fd, POLLIN, 0};
      if (poll(&p, 1, 10) > 0) {
        unsigned char buf[1500];
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(d_fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n >= 12) {
          ++d_received;
          answer(buf, static_cast<size_t>(n), from, fl, later);
        }
      }
      auto now = Clock::now();
      for (auto it = later.begin(); it != later.end();) {
        if (it->due <= now) {
          sendto(d_fd, it->reply.data(), it->reply.size(), 0, reinterpret_cast<sockaddr*>(&it->to),
                 it->len);
          it = later.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  void answer(const unsigned char* q, size_t n, const sockaddr_storage& from, socklen_t fl,
              std::vector<Pending>& later) {
    // The question: labels, then type and class.
    size_t i = 12;
    std::string first;
    bool first_label = true;
    while (i < n && q[i] != 0) {
      size_t len = q[i];
      if (first_label) first.assign(reinterpret_cast<const char*>(q + i + 1), len);
      first_label = false;
      i += len + 1;
    }
    if (i + 5 > n) return;
    {
      std::lock_guard<std::mutex> lock(d_mutex);
      d_last_label = first;
    }
    size_t qend = i + 5;  // past the root label, type and class
    unsigned qtype = (q[i + 1] << 8) | q[i + 2];
    std::vector<unsigned char> r(q, q + qend);
    r[2] = 0x84 | (q[2] & 0x01);  // QR, AA, RD as asked
    r[3] = 0;
    r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
    r[4] = 0, r[5] = 1;
    auto starts = [&](const char* p) { return first.rfind(p, 0) == 0; };
    if (starts("drop")) return;
    if (starts("nx")) {
      r[3] = 3;
    } else if (starts("sf")) {
      r[3] = 2;
    } else if ((starts("ok") || starts("slow")) && qtype == 1) {
      r[7] = 1;  // one answer
      const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 123, 0, 4, 127, 0, 0, 2};
      r.insert(r.end(), rr, rr + sizeof rr);
    }
    if (starts("slow")) {
      later.push_back({Clock::now() + std::chrono::milliseconds(300), r, from, fl});
      return;
    }
    sendto(d_fd, r.data(), r.size(), 0, reinterpret_cast<const sockaddr*>(&from), fl);
  }

  int d_fd = -1;
  int d_port = 0;
  std::atomic<bool> d_stop{false};
  std::atomic<int> d_received{0};
  std::thread d_thread;
  std::mutex d_mutex;
  std::string d_last_label;
};

DnsSettings settings(int port, long timeout_ms) {
  DnsSettings s;
  s.nameservers = {"127.0.0.1"};
  s.port = port;
  s.timeout_ms = timeout_ms;
  return s;
}

// A UDP port where nobody answers (bound, never read).
struct SilentPort {
  int fd;
  int port;
  SilentPort() {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
  }
  ~SilentPort() { close(fd); }
};

const char* k_data = R"(# test
A      a.test     ip46    127.0.0.2-127.0.0.3,127.0.1.0/24  2.5
B      a.test     ip4     127.0.0.10                         -1
M      m.test     ip4     &4                                 0
D      d.test     domain  127.0.1.2                          1   defunct
OLD-A  alias  A
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(dns)

BOOST_AUTO_TEST_CASE(blacklist_data) {
  auto d = BlacklistData::parse(k_data, "t.dat");
  BOOST_TEST_REQUIRE(d->lists().size() == 4u);
  const Blacklist* a = d->find("a");
  BOOST_TEST_REQUIRE(a != nullptr);
  BOOST_TEST(a->kind == ListKind::ip46);
  BOOST_TEST(a->score == 2.5);
  auto ip = [](const char* s) { return *IpAddress::parse(s); };
  BOOST_TEST(a->lists(ip("127.0.0.2")));
  BOOST_TEST(a->lists(ip("127.0.0.3")));
  BOOST_TEST(a->lists(ip("127.0.1.77")));
  BOOST_TEST(!a->lists(ip("127.0.0.20")));  // 2.x's unanchored regex matched this
  BOOST_TEST(!a->lists(ip("127.0.0.4")));
  BOOST_TEST(!a->lists(ip("127.255.255.254")));
  BOOST_TEST(d->find("B")->score == -1);  // negative scores are read
  const Blacklist* m = d->find("M");
  BOOST_TEST(m->lists(ip("127.0.0.4")));
  BOOST_TEST(m->lists(ip("127.0.0.6")));
  BOOST_TEST(!m->lists(ip("127.0.0.2")));
  BOOST_TEST(!m->lists(ip("127.255.255.252")));  // a bit mask never takes error codes
  BOOST_TEST(d->find("D")->defunct);
  BOOST_TEST(d->find("B")->takes_ip(ip("192.0.2.1")));
  BOOST_TEST(!d->find("B")->takes_ip(ip("2001:db8::1")));
  BOOST_TEST(a->takes_ip(ip("2001:db8::1")));
  // An answer is known to the zone when some list of the zone takes it.
  BOOST_TEST(d->known_answer("a.test", ip("127.0.0.10")));
  BOOST_TEST(!d->known_answer("a.test", ip("127.255.255.254")));
  BOOST_TEST(d->describe().find("D                          d.test") != std::string::npos);
  // An alias is the list it names (2.x names of renamed lists).
  BOOST_TEST(d->find("old-a") == a);
  BOOST_TEST(d->describe().find("OLD-A                      = A") != std::string::npos);
  // A defunct list is never asked: its answers are nobody's.
  BOOST_TEST(!d->known_answer("d.test", ip("127.0.1.2")));

  struct {
    const char* text;
    const char* error;
  } bad[] = {
      {"A a.test ip9 127.0.0.2 1\n", "t.dat:1: unknown kind \"ip9\""},
      {"\nA a.test ip4 127.0.0.300 1\n", "t.dat:2: invalid listed answer \"127.0.0.300\""},
      {"A a.test ip4 127.0.0.3-127.0.0.2 1\n", "invalid listed answer"},
      {"A a.test ip4 127.0.0.2 x\n", "invalid score \"x\""},
      {"A a.test ip4 127.0.0.2\n", "expected NAME ZONE KIND LISTED SCORE"},
      {"A a.test ip4 127.0.0.2 1 gone\n", "unknown flag \"gone\""},
      {"A a.test ip4 127.0.0.2 1\na b.test ip4 127.0.0.2 1\n", "t.dat:2: list \"a\" defined twice"},
      {"A a..test ip4 127.0.0.2 1\n", "invalid zone"},
      {"B alias A\nA a.test ip4 127.0.0.2 1\n", "t.dat:1: alias of an unknown list \"A\""},
      {"A a.test ip4 127.0.0.2 1\na alias A\n", "t.dat:2: list \"a\" defined twice"},
  };
  for (const auto& b : bad) {
    BOOST_TEST_INFO(b.text);
    try {
      BlacklistData::parse(b.text, "t.dat");
      BOOST_TEST(false);
    } catch (const std::exception& e) {
      BOOST_TEST(std::string(e.what()).find(b.error) != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(shipped_data_file) {
  auto d = BlacklistData::load(std::string(TEST_SRCDIR) + "/conf/dnsbl.dat");
  // Every name the 2.x sample configuration used loads (some as defunct).
  for (const char* n : {"ZEN",
                        "SBL",
                        "XBL",
                        "PBL",
                        "SPAMCOP",
                        "SORBS",
                        "SORBSDUL",
                        "NJABL",
                        "NJABLDYNA",
                        "MAPS-RBLPLUS",
                        "ORDB",
                        "DNS_FROM_AHBL_RHSBL",
                        "DNS_FROM_RFC_BOGUSMX",
                        "DNS_FROM_RFC_DSN",
                        "DNS_FROM_SECURITYSAGE",
                        "RCVD_IN_BL_SPAMCOP_NET",
                        "RCVD_IN_DSBL",
                        "RCVD_IN_NJABL_PROXY",
                        "RCVD_IN_NJABL_SPAM",
                        "RCVD_IN_SBL",
                        "RCVD_IN_SORBS_DUL",
                        "RCVD_IN_SORBS_SOCKS",
                        "RCVD_IN_SORBS_WEB",
                        "RCVD_IN_SORBS_ZOMBIE",
                        "RCVD_IN_WHOIS_BOGONS",
                        "RCVD_IN_WHOIS_HIJACKED",
                        "RCVD_IN_WHOIS_INVALID",
                        "RCVD_IN_XBL",
                        "RCVD_IN_PBL"}) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(d->find(n) != nullptr);
  }
  auto ip = [](const char* s) { return *IpAddress::parse(s); };
  // The sub-rules have their return codes again.
  BOOST_TEST(d->find("RCVD_IN_XBL")->lists(ip("127.0.0.4")));
  BOOST_TEST(!d->find("RCVD_IN_XBL")->lists(ip("127.0.0.2")));
  BOOST_TEST(!d->find("RCVD_IN_XBL")->lists(ip("127.0.0.10")));
  BOOST_TEST(d->find("RCVD_IN_SORBS_DUL")->lists(ip("127.0.0.10")));
  BOOST_TEST(!d->find("RCVD_IN_SORBS_DUL")->lists(ip("127.0.0.2")));
  BOOST_TEST(d->find("RCVD_IN_SBL")->score == 2.81);
  // Spamhaus error codes are no listing of any zen.spamhaus.org list.
  BOOST_TEST(!d->known_answer("zen.spamhaus.org", ip("127.255.255.254")));
  BOOST_TEST(d->known_answer("zen.spamhaus.org", ip("127.0.0.11")));
  BOOST_TEST(d->find("NJABL")->defunct);
  BOOST_TEST(!d->find("ZEN")->defunct);
  // Every list name of the 2.x data file loads (t/data/original-dnsbl-names.txt):
  // renamed ones as aliases, the closed ones defunct.
  std::ifstream names(std::string(TEST_SRCDIR) + "/t/data/original-dnsbl-names.txt");
  std::string name;
  int n = 0;
  while (std::getline(names, name)) {
    if (name.empty() || name[0] == '#') continue;
    ++n;
    BOOST_TEST_INFO(name);
    BOOST_TEST(d->find(name) != nullptr);
  }
  BOOST_TEST(n == 910);
  BOOST_TEST(d->find("UCEPROTECTL1")->zone == "dnsbl-1.uceprotect.net");
  BOOST_TEST(!d->find("UCEPROTECTL1")->defunct);
  BOOST_TEST(d->find("SBLXBL")->name == "SBL-XBL");
  BOOST_TEST(!d->find("CBL")->defunct);
  BOOST_TEST(!d->find("DNSWL")->defunct);
  BOOST_TEST(d->find("DNSWL")->lists(ip("127.0.15.1")));
  BOOST_TEST(!d->find("DNSWL")->lists(ip("127.0.0.255")));  // "query limit", not a listing
  for (const char* dead : {"NIXSPAM", "WPBL", "SORBSSPAM", "AHBL", "DSBLLIST", "APEWS"}) {
    BOOST_TEST_INFO(dead);
    BOOST_TEST(d->find(dead)->defunct);
  }
}

BOOST_AUTO_TEST_CASE(dynamic_names) {
  DynamicNames dn;
  // The original's own examples (verified against its Python code).
  for (const char* n :
       {"84-23-11-2.dsl.provider.com", "ip-12-34.provider.com", "abc-123-abc-123.provider.com",
        "087206149137.provider.com", "net220216005.provider.com", "pool12-34.provider.com",
        "host.dhcp.isp.net", "dlp-14.as2.tz-1.bih.net.ba", "DSL-1-2-3.Provider.COM",
        "static.123.45.67.89.clients.your-server.de", "ppp-1-2.x.y", "x.adsl.example.net"}) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(dn.dynamic(n));
  }
  for (const char* n :
       {"mail.example.com", "smtp.seznam.cz", "out1.example.com", "a.b.c.d.e.f.example.com",
        "mail-iw0-f181.google.com", "mm-retail-out-13101.amazon.com", "mx1.example.org",
        "smtp-12-34-56.mail.provider.com"}) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(!dn.dynamic(n));
  }
}

BOOST_AUTO_TEST_CASE(names_and_addresses) {
  BOOST_TEST(valid_name("mail.example.test"));
  BOOST_TEST(valid_name("mail.example.test."));
  BOOST_TEST(valid_name("_spf.example.test"));
  BOOST_TEST(!valid_name(""));
  BOOST_TEST(!valid_name("a..b"));
  BOOST_TEST(!valid_name("a b.test"));
  BOOST_TEST(!valid_name("a\\.b"));
  BOOST_TEST(!valid_name(std::string(64, 'a') + ".test"));
  BOOST_TEST(normal_name("Mail.Example.TEST.") == "mail.example.test");
  // SPF names (RFC 7208 §7): any printable ASCII, the same lengths.
  for (const char* n : {"foo:bar/baz.example.com", "macro%percent  space%20url.example.com",
                        "a\\.b", "%5B192.0.2.1%5D.example", "~!'\"().test"}) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(!valid_name(n));
    BOOST_TEST(valid_name(n, NameRule::spf));
  }
  for (const char* n : {"", "a..b", "a\tb.test", "caf\xc3\xa9.test", "a\x7f.test"}) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(!valid_name(n, NameRule::spf));
  }
  BOOST_TEST(!valid_name(std::string(64, 'a') + ".test", NameRule::spf));
  BOOST_TEST(valid_name(std::string(63, ':') + ".test", NameRule::spf));
  BOOST_TEST(!valid_name(std::string(250, ' ') + ".test", NameRule::spf));
  auto pub = [](const char* s) { return is_public(*IpAddress::parse(s)); };
  BOOST_TEST(pub("192.0.2.10"));
  BOOST_TEST(pub("8.8.8.8"));
  BOOST_TEST(pub("2001:db8::25"));
  for (const char* s :
       {"127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.1.1", "100.64.0.1",
        "0.1.2.3", "224.0.0.1", "240.0.0.1", "::1", "::", "fe80::1", "fd00::1", "ff02::1"}) {
    BOOST_TEST_INFO(s);
    BOOST_TEST(!pub(s));
  }
  char path[] = "/tmp/resolvconf.XXXXXX";
  int fd = mkstemp(path);
  const char text[] =
      "# c\nsearch example.org\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver ::1\n"
      "nameserver bogus\n";
  BOOST_TEST(write(fd, text, sizeof text - 1) == static_cast<ssize_t>(sizeof text - 1));
  close(fd);
  BOOST_TEST(resolv_conf_servers(path) == std::vector<std::string>({"192.0.2.53", "::1"}));
  unlink(path);
  BOOST_TEST(resolv_conf_servers("/nonexistent") == std::vector<std::string>({"127.0.0.1"}));
}

BOOST_AUTO_TEST_CASE(resolver_statuses) {
  FakeDns fake;
  Resolver r(nullptr, settings(fake.port(), 2000));
  BOOST_TEST_REQUIRE(r.usable());
  Query ok = Query::a("ok.test"), nx = Query::a("nx.test"), nodata = Query::aaaa("ok.test"),
        sf = Query::a("sf.test"), bad = Query::a("bad..name");
  Query* all[] = {&ok, &nx, &nodata, &sf, &bad};
  auto t = Clock::now();
  r.resolve(all, Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(ms_since(t) < 500);  // nothing waits for a timeout
  BOOST_TEST(ok.status == Status::ok);
  BOOST_TEST_REQUIRE(ok.addrs.size() == 1u);
  BOOST_TEST(ok.addrs[0].str() == "127.0.0.2");
  BOOST_TEST(ok.ttl == 123u);
  BOOST_TEST(nx.status == Status::nxdomain);
  BOOST_TEST(nodata.status == Status::nodata);
  BOOST_TEST(sf.status == Status::servfail);  // SERVFAIL is not a timeout
  BOOST_TEST(bad.status == Status::error);
  BOOST_TEST(negative(nx.status));
  BOOST_TEST(failed(sf.status));
}

// SPF names go out byte for byte (udns would read "\\" in a text name as an
// escape); the strict rule never sends them.
BOOST_AUTO_TEST_CASE(resolver_spf_names) {
  FakeDns fake;
  Resolver r(nullptr, settings(fake.port(), 2000));
  for (const char* label : {"ok:colon/slash", "ok %20 space", "ok\\x", "ok\\065"}) {
    BOOST_TEST_INFO(label);
    Query strict = Query::a(std::string(label) + ".example.test");
    int before = fake.received();
    r.resolve(strict, Clock::now() + std::chrono::seconds(2));
    BOOST_TEST(strict.status == Status::error);
    BOOST_TEST(fake.received() == before);
    Query spf = Query::a(std::string(label) + ".example.test");
    spf.rule = NameRule::spf;
    r.resolve(spf, Clock::now() + std::chrono::seconds(2));
    BOOST_TEST(spf.status == Status::ok);
    BOOST_TEST(fake.last_label() == label);
  }
}

BOOST_AUTO_TEST_CASE(resolver_deadline_is_one_round_trip) {
  FakeDns fake;
  Resolver r(nullptr, settings(fake.port(), 400));
  // Twenty lookups, one of them never answered: the batch ends at the
  // 400 ms [dns] timeout, not 20 times anything.
  std::vector<Query> qs;
  for (int i = 0; i < 19; ++i)
    qs.push_back(Query::a("ok" + std::to_string(i) + ".test"));
  qs.push_back(Query::a("drop.test"));
  std::vector<Query*> ptrs;
  for (auto& q : qs)
    ptrs.push_back(&q);
  auto t = Clock::now();
  r.resolve(ptrs, Clock::now() + std::chrono::seconds(10));
  long ms = ms_since(t);
  BOOST_TEST(ms >= 390);
  BOOST_TEST(ms < 700);
  for (int i = 0; i < 19; ++i)
    BOOST_TEST(qs[static_cast<size_t>(i)].status == Status::ok);
  BOOST_TEST(qs.back().status == Status::timeout);

  // The caller's deadline (the request's remaining time) wins when earlier.
  Query drop = Query::a("drop2.test");
  t = Clock::now();
  r.resolve(drop, Clock::now() + std::chrono::milliseconds(120));
  ms = ms_since(t);
  BOOST_TEST(drop.status == Status::timeout);
  BOOST_TEST(ms >= 110);
  BOOST_TEST(ms < 300);
  // Past the deadline nothing is sent at all. The fake counts on its own
  // thread: let a retransmission of drop2 sent just before its deadline
  // land before taking the baseline.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int before = fake.received();
  Query late = Query::a("ok.test");
  r.resolve(late, Clock::now() - std::chrono::milliseconds(1));
  BOOST_TEST(late.status == Status::timeout);
  BOOST_TEST(fake.received() == before);

  // A late answer within the deadline counts; a cancelled query's late
  // answer does not disturb the next batch.
  Query slow = Query::a("slow.test");
  t = Clock::now();
  r.resolve(slow, Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(slow.status == Status::ok);
  BOOST_TEST(ms_since(t) >= 290);
  Query slow2 = Query::a("slow2.test");
  r.resolve(slow2, Clock::now() + std::chrono::milliseconds(100));
  BOOST_TEST(slow2.status == Status::timeout);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(300));  // its answer arrives now, unasked for
  Query ok = Query::a("ok.test");
  r.resolve(ok, Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(ok.status == Status::ok);
}

BOOST_AUTO_TEST_CASE(resolver_ipv6_nameserver) {
  FakeDns fake(true);
  DnsSettings s = settings(fake.port(), 1000);
  s.nameservers = {"::1"};
  Resolver r(nullptr, s);
  BOOST_TEST_REQUIRE(r.usable());
  BOOST_TEST(r.servers() == "[::1]:" + std::to_string(fake.port()));
  Query ok = Query::a("ok.test"), nx = Query::a("nx.test");
  Query* both[] = {&ok, &nx};
  r.resolve(both, Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(ok.status == Status::ok);
  BOOST_TEST(nx.status == Status::nxdomain);
}

BOOST_AUTO_TEST_CASE(mail_hosts_without_server) {
  // No server: every lookup times out quickly, and the status says so.
  SilentPort dead;
  Resolver r(nullptr, settings(dead.port, 150));
  auto t = Clock::now();
  MailHosts mh = mailhosts(r, "example.test", Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(mh.status == Status::timeout);
  BOOST_TEST(mh.hosts.empty());
  BOOST_TEST(ms_since(t) < 500);
  MailHosts bad = mailhosts(r, "bad..name", Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(bad.status == Status::error);
}

// The request memo (the cold-path prefetch): while on, a question asked
// again is answered without a packet, failures included; off, it is sent.
BOOST_AUTO_TEST_CASE(resolver_memo) {
  FakeDns fake;
  Resolver r(nullptr, settings(fake.port(), 300));
  r.begin_memo();
  Query a = Query::a("ok.test"), drop = Query::a("drop.test");
  Query* both[] = {&a, &drop};
  r.resolve(both, Clock::now() + std::chrono::seconds(2));
  BOOST_TEST(a.status == Status::ok);
  BOOST_TEST(drop.status == Status::timeout);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retransmissions counted
  int sent = fake.received();
  Query again = Query::a("ok.test"), drop2 = Query::a("drop.test"), other = Query::aaaa("ok.test");
  auto t = Clock::now();
  r.resolve(again, Clock::now() + std::chrono::seconds(2));
  r.resolve(drop2, Clock::now() + std::chrono::seconds(2));
  BOOST_TEST(ms_since(t) < 50);
  BOOST_TEST(again.status == Status::ok);
  BOOST_TEST(again.addrs == a.addrs);
  BOOST_TEST(drop2.status == Status::timeout);
  BOOST_TEST(r.memo_hits() == 2);
  BOOST_TEST(fake.received() == sent);
  r.resolve(other, Clock::now() + std::chrono::seconds(2));  // another type: asked
  BOOST_TEST(fake.received() == sent + 1);
  r.end_memo();
  Query after = Query::a("ok.test");
  r.resolve(after, Clock::now() + std::chrono::seconds(2));
  BOOST_TEST(after.status == Status::ok);
  BOOST_TEST(fake.received() == sent + 2);
  BOOST_TEST(r.memo_hits() == 2);
}

// The prefetch batch waits in full only for the needed questions; a slow
// one of a later module is given up after as long again (not remembered:
// its module asks it itself), an answered one is kept.
BOOST_AUTO_TEST_CASE(resolver_prefetch_waits_for_the_needed) {
  FakeDns fake;
  Resolver r(nullptr, settings(fake.port(), 2000));
  r.begin_memo();
  Query need = Query::a("ok.test"), other = Query::aaaa("ok.test"), slow = Query::a("slow.test");
  Query* batch[] = {&need, &other, &slow};
  auto t = Clock::now();
  r.prefetch(batch, 1, Clock::now() + std::chrono::seconds(5));
  BOOST_TEST(ms_since(t) < 200);  // not slow's 300 ms
  BOOST_TEST(need.status == Status::ok);
  BOOST_TEST(slow.status == Status::skipped);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int sent = fake.received();
  Query again = Query::aaaa("ok.test");
  r.resolve(again, Clock::now() + std::chrono::seconds(2));
  if (other.status != Status::skipped) {  // answered within the grace: kept
    BOOST_TEST(fake.received() == sent);
    BOOST_TEST(again.status == other.status);
  }
  Query slow2 = Query::a("slow.test");
  r.resolve(slow2, Clock::now() + std::chrono::seconds(2));
  BOOST_TEST(slow2.status == Status::ok);  // asked again, waited for
  BOOST_TEST(fake.received() > sent);
  r.end_memo();
}

BOOST_AUTO_TEST_SUITE_END()
