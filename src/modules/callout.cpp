// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/callout.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "base/strings.hpp"
#include "net/smtp_client.hpp"
#include "net/sock_addr.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

constexpr long k_quit_wait_ms = 1000;  // longest wait for the reply to QUIT

Result transient(int code, std::string info) {
  Result r(code, std::move(info));
  r.transient = true;
  return r;
}

// EHLO (HELO), MAIL FROM, RCPT TO on a session that was greeted with 2xx.
Result dialogue(const CalloutSpec& spec, const MailAddr& m, SmtpClient& smtp) {
  std::string where = m.where(), why;
  auto failure = [&](const char* step) {
    return transient(0, format("mail host %s: %s after %s", where.c_str(), why.c_str(), step));
  };
  auto temporary = [&](const char* step, const SmtpReply& r) {
    return transient(
        0, format("mail host %s answered %s with %s", where.c_str(), step, r.str().c_str()));
  };
  SmtpReply r;
  if (!smtp.command("EHLO " + spec.helo, r, &why)) return failure("EHLO");
  const char* greeting = "EHLO";
  if (r.kind() == 5) {  // an old server (502): HELO
    greeting = "HELO";
    if (!smtp.command("HELO " + spec.helo, r, &why)) return failure("HELO");
  }
  if (r.kind() != 2) return temporary(greeting, r);  // the host refuses us, not the address

  if (!smtp.command("MAIL FROM:" + spec.mail_from, r, &why)) return failure("MAIL FROM");
  // RFC 5321 4.5.5: the null sender must be accepted; a domain that refuses
  // our mail cannot be verified as a destination.
  if (r.kind() == 5)
    return Result(-4, format("mail host %s refuses mail from %s: %s", where.c_str(),
                             spec.mail_from.c_str(), r.str().c_str()));
  if (r.kind() != 2) return temporary("MAIL FROM", r);

  if (!smtp.command("RCPT TO:<" + spec.rcpt + ">", r, &why)) return failure("RCPT TO");
  if (r.kind() == 5)
    return Result(-spec.level, format("mail host %s rejects %s: %s", where.c_str(),
                                      spec.rcpt.c_str(), r.str().c_str()));
  if (r.kind() != 2) return temporary("RCPT TO", r);
  return Result(spec.level, format("mail host %s accepts %s: %s", where.c_str(), spec.rcpt.c_str(),
                                   r.str().c_str()));
}

}  // namespace

std::string MailAddr::where() const {
  return format("%s [%s]", host.c_str(), ip.str().c_str());
}

Result smtp_callout(const std::vector<MailAddr>& addrs, const CalloutSpec& spec,
                    CheckContext& ctx) {
  const char* d = spec.domain.c_str();
  Services& sv = ctx.services();
  // Keep a little of the request's time for the policy to use the answer.
  long remaining = ctx.remaining_ms();
  Deadline limit = ctx.deadline() - std::chrono::milliseconds(std::min(200L, remaining / 20));

  std::vector<std::string> problems;
  int tried = 0, refused_5xx = 0, busy_4xx = 0;
  for (size_t i = 0; i < addrs.size() && i < k_max_addresses; ++i) {
    const MailAddr& m = addrs[i];
    std::string backend = m.ip.v4 ? format("smtp %s:%u", m.ip.str().c_str(), spec.port)
                                  : format("smtp [%s]:%u", m.ip.str().c_str(), spec.port);
    if (!sv.breakers().allow(backend, sv.now())) {
      problems.push_back(m.where() + ": skipped (circuit breaker open)");
      continue;
    }
    if (ms_until(limit) <= 0) break;
    ++tried;
    SmtpClient smtp(spec.step_ms, limit);
    SockAddr sa = sockaddr_of(m.ip, spec.port);
    std::string why;
    SmtpReply banner;
    if (!smtp.connect(sa.get(), sa.len, &why) || !smtp.read_reply(banner, &why)) {
      // Past the request deadline the host is not to blame.
      if (!ctx.expired()) sv.breakers().failure(backend, sv.now(), why);
      problems.push_back(m.where() + ": " + why);
      smtp.quit(0);
      continue;
    }
    sv.breakers().success(backend, sv.now());
    if (banner.kind() != 2) {
      ++(banner.kind() == 5 ? refused_5xx : busy_4xx);
      problems.push_back(m.where() + ": " + banner.str());
      smtp.quit(k_quit_wait_ms);
      continue;
    }
    if (spec.level <= 3) {
      smtp.quit(k_quit_wait_ms);
      return Result(3, format("mail host %s accepts connections: %s", m.where().c_str(),
                              banner.str().c_str()));
    }
    Result r = dialogue(spec, m, smtp);
    smtp.quit(k_quit_wait_ms);
    if (smtp.timed_out() && !ctx.expired()) sv.breakers().failure(backend, sv.now(), r.info);
    return r;
  }

  std::string all = problems.empty() ? "no time left" : join(problems, "; ");
  if (spec.level <= 3) {
    // Every address answered, with a 5xx greeting (none skipped, none silent).
    if (tried > 0 && refused_5xx == static_cast<int>(problems.size()))
      return Result(-3, format("no mail host of %s offers SMTP service: %s", d, all.c_str()));
    if (busy_4xx == 0 && !problems.empty())
      return transient(-3, format("no mail host of %s accepts connections: %s", d, all.c_str()));
  }
  return transient(0, format("no mail host of %s accepted a session: %s", d, all.c_str()));
}

}  // namespace ppolicy
