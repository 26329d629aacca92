// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/log.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

LogTarget g_target;
bool g_syslog_open = false;
std::function<void(LogLevel, std::string_view)> g_capture;

// Held lines (log_hold). Plain arrays and a committed count, so that a
// signal handler can write what is complete (log_flush_from_signal).
constexpr size_t k_held_bytes = 16 * 1024;  // ~60 decision lines
constexpr size_t k_held_lines = 128;
struct Held {
  bool on = false;
  int syslog_fd = -1;  // our own /dev/log socket (syslog target)
  char buf[k_held_bytes];
  uint32_t off[k_held_lines];
  uint32_t len[k_held_lines];
  volatile size_t lines = 0;  // committed lines
  size_t bytes = 0;
  time_t stamp_second = -1;  // syslog time stamp of this second
  char stamp[32] = "";
};
Held g_held;

const char* const k_words[] = {"error: ", "warning: ", "", ""};

// getpid() is a system call (glibc no longer caches it) and every stderr
// line carries the pid: cached, and forgotten in a child after fork().
pid_t g_pid = 0;
int my_pid() {
  if (g_pid == 0) g_pid = getpid();
  return static_cast<int>(g_pid);
}

int syslog_priority(LogLevel level) {
  static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
  return (g_target.facility ? g_target.facility : LOG_MAIL) | prio[static_cast<int>(level)];
}

// A datagram socket connected to /dev/log, or -1. System calls only.
int syslog_connect() {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, "/dev/log", sizeof "/dev/log");
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A syslog daemon restarted without systemd's socket holding /dev/log
// made a new socket: ours is refused from then on. Connect again once (as
// syslog(3) does); the old descriptor number is kept.
bool syslog_reconnect(int err) {
  if (err != ECONNREFUSED && err != ENOTCONN && err != ECONNRESET) return false;
  int fd = syslog_connect();
  if (fd < 0) return false;
  dup3(fd, g_held.syslog_fd, O_CLOEXEC);
  close(fd);
  return true;
}

