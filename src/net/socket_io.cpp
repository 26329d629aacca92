// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/socket_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

// Wait for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error.
int wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    long ms = ms_until(deadline);
    if (ms <= 0) return 0;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(ms > 1000000 ? 1000000 : ms));
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

}  // namespace

void Fd::reset() {
  if (d_fd >= 0) close(d_fd);
  d_fd = -1;
}

Fd connect_by(const sockaddr* addr, socklen_t len, Deadline deadline, std::string* why) {
  Fd fd(socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    *why = format("socket: %s", std::strerror(errno));
    return Fd();
  }
  if (connect(fd.get(), addr, len) == 0) return fd;
  // EAGAIN (a unix socket's full backlog) is a failure too: poll() would not finish it.
  if (errno != EINPROGRESS) {
    *why = format("connect: %s", std::strerror(errno));
    return Fd();
  }
  int r = wait_for(fd.get(), POLLOUT, deadline);
  if (r == 0) {
    *why = "connect: timed out";
    return Fd();
  }
  int err = 0;
  socklen_t elen = sizeof err;
  if (r < 0 || getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
  if (err != 0) {
    *why = format("connect: %s", std::strerror(err));
    return Fd();
  }
  return fd;
}

Fd connect_unix_by(const std::string& path, Deadline deadline, std::string* why) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    *why = "socket path too long";
    return Fd();
  }
  std::memcpy(sun.sun_path, path.data(), path.size());
  return connect_by(reinterpret_cast<const sockaddr*>(&sun), sizeof sun, deadline, why);
}

bool write_all_by(int fd, std::string_view data, Deadline deadline, std::string* why) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int r = wait_for(fd, POLLOUT, deadline);
      if (r == 0) return *why = "write: timed out", false;
      if (r > 0) continue;
    }
    *why = format("write: %s", std::strerror(errno));
    return false;
  }
  return true;
}

bool read_exact_by(int fd, char* buf, size_t n, Deadline deadline, std::string* why) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, buf + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return *why = format("connection closed after %zu of %zu bytes", got, n), false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int w = wait_for(fd, POLLIN, deadline);
      if (w == 0) return *why = "read: timed out", false;
      if (w > 0) continue;
    }
    *why = format("read: %s", std::strerror(errno));
    return false;
  }
  return true;
}

bool read_to_eof_by(int fd, std::string& out, size_t max, Deadline deadline, std::string* why) {
  char buf[8192];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      if (out.size() + static_cast<size_t>(r) > max)
        return *why = format("answer longer than %zu bytes", max), false;
      out.append(buf, static_cast<size_t>(r));
      continue;
    }
    if (r == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int w = wait_for(fd, POLLIN, deadline);
      if (w == 0) return *why = "read: timed out", false;
      if (w > 0) continue;
    }
    *why = format("read: %s", std::strerror(errno));
    return false;
  }
}

}  // namespace ppolicy
