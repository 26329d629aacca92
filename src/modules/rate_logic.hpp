// SPDX-License-Identifier: GPL-2.0-or-later
// The state of DOS and Trap, without storage (both stores run the same
// code; pure functions, unit-tested).
//
// DOS: a sliding window of `limitTime` seconds made of `limitGran` buckets
// of limitTime/limitGran seconds each, aligned to the clock (bucket n covers
// [n*width, (n+1)*width)). The count of a key is the sum of its last
// limitGran buckets, so a message leaves the count when its bucket leaves
// the window: between limitTime - width and limitTime after it was counted,
// never earlier (the original reset whole windows early). Counts are in
// thousandths, so perRecipient = no can count 1/recipient_count. A request
// is counted only while the key is not over the limit (countOver = yes:
// always), as the original did.
//
// Trap: the expiry times of a client's recent trap hits, newest last, at
// most `threshold` of them. A client is blocked while it has `threshold`
// live hits; each hit lives `expire` seconds, so the client is released
// `expire` after its hits stop (the original's block lasted until restart).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

struct WindowSpec {
  uint32_t width = 360;  // seconds per bucket
  uint32_t buckets = 10;
};
// limitTime, limitGran -> spec (width at least 1 s).
WindowSpec window_spec(uint32_t limit_time, uint32_t limit_gran);

struct Window {
  uint32_t newest = 0;           // bucket index of counts[0]
  std::vector<uint32_t> counts;  // thousandths; counts[i] is bucket newest - i
};

std::string encode_window(const Window& w);
void encode_window(const Window& w, std::string& out);  // the same, into out (no allocation)
bool decode_window(std::string_view blob, const WindowSpec& spec, Window& w);

struct DosOutcome {
  uint64_t count = 0;  // thousandths, after this request
  bool over = false;
};
// Apply one request (`inc` thousandths) at `now` to the window of one key;
// `found` false starts an empty window. Returns the count and whether it is
// over `limit` (messages). `expire` is set to when the window empties.
DosOutcome dos_step(Window& w, bool found, const WindowSpec& spec, uint32_t now, uint32_t inc,
                    uint64_t limit, bool count_over, uint32_t& expire);

// Trap threshold: treshold > 0 as is; < 0 a fraction: number of traps / -treshold
// (at least 1).
size_t trap_threshold(long treshold, size_t traps);

std::vector<uint32_t> decode_hits(std::string_view blob);
std::string encode_hits(const std::vector<uint32_t>& hits);
// Drop expired hits (expiry <= now).
void live_hits(std::vector<uint32_t>& hits, uint32_t now);
// Record a trap hit at `now`, keeping the newest `threshold` live ones.
void trap_hit(std::vector<uint32_t>& hits, uint32_t now, uint32_t expire, size_t threshold);

}  // namespace ppolicy
