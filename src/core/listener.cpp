// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/net.hpp"
#include "base/strings.hpp"

namespace ppolicy {

namespace {

int bind_inet(const ListenSpec& s) {
  auto addr = IpAddress::parse(s.host);
  int family = addr->v4 ? AF_INET : AF_INET6;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(format("%s: socket: %s", s.text.c_str(), std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (addr->v4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(s.port));
    std::memcpy(&sa.sin_addr, &addr->bytes[12], 4);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    // One family per listener: "[::]" means IPv6 only; list 0.0.0.0 as well for both.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(s.port));
    std::memcpy(&sa.sin6_addr, addr->bytes.data(), 16);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error(format("%s: cannot listen: %s", s.text.c_str(), std::strerror(e)));
  }
  return fd;
}

int bind_unix(const ListenSpec& s, unsigned mode, gid_t group) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(format("%s: socket: %s", s.text.c_str(), std::strerror(errno)));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s.path.c_str());
  // A socket file left by a daemon that died: remove it, unless something
  // still answers on it (then another ppolicyd runs and binding must fail).
  struct stat st {};
  if (lstat(s.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool alive = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (probe >= 0) close(probe);
    if (alive) {
      close(fd);
      throw std::runtime_error(
          format("%s: another process is listening on this socket", s.text.c_str()));
    }
    unlink(s.path.c_str());
  }
  // The mode comes from the umask at bind() and the group from lchown():
  // a chmod/chown by path after bind() would follow a symlink put in the
  // socket's place (bits beyond 0777 mean nothing on a socket).
  mode_t old = umask(static_cast<mode_t>(~mode & 0777));
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  umask(old);
  if (rc != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error(format("%s: cannot listen: %s", s.text.c_str(), std::strerror(e)));
  }
  if (group != static_cast<gid_t>(-1) &&
      lchown(s.path.c_str(), static_cast<uid_t>(-1), group) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error(
        format("%s: cannot set permissions: %s", s.text.c_str(), std::strerror(e)));
  }
  return fd;
}

}  // namespace

std::vector<Listener> bind_listeners(const std::vector<std::string>& specs, unsigned unix_mode,
                                     gid_t unix_group) {
  std::vector<Listener> out;
  try {
    for (const auto& text : specs) {
      std::string why;
      auto s = ListenSpec::parse(text, &why);
      if (!s) throw std::runtime_error(why);
      Listener l;
      l.spec = *s;
      l.fd = s->unix_socket ? bind_unix(*s, unix_mode, unix_group) : bind_inet(*s);
      out.push_back(std::move(l));
    }
  } catch (...) {
    close_listeners(out, true);
    throw;
  }
  return out;
}

void close_listeners(std::vector<Listener>& listeners, bool unlink_unix) {
  for (auto& l : listeners) {
    if (l.fd >= 0) close(l.fd);
    l.fd = -1;
    if (unlink_unix && l.spec.unix_socket) unlink(l.spec.path.c_str());
  }
  listeners.clear();
}

}  // namespace ppolicy
