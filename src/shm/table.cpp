// SPDX-License-Identifier: GPL-2.0-or-later
#include "shm/table.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace ppolicy {
namespace {

constexpr uint64_t k_magic = 0x70706f6c74626c31ULL;  // "ppoltbl1"
unsigned g_test_pause_usec = 0;

constexpr size_t round_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

// A per-stripe counter, by the holder of the stripe's lock (the only writer).
void bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

uint64_t hash_bytes(std::string_view data) {
  // FNV-1a, then a murmur3 finaliser so all bits are mixed. Unkeyed: for
  // checksums and fingerprints, never for placing request data.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

struct ShmTable::Slot {
  uint32_t tag;  // 0 = empty
  uint32_t expire;
  uint32_t last_access;
  uint16_t key_len;
  uint16_t val_len;
  unsigned char data[k_max_entry];
};
static_assert(sizeof(ShmTable::Slot) == ShmTable::k_slot_size);
static_assert(offsetof(ShmTable::Slot, data) == ShmTable::k_slot_header);

struct ShmTable::Stripe {
  pthread_mutex_t mutex;
  std::atomic<int32_t> journal_slot;  // -1: no modification in progress
  uint32_t used;
  // Counted under the stripe's lock, in cache lines its holder has already:
  // table-wide counters bounced between the CPUs on every call (a profile
  // showed update_impl at 8% of a worker). Atomic only so that counters()
  // can sum them without the lock; bump() is a plain load and store.
  std::atomic<uint64_t> lookups, hits, inserts, updates;
  uint32_t tags[k_slots_per_stripe];
  // Copies of each slot's expire and last_access, side by side: choosing a
  // slot for a new entry (free_slot) reads these few cache lines instead of
  // one line in each of the 64 slots (in a full table, every new key). Only
  // hints: the slot's own fields decide, and repair() rebuilds them.
  uint32_t expires[k_slots_per_stripe];
  uint32_t accessed[k_slots_per_stripe];
  alignas(64) unsigned char journal[k_slot_size];
};

namespace {
constexpr size_t k_header_bytes = 4096;
constexpr size_t k_stripe_bytes =
    round_up(sizeof(ShmTable::Stripe), 64) + ShmTable::k_slots_per_stripe * ShmTable::k_slot_size;
}  // namespace

size_t ShmTable::layout_bytes(size_t bytes) {
  size_t n = bytes > k_header_bytes ? (bytes - k_header_bytes) / k_stripe_bytes : 0;
  if (n < 1) n = 1;
  return k_header_bytes + n * k_stripe_bytes;
}

ShmTable* ShmTable::create(void* mem, size_t bytes, const char* name, const SipKey& key) {
  static_assert(sizeof(ShmTable) <= k_header_bytes);
  auto* t = new (mem) ShmTable();
  t->d_magic = k_magic;
  t->d_key = key;
  std::snprintf(t->d_name, sizeof t->d_name, "%s", name);
  t->d_stripes = (layout_bytes(bytes) - k_header_bytes) / k_stripe_bytes;
  t->d_stripe_bytes = k_stripe_bytes;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  for (size_t i = 0; i < t->d_stripes; ++i) {
    Stripe* s = t->stripe(i);
    new (s) Stripe();
    if (pthread_mutex_init(&s->mutex, &attr) != 0)
      throw std::runtime_error("pthread_mutex_init failed");
    s->journal_slot.store(-1);
    s->used = 0;
    for (auto* c : {&s->lookups, &s->hits, &s->inserts, &s->updates})
      c->store(0);
    std::memset(s->tags, 0, sizeof s->tags);
    std::memset(s->expires, 0, sizeof s->expires);
    std::memset(s->accessed, 0, sizeof s->accessed);
  }
  pthread_mutexattr_destroy(&attr);
  return t;
}

void ShmTable::set_test_pause(unsigned usec) {
  g_test_pause_usec = usec;
}

ShmTable::Stripe* ShmTable::stripe(size_t i) {
  auto* base = reinterpret_cast<unsigned char*>(this) + k_header_bytes;
  return reinterpret_cast<Stripe*>(base + i * d_stripe_bytes);
}

ShmTable::Slot* ShmTable::slot(Stripe* s, size_t i) {
  auto* base = reinterpret_cast<unsigned char*>(s) + round_up(sizeof(Stripe), 64);
  return reinterpret_cast<Slot*>(base + i * k_slot_size);
}

void ShmTable::lock(Stripe* s) {
  int rc = pthread_mutex_lock(&s->mutex);
  if (rc == EOWNERDEAD) {
    // The previous owner died inside the critical section.
    repair(s);
    pthread_mutex_consistent(&s->mutex);
    d_counters.repairs.fetch_add(1, std::memory_order_relaxed);
    log_warn("shm %s: recovered a stripe left locked by a dead process", d_name);
  } else if (rc != 0) {
    // ENOTRECOVERABLE cannot happen: we always make the mutex consistent.
    log_fatal("shm %s: pthread_mutex_lock: %s", d_name, std::strerror(rc));
  }
}

void ShmTable::unlock(Stripe* s) {
  pthread_mutex_unlock(&s->mutex);
}

void ShmTable::repair(Stripe* s) {
  int j = s->journal_slot.load();
  if (j >= 0 && static_cast<size_t>(j) < k_slots_per_stripe)
    std::memcpy(slot(s, j), s->journal, k_slot_size);
  s->journal_slot.store(-1);
  s->used = 0;
  for (size_t i = 0; i < k_slots_per_stripe; ++i) {
    Slot* sl = slot(s, i);
    if (sl->tag != 0 && static_cast<size_t>(sl->key_len) + sl->val_len > k_max_entry)
      sl->tag = 0;  // cannot happen with the journal, but never trust a length blindly
    s->tags[i] = sl->tag;
    s->expires[i] = sl->expire;
    s->accessed[i] = sl->last_access;
    if (sl->tag) ++s->used;
  }
}

void ShmTable::begin(Stripe* s, int i) {
  // The header, key and value only: the rest of the slot means nothing, and
  // copying all of it cost more than the change. repair() copies the whole
  // journal back; the bytes past key and value stay meaningless.
  const Slot* sl = slot(s, i);
  size_t n = k_slot_header;
  if (sl->tag != 0) n += std::min<size_t>(size_t{sl->key_len} + sl->val_len, k_max_entry);
  std::memcpy(s->journal, sl, n);
  s->journal_slot.store(i, std::memory_order_seq_cst);
  // Keep the compiler from moving slot writes above the journal publication.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (g_test_pause_usec) usleep(g_test_pause_usec);
}

void ShmTable::end(Stripe* s) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  s->journal_slot.store(-1, std::memory_order_seq_cst);
}

int ShmTable::find(Stripe* s, uint32_t tag, std::string_view key) {
  for (size_t i = 0; i < k_slots_per_stripe; ++i) {
    if (s->tags[i] != tag) continue;
    Slot* sl = slot(s, i);
    if (sl->key_len == key.size() && std::memcmp(sl->data, key.data(), key.size()) == 0)
      return static_cast<int>(i);
  }
  return -1;
}

int ShmTable::free_slot(Stripe* s, uint32_t now) {
  int victim = -1;
  uint32_t oldest = UINT32_MAX;
  for (size_t i = 0; i < k_slots_per_stripe; ++i) {
    if (s->tags[i] == 0) return static_cast<int>(i);
    if (s->expires[i] <= now) {
      d_counters.expired.fetch_add(1, std::memory_order_relaxed);
      return static_cast<int>(i);
    }
    if (s->accessed[i] < oldest) {
      oldest = s->accessed[i];
      victim = static_cast<int>(i);
    }
  }
  d_counters.evictions.fetch_add(1, std::memory_order_relaxed);
  return victim;
}

void ShmTable::write(Stripe* s, int i, uint32_t tag, std::string_view key, std::string_view value,
                     uint32_t expire, uint32_t now) {
  Slot* sl = slot(s, i);
  bool was_used = sl->tag != 0;
  begin(s, i);
  sl->tag = tag;
  sl->expire = expire;
  sl->last_access = now;
  s->expires[i] = expire;
  s->accessed[i] = now;
  sl->key_len = static_cast<uint16_t>(key.size());
  sl->val_len = static_cast<uint16_t>(value.size());
  std::memcpy(sl->data, key.data(), key.size());
  std::memcpy(sl->data + key.size(), value.data(), value.size());
  s->tags[i] = tag;
  if (!was_used) ++s->used;
  end(s);
}

void ShmTable::clear(Stripe* s, int i) {
  Slot* sl = slot(s, i);
  if (sl->tag == 0) return;
  begin(s, i);
  sl->tag = 0;
  s->tags[i] = 0;
  --s->used;
  end(s);
}

ShmTable::Where ShmTable::locate(std::string_view key) const {
  // Keyed: without the segment's secret, request data cannot choose the
  // stripe it lands in (and so cannot evict a chosen entry by filling its
  // stripe). The tag comes from the same keyed hash.
  uint64_t h = siphash24(d_key, key);
  uint32_t tag = static_cast<uint32_t>(h);
  if (tag == 0) tag = 1;
  return {static_cast<size_t>((h >> 32) % d_stripes), tag};
}

size_t ShmTable::stripe_of(std::string_view key) const {
  return locate(key).stripe;
}

bool ShmTable::get(std::string_view key, std::string& value, uint32_t now, uint32_t* expire) {
  Where w = locate(key);
  Stripe* s = stripe(w.stripe);
  lock(s);
  bump(s->lookups);
  int i = find(s, w.tag, key);
  bool ok = false;
  if (i >= 0) {
    Slot* sl = slot(s, i);
    if (sl->expire > now) {
      value.assign(reinterpret_cast<const char*>(sl->data) + sl->key_len, sl->val_len);
      if (expire) *expire = sl->expire;
      sl->last_access = now;  // a single aligned store: no journal needed
      s->accessed[i] = now;
      bump(s->hits);
      ok = true;
    }
  }
  unlock(s);
  return ok;
}

bool ShmTable::put(std::string_view key, std::string_view value, uint32_t expire, uint32_t now) {
  if (key.size() + value.size() > k_max_entry || key.empty()) {
    d_counters.too_large.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Where w = locate(key);
  Stripe* s = stripe(w.stripe);
  lock(s);
  int i = find(s, w.tag, key);
  if (i < 0) {
    i = free_slot(s, now);
    bump(s->inserts);
  } else {
    bump(s->updates);
  }
  write(s, i, w.tag, key, value, expire, now);
  unlock(s);
  return true;
}

bool ShmTable::erase(std::string_view key) {
  Where w = locate(key);
  Stripe* s = stripe(w.stripe);
  lock(s);
  int i = find(s, w.tag, key);
  if (i >= 0) clear(s, i);
  unlock(s);
  return i >= 0;
}

bool ShmTable::update_impl(std::string_view key, uint32_t now, void* ctx, UpdateCb cb) {
  if (key.empty() || key.size() >= k_max_entry) {
    d_counters.too_large.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Where w = locate(key);
  Stripe* s = stripe(w.stripe);
  // The value's buffer is kept from call to call (this runs for every DOS,
  // Trap and Greylist check); a callback updating another entry meanwhile
  // gets a buffer of its own.
  thread_local std::string t_value;
  thread_local bool t_busy = false;
  std::string own;
  std::string& value = t_busy ? own : t_value;
  struct Busy {
    bool& busy;
    bool was;
    ~Busy() { busy = was; }
  } busy{t_busy, t_busy};
  t_busy = true;
  value.clear();
  uint32_t expire = 0;
  lock(s);
  int i = find(s, w.tag, key);
  bool found = false;
  if (i >= 0) {
    Slot* sl = slot(s, i);
    if (sl->expire > now) {
      value.assign(reinterpret_cast<const char*>(sl->data) + sl->key_len, sl->val_len);
      expire = sl->expire;
      found = true;
    }
  }
  // A read-modify-write is a lookup too: DOS, Trap and Greylist (store =
  // shm) use only this, and their table showed no lookups at all.
  bump(s->lookups);
  if (found) bump(s->hits);
  bool ok = true;
  try {
    if (cb(ctx, value, expire, found)) {
      if (value.empty()) {
        if (i >= 0) clear(s, i);
      } else if (key.size() + value.size() > k_max_entry) {
        d_counters.too_large.fetch_add(1, std::memory_order_relaxed);
        ok = false;
      } else {
        if (i < 0) {
          i = free_slot(s, now);
          bump(s->inserts);
        } else {
          bump(s->updates);
        }
        write(s, i, w.tag, key, value, expire, now);
      }
    }
  } catch (...) {
    unlock(s);
    throw;
  }
  unlock(s);
  return ok;
}

size_t ShmTable::sweep(uint32_t now, size_t max_stripes) {
  size_t removed = 0;
  if (max_stripes > d_stripes) max_stripes = d_stripes;
  for (size_t n = 0; n < max_stripes; ++n) {
    size_t idx = d_sweep_cursor.fetch_add(1, std::memory_order_relaxed) % d_stripes;
    Stripe* s = stripe(idx);
    lock(s);
    for (size_t i = 0; i < k_slots_per_stripe; ++i) {
      if (s->tags[i] != 0 && slot(s, i)->expire <= now) {
        clear(s, static_cast<int>(i));
        ++removed;
      }
    }
    unlock(s);
  }
  d_counters.expired.fetch_add(removed, std::memory_order_relaxed);
  return removed;
}

void ShmTable::for_each_impl(uint32_t now, void* ctx, VisitCb cb) {
  for (size_t idx = 0; idx < d_stripes; ++idx) {
    Stripe* s = stripe(idx);
    lock(s);
    for (size_t i = 0; i < k_slots_per_stripe; ++i) {
      Slot* sl = slot(s, i);
      if (s->tags[i] == 0 || sl->expire <= now) continue;
      std::string_view k(reinterpret_cast<const char*>(sl->data), sl->key_len);
      std::string_view v(reinterpret_cast<const char*>(sl->data) + sl->key_len, sl->val_len);
      cb(ctx, k, v, sl->expire);
    }
    unlock(s);
  }
}

TableCounters& ShmTable::counters() {
  // In this thread's memory, one per table: the callers keep the reference
  // while they read, and may hold those of both tables at once.
  thread_local std::map<const ShmTable*, TableCounters> snapshots;
  TableCounters& c = snapshots[this];
  uint64_t lookups = 0, hits = 0, inserts = 0, updates = 0;
  for (size_t i = 0; i < d_stripes; ++i) {
    Stripe* s = stripe(i);
    lookups += s->lookups.load(std::memory_order_relaxed);
    hits += s->hits.load(std::memory_order_relaxed);
    inserts += s->inserts.load(std::memory_order_relaxed);
    updates += s->updates.load(std::memory_order_relaxed);
  }
  c.lookups.store(lookups);
  c.hits.store(hits);
  c.inserts.store(inserts);
  c.updates.store(updates);
  c.evictions.store(d_counters.evictions.load());
  c.expired.store(d_counters.expired.load());
  c.repairs.store(d_counters.repairs.load());
  c.too_large.store(d_counters.too_large.load());
  return c;
}

size_t ShmTable::used() const {
  size_t n = 0;
  auto* self = const_cast<ShmTable*>(this);
  for (size_t i = 0; i < d_stripes; ++i)
    n += self->stripe(i)->used;
  return n;
}

}  // namespace ppolicy
