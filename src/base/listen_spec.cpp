// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/listen_spec.hpp"

#include <sys/un.h>

#include "base/net.hpp"
#include "base/strings.hpp"

namespace ppolicy {

std::optional<ListenSpec> ListenSpec::parse(std::string_view spec, std::string* why) {
  spec = trim(spec);
  ListenSpec s;
  if (spec.substr(0, 5) == "unix:") {
    s.unix_socket = true;
    s.path = std::string(spec.substr(5));
    if (s.path.empty() || s.path[0] != '/') {
      *why = format("\"%.*s\": unix: needs an absolute path", static_cast<int>(spec.size()),
                    spec.data());
      return std::nullopt;
    }
    if (s.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      *why = format("\"%s\": path too long for a unix socket", s.path.c_str());
      return std::nullopt;
    }
    s.text = "unix:" + s.path;
    return s;
  }
  if (spec.substr(0, 5) != "inet:") {
    *why = format("\"%.*s\": expected inet:HOST:PORT or unix:/PATH", static_cast<int>(spec.size()),
                  spec.data());
    return std::nullopt;
  }
  std::string_view rest = spec.substr(5);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    *why = format("\"%.*s\": missing :PORT", static_cast<int>(spec.size()), spec.data());
    return std::nullopt;
  }
  std::string_view host = rest.substr(0, colon);
  auto port = parse_int(rest.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) {
    *why = format("\"%.*s\": invalid port", static_cast<int>(spec.size()), spec.data());
    return std::nullopt;
  }
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  auto addr = IpAddress::parse(host);
  if (!addr) {
    *why = format("\"%.*s\": HOST must be a numeric IPv4 address or [IPv6] address",
                  static_cast<int>(spec.size()), spec.data());
    return std::nullopt;
  }
  if (!addr->v4 && !bracketed) {
    *why = format("\"%.*s\": write IPv6 addresses in brackets, e.g. inet:[::1]:10030",
                  static_cast<int>(spec.size()), spec.data());
    return std::nullopt;
  }
  s.host = addr->str();
  s.port = static_cast<int>(*port);
  s.text = addr->v4 ? format("inet:%s:%d", s.host.c_str(), s.port)
                    : format("inet:[%s]:%d", s.host.c_str(), s.port);
  return s;
}

}  // namespace ppolicy
