// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket (master: bind, accept), the child that serves one
// control connection (peer check, one command, the answer), the output
// format, and the client of `ppolicyd -C`. The commands themselves:
// control_cmds.cpp.
#include "core/control.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "core/listener.hpp"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

namespace ppolicy {
namespace {

constexpr size_t k_max_request = 4096;
constexpr int k_read_timeout_ms = 5000;
// A command that takes longer (a database that hangs) is cut: the child
// gets SIGALRM and the client an empty answer.
constexpr unsigned k_command_timeout_s = 60;

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

// Root, the daemon's user, or a member of the daemon's group (primary or
// supplementary, as the kernel saw the peer when it connected).
bool peer_allowed(int fd, const Peer& p) {
  if (p.uid == 0 || p.uid == geteuid() || p.gid == getegid()) return true;
  gid_t groups[256];
  socklen_t len = sizeof groups;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) return false;
  for (size_t i = 0; i < len / sizeof(gid_t); ++i)
    if (groups[i] == getegid()) return true;
  return false;
}

// The arguments, one per line, ended by an empty line; at most
// k_max_request bytes, each read within k_read_timeout_ms. False: `why`.
bool read_request(int fd, std::vector<std::string>& args, std::string& why) {
  std::string buf;
  while (buf.find("\n\n") == std::string::npos && buf != "\n") {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, k_read_timeout_ms) <= 0) return why = "no command within 5 s", false;
    char tmp[1024];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return why = "closed before the end of the command", false;
    buf.append(tmp, static_cast<size_t>(r));
    if (buf.size() > k_max_request)
      return why = format("command longer than %zu bytes", k_max_request), false;
  }
  buf.resize(buf.find("\n\n") == std::string::npos ? 0 : buf.find("\n\n"));
  if (!buf.empty()) args = split(buf, "\n");
  return true;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += format("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool is_number(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// A value printed in a "k=v" line: quoted when it holds a blank or a quote.
std::string text_value(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v)
    plain = plain && c != ' ' && c != '"' && c != '\t' && c != '=';
  return plain ? std::string(v) : json_string(v);
}

}  // namespace

ControlSocket::ControlSocket(const std::string& path, gid_t group) : d_path(path) {
  auto ls = bind_listeners({"unix:" + path}, 0660, group);
  d_fd = ls.at(0).fd;
  ls[0].fd = -1;
}

ControlSocket::~ControlSocket() {
  if (d_fd >= 0) close(d_fd);
}

int ControlSocket::accept_one() {
  return accept4(d_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

void ControlSocket::close_in_child() {
  if (d_fd >= 0) close(d_fd);
  d_fd = -1;
}

void ControlSocket::remove() {
  if (d_fd < 0) return;
  close_in_child();
  unlink(d_path.c_str());
}

std::string format_records(const std::vector<AdminRecord>& recs, bool json) {
  std::string out;
  if (json) {
    out = "[";
    for (size_t r = 0; r < recs.size(); ++r) {
      out += r ? ",\n {" : "{";
      for (size_t i = 0; i < recs[r].size(); ++i) {
        const auto& [k, v] = recs[r][i];
        out += (i ? ", " : "") + json_string(k) + ": " + (is_number(v) ? v : json_string(v));
      }
      out += "}";
    }
    return out + "]\n";
  }
  for (const auto& rec : recs) {
    for (size_t i = 0; i < rec.size(); ++i) {
      const auto& [k, v] = rec[i];
      // The first pair names the kind of record: printed as a bare word.
      out += i == 0 ? v : " " + k + "=" + text_value(v);
    }
    out += "\n";
  }
  return out;
}

void control_child(int fd, Generation& gen, Segment& shm, const PoolSnapshot& pool) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGALRM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  prctl(PR_SET_NAME, "ppolicyd-ctl");
  alarm(k_command_timeout_s);
  ucred cred{};
  socklen_t len = sizeof cred;
  Peer peer;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) _exit(1);
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  if (!peer_allowed(fd, peer)) {
    log_warn("control: refused uid=%d pid=%d: neither root nor the daemon's user or group",
             static_cast<int>(peer.uid), static_cast<int>(peer.pid));
    write_all(fd, "error\npermission denied: only root and the daemon's group may control it\n");
    _exit(0);
  }
  std::vector<std::string> args;
  std::string why;
  if (!read_request(fd, args, why)) {
    log_warn("control: uid=%d pid=%d: %s: dropped", static_cast<int>(peer.uid),
             static_cast<int>(peer.pid), why.c_str());
    write_all(fd, "error\n" + why + "\n");
    _exit(1);
  }
  std::string out;
  bool ok;
  try {
    ok = run_control_command(args, peer, gen, shm, pool, out);
  } catch (const std::exception& e) {
    ok = false;
    out = e.what();
  }
  if (!ok && (out.empty() || out.back() != '\n')) out += '\n';
  write_all(fd, (ok ? "ok\n" : "error\n") + out);
  _exit(0);
}

int control_client(const std::string& path, const std::vector<std::string>& args) {
  if (path.empty()) {
    std::fprintf(stderr, "ppolicyd: -C: no control socket ([ppolicyd] control_socket is empty)\n");
    return 1;
  }
  std::string req;
  for (const auto& a : args) {
    if (a.empty() || a.find('\n') != std::string::npos) {
      std::fprintf(stderr, "ppolicyd: -C: empty argument or one with a newline\n");
      return 2;
    }
    req += a + "\n";
  }
  req += "\n";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::fprintf(stderr, "ppolicyd: -C: cannot connect to %s: %s\n", path.c_str(),
                 std::strerror(errno));
    if (fd >= 0) close(fd);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  write_all(fd, req);
  std::string reply;
  char buf[8192];
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
    if (r > 0) reply.append(buf, static_cast<size_t>(r));
  close(fd);
  auto nl = reply.find('\n');
  std::string status = reply.substr(0, nl);
  std::string body = nl == std::string::npos ? "" : reply.substr(nl + 1);
  if (status == "ok") {
    std::fwrite(body.data(), 1, body.size(), stdout);
    return 0;
  }
  std::fprintf(stderr, "ppolicyd: %s",
               body.empty() ? "no answer from the daemon (see its log)\n" : body.c_str());
  return 1;
}

}  // namespace ppolicy
