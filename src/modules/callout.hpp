// SPDX-License-Identifier: GPL-2.0-or-later
// One SMTP callout for Verification (worker side): talk to a domain's mail
// hosts as a sending MTA would, far enough to learn whether they accept
// connections (level 3), mail for the domain's postmaster (4) or for one
// address (5), and say what that means as a module Result.
//
// The addresses are tried in order (at most k_max_addresses): a refused or
// silent host, or a 4xx/5xx greeting (Postfix: smtp_skip_5xx_greeting),
// moves to the next; the first session that gets past the greeting decides
// (a backup MX that accepts everything must not answer for the primary).
// Every step waits at most `step_ms` and never past the request deadline
// minus a small reserve (so the policy still gets the answer); every
// session opened ends with QUIT. Hosts that keep refusing or stalling are
// skipped by their circuit breaker ("smtp ADDRESS:PORT").
//
// Codes (the Verification ladder): +level accepted; 5xx at RCPT -level
// (-4 for the postmaster); 5xx at MAIL FROM -4 (the domain refuses our
// mail); level 3: every host that answered greeted with 5xx -3, none
// could be reached -3 (transient). Everything temporary (4xx, timeouts,
// closed connections, a 5xx to HELO: the host refuses us, not the address)
// is 0 and transient.
//
// Not here: mail host lookup, address parsing, caching, the in-flight limit
// (modules/verification.cpp, net/inflight.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/net.hpp"
#include "modules/module.hpp"

namespace ppolicy {

struct MailAddr {
  std::string host;  // the exchanger's name
  IpAddress ip;
  std::string where() const;  // "mx.example.org [192.0.2.25]"
};

struct CalloutSpec {
  int level = 3;          // 3 connection, 4 domain, 5 user
  std::string domain;     // for messages
  std::string rcpt;       // RCPT TO address (levels 4, 5), already quoted
  std::string mail_from;  // "<>" or "<address>"
  std::string helo;
  uint16_t port = 25;
  long step_ms = 20000;
};

constexpr size_t k_max_addresses = 3;  // mail host addresses tried per callout

Result smtp_callout(const std::vector<MailAddr>& addrs, const CalloutSpec& spec, CheckContext& ctx);

}  // namespace ppolicy
