// SPDX-License-Identifier: GPL-2.0-or-later
// Listener specifications ("inet:127.0.0.1:10030", "inet:[::1]:10030",
// "unix:/run/ppolicyd/ppolicyd.sock") and binding them in the master, before
// privileges are dropped. Workers inherit the listening sockets by fork.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

struct ListenSpec {
  bool unix_socket = false;
  std::string host;  // numeric address (no brackets)
  int port = 0;
  std::string path;  // unix socket path
  std::string text;  // canonical form, what requests report as their listener

  static std::optional<ListenSpec> parse(std::string_view spec, std::string* why);
};

struct Listener {
  ListenSpec spec;
  int fd = -1;
};

// Bind and listen on every spec (non-blocking sockets). Throws
// std::runtime_error naming the listener on failure.
std::vector<Listener> bind_listeners(const std::vector<std::string>& specs, unsigned unix_mode,
                                     gid_t unix_group);
void close_listeners(std::vector<Listener>& listeners, bool unlink_unix);

}  // namespace ppolicy
