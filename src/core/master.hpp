// SPDX-License-Identifier: GPL-2.0-or-later
// The master process (Postfix master(8) is the model): binds the listeners,
// creates the shared-memory segment, prepares modules, writes the pid file,
// drops privileges and forks workers; then runs a libevent loop whose
// signal handlers only set state, and acts on it: reaping and replacing
// workers (with a throttle after early deaths), growing the pool when all
// workers are busy and shrinking it when they idle, reload (SIGHUP),
// graceful stop (SIGTERM, SIGINT), statistics (SIGUSR1), connection
// hand-over from retiring workers, and periodic maintenance.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "runtime/generation.hpp"

namespace ppolicy {

struct MasterOptions {
  std::string config_path;
  std::vector<Override> overrides;
  bool foreground = false;
  int ready_fd = -1;  // daemon mode: write "ok" (or the error) here once started
};

// Where to log: [ppolicyd] log = auto means stderr in the foreground (-f),
// syslog otherwise.
LogTarget log_target_for(const ServerSettings& s, bool foreground);

// Runs until stopped; returns the process exit status.
int run_master(std::unique_ptr<Generation> gen, const MasterOptions& options);

}  // namespace ppolicy
