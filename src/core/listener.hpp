// SPDX-License-Identifier: GPL-2.0-or-later
// Binding the listeners (base/listen_spec.hpp) in the master, before
// privileges are dropped. Workers inherit the listening sockets by fork.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/listen_spec.hpp"

namespace ppolicy {

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
