// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: the policy language (src/policy: lexer, parser, type
// checks, compilation, action validation, and evaluation). The fuzzed text
// is the body of a [policy] section after a fixed prelude of three Dummy
// module instances (or, when it starts with "!", one expression per line,
// each bound by `set` and expanded into the reply); a policy that compiles
// is evaluated against two fixed requests with a short deadline, and its
// reply must be a valid action.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "base/log.hpp"
#include "fuzz_common.hpp"
#include "proto/action.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/handler.hpp"
#include "svc/services.hpp"

using namespace ppolicy;

namespace {

const char k_prelude[] =
    "[ppolicyd]\nrequest_timeout = 200ms\n"
    "[module dummy]\ntype = Dummy\n"
    "[module d2]\ntype = Dummy\ntest1 = x\n"
    "[module nocache]\ntype = Dummy\ncachePositive = 0\ncacheNegative = 0\ncacheUnknown = 0\n"
    "[policy fuzz]\n";

void fill(Request& r, int variant) {
  r.clear();
  r.set("request", "smtpd_access_policy");
  r.set("protocol_state", variant ? "END-OF-MESSAGE" : "RCPT");
  r.set("client_address", variant ? "2001:db8::1" : "192.0.2.10");
  r.set("client_name", variant ? "unknown" : "Mail.Example.TEST");
  r.set("helo_name", variant ? "[192.0.2.10]" : "mail.example.test");
  r.set("sender", variant ? "" : "Alice@Example.TEST");
  r.set("recipient", variant ? "postmaster" : "bob@example.org");
  r.set("recipient_count", variant ? "3" : "0");
  r.set("size", variant ? "123456" : "");
  r.set("queue_id", variant ? "4Xy1Zq2LmNp3" : "");
  r.set("x_unknown", "\xc3\xa9t\xc3\xa9");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log_capture([](LogLevel, std::string_view) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::string body =
      restrict_module_types(std::string(reinterpret_cast<const char*>(data), size), {"Dummy"});
  if (!body.empty() && body[0] == '!') {
    // Expression mode: each line is an expression, bound to a variable and
    // expanded into the reply, so that everything well-typed compiles and
    // is evaluated (raw statements rarely get that far).
    std::string stmts, reply = "default = WARN x";
    size_t start = 1;
    for (int i = 0; i < 8 && start <= body.size(); ++i) {
      size_t nl = body.find('\n', start);
      size_t len = nl == std::string::npos ? std::string::npos : nl - start;
      stmts += "set v" + std::to_string(i) + " = " + body.substr(start, len) + "\n";
      reply += " ${v" + std::to_string(i) + "}";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    body = stmts + reply + "\n";
  }
  std::string text = k_prelude + body;
  std::unique_ptr<Generation> config;
  try {
    config = Generation::load_text(text, "fuzz.conf", {});
  } catch (const std::exception& e) {
    if (!*e.what()) __builtin_trap();
    return 0;
  }
  Services services(config->config(), nullptr);
  RequestHandler handler(*config, services, nullptr);
  Request r;
  for (int variant = 0; variant < 2; ++variant) {
    fill(r, variant);
    Decision d = handler.handle(r, nullptr);
    std::string why;
    // Never an invalid reply: a known word, one line, no NUL.
    if (d.reply.empty() || !split_action(d.reply, &why) ||
        d.reply.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
      __builtin_trap();
    (void)RequestHandler::log_line(r, d, 1.0);
    (void)RequestHandler::trace(r, d, 1.0);
  }
  return 0;
}
