// SPDX-License-Identifier: GPL-2.0-or-later
// shm/table, shm/segment (snapshot), shm/breaker, shm/stats.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <vector>

#include "base/siphash.hpp"
#include "shm/breaker.hpp"
#include "shm/segment.hpp"

using namespace ppolicy;

BOOST_AUTO_TEST_SUITE(shm)

BOOST_AUTO_TEST_CASE(put_get_expire_erase) {
  Segment seg(1 << 20, 1 << 20, 64);
  ShmTable& t = seg.cache();
  std::string v;
  BOOST_TEST(!t.get("k1", v, 100));
  BOOST_TEST(t.put("k1", "value one", 200, 100));
  BOOST_TEST(t.get("k1", v, 150));
  BOOST_TEST(v == "value one");
  BOOST_TEST(!t.get("k1", v, 200));  // expired at its expiry second
  BOOST_TEST(t.put("k1", "two", 300, 250));
  BOOST_TEST(t.get("k1", v, 260));
  BOOST_TEST(v == "two");
  BOOST_TEST(t.erase("k1"));
  BOOST_TEST(!t.get("k1", v, 260));
  BOOST_TEST(!t.put(std::string(600, 'x'), "v", 300, 100));  // larger than a slot
  BOOST_TEST(t.counters().too_large.load() == 1u);
}

BOOST_AUTO_TEST_CASE(full_keys_no_false_hits) {
  Segment seg(64 * 1024, 64 * 1024, 64);  // one stripe: every key collides on the stripe
  ShmTable& t = seg.cache();
  BOOST_TEST(t.stripes() == 1u);
  for (int i = 0; i < 64; ++i)
    BOOST_TEST(t.put("key" + std::to_string(i), std::to_string(i), 1000, 1));
  std::string v;
  for (int i = 0; i < 64; ++i) {
    BOOST_TEST(t.get("key" + std::to_string(i), v, 2));
    BOOST_TEST(v == std::to_string(i));
  }
  // Full: the least recently used entry goes (key0 was read first).
  BOOST_TEST(t.put("new", "n", 1000, 3));
  BOOST_TEST(t.counters().evictions.load() == 1u);
  BOOST_TEST(!t.get("key0", v, 3));
  BOOST_TEST(t.get("new", v, 3));
  BOOST_TEST(t.used() == 64u);
}

BOOST_AUTO_TEST_CASE(update_is_read_modify_write) {
  Segment seg(1 << 20, 1 << 20, 64);
  ShmTable& t = seg.records();
  for (int i = 0; i < 10; ++i) {
    t.update("counter", 100, [](std::string& v, uint32_t& expire, bool found) {
      int n = found ? std::stoi(v) : 0;
      v = std::to_string(n + 1);
      expire = 1000;
      return true;
    });
  }
  // Each update is a lookup (9 found the counter), as the metrics show.
  BOOST_TEST(t.counters().lookups.load() == 10u);
  BOOST_TEST(t.counters().hits.load() == 9u);
  std::string v;
  BOOST_TEST(t.get("counter", v, 100));
  BOOST_TEST(v == "10");
  // An empty value erases.
  t.update("counter", 100, [](std::string& val, uint32_t&, bool) {
    val.clear();
    return true;
  });
  BOOST_TEST(!t.get("counter", v, 100));
}

// `procs` processes each add 1 to the counter at key(i), i = 0..each-1,
// through update() (read-modify-write under the stripe lock); returns when
// all have exited.
template <typename KeyFn>
void count_in_processes(ShmTable& t, int procs, int each, KeyFn key) {
  for (int p = 0; p < procs; ++p) {
    if (fork() == 0) {
      for (int i = 0; i < each; ++i)
        t.update(key(i), 100, [](std::string& v, uint32_t& e, bool found) {
          v = std::to_string((found ? std::stol(v) : 0) + 1);
          e = 1000;
          return true;
        });
      _exit(0);
    }
  }
  for (int p = 0; p < procs; ++p)
    wait(nullptr);
}

