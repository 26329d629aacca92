// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

// Wait for input until the deadline: 1 ready, 0 timed out, -1 error.
int wait_readable(int fd, Deadline deadline) {
  for (;;) {
    long ms = ms_until(deadline);
    if (ms <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(ms > 1000000 ? 1000000 : ms));
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

bool is_atext(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-/=?^_`{|}~", c);
}

bool dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(s[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string SmtpReply::str() const {
  if (code == 0) return "no reply";
  return log_quote(format("%d %s", code, text.c_str()), 200);
}

bool SmtpClient::connect(const sockaddr* addr, socklen_t len, std::string* why) {
  d_buf.clear();
  d_timed_out = d_broken = false;
  d_fd = connect_by(addr, len, step_deadline(), why);
  if (!d_fd && why->find("timed out") != std::string::npos) d_timed_out = true;
  return static_cast<bool>(d_fd);
}

bool SmtpClient::read_line(std::string& line, Deadline deadline, std::string* why) {
  for (;;) {
    size_t nl = d_buf.find('\n');
    if (nl != std::string::npos) {
      line.assign(d_buf, 0, nl);
      d_buf.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() > k_max_line) break;
      return true;
    }
    if (d_buf.size() > k_max_line) break;
    char chunk[4096];
    ssize_t n = recv(d_fd.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      d_buf.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      d_broken = true;
      return *why = "connection closed by the server", false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int w = wait_readable(d_fd.get(), deadline);
      if (w > 0) continue;
      if (w == 0) {
        d_timed_out = true;
        return *why = "timed out waiting for a reply", false;
      }
    }
    d_broken = true;
    return *why = format("read: %s", std::strerror(errno)), false;
  }
  d_broken = true;
  return *why = format("reply line longer than %zu bytes", k_max_line), false;
}

bool SmtpClient::read_reply(SmtpReply& reply, std::string* why) {
  reply = SmtpReply();
  if (!d_fd) return *why = "not connected", false;
  Deadline deadline = step_deadline();
  std::string line;
  for (int n = 0; n < k_max_lines; ++n) {
    if (!read_line(line, deadline, why)) return false;
    // "DDD text", "DDD-text" (more lines follow) or a bare "DDD".
    bool digits = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' &&
                  std::isdigit(static_cast<unsigned char>(line[1])) &&
                  std::isdigit(static_cast<unsigned char>(line[2]));
    char sep = line.size() > 3 ? line[3] : ' ';
    int code = digits ? std::stoi(line.substr(0, 3)) : 0;
    if (!digits || (sep != ' ' && sep != '-') || (reply.code != 0 && code != reply.code)) {
      d_broken = true;
      reply.code = 0;
      return *why = "invalid reply " + log_quote(line, 80), false;
    }
    reply.code = code;
    std::string_view text = line.size() > 4 ? std::string_view(line).substr(4) : "";
    if (!text.empty() && reply.text.size() < 1024) {
      if (!reply.text.empty()) reply.text += ' ';
      reply.text += text;
    }
    if (sep == ' ') return true;
  }
  d_broken = true;
  reply.code = 0;
  return *why = format("reply of more than %d lines", k_max_lines), false;
}

bool SmtpClient::command(std::string_view line, SmtpReply& reply, std::string* why) {
  reply = SmtpReply();
  if (!d_fd) return *why = "not connected", false;
  std::string out(line);
  out += "\r\n";
  if (!write_all_by(d_fd.get(), out, step_deadline(), why)) {
    if (why->find("timed out") != std::string::npos)
      d_timed_out = true;
    else
      d_broken = true;
    return false;
  }
  return read_reply(reply, why);
}

void SmtpClient::quit(long wait_ms) {
  if (!d_fd) return;
  if (!d_broken) {
    // One non-blocking send: a stalled peer must not hold us.
    static const char k_quit[] = "QUIT\r\n";
    ssize_t n = send(d_fd.get(), k_quit, sizeof k_quit - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(sizeof k_quit - 1) && !d_timed_out && wait_ms > 0) {
      // The server's 221 (or whatever it says): read so it closes first,
      // which leaves the TIME_WAIT state on its side, as RFC 5321 expects.
      SmtpReply r;
      std::string why;
      Deadline saved = d_limit;
      d_limit = deadline_in(wait_ms, d_limit);
      read_reply(r, &why);
      d_limit = saved;
    }
  }
  close();
}

std::string smtp_path_address(std::string_view local, std::string_view domain) {
  if (local.empty() || local.size() > 64 || domain.empty() || domain.size() > 255) return "";
  for (char c : local)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) return "";
  for (char c : domain)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
        c == '<' || c == '>' || c == '@')
      return "";
  std::string out;
  if (dot_atom(local)) {
    out.assign(local);
  } else {
    out = "\"";
    for (char c : local) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '@';
  out += domain;
  return out;
}

}  // namespace ppolicy
