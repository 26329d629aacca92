// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

LogTarget g_target;
bool g_syslog_open = false;
std::function<void(LogLevel, std::string_view)> g_capture;

void emit(LogLevel level, const char* fmt, va_list ap) {
  if (static_cast<int>(level) > static_cast<int>(g_target.level)) return;
  std::string msg = vformat(fmt, ap);
  if (g_capture) {
    g_capture(level, msg);
    return;
  }
  static const char* const words[] = {"error: ", "warning: ", "", ""};
  if (g_target.use_syslog) {
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    syslog(prio[static_cast<int>(level)], "%s%s", words[static_cast<int>(level)], msg.c_str());
    return;
  }
  // One write per line so lines from many workers do not interleave.
  std::string line = format("%s[%d]: %s%s\n", g_target.ident.c_str(), static_cast<int>(getpid()),
                            words[static_cast<int>(level)], msg.c_str());
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void log_open(const LogTarget& target) {
  g_target = target;
  if (g_syslog_open) {
    closelog();
    g_syslog_open = false;
  }
  if (target.use_syslog) {
    openlog(g_target.ident.c_str(), LOG_PID | LOG_NDELAY,
            target.facility ? target.facility : LOG_MAIL);
    g_syslog_open = true;
  }
}

LogLevel log_level() {
  return g_target.level;
}
bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(g_target.level);
}
void log_capture(std::function<void(LogLevel, std::string_view)> sink) {
  g_capture = std::move(sink);
}

#define PPOLICY_LOG_FN(name, level) \
  void name(const char* fmt, ...) { \
    va_list ap;                     \
    va_start(ap, fmt);              \
    emit(level, fmt, ap);           \
    va_end(ap);                     \
  }
PPOLICY_LOG_FN(log_error, LogLevel::error)
PPOLICY_LOG_FN(log_warn, LogLevel::warning)
PPOLICY_LOG_FN(log_info, LogLevel::info)
PPOLICY_LOG_FN(log_debug, LogLevel::debug)
#undef PPOLICY_LOG_FN

void log_fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string msg = vformat(fmt, ap);
  va_end(ap);
  log_error("fatal: %s", msg.c_str());
  std::exit(1);
}

int syslog_facility(std::string_view name) {
  static const struct {
    const char* name;
    int value;
  } table[] = {{"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
               {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
               {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
               {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  for (const auto& f : table)
    if (name == f.name) return f.value;
  return -1;
}

}  // namespace ppolicy
