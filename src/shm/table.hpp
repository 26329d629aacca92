// SPDX-License-Identifier: GPL-2.0-or-later
// A bounded key/value table in shared memory, used by every worker at once:
// the result cache, and the records of DOS, Trap, Greylist (store = shm) and
// the circuit breakers.
//
// Layout: a header, then stripes. A stripe is a robust process-shared mutex,
// a compact tag array, a one-slot undo journal and 64 fixed-size slots.
// A key hashes to one stripe; within it a slot is found by scanning the tags
// and comparing the full key (no false hits on hash collisions). The hash is
// SipHash-2-4 keyed with a secret the master draws for each segment (kept in
// the table header, shared by the workers, never saved): keys chosen by a
// client cannot be aimed at one stripe to evict a DOS counter or a greylist
// entry. The state file holds keys, not places, so a restore puts every
// entry where the new secret says.
//
// Crash safety: every modification of a slot first copies the slot into the
// stripe's journal and publishes the slot index; the change is then made in
// place and the journal cleared. A worker killed while holding the lock
// leaves EOWNERDEAD to the next locker, which restores the journalled slot
// and rebuilds the tags: the interrupted change is undone, nothing else is
// touched, and the mutex is made consistent again. Entries carry absolute
// wall-clock expiry times (seconds), so they survive restarts via snapshot.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/siphash.hpp"

namespace ppolicy {

// What a table counts. counters() gives them as a snapshot: lookups, hits,
// inserts and updates are counted per stripe (see ShmTable::Stripe) and
// summed at the call; the rare ones are table-wide.
struct TableCounters {
  std::atomic<uint64_t> lookups{0}, hits{0}, inserts{0}, updates{0}, evictions{0}, expired{0},
      repairs{0}, too_large{0};
};

class ShmTable {
 public:
  static constexpr size_t k_slot_size = 512;
  static constexpr size_t k_slots_per_stripe = 64;
  static constexpr size_t k_slot_header = 16;
  static constexpr size_t k_max_entry = k_slot_size - k_slot_header;  // key + value bytes

  // Bytes needed for a table of about `bytes` (rounded down to whole stripes, at least one).
  static size_t layout_bytes(size_t bytes);
  // Build a table in place (master, before fork). `mem` must be zeroed shared
  // memory; `key` is the segment's secret for placing keys.
  static ShmTable* create(void* mem, size_t bytes, const char* name, const SipKey& key);

  const char* name() const { return d_name; }
  size_t stripes() const { return d_stripes; }
  size_t capacity() const { return d_stripes * k_slots_per_stripe; }
  size_t used() const;  // approximate (no locks)
  // The counters summed over the stripes now, exact for every operation that
  // has returned: a snapshot in this thread's memory, refreshed by the next
  // call for this table (statistics report, control socket, tests).
  TableCounters& counters();
  // The stripe `key` lands in (tests).
  size_t stripe_of(std::string_view key) const;

  // Copy the value of a live entry into `value`. `now` is wall-clock seconds.
  bool get(std::string_view key, std::string& value, uint32_t now, uint32_t* expire = nullptr);
  // Insert or replace; false when key + value do not fit a slot.
  bool put(std::string_view key, std::string_view value, uint32_t expire, uint32_t now);
  bool erase(std::string_view key);

  // Atomic read-modify-write of one entry. `fn(value, expire, found)` sees the
  // current value ("" and found=false when absent or expired) and returns
  // true to store the modified value (an empty value erases the entry).
  template <class Fn>
  bool update(std::string_view key, uint32_t now, Fn&& fn) {
    return update_impl(key, now, &fn, [](void* ctx, std::string& v, uint32_t& e, bool f) {
      return (*static_cast<Fn*>(ctx))(v, e, f);
    });
  }

  // Remove expired entries from up to `max_stripes` stripes starting at the
  // sweep cursor (maintenance). Returns how many were removed.
  size_t sweep(uint32_t now, size_t max_stripes);
  // Visit every live entry (snapshot); each stripe is locked while visited.
  template <class Fn>
  void for_each(uint32_t now, Fn&& fn) {
    for_each_impl(now, &fn, [](void* ctx, std::string_view k, std::string_view v, uint32_t e) {
      (*static_cast<Fn*>(ctx))(k, v, e);
    });
  }

  // Test hook: pause this many microseconds inside every modification, so a
  // test can kill a worker in the middle of one. 0 in production.
  static void set_test_pause(unsigned usec);

  struct Slot;    // table.cpp
  struct Stripe;  // table.cpp

 private:
  struct Where {
    size_t stripe;
    uint32_t tag;
  };
  Where locate(std::string_view key) const;

  using UpdateCb = bool (*)(void*, std::string&, uint32_t&, bool);
  using VisitCb = void (*)(void*, std::string_view, std::string_view, uint32_t);

  bool update_impl(std::string_view key, uint32_t now, void* ctx, UpdateCb cb);
  void for_each_impl(uint32_t now, void* ctx, VisitCb cb);
  Stripe* stripe(size_t i);
  Slot* slot(Stripe* s, size_t i);
  void lock(Stripe* s);
  void unlock(Stripe* s);
  void repair(Stripe* s);
  int find(Stripe* s, uint32_t tag, std::string_view key);
  int free_slot(Stripe* s, uint32_t now);
  void begin(Stripe* s, int i);
  void end(Stripe* s);
  void write(Stripe* s, int i, uint32_t tag, std::string_view key, std::string_view value,
             uint32_t expire, uint32_t now);
  void clear(Stripe* s, int i);

  uint64_t d_magic;
  SipKey d_key;
  char d_name[32];
  size_t d_stripes;
  size_t d_stripe_bytes;
  std::atomic<size_t> d_sweep_cursor{0};
  // The table-wide counters of rare events (evictions, expired, repairs,
  // too_large); the others of this copy stay 0: they are in the stripes.
  TableCounters d_counters;
};

uint64_t hash_bytes(std::string_view data);

}  // namespace ppolicy
