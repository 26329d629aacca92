// SPDX-License-Identifier: GPL-2.0-or-later
// Live state commands ([ppolicyd] control_socket, `ppolicyd -C`): a local
// unix socket, never the network. The master only accepts a connection and
// forks a short-lived child for it (as for maintenance), so it never waits
// for a client or the database; the child checks the peer (SO_PEERCRED:
// root, the daemon's user or a member of the daemon's group), reads one
// command, runs it with the daemon's shared memory and database
// (control_cmds.cpp), writes the answer and exits.
//
// Wire format: the client sends its arguments one per line, then an empty
// line; the answer is "ok" or "error" on the first line, then the output.
// Commands are fixed words with literal arguments: nothing is evaluated.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "modules/module.hpp"

namespace ppolicy {

class Generation;
class Segment;

// What the master knows and the shared memory does not, copied at fork.
struct PoolSnapshot {
  int busy = 0, holding = 0, idle = 0, generation = 0;
  bool full = false;
  long reclaim_ms = 0;
};

// Who is asking (SO_PEERCRED).
struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class ControlSocket {
 public:
  // As root, before privileges are dropped: bind `path` (mode 0660, group
  // `group`; a file or link at the path is never followed). Throws.
  ControlSocket(const std::string& path, gid_t group);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;
  int fd() const { return d_fd; }
  const std::string& path() const { return d_path; }
  // Master: the next waiting connection (-1: none).
  int accept_one();
  // A worker or maintenance child has no use for the socket.
  void close_in_child();
  // Master, on stop: close and remove the socket file.
  void remove();

 private:
  std::string d_path;
  int d_fd = -1;
};

// The child of the master for one connection `fd`: never returns.
[[noreturn]] void control_child(int fd, Generation& gen, Segment& shm, const PoolSnapshot& pool);

// The command's output, one AdminRecord per line ("kind k=v ..."), or a
// JSON object with -j. Returns false (and `out` holds the reason) when the
// command failed. `peer` is logged with every change.
bool run_control_command(const std::vector<std::string>& args, const Peer& peer, Generation& gen,
                         Segment& shm, const PoolSnapshot& pool, std::string& out);
std::string format_records(const std::vector<AdminRecord>& recs, bool json);

// Client (`ppolicyd -C`): send `args` to the daemon at `path`, print its
// answer; returns the exit status (0 ok, 1 failed or refused).
int control_client(const std::string& path, const std::vector<std::string>& args);

}  // namespace ppolicy
