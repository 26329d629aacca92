// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/inflight.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "db/identifiers.hpp"
#include "shm/table.hpp"

namespace ppolicy {
namespace {

struct Slot {
  uint32_t pid, until;
};

// The slots that still count: their process lives and their time is not over.
std::vector<Slot> live(const std::string& v, uint32_t now) {
  std::vector<Slot> out;
  for (size_t i = 0; i + sizeof(Slot) <= v.size(); i += sizeof(Slot)) {
    Slot s;
    std::memcpy(&s, v.data() + i, sizeof s);
    if (s.until <= now) continue;
    // Workers run as one user: EPERM cannot happen, ESRCH means gone.
    if (kill(static_cast<pid_t>(s.pid), 0) != 0 && errno == ESRCH) continue;
    out.push_back(s);
  }
  return out;
}

std::string encode(const std::vector<Slot>& slots, uint32_t& expire) {
  std::string v;
  expire = 0;
  for (const auto& s : slots) {
    v.append(reinterpret_cast<const char*>(&s), sizeof s);
    expire = std::max(expire, s.until);
  }
  return v;  // empty: the record is erased
}

}  // namespace

bool InFlight::acquire(ShmTable* table, const std::string& target, long max, uint32_t now,
                       uint32_t until) {
  release();
  if (!table) return true;
  max = std::min(max, k_max_slots);
  std::string key = bounded_key("V\n" + target, 200);
  bool allowed = true;
  bool ok = table->update(key, now, [&](std::string& v, uint32_t& expire, bool found) {
    std::vector<Slot> slots;
    if (found) slots = live(v, now);
    if (static_cast<long>(slots.size()) >= max)
      allowed = false;
    else
      slots.push_back({static_cast<uint32_t>(getpid()), until});
    v = encode(slots, expire);
    return true;
  });
  if (!ok) return true;  // cannot happen (the key is bounded); limit nothing rather than all
  if (!allowed) return false;
  d_table = table;
  d_key = std::move(key);
  d_until = until;
  return true;
}

void InFlight::release() {
  if (!d_table) return;
  uint32_t pid = static_cast<uint32_t>(getpid());
  uint32_t now = static_cast<uint32_t>(std::time(nullptr));  // the clock of Services::now()
  d_table->update(d_key, now, [&](std::string& v, uint32_t& expire, bool found) {
    if (!found) return false;
    std::vector<Slot> slots = live(v, now);
    auto it = std::find_if(slots.begin(), slots.end(),
                           [&](const Slot& s) { return s.pid == pid && s.until == d_until; });
    if (it != slots.end()) slots.erase(it);
    v = encode(slots, expire);
    return true;
  });
  d_table = nullptr;
}

}  // namespace ppolicy
