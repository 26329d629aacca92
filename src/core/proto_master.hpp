// SPDX-License-Identifier: GPL-2.0-or-later
// The master <-> worker contract (as Postfix's master_proto.h): the status
// message a worker writes on the shared status pipe, the connection
// hand-over message, and the signals.
//
//   status pipe    worker -> master: {pid, generation, state} on each change
//   master pipe    the master holds the write end; EOF = master gone, exit
//   handoff socket worker -> master (SOCK_SEQPACKET): a client connection fd
//                  (SCM_RIGHTS) with its listener index and unread bytes,
//                  sent by a worker that must go (reload, max_requests) so
//                  Postfix keeps its connection; the master gives it to a
//                  new worker
//   SIGTERM        finish the current request, close, exit (shutdown)
//   SIGUSR2        retire: exit when idle, or hand the connection over
//                  after the current request (reload, surplus, recycling)
//   exit 75        the request watchdog fired (a module ignored the deadline)
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ppolicy {

enum class WorkerState : int32_t { idle = 0, busy = 1 };

struct StatusMessage {
  int32_t pid;
  int32_t generation;
  WorkerState state;
};

struct HandoffHeader {
  int32_t pid;
  int32_t listener;  // index into the listeners
  uint32_t pending;  // bytes of a request already received, following the header
};

inline constexpr size_t k_max_handoff_pending = 32 * 1024;
inline constexpr int k_exit_watchdog = 75;

}  // namespace ppolicy
