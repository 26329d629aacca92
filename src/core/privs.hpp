// SPDX-License-Identifier: GPL-2.0-or-later
// Privileges: look up the run-time user and group, prepare the directories
// the unprivileged daemon needs (state, pid), and drop root for good.
#pragma once

#include <sys/types.h>

#include <string>

namespace ppolicy {

struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;
  bool drop = false;  // started as root: drop to uid/gid
};

// Resolve user/group; throws std::runtime_error for unknown names.
RunAs resolve_run_as(const std::string& user, const std::string& group);
gid_t resolve_group(const std::string& group);  // throws; "" -> (gid_t)-1
// mkdir -p `dir` and give it to the run-time user (when root). Throws.
void prepare_dir(const std::string& dir, const RunAs& who, mode_t mode);
// setgroups/setgid/setuid and verify root cannot come back. Throws.
void drop_privileges(const RunAs& who);

}  // namespace ppolicy
