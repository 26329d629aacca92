// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/rate_logic.hpp"

#include <algorithm>
#include <cstring>

namespace ppolicy {

WindowSpec window_spec(uint32_t limit_time, uint32_t limit_gran) {
  WindowSpec s;
  s.buckets = std::max<uint32_t>(limit_gran, 1);
  s.width = std::max<uint32_t>(limit_time / s.buckets, 1);
  return s;
}

std::string encode_window(const Window& w) {
  std::string out;
  encode_window(w, out);
  return out;
}

void encode_window(const Window& w, std::string& out) {
  out.resize(4 + 4 * w.counts.size());
  std::memcpy(out.data(), &w.newest, 4);
  if (!w.counts.empty()) std::memcpy(out.data() + 4, w.counts.data(), 4 * w.counts.size());
}

bool decode_window(std::string_view b, const WindowSpec& spec, Window& w) {
  // A window of another granularity (the parameters changed) is void.
  if (b.size() != 4 + 4 * static_cast<size_t>(spec.buckets)) return false;
  std::memcpy(&w.newest, b.data(), 4);
  w.counts.assign(spec.buckets, 0);
  std::memcpy(w.counts.data(), b.data() + 4, 4 * static_cast<size_t>(spec.buckets));
  return true;
}

DosOutcome dos_step(Window& w, bool found, const WindowSpec& spec, uint32_t now, uint32_t inc,
                    uint64_t limit, bool count_over, uint32_t& expire) {
  uint32_t bucket = now / spec.width;
  if (!found || w.counts.size() != spec.buckets) {
    w.newest = bucket;
    w.counts.assign(spec.buckets, 0);
  } else if (bucket > w.newest) {
    // Shift: buckets that left the window fall off the end.
    uint64_t shift = bucket - w.newest;
    if (shift >= spec.buckets) {
      std::fill(w.counts.begin(), w.counts.end(), 0);
    } else {
      std::rotate(w.counts.rbegin(), w.counts.rbegin() + static_cast<long>(shift), w.counts.rend());
      std::fill(w.counts.begin(), w.counts.begin() + static_cast<long>(shift), 0);
    }
    w.newest = bucket;
  }
  // (A clock that went back leaves the window where it is.)
  uint64_t sum = 0;
  for (uint32_t c : w.counts)
    sum += c;
  uint64_t max = limit * 1000;
  if (count_over || sum <= max) {
    uint64_t room = UINT32_MAX - w.counts[0];
    w.counts[0] += static_cast<uint32_t>(std::min<uint64_t>(inc, room));
    sum += inc;
  }
  DosOutcome out;
  out.count = sum;
  out.over = sum > max;
  // Empty once the newest bucket has left the window.
  expire = (w.newest + spec.buckets) * spec.width + 1;
  return out;
}

size_t trap_threshold(long treshold, size_t traps) {
  if (treshold > 0) return static_cast<size_t>(treshold);
  size_t t = treshold < 0 ? traps / static_cast<size_t>(-treshold) : 1;
  return std::max<size_t>(t, 1);
}

std::vector<uint32_t> decode_hits(std::string_view b) {
  std::vector<uint32_t> hits(b.size() / 4);
  if (!hits.empty()) std::memcpy(hits.data(), b.data(), hits.size() * 4);
  return hits;
}

std::string encode_hits(const std::vector<uint32_t>& hits) {
  std::string out(hits.size() * 4, '\0');
  if (!hits.empty()) std::memcpy(out.data(), hits.data(), out.size());
  return out;
}

void live_hits(std::vector<uint32_t>& hits, uint32_t now) {
  hits.erase(std::remove_if(hits.begin(), hits.end(), [&](uint32_t e) { return e <= now; }),
             hits.end());
}

void trap_hit(std::vector<uint32_t>& hits, uint32_t now, uint32_t expire, size_t threshold) {
  live_hits(hits, now);
  hits.push_back(now + expire);
  std::sort(hits.begin(), hits.end());
  if (hits.size() > threshold) hits.erase(hits.begin(), hits.end() - static_cast<long>(threshold));
}

}  // namespace ppolicy
