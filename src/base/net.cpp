// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/net.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  text = trim(text);
  // Postfix sends IPv6 client addresses without brackets; accept "[...]" and
  // an "IPv6:" prefix anyway because HELO literals and manual input use them.
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.size() > 5 && iequals(text.substr(0, 5), "ipv6:")) text.remove_prefix(5);
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    a.v4 = true;
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], &v4, 4);
    return a;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(a.bytes.data(), &v6, 16);
    // An IPv4-mapped IPv6 address is the IPv4 client (dual-stack sockets).
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    a.v4 = std::memcmp(a.bytes.data(), mapped, 12) == 0;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (v4) {
    // Dotted quad by hand: inet_ntop formats IPv4 with sprintf, and the
    // greylisting triplet needs one for every request.
    char* p = buf;
    for (int i = 12; i < 16; ++i) {
      unsigned b = bytes[i];
      if (b >= 100) *p++ = static_cast<char>('0' + b / 100);
      if (b >= 10) *p++ = static_cast<char>('0' + b / 10 % 10);
      *p++ = static_cast<char>('0' + b % 10);
      if (i < 15) *p++ = '.';
    }
    return std::string(buf, p);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

IpAddress IpAddress::masked(int bits) const {
  IpAddress r = *this;
  int total = v4 ? 32 : 128;
  if (bits < 0) bits = 0;
  if (bits > total) bits = total;
  int keep = (v4 ? 96 : 0) + bits;
  for (int i = 0; i < 16; ++i) {
    int bit0 = i * 8;
    if (bit0 >= keep) {
      r.bytes[i] = 0;
    } else if (bit0 + 8 > keep) {
      r.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (keep - bit0)));
    }
  }
  return r;
}

std::string IpAddress::reverse_labels() const {
  std::string r;
  if (v4) {
    r = format("%u.%u.%u.%u", bytes[15], bytes[14], bytes[13], bytes[12]);
  } else {
    static const char hex[] = "0123456789abcdef";
    r.reserve(63);
    for (int i = 15; i >= 0; --i) {
      if (!r.empty()) r += '.';
      r += hex[bytes[i] & 0xf];
      r += '.';
      r += hex[bytes[i] >> 4];
    }
  }
  return r;
}

std::string IpAddress::ptr_name() const {
  return reverse_labels() + (v4 ? ".in-addr.arpa" : ".ip6.arpa");
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  text = trim(text);
  IpNetwork n;
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int total = addr->v4 ? 32 : 128;
  n.bits = total;
  if (slash != std::string_view::npos) {
    auto b = parse_int(text.substr(slash + 1));
    if (!b || *b < 0 || *b > total) return std::nullopt;
    n.bits = static_cast<int>(*b);
  }
  n.base = addr->masked(n.bits);
  return n;
}

bool IpNetwork::contains(const IpAddress& a) const {
  if (a.v4 != base.v4) return false;
  // base is stored masked (parse): compare the whole bytes of the prefix,
  // then the bits of the last one, without building the masked address.
  int keep = (a.v4 ? 96 : 0) + std::clamp(bits, 0, a.v4 ? 32 : 128);
  size_t whole = static_cast<size_t>(keep / 8);
  if (std::memcmp(a.bytes.data(), base.bytes.data(), whole) != 0) return false;
  int rest = keep % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (base.bytes[whole] & mask);
}

std::string IpNetwork::str() const {
  return base.str() + "/" + std::to_string(bits);
}

bool NetSet::contains(const IpAddress& a) const {
  for (const auto& n : nets)
    if (n.contains(a)) return true;
  return false;
}

bool NetSet::contains(std::string_view text) const {
  auto a = IpAddress::parse(text);
  return a && contains(*a);
}

}  // namespace ppolicy
