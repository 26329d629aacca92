// SPDX-License-Identifier: GPL-2.0-or-later
// A worker process: started by the master with fork() after the master has
// dropped privileges; serves one connection at a time, synchronously, and
// accepts the next; reports idle/busy to the master; exits when told, when
// the master vanishes, or after max_requests (handing its connection over).
#pragma once

#include <string>
#include <vector>

#include "core/listener.hpp"

namespace ppolicy {

struct BoardSlot;

class Generation;
class Segment;

struct WorkerSetup {
  const Generation* gen = nullptr;  // the configuration this worker serves
  const std::vector<Listener>* listeners = nullptr;
  Segment* shm = nullptr;
  int generation = 0;
  int status_fd = -1;   // write end of the status pipe
  int master_fd = -1;   // read end of the master-alive pipe
  int handoff_fd = -1;  // worker end of the handoff socket
  // A connection handed over by a retiring worker, served first (-1: none).
  int initial_fd = -1;
  int initial_listener = 0;
  std::string initial_pending;
  BoardSlot* board = nullptr;  // this worker's slot on the worker board (board.hpp)
};

[[noreturn]] void worker_main(WorkerSetup& setup);

}  // namespace ppolicy
