// SPDX-License-Identifier: GPL-2.0-or-later
// Statistics counters in the shared segment. Names are Prometheus metric
// names with labels ("ppolicy_actions_total{action=\"REJECT\"}"); only the
// master registers names (at start and reload, before forking the workers
// that use them), so registration needs no lock. Workers count into a
// private StatsBuffer and add their deltas into the shared atomics now and
// then (StatsBuffer::flush), which keeps the request path free of contended
// atomics.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

class StatsArea {
 public:
  static constexpr size_t k_name_len = 120;
  static size_t layout_bytes(size_t capacity);
  static StatsArea* create(void* mem, size_t capacity);

  // Master only: the index of `name`, registering it if new (-1 with a
  // logged warning when the name area is full or the name too long).
  int reg(std::string_view name);
  int find(std::string_view name) const;
  size_t count() const { return d_count.load(std::memory_order_acquire); }
  size_t capacity() const { return d_capacity; }
  // Indices past count() (the -1 of a refused name among them) read as
  // 0 / "" and are not written.
  std::string_view name(size_t i) const;
  uint64_t get(size_t i) const;
  void add(size_t i, uint64_t v);
  void set(size_t i, uint64_t v);

 private:
  struct Entry {
    char name[k_name_len];
    std::atomic<uint64_t> value;
  };
  Entry* entries();
  const Entry* entries() const;
  std::atomic<size_t> d_count{0};
  size_t d_capacity = 0;
};

class StatsBuffer {
 public:
  explicit StatsBuffer(StatsArea* area = nullptr) : d_area(area) {}
  void attach(StatsArea* area) { d_area = area; }
  void add(int idx, uint64_t v = 1) {
    if (idx < 0) return;
    if (static_cast<size_t>(idx) >= d_delta.size()) d_delta.resize(idx + 64, 0);
    d_delta[idx] += v;
    d_dirty = true;
  }
  // add(idx[i]) for each i; max_idx is the largest of them (one size check).
  void add_each(const int* idx, size_t n, int max_idx) {
    if (max_idx < 0) return;
    if (static_cast<size_t>(max_idx) >= d_delta.size()) d_delta.resize(max_idx + 64, 0);
    for (size_t i = 0; i < n; ++i)
      if (idx[i] >= 0) ++d_delta[static_cast<size_t>(idx[i])];
    d_dirty = true;
  }
  bool dirty() const { return d_dirty; }
  void flush();

 private:
  StatsArea* d_area;
  std::vector<uint64_t> d_delta;
  bool d_dirty = false;
};

// Latency histogram bucket bounds, in seconds, shared by every histogram.
inline constexpr double k_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
inline constexpr size_t k_latency_bucket_count = sizeof(k_latency_buckets) / sizeof(double);

// Indices of one histogram: buckets (cumulative, Prometheus style), +Inf, sum (microseconds),
// count.
struct Histogram {
  int bucket[k_latency_bucket_count + 1] = {};
  int sum_us = -1;
  int count = -1;
  int max_bucket = -1;  // the largest index in bucket[] (StatsBuffer::add_each)
  void reg(StatsArea& area, const std::string& base, const std::string& labels);
  void observe(StatsBuffer& buf, double seconds) const;
};

}  // namespace ppolicy
