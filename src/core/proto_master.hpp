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
//   worker board   a shared slot per worker (board.hpp): the worker's
//                  request deadline, the master's stop/retire orders
//   SIGTERM        finish the current request, close, exit (shutdown);
//                  order `stop` on the board first
//   SIGUSR2        retire: exit when idle, or hand the connection over
//                  after the current request (reload, surplus, recycling);
//                  order `retire` on the board first
//   SIGALRM        the master saw the worker's request deadline pass on the
//                  board: answer default_action, exit 75 (if still late)
//   SIGRTMIN+1     reclaim (the pool is full and a new connection waits):
//                  a worker whose connection has been quiet since its last
//                  `held` or `silent` report closes it (a request boundary:
//                  nothing of a request received) and reports `reclaimed`
//                  or `cut`, then `idle`; otherwise the signal is ignored.
//                  Postfix's policy client resends once after EOF or
//                  ECONNRESET, without a warning.
//   exit 75        the request watchdog fired (a module ignored the deadline)
#pragma once

#include <sys/types.h>

#include <csignal>

#include <cstdint>

namespace ppolicy {

// idle: waiting for a connection. busy: holding one and reading or answering
// a request. held: holding a connection quiet for k_held_report_ms after a
// reply. silent: holding a connection that has not sent a byte for
// k_held_report_ms. reclaimed, cut: gave a held or silent connection up on
// SIGRTMIN+1 (counted by the master; `idle` follows).
enum class WorkerState : int32_t {
  idle = 0,
  busy = 1,
  held = 2,
  silent = 3,
  reclaimed = 4,
  cut = 5
};

// How long a connection must be quiet before the worker reports it held
// (fewer status messages for connections in steady use).
inline constexpr long k_held_report_ms = 200;
inline int reclaim_signal() {
  return SIGRTMIN + 1;
}

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
