// SPDX-License-Identifier: GPL-2.0-or-later
// The worker board: one small slot per worker in a shared mapping created
// by the master before it forks. It lets the hot path of a request go
// without a system call for the two things that used to need one each:
//
//   deadline  the worker stores when its current request must be over
//             (steady clock, ns; 0 between requests) instead of arming an
//             interval timer per request. The master scans the board four
//             times a second and sends SIGALRM to a worker past its
//             deadline; the worker's handler checks the deadline again
//             before it answers default_action and exits (a request that
//             ended meanwhile is not cut).
//   orders    the master sets `stop` or `retire` here before it sends
//             SIGTERM or SIGUSR2. Those signals are blocked while a request
//             runs and a ready socket wins over a pending signal in ppoll(),
//             so a worker reads its orders after each reply instead of
//             asking the kernel with sigpending().
//
// Postfix's master watches its children through the status pipe only; we
// keep that for states and use the board only for these two hot words.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ppolicy {

struct BoardSlot {
  std::atomic<int64_t> deadline_ns{0};  // written by the worker
  std::atomic<uint32_t> orders{0};      // written by the master
  std::atomic<int32_t> pid{0};          // the owner; 0: free
  char pad[48];                         // one cache line per slot: no false sharing
};
static_assert(sizeof(BoardSlot) == 64);

inline constexpr uint32_t k_order_stop = 1;
inline constexpr uint32_t k_order_retire = 2;

// Two full pools (a reload's old and new generation) at max_workers' upper
// bound (10000, conf/settings.cpp); 1.3 MB of address space, touched only
// as far as slots are used.
inline constexpr size_t k_board_slots = 2 * 10000 + 64;

int64_t board_now_ns();  // CLOCK_MONOTONIC (async-signal-safe)
// A SteadyClock reading on the same scale: libstdc++'s steady_clock is
// CLOCK_MONOTONIC in nanoseconds (a worker arms its request deadline from
// the reading its handler starts from, without another clock read).
inline int64_t board_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

class WorkerBoard {
 public:
  explicit WorkerBoard(size_t slots);
  ~WorkerBoard();
  WorkerBoard(const WorkerBoard&) = delete;
  WorkerBoard& operator=(const WorkerBoard&) = delete;

  // Master side. take() returns a free slot (or -1 when all are taken),
  // bind() names its worker after fork(), release() frees it at reaping.
  int take();
  void bind(int slot, pid_t pid);
  void release(int slot);
  // Sets an order, then sends the signal that wakes a waiting worker.
  void order(int slot, pid_t pid, uint32_t what, int sig);
  // Workers past their deadline (pid, slot) at `now_ns`.
  void overdue(int64_t now_ns, std::vector<pid_t>& out) const;

  BoardSlot* slot(int i) { return i >= 0 ? &d_slots[i] : nullptr; }

 private:
  BoardSlot* d_slots = nullptr;
  size_t d_count = 0;
  size_t d_high = 0;  // slots at or above this were never taken: the scan stops there
  size_t d_bytes = 0;
  std::vector<int> d_free;  // master's private list of free slots
};

}  // namespace ppolicy
