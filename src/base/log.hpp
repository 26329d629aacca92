// SPDX-License-Identifier: GPL-2.0-or-later
// Logging: syslog (facility mail by default) or stderr, with Postfix's
// severity words ("warning: ...", "fatal: ..."). One process-wide sink; the
// master and every worker call log_open() after deciding where to log.
// Messages are lowercase, no trailing period: "context: what: detail".
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ppolicy {

enum class LogLevel { error = 0, warning = 1, info = 2, debug = 3 };

struct LogTarget {
  bool use_syslog = false;
  int facility = 0;  // LOG_MAIL etc.; 0 means LOG_MAIL
  std::string ident = "ppolicyd";
  LogLevel level = LogLevel::info;
};

void log_open(const LogTarget& target);
LogLevel log_level();
bool log_enabled(LogLevel level);
// Tests capture messages instead of printing them (nullptr restores).
void log_capture(std::function<void(LogLevel, std::string_view)> sink);

[[gnu::format(printf, 1, 2)]] void log_error(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void log_warn(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void log_info(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void log_debug(const char* fmt, ...);
// Unrecoverable: log and exit(1).
[[noreturn, gnu::format(printf, 1, 2)]] void log_fatal(const char* fmt, ...);

// "mail", "local0", ... -> LOG_* constant, or -1.
int syslog_facility(std::string_view name);

}  // namespace ppolicy
