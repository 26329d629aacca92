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
// A line already put together (the decision line of every request): no
// printf, no allocation on the way.
void log_text(LogLevel level, std::string_view msg);
// Unrecoverable: log and exit(1).
[[noreturn, gnu::format(printf, 1, 2)]] void log_fatal(const char* fmt, ...);

// Held lines (workers): info and debug lines are kept in a buffer and
// written together by log_flush() (the worker calls it at most every
// 100 ms and when it goes idle), as one write() to stderr or one
// sendmmsg() of separate datagrams to /dev/log: one system call for many
// decisions instead of one each. Warnings and errors flush the buffer and
// are written at once, so lines stay in order. A full buffer is flushed
// before it takes more. Syslog stamps the time the line was made.
void log_hold();
bool log_held();  // lines wait
void log_flush();
// For a signal handler about to _exit (the request watchdog): writes what
// is held with system calls only.
void log_flush_from_signal();

// "mail", "local0", ... -> LOG_* constant, or -1.
int syslog_facility(std::string_view name);

}  // namespace ppolicy
