// SPDX-License-Identifier: GPL-2.0-or-later
// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed 64-bit hash. Whoever does not know the 128-bit key cannot
// predict where a key lands, so request data (client addresses, senders)
// cannot pick the shared-memory stripe it falls into and flood one on
// purpose. The shared-memory tables use it with a secret drawn per segment
// (shm/table.cpp). Pure computation; usable anywhere.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ppolicy {

using SipKey = std::array<uint8_t, 16>;

uint64_t siphash24(const SipKey& key, std::string_view data);

// 16 bytes from the kernel's random source (getrandom); throws when there
// are none.
SipKey random_sip_key();

}  // namespace ppolicy