BOOST_AUTO_TEST_CASE(concurrent_processes_count_exactly) {
  Segment seg(1 << 20, 1 << 20, 64);
  ShmTable& t = seg.records();
  const int procs = 8, each = 500;
  count_in_processes(t, procs, each, [](int) { return std::string("shared"); });
  std::string v;
  BOOST_TEST(t.get("shared", v, 100));
  BOOST_TEST(v == std::to_string(procs * each));
}

// Lookups, hits, inserts and updates are counted per stripe, under the
// stripe's lock, and summed by counters(): exact with many processes on many
// stripes, and each table's snapshot stays valid beside the other's.
BOOST_AUTO_TEST_CASE(counters_exact_across_processes_and_stripes) {
  Segment seg(1 << 20, 1 << 20, 64);
  ShmTable& t = seg.records();
  BOOST_TEST(t.stripes() > 10u);
  const int procs = 6, each = 2000, keys = 50;
  count_in_processes(t, procs, each, [](int i) { return "key" + std::to_string(i % keys); });
  std::string v;
  size_t stripes_used = 0;
  std::vector<bool> seen(t.stripes());
  for (int k = 0; k < keys; ++k) {
    BOOST_TEST(t.get("key" + std::to_string(k), v, 100));
    BOOST_TEST(v == std::to_string(procs * each / keys));
    size_t s = t.stripe_of("key" + std::to_string(k));
    if (!seen[s]) ++stripes_used, seen[s] = true;
  }
  BOOST_TEST(!t.get("absent", v, 100));
  BOOST_TEST(stripes_used > 10u);
  BOOST_TEST(seg.cache().put("c", "v", 1000, 1));
  TableCounters& records = t.counters();
  TableCounters& cache = seg.cache().counters();
  BOOST_TEST(records.lookups.load() == uint64_t{procs * each + keys + 1});
  BOOST_TEST(records.hits.load() == uint64_t{procs * each - keys + keys});
  BOOST_TEST(records.inserts.load() == uint64_t{keys});
  BOOST_TEST(records.updates.load() == uint64_t{procs * each - keys});
  BOOST_TEST(cache.inserts.load() == 1u);
  BOOST_TEST(cache.lookups.load() == 0u);
  BOOST_TEST(records.inserts.load() == uint64_t{keys});  // not overwritten by the cache's
}

