// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/board.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace ppolicy {

int64_t board_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

WorkerBoard::WorkerBoard(size_t slots) : d_count(slots), d_bytes(slots * sizeof(BoardSlot)) {
  // Shared and anonymous: inherited by every worker, gone with the last
  // process; pages are touched only by the slots in use.
  void* mem = mmap(nullptr, d_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    throw std::runtime_error(std::string("worker board: mmap: ") + std::strerror(errno));
  d_slots = static_cast<BoardSlot*>(mem);
  d_free.reserve(d_count);
  for (size_t i = d_count; i > 0; --i)
    d_free.push_back(static_cast<int>(i - 1));
}

WorkerBoard::~WorkerBoard() {
  if (d_slots) munmap(d_slots, d_bytes);
}

int WorkerBoard::take() {
  if (d_free.empty()) return -1;
  int i = d_free.back();
  d_free.pop_back();
  new (&d_slots[i]) BoardSlot();
  d_slots[i].pid.store(-1);  // taken, not yet bound
  if (static_cast<size_t>(i) >= d_high) d_high = static_cast<size_t>(i) + 1;
  return i;
}

void WorkerBoard::bind(int slot, pid_t pid) {
  if (slot >= 0) d_slots[slot].pid.store(pid);
}

void WorkerBoard::release(int slot) {
  if (slot < 0) return;
  d_slots[slot].pid.store(0);
  d_slots[slot].deadline_ns.store(0);
  d_slots[slot].orders.store(0);
  d_free.push_back(slot);
}

void WorkerBoard::order(int slot, pid_t pid, uint32_t what, int sig) {
  // The order first: a worker that sees the signal (or finishes its
  // request) finds it.
  if (slot >= 0) d_slots[slot].orders.fetch_or(what);
  kill(pid, sig);
}

void WorkerBoard::overdue(int64_t now_ns, std::vector<pid_t>& out) const {
  for (size_t i = 0; i < d_high; ++i) {
    int32_t pid = d_slots[i].pid.load(std::memory_order_relaxed);
    if (pid <= 0) continue;
    int64_t dl = d_slots[i].deadline_ns.load(std::memory_order_relaxed);
    if (dl != 0 && now_ns > dl) out.push_back(pid);
  }
}

}  // namespace ppolicy
