// SPDX-License-Identifier: GPL-2.0-or-later
// Blocking-style socket I/O with a deadline, for modules that talk to a
// network service from a worker (P0f over a unix socket, Whois over TCP,
// later Verification over SMTP). Every call returns by the deadline: sockets
// are non-blocking and each wait is a poll() bounded by the time left.
// Failures are reported as text (for a module's info), never as exceptions.
// Does not resolve host names (see whois.cpp) and keeps no state.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace ppolicy {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : d_fd(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : d_fd(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      d_fd = o.release();
    }
    return *this;
  }
  int get() const { return d_fd; }
  explicit operator bool() const { return d_fd >= 0; }
  int release() {
    int fd = d_fd;
    d_fd = -1;
    return fd;
  }
  void reset();

 private:
  int d_fd = -1;
};

// Connect a stream socket to `addr` (AF_INET, AF_INET6 or AF_UNIX) by the
// deadline. Returns an invalid Fd and sets *why on failure.
Fd connect_by(const sockaddr* addr, socklen_t len, Deadline deadline, std::string* why);
Fd connect_unix_by(const std::string& path, Deadline deadline, std::string* why);

// Write all of `data` by the deadline (no SIGPIPE).
bool write_all_by(int fd, std::string_view data, Deadline deadline, std::string* why);
// Read exactly `n` bytes by the deadline ("connection closed" if EOF first).
bool read_exact_by(int fd, char* buf, size_t n, Deadline deadline, std::string* why);
// Read until the peer closes, at most `max` bytes (more is an error), by the deadline.
bool read_to_eof_by(int fd, std::string& out, size_t max, Deadline deadline, std::string* why);

}  // namespace ppolicy
