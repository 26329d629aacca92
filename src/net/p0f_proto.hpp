// SPDX-License-Identifier: GPL-2.0-or-later
// The wire formats of p0f's query socket, for the P0f module (worker):
//   p0f 3 API: 21-byte query (u32 magic 0x50304601, u8 address type 4|6,
//              16 address bytes), 232-byte reply (magic 0x50304602, status
//              0x10 ok / 0x20 no match / 0x00 bad query, then the host data).
//   p0f 2:     24-byte query (magic 0x0DEFACED, u8 type, u32 id, source and
//              destination IPv4, source and destination port; 20 bytes
//              without the type before 2.0.8), 144-byte reply. Both are
//              p0f 2's native C structs (native byte order and padding).
// Only encoding and decoding: no sockets here (modules/p0f.cpp talks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/net.hpp"

namespace ppolicy {

enum class P0fStatus { ok, no_match, bad_query };

// What p0f knows about a host, from either protocol version.
struct P0fHost {
  P0fStatus status = P0fStatus::no_match;
  std::string os, flavor;              // "Linux", "2.2.x-3.x" (p0f 2: genre, detail)
  std::string link;                    // "Ethernet or modem" (p0f 2: link)
  std::string language;                // p0f 3 only (from HTTP)
  std::string http_name, http_flavor;  // p0f 3 only
  long distance = -1;                  // hops; -1 unknown
  long uptime_min = -1;                // minutes; -1 unknown (p0f 2 reports hours)
  long first_seen = 0, last_seen = 0, total_conn = 0;  // p0f 3 only (epoch seconds)
  long last_nat = 0, last_chg = 0;      // p0f 3: when NAT / an OS change was last seen (0 never)
  bool nat = false;                     // p0f 3: last_nat != 0; p0f 2: nat flag
  bool fuzzy = false, generic = false;  // p0f 3 match quality
  long bad_sw = 0;                      // p0f 3: 1 OS mismatch, 2 outright lie (User-Agent)
};

inline constexpr uint32_t k_p0f3_query_magic = 0x50304601;
inline constexpr uint32_t k_p0f3_reply_magic = 0x50304602;
inline constexpr size_t k_p0f3_query_size = 21;
inline constexpr size_t k_p0f3_reply_size = 232;
inline constexpr uint32_t k_p0f2_magic = 0x0DEFACED;
inline constexpr size_t k_p0f2_reply_size = 144;

std::string p0f3_query(const IpAddress& client);
// False (with *why) when the reply is malformed (size, magic, status).
bool p0f3_parse(std::string_view reply, P0fHost& out, std::string* why);

// `dst` is the `ip` parameter (0.0.0.0 when unset); `with_type` for 2.0.8 and later.
std::string p0f2_query(const IpAddress& client, const IpAddress* dst, uint16_t dst_port,
                       bool with_type, uint32_t id);
bool p0f2_parse(std::string_view reply, uint32_t id, P0fHost& out, std::string* why);

// "2.0.8" -> {2, 0, 8}; nullopt unless dot-separated numbers. Compared as
// numbers (the original compared strings, so "2.0.10" < "2.0.8").
std::optional<std::vector<int>> parse_p0f_version(std::string_view text);

}  // namespace ppolicy
