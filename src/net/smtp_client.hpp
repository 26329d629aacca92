// SPDX-License-Identifier: GPL-2.0-or-later
// The client side of one SMTP session (RFC 5321), as much as a callout
// needs: connect, read the greeting, send a command and read its reply
// (multi-line replies, "250-...\r\n250 ..."), and end politely with QUIT.
// Used by Verification in a worker. Every wait (connect, each reply, each
// write) is bounded by the step timeout and by an overall limit (the
// request deadline): nothing here blocks past it. Failures are text (for a
// module's info), never exceptions.
//
// Not here: no mail host lookup (dns/mailhosts.hpp), no STARTTLS, no
// PIPELINING, no DATA; what a reply means for the verification is the
// module's business.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "net/socket_io.hpp"

namespace ppolicy {

struct SmtpReply {
  int code = 0;      // 200..599; 0 when no valid reply arrived
  std::string text;  // the text of every line (without the codes), joined by " "
  int kind() const { return code / 100; }  // 2 success, 4 temporary, 5 permanent
  std::string str() const;                 // "550 5.1.1 no such user" (bounded, printable)
};

class SmtpClient {
 public:
  // `step_ms`: longest wait of one step; `limit`: no step waits past it.
  SmtpClient(long step_ms, Deadline limit) : d_step_ms(step_ms), d_limit(limit) {}
  ~SmtpClient() { close(); }
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  // Open the TCP connection. False (with *why) when refused or timed out.
  bool connect(const sockaddr* addr, socklen_t len, std::string* why);
  bool connected() const { return static_cast<bool>(d_fd); }
  // True after a step timed out (the peer is stalled: QUIT is not waited for).
  bool timed_out() const { return d_timed_out; }

  // Read one reply (the greeting, or the answer to a command).
  bool read_reply(SmtpReply& reply, std::string* why);
  // Send one command line (CRLF is added) and read its reply.
  bool command(std::string_view line, SmtpReply& reply, std::string* why);
  // Send QUIT when connected; wait at most `wait_ms` for its reply unless
  // the peer is stalled or broken; close the connection.
  void quit(long wait_ms);
  void close() { d_fd.reset(); }

  // Limits on what a server may send.
  static constexpr size_t k_max_line = 2048;  // RFC 5321: 512, but be lenient
  static constexpr int k_max_lines = 100;

 private:
  bool read_line(std::string& line, Deadline deadline, std::string* why);
  Deadline step_deadline() const { return deadline_in(d_step_ms, d_limit); }

  Fd d_fd;
  std::string d_buf;  // received, not yet consumed
  long d_step_ms;
  Deadline d_limit;
  bool d_timed_out = false, d_broken = false;
};

// An address of a mail path, quoted as RFC 5321 wants it: the local part
// as a quoted string when it is not a dot-atom ("john doe"@example.org).
// Empty when it cannot be sent (control characters, non-ASCII: SMTPUTF8 is
// not spoken, or longer than RFC 5321 allows).
std::string smtp_path_address(std::string_view local, std::string_view domain);

}  // namespace ppolicy