// Writes lines [0, n) of the held buffer: one write() (stderr) or one
// sendmmsg() (syslog datagrams). System calls only (async-signal-safe).
void write_held(size_t n) {
  if (n == 0) return;
  if (g_held.syslog_fd >= 0) {
    mmsghdr msgs[k_held_lines];
    iovec iov[k_held_lines];
    std::memset(msgs, 0, sizeof(mmsghdr) * n);
    for (size_t i = 0; i < n; ++i) {
      iov[i] = {g_held.buf + g_held.off[i], g_held.len[i]};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    size_t sent = 0;
    bool retried = false;
    while (sent < n) {
      int r =
          sendmmsg(g_held.syslog_fd, msgs + sent, static_cast<unsigned>(n - sent), MSG_NOSIGNAL);
      if (r < 0 && !retried && syslog_reconnect(errno)) {
        retried = true;
        continue;
      }
      if (r <= 0) break;  // syslogd gone or full: the lines are lost, as with syslog(3)
      sent += static_cast<size_t>(r);
    }
    return;
  }
  size_t end = g_held.off[n - 1] + g_held.len[n - 1];
  ssize_t ignored = write(STDERR_FILENO, g_held.buf, end);
  (void)ignored;
}

void hold_line(std::string_view line) {
  if (g_held.lines == k_held_lines || g_held.bytes + line.size() > k_held_bytes) log_flush();
  if (line.size() > k_held_bytes) {  // cannot happen (lines are cut far shorter); never lose it
    ssize_t ignored = g_held.syslog_fd >= 0
                          ? send(g_held.syslog_fd, line.data(), line.size(), MSG_NOSIGNAL)
                          : write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
    return;
  }
  size_t i = g_held.lines;
  g_held.off[i] = static_cast<uint32_t>(g_held.bytes);
  g_held.len[i] = static_cast<uint32_t>(line.size());
  std::memcpy(g_held.buf + g_held.bytes, line.data(), line.size());
  g_held.bytes += line.size();
  g_held.lines = i + 1;  // committed: a signal handler may write it now
}

// The line as syslog(3) with LOG_PID sends it: "<PRI>Mmm dd hh:mm:ss ident[pid]: msg".
void append_syslog_prefix(std::string& line, LogLevel level) {
  time_t now = time(nullptr);
  if (now != g_held.stamp_second) {
    tm t{};
    localtime_r(&now, &t);
    strftime(g_held.stamp, sizeof g_held.stamp, "%h %e %T", &t);
    g_held.stamp_second = now;
  }
  line += '<';
  append_int(line, syslog_priority(level));
  line += '>';
  line += g_held.stamp;
  line += ' ';
  line += g_target.ident;
  line += '[';
  append_int(line, my_pid());
  line += "]: ";
}

// Every line goes through here; a decision line (log_text) comes without
// printf and without a heap allocation: the line is put together in a
// buffer each thread keeps.
void emit_text(LogLevel level, std::string_view msg) {
  if (static_cast<int>(level) > static_cast<int>(g_target.level)) return;
  if (g_capture) {
    g_capture(level, msg);
    return;
  }
  bool hold = g_held.on && level >= LogLevel::info;
  if (g_held.on && !hold) log_flush();  // keep the order of lines
  const char* word = k_words[static_cast<int>(level)];
  if (g_target.use_syslog && g_held.syslog_fd < 0) {
    syslog(syslog_priority(level), "%s%.*s", word, static_cast<int>(msg.size()), msg.data());
    return;
  }
  thread_local std::string line;
  line.clear();
  if (g_target.use_syslog) {
    append_syslog_prefix(line, level);
  } else {
    line += g_target.ident;
    line += '[';
    append_int(line, my_pid());
    line += "]: ";
  }
  line += word;
  line += msg;
  if (hold) {
    // One write per batch of whole lines, so lines from many workers do
    // not interleave (syslog: one datagram per line).
    if (!g_target.use_syslog) line += '\n';
    hold_line(line);
    return;
  }
  if (g_target.use_syslog) {
    if (send(g_held.syslog_fd, line.data(), line.size(), MSG_NOSIGNAL) < 0 &&
        syslog_reconnect(errno)) {
      ssize_t ignored = send(g_held.syslog_fd, line.data(), line.size(), MSG_NOSIGNAL);
      (void)ignored;
    }
    return;
  }
  line += '\n';
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

void emit(LogLevel level, const char* fmt, va_list ap) {
  if (static_cast<int>(level) > static_cast<int>(g_target.level)) return;
  std::string msg = vformat(fmt, ap);
  emit_text(level, msg);
}

}  // namespace

void log_open(const LogTarget& target) {
  static bool atfork = false;
  if (!atfork) {
    pthread_atfork(nullptr, nullptr, [] { g_pid = 0; });
    atfork = true;
  }
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

void log_hold() {
  g_held.on = true;
  // Touched now: the worker's memory is then what it will stay, instead of
  // creeping up by a page whenever a burst fills the buffer deeper.
  std::memset(g_held.buf, 0, sizeof g_held.buf);
  if (!g_target.use_syslog || g_held.syslog_fd >= 0) return;
  // Our own connection to /dev/log (datagrams, as syslog(3) uses), so that
  // held lines go out with one sendmmsg(). Without it, syslog(3) as before.
  g_held.syslog_fd = syslog_connect();
}

bool log_held() {
  return g_held.lines != 0;
}

void log_flush() {
  write_held(g_held.lines);
  g_held.lines = 0;
  g_held.bytes = 0;
}

void log_flush_from_signal() {
  write_held(g_held.lines);
  g_held.lines = 0;
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

void log_text(LogLevel level, std::string_view msg) {
  emit_text(level, msg);
}

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
