// SPDX-License-Identifier: GPL-2.0-or-later
// Listener specifications as written in the configuration
// ("inet:127.0.0.1:10030", "inet:[::1]:10030", "unix:/run/ppolicyd/ppolicyd.sock"):
// parsing and the canonical text that requests report as their listener.
// Binding them is the master's business (core/listener.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ppolicy {

struct ListenSpec {
  bool unix_socket = false;
  std::string host;  // numeric address (no brackets)
  int port = 0;
  std::string path;  // unix socket path
  std::string text;  // canonical form, what requests report as their listener

  static std::optional<ListenSpec> parse(std::string_view spec, std::string* why);
};

}  // namespace ppolicy
