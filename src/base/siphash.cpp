// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/siphash.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ppolicy {
namespace {

constexpr uint64_t rotl(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

// Little-endian load of up to 8 bytes (the algorithm reads words LE on
// every host).
uint64_t load_le(const unsigned char* p, size_t n) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n == 8) {  // a whole word: one load, not eight shifts
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
#endif
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

struct State {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }

  // c = 2 compression rounds per message word.
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t siphash24(const SipKey& key, std::string_view data) {
  uint64_t k0 = load_le(key.data(), 8), k1 = load_le(key.data() + 8, 8);
  // The initial constants spell "somepseudorandomlygeneratedbytes".
  State s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
          k1 ^ 0x7465646279746573ULL};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size(), whole = n / 8 * 8;
  for (size_t i = 0; i < whole; i += 8)
    s.absorb(load_le(p + i, 8));
  // The last word: the remaining bytes, the length (mod 256) in the top byte.
  s.absorb(load_le(p + whole, n - whole) | (static_cast<uint64_t>(n & 0xff) << 56));
  // d = 4 finalisation rounds.
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i)
    s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipKey random_sip_key() {
  SipKey k{};
  size_t got = 0;
  while (got < k.size()) {
    ssize_t r = getrandom(k.data() + got, k.size() - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<size_t>(r);
  }
  return k;
}

}  // namespace ppolicy
