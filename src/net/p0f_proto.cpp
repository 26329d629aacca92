// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/p0f_proto.hpp"

#include <algorithm>
#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

template <class T>
T get(std::string_view b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

template <class T>
void put(std::string& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

// A fixed-size, NUL-padded C string field; control characters dropped.
std::string cstr(std::string_view b, size_t off, size_t len) {
  std::string_view f = b.substr(off, len);
  f = f.substr(0, f.find('\0'));
  std::string s;
  for (char c : f)
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) s += c;
  return s;
}

// The IPv4 address in network byte order, as 4 raw bytes.
void put_v4(std::string& b, size_t off, const IpAddress& a) {
  std::memcpy(b.data() + off, &a.bytes[12], 4);
}

}  // namespace

std::string p0f3_query(const IpAddress& client) {
  std::string q(k_p0f3_query_size, '\0');
  put<uint32_t>(q, 0, k_p0f3_query_magic);
  q[4] = static_cast<char>(client.v4 ? 4 : 6);
  if (client.v4)
    std::memcpy(q.data() + 5, &client.bytes[12], 4);  // left-aligned, rest zero
  else
    std::memcpy(q.data() + 5, client.bytes.data(), 16);
  return q;
}

bool p0f3_parse(std::string_view r, P0fHost& h, std::string* why) {
  if (r.size() != k_p0f3_reply_size)
    return *why = format("p0f reply of %zu bytes", r.size()), false;
  if (get<uint32_t>(r, 0) != k_p0f3_reply_magic)
    return *why = format("bad p0f reply magic 0x%08x", get<uint32_t>(r, 0)), false;
  uint32_t status = get<uint32_t>(r, 4);
  h = P0fHost{};
  if (status == 0x00) {
    h.status = P0fStatus::bad_query;
    return true;
  }
  if (status == 0x20) {
    h.status = P0fStatus::no_match;
    return true;
  }
  if (status != 0x10) return *why = format("unknown p0f status 0x%x", status), false;
  h.status = P0fStatus::ok;
  h.first_seen = get<uint32_t>(r, 8);
  h.last_seen = get<uint32_t>(r, 12);
  h.total_conn = get<uint32_t>(r, 16);
  // p0f fills uptime and its wrap-around period together, only when known.
  if (get<uint32_t>(r, 24) != 0) h.uptime_min = get<uint32_t>(r, 20);
  h.last_nat = get<uint32_t>(r, 28);
  h.last_chg = get<uint32_t>(r, 32);
  h.nat = h.last_nat != 0;
  h.distance = get<int16_t>(r, 36);
  h.bad_sw = static_cast<unsigned char>(r[38]);
  unsigned q = static_cast<unsigned char>(r[39]);
  h.fuzzy = (q & 1) != 0;
  h.generic = (q & 2) != 0;
  h.os = cstr(r, 40, 32);
  h.flavor = cstr(r, 72, 32);
  h.http_name = cstr(r, 104, 32);
  h.http_flavor = cstr(r, 136, 32);
  h.link = cstr(r, 168, 32);
  h.language = cstr(r, 200, 32);
  return true;
}

std::string p0f2_query(const IpAddress& client, const IpAddress* dst, uint16_t dst_port,
                       bool with_type, uint32_t id) {
  // struct p0f_query { u32 magic; [u8 type; 3 bytes padding;] u32 id;
  //                    u32 src_ad, dst_ad; u16 src_port, dst_port; }
  size_t o = with_type ? 8 : 4;
  std::string q(o + 16, '\0');
  put<uint32_t>(q, 0, k_p0f2_magic);
  if (with_type) q[4] = 1;  // QTYPE_FINGERPRINT
  put<uint32_t>(q, o, id);
  put_v4(q, o + 4, client);
  if (dst) put_v4(q, o + 8, *dst);
  put<uint16_t>(q, o + 12, 0);  // any source port: p0f -0
  put<uint16_t>(q, o + 14, dst_port);
  return q;
}

bool p0f2_parse(std::string_view r, uint32_t id, P0fHost& h, std::string* why) {
  // struct p0f_response { u32 magic, id; u8 type; u8 genre[20], detail[40]; s8 dist;
  //   u8 link[30], tos[30]; u8 fw, nat, real; s16 score; u16 mflags; s32 uptime; }
  if (r.size() != k_p0f2_reply_size)
    return *why = format("p0f reply of %zu bytes", r.size()), false;
  if (get<uint32_t>(r, 0) != k_p0f2_magic)
    return *why = format("bad p0f reply magic 0x%08x", get<uint32_t>(r, 0)), false;
  if (get<uint32_t>(r, 4) != id) return *why = "p0f reply for another query", false;
  h = P0fHost{};
  switch (static_cast<unsigned char>(r[8])) {
    case 0:
      h.status = P0fStatus::ok;
      break;
    case 1:
      h.status = P0fStatus::bad_query;
      return true;
    case 2:
      h.status = P0fStatus::no_match;
      return true;
    default:
      return *why = format("unknown p0f reply type %u", static_cast<unsigned char>(r[8])), false;
  }
  h.os = cstr(r, 9, 20);
  h.flavor = cstr(r, 29, 40);
  h.distance = static_cast<signed char>(r[69]);
  h.link = cstr(r, 70, 30);
  h.nat = r[131] != 0;
  int32_t up = get<int32_t>(r, 140);
  h.uptime_min = up < 0 ? -1 : static_cast<long>(up) * 60;
  return true;
}

std::optional<std::vector<int>> parse_p0f_version(std::string_view text) {
  text = trim(text);
  std::vector<int> v;
  for (const auto& part : split(text, ".")) {
    auto n = parse_int(part);
    if (!n || *n < 0 || *n > 1000000) return std::nullopt;
    v.push_back(static_cast<int>(*n));
  }
  if (v.empty() || std::count(text.begin(), text.end(), '.') + 1 != static_cast<long>(v.size()))
    return std::nullopt;
  return v;
}

}  // namespace ppolicy
