// SPDX-License-Identifier: GPL-2.0-or-later
// net/smtp_client: SMTP replies (multi-line, bare LF, malformed, overlong,
// silent and closing servers), commands and QUIT on a loopback socket, and
// the quoting of mail path addresses.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>

#include "net/smtp_client.hpp"

using namespace ppolicy;

namespace {

using Clock = std::chrono::steady_clock;

// A listening socket on 127.0.0.1 and the server side of one connection.
struct Peer {
  Fd listener, conn;
  sockaddr_in addr{};

  Peer() {
    listener = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    BOOST_REQUIRE(listen(listener.get(), 4) == 0);
  }
  // Connect `c` and accept its connection.
  void connect(SmtpClient& c) {
    std::string why;
    BOOST_REQUIRE_MESSAGE(c.connect(reinterpret_cast<sockaddr*>(&addr), sizeof addr, &why), why);
    conn = Fd(accept(listener.get(), nullptr, nullptr));
    BOOST_REQUIRE(conn);
  }
  void send(const std::string& s) {
    BOOST_REQUIRE(::send(conn.get(), s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()));
  }
  std::string received() {
    char buf[4096];
    ssize_t n = recv(conn.get(), buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
};

Deadline in_ms(long ms) {
  return Clock::now() + std::chrono::milliseconds(ms);
}

struct ReplyCase {
  const char* wire;
  bool ok;
  int code;
  const char* text;  // or a part of the error
};

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp)

BOOST_AUTO_TEST_CASE(replies) {
  const ReplyCase cases[] = {
      {"220 mx.example.org ESMTP\r\n", true, 220, "mx.example.org ESMTP"},
      {"250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n", true, 250,
       "mx.example.org PIPELINING 8BITMIME"},
      {"550 5.1.1 no such user\n", true, 550, "5.1.1 no such user"},  // bare LF
      {"250\r\n", true, 250, ""},
      {"450-first\r\n451 second\r\n", false, 0, "invalid reply"},
      {"hello\r\n", false, 0, "invalid reply"},
      {"250_x\r\n", false, 0, "invalid reply"},
      {"650 not a code\r\n", false, 0, "invalid reply"},
  };
  for (const auto& c : cases) {
    Peer p;
    SmtpClient smtp(2000, in_ms(5000));
    p.connect(smtp);
    p.send(c.wire);
    SmtpReply r;
    std::string why;
    bool ok = smtp.read_reply(r, &why);
    BOOST_TEST_CONTEXT(c.wire) {
      BOOST_TEST(ok == c.ok);
      BOOST_TEST(r.code == c.code);
      if (c.ok)
        BOOST_TEST(r.text == c.text);
      else
        BOOST_TEST(why.find(c.text) != std::string::npos, why);
    }
  }
}

BOOST_AUTO_TEST_CASE(overlong_silent_and_closing_servers) {
  {
    Peer p;
    SmtpClient smtp(2000, in_ms(5000));
    p.connect(smtp);
    p.send("220 " + std::string(SmtpClient::k_max_line + 100, 'x'));
    SmtpReply r;
    std::string why;
    BOOST_TEST(!smtp.read_reply(r, &why));
    BOOST_TEST(why.find("longer than") != std::string::npos, why);
  }
  {
    // A silent server: the step timeout, not the overall limit, ends the wait.
    Peer p;
    SmtpClient smtp(150, in_ms(5000));
    p.connect(smtp);
    SmtpReply r;
    std::string why;
    auto t0 = Clock::now();
    BOOST_TEST(!smtp.read_reply(r, &why));
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    BOOST_TEST(smtp.timed_out());
    BOOST_TEST((ms >= 140 && ms < 1000), ms);
    BOOST_TEST(why.find("timed out") != std::string::npos, why);
    // ... and the overall limit bounds a long step timeout.
    SmtpClient smtp2(10000, in_ms(100));
    p.connect(smtp2);
    t0 = Clock::now();
    BOOST_TEST(!smtp2.read_reply(r, &why));
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    BOOST_TEST((ms >= 90 && ms < 1000), ms);
  }
  {
    Peer p;
    SmtpClient smtp(2000, in_ms(5000));
    p.connect(smtp);
    p.send("250-half\r\n");
    p.conn.reset();
    SmtpReply r;
    std::string why;
    BOOST_TEST(!smtp.read_reply(r, &why));
    BOOST_TEST(why.find("closed") != std::string::npos, why);
  }
}

BOOST_AUTO_TEST_CASE(commands_and_quit) {
  Peer p;
  SmtpClient smtp(2000, in_ms(5000));
  p.connect(smtp);
  p.send("250 OK\r\n");  // sent early: the command's reply is read after the write
  SmtpReply r;
  std::string why;
  BOOST_TEST(smtp.command("MAIL FROM:<>", r, &why), why);
  BOOST_TEST(r.code == 250);
  BOOST_TEST(r.str() == "250 OK");
  BOOST_TEST(p.received() == "MAIL FROM:<>\r\n");
  p.send("221 bye\r\n");
  smtp.quit(500);
  BOOST_TEST(!smtp.connected());
  BOOST_TEST(p.received() == "QUIT\r\n");
  // QUIT after a timeout is sent, but not waited for.
  Peer q;
  SmtpClient slow(100, in_ms(5000));
  q.connect(slow);
  BOOST_TEST(!slow.read_reply(r, &why));
  auto t0 = Clock::now();
  slow.quit(3000);
  BOOST_TEST((Clock::now() - t0 < std::chrono::milliseconds(500)));
  BOOST_TEST(q.received() == "QUIT\r\n");
}

BOOST_AUTO_TEST_CASE(refused_connection) {
  sockaddr_in addr{};
  {
    Peer p;  // bound, then closed: nothing listens on its port any more
    addr = p.addr;
  }
  SmtpClient smtp(1000, in_ms(5000));
  std::string why;
  BOOST_TEST(!smtp.connect(reinterpret_cast<sockaddr*>(&addr), sizeof addr, &why));
  BOOST_TEST(why.find("refused") != std::string::npos, why);
  BOOST_TEST(!smtp.timed_out());
}

BOOST_AUTO_TEST_CASE(path_addresses) {
  struct {
    const char* local;
    const char* domain;
    const char* want;
  } const cases[] = {
      {"alice", "example.org", "alice@example.org"},
      {"a.b+tag", "example.org", "a.b+tag@example.org"},
      {"john doe", "example.org", "\"john doe\"@example.org"},
      {"a\"b\\c", "example.org", "\"a\\\"b\\\\c\"@example.org"},
      {".alice", "example.org", "\".alice\"@example.org"},
      {"a..b", "example.org", "\"a..b\"@example.org"},
      {"a<b>", "example.org", "\"a<b>\"@example.org"},
      {"", "example.org", ""},
      {"a\r\nRSET", "example.org", ""},
      {"j\xc3\xb6rg", "example.org", ""},
      {"alice", "exa mple.org", ""},
      {"alice", "example.org>", ""},
  };
  for (const auto& c : cases)
    BOOST_TEST(smtp_path_address(c.local, c.domain) == c.want, c.local);
  BOOST_TEST(smtp_path_address(std::string(64, 'a'), "x.org").size() == 70);
  BOOST_TEST(smtp_path_address(std::string(65, 'a'), "x.org").empty());
}

BOOST_AUTO_TEST_SUITE_END()
