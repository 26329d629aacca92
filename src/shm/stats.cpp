// SPDX-License-Identifier: GPL-2.0-or-later
#include "shm/stats.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <new>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace ppolicy {

namespace {
constexpr size_t k_header = 64;
}

size_t StatsArea::layout_bytes(size_t capacity) {
  return k_header + capacity * sizeof(Entry);
}

StatsArea* StatsArea::create(void* mem, size_t capacity) {
  static_assert(sizeof(StatsArea) <= k_header);
  auto* a = new (mem) StatsArea();
  a->d_capacity = capacity;
  return a;
}

StatsArea::Entry* StatsArea::entries() {
  return reinterpret_cast<Entry*>(reinterpret_cast<unsigned char*>(this) + k_header);
}
const StatsArea::Entry* StatsArea::entries() const {
  return reinterpret_cast<const Entry*>(reinterpret_cast<const unsigned char*>(this) + k_header);
}

int StatsArea::find(std::string_view name) const {
  size_t n = count();
  const Entry* e = entries();
  for (size_t i = 0; i < n; ++i)
    if (name == e[i].name) return static_cast<int>(i);
  return -1;
}

int StatsArea::reg(std::string_view name) {
  int i = find(name);
  if (i >= 0) return i;
  size_t n = d_count.load(std::memory_order_relaxed);
  if (n >= d_capacity || name.size() >= k_name_len) {
    log_warn("statistics: %s not counted (%s)", std::string(name.substr(0, 200)).c_str(),
             n >= d_capacity ? "the name area is full" : "name too long");
    return -1;
  }
  Entry* e = entries() + n;
  std::memcpy(e->name, name.data(), name.size());
  e->name[name.size()] = '\0';
  e->value.store(0, std::memory_order_relaxed);
  d_count.store(n + 1, std::memory_order_release);
  return static_cast<int>(n);
}

// An index reg() refused (-1, seen here as SIZE_MAX) or any other index
// past the registered names is ignored: the master keeps the -1 of a full
// name area in its gauges and sets them on every tick.
std::string_view StatsArea::name(size_t i) const {
  return i < count() ? std::string_view(entries()[i].name) : std::string_view();
}
uint64_t StatsArea::get(size_t i) const {
  return i < count() ? entries()[i].value.load(std::memory_order_relaxed) : 0;
}
void StatsArea::add(size_t i, uint64_t v) {
  if (i < count()) entries()[i].value.fetch_add(v, std::memory_order_relaxed);
}
void StatsArea::set(size_t i, uint64_t v) {
  if (i < count()) entries()[i].value.store(v, std::memory_order_relaxed);
}

void StatsBuffer::flush() {
  if (!d_dirty || !d_area) return;
  size_t cap = d_area->count();
  for (size_t i = 0; i < d_delta.size(); ++i) {
    if (d_delta[i] && i < cap) d_area->add(i, d_delta[i]);
    d_delta[i] = 0;
  }
  d_dirty = false;
}

void Histogram::reg(StatsArea& area, const std::string& base, const std::string& labels) {
  std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < k_latency_bucket_count; ++i)
    bucket[i] = area.reg(format("%s_bucket{%s%sle=\"%s\"}", base.c_str(), labels.c_str(),
                                sep.c_str(), format("%g", k_latency_buckets[i]).c_str()));
  bucket[k_latency_bucket_count] =
      area.reg(format("%s_bucket{%s%sle=\"+Inf\"}", base.c_str(), labels.c_str(), sep.c_str()));
  max_bucket = *std::max_element(std::begin(bucket), std::end(bucket));
  std::string lb = labels.empty() ? "" : "{" + labels + "}";
  sum_us = area.reg(base + "_sum_microseconds" + lb);
  count = area.reg(base + "_count" + lb);
}

void Histogram::observe(StatsBuffer& buf, double seconds) const {
  // Cumulative buckets: every bucket whose bound is >= the value counts it
  // (the bounds ascend: the first such bucket and all after it, +Inf last).
  size_t first = 0;
  while (first < k_latency_bucket_count && seconds > k_latency_buckets[first])
    ++first;
  buf.add_each(bucket + first, k_latency_bucket_count + 1 - first, max_bucket);
  buf.add(sum_us, static_cast<uint64_t>(seconds * 1e6));
  buf.add(count);
}

}  // namespace ppolicy