BOOST_AUTO_TEST_CASE(owner_dies_inside_update) {
  Segment seg(64 * 1024, 64 * 1024, 64);
  ShmTable& t = seg.records();
  t.put("k", "before", 1000, 1);
  pid_t pid = fork();
  if (pid == 0) {
    // Die while holding the stripe lock, halfway through a change.
    t.update("k", 1, [](std::string& v, uint32_t&, bool) -> bool {
      _exit(3);
      v = "after";
      return true;
    });
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  BOOST_TEST(WEXITSTATUS(status) == 3);
  std::string v;
  BOOST_TEST(t.get("k", v, 2));  // would hang forever with a plain mutex
  BOOST_TEST(v == "before");
  BOOST_TEST(t.counters().repairs.load() == 1u);
  BOOST_TEST(t.put("k", "later", 1000, 2));
  BOOST_TEST(t.get("k", v, 2));
  BOOST_TEST(v == "later");
}

BOOST_AUTO_TEST_CASE(snapshot_roundtrip) {
  char path[] = "/tmp/ppolicy-snap-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  uint32_t now = static_cast<uint32_t>(time(nullptr));
  {
    Segment a(1 << 20, 1 << 20, 64);
    a.cache().put("c1", "cached", now + 100, now);
    a.records().put("r1", std::string("bin\0ary", 7), now + 100, now);
    a.records().put("gone", "x", now - 1, now - 10);  // already expired: not saved
    BOOST_TEST(a.save(path) == 2);
  }
  Segment b(2 << 20, 1 << 20, 64);  // another size: entries are re-inserted
  BOOST_TEST(b.restore(path) == 2);
  std::string v;
  BOOST_TEST(b.cache().get("c1", v, now));
  BOOST_TEST(v == "cached");
  BOOST_TEST(b.records().get("r1", v, now));
  BOOST_TEST(v == std::string("bin\0ary", 7));
  // A damaged file is moved aside, never trusted.
  FILE* f = std::fopen(path, "r+b");
  std::fseek(f, 12, SEEK_SET);
  std::fputc('Z', f);
  std::fclose(f);
  Segment c(1 << 20, 1 << 20, 64);
  BOOST_TEST(c.restore(path) == -1);
  BOOST_TEST(access((std::string(path) + ".bad").c_str(), F_OK) == 0);
  unlink((std::string(path) + ".bad").c_str());
  Segment d(1 << 20, 1 << 20, 64);
  BOOST_TEST(d.restore("/nonexistent/state") == 0);
}

BOOST_AUTO_TEST_CASE(siphash24_reference_vectors) {
  // The SipHash paper's key 00 01 .. 0f; its Appendix A message 00 01 .. 0e
  // and the reference implementation's first vector (empty message).
  SipKey key{};
  for (int i = 0; i < 16; ++i)
    key[i] = static_cast<uint8_t>(i);
  std::string msg;
  for (int i = 0; i < 15; ++i)
    msg += static_cast<char>(i);
  BOOST_TEST(siphash24(key, msg) == 0xa129ca6149be45e5ULL);
  BOOST_TEST(siphash24(key, "") == 0x726fdb47dd0e0e31ULL);
  // Another key, another answer; two draws of the kernel differ.
  SipKey other = key;
  other[0] ^= 1;
  BOOST_TEST(siphash24(other, msg) != siphash24(key, msg));
  BOOST_TEST((random_sip_key() != random_sip_key()));
}

// Issue 13 §4: 64 keys that the old unkeyed hash (FNV-1a + murmur
// finaliser, still hash_bytes()) put into the stripe of a chosen entry used
// to evict it (64 slots a stripe, LRU). With the segment's secret they
// scatter and the entry stays.
BOOST_AUTO_TEST_CASE(colliding_keys_cannot_evict_a_chosen_entry) {
  Segment seg(16 * 34 * 1024, 64 * 1024, 64);
  ShmTable& t = seg.cache();
  size_t n = t.stripes();
  BOOST_TEST_REQUIRE(n >= 8u);
  auto old_stripe = [n](const std::string& k) { return (hash_bytes(k) >> 32) % n; };
  const std::string victim = "dos:192.0.2.1";
  std::vector<std::string> attack;
  for (int i = 0; attack.size() < ShmTable::k_slots_per_stripe; ++i) {
    std::string k = "dos:10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) +
                    "." + std::to_string(i % 256);
    if (old_stripe(k) == old_stripe(victim)) attack.push_back(k);
  }
  BOOST_TEST(t.put(victim, "counter", 1000, 1));
  for (size_t i = 0; i < attack.size(); ++i)
    BOOST_TEST(t.put(attack[i], "junk", 1000, static_cast<uint32_t>(2 + i)));
  std::string v;
  BOOST_TEST(t.get(victim, v, 100));
  BOOST_TEST(t.counters().evictions.load() == 0u);
  std::vector<size_t> per_stripe(n);
  for (const auto& k : attack)
    ++per_stripe[t.stripe_of(k)];
  BOOST_TEST(*std::max_element(per_stripe.begin(), per_stripe.end()) < 32u);
}

BOOST_AUTO_TEST_CASE(snapshot_restores_under_a_new_secret) {
  char path[] = "/tmp/ppolicy-snap-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  uint32_t now = static_cast<uint32_t>(time(nullptr));
  std::vector<size_t> places;
  {
    Segment a(1 << 20, 1 << 20, 64);
    for (int i = 0; i < 500; ++i) {
      std::string k = "key" + std::to_string(i);
      BOOST_TEST(a.records().put(k, std::to_string(i), now + 100, now));
      places.push_back(a.records().stripe_of(k));
    }
    BOOST_TEST(a.save(path) == 500);
  }
  Segment b(1 << 20, 1 << 20, 64);  // same size, its own secret
  BOOST_TEST(b.restore(path) == 500);
  size_t moved = 0;
  std::string v;
  for (int i = 0; i < 500; ++i) {
    std::string k = "key" + std::to_string(i);
    BOOST_TEST(b.records().get(k, v, now));
    BOOST_TEST(v == std::to_string(i));
    moved += b.records().stripe_of(k) != places[i];
  }
  BOOST_TEST(moved > 400u, moved << " of 500 keys in another stripe");
  unlink(path);
}

BOOST_AUTO_TEST_CASE(breaker_opens_and_closes) {
  Segment seg(1 << 20, 1 << 20, 64);
  Breakers b(&seg.records(), 3, 30);
  uint32_t t0 = 1000;
  BOOST_TEST(b.allow("db", t0));
  b.failure("db", t0, "timeout");
  b.failure("db", t0, "timeout");
  BOOST_TEST(b.allow("db", t0));
  b.failure("db", t0, "timeout");
  BOOST_TEST(!b.allow("db", t0 + 1));  // open
  BOOST_TEST(b.state("db", t0 + 1) == 1);
  BOOST_TEST(b.allow("db", t0 + 31));   // cool-down over: this caller is the trial
  BOOST_TEST(!b.allow("db", t0 + 31));  // others still skip while the trial runs
  b.failure("db", t0 + 32, "still down");
  BOOST_TEST(!b.allow("db", t0 + 33));
  BOOST_TEST(b.allow("db", t0 + 63));
  b.success("db", t0 + 63);
  BOOST_TEST(b.state("db", t0 + 64) == 0);
  BOOST_TEST(b.allow("db", t0 + 64));
  BOOST_TEST(b.allow("other", t0));
}

BOOST_AUTO_TEST_CASE(stats_registry_and_buffer) {
  Segment seg(1 << 20, 1 << 20, 8);
  StatsArea& s = seg.stats();
  int a = s.reg("a_total"), b = s.reg("b_total");
  BOOST_TEST(s.reg("a_total") == a);
  StatsBuffer buf(&s);
  buf.add(a, 2);
  buf.add(b);
  BOOST_TEST(s.get(a) == 0u);  // not flushed yet
  buf.flush();
  BOOST_TEST(s.get(a) == 2u);
  BOOST_TEST(s.get(b) == 1u);
  for (int i = 0; i < 10; ++i)
    s.reg("x" + std::to_string(i));
  BOOST_TEST(s.count() == 8u);  // capacity
  BOOST_TEST(s.reg("overflow") == -1);
}

// Issue 13 §6: the master keeps the -1 of a name the full area refused and
// sets that gauge on every tick; it must land nowhere (it used to write
// before the first entry and read back what it wrote).
BOOST_AUTO_TEST_CASE(stats_index_checked_when_full) {
  Segment seg(1 << 20, 1 << 20, 2);
  StatsArea& s = seg.stats();
  int a = s.reg("a_total"), b = s.reg("b_total"), full = s.reg("ppolicy_workers_max");
  BOOST_TEST(full == -1);
  s.set(a, 7);
  s.set(b, 9);
  s.set(full, 42);
  s.add(full, 1);
  BOOST_TEST(s.get(full) == 0u);
  BOOST_TEST(s.name(full).empty());
  BOOST_TEST(s.get(s.count()) == 0u);
  BOOST_TEST(s.get(a) == 7u);
  BOOST_TEST(s.get(b) == 9u);
  BOOST_TEST(s.count() == 2u);
  BOOST_TEST(s.capacity() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
