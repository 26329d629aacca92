// SPDX-License-Identifier: GPL-2.0-or-later
#include "svc/services.hpp"

#include <ctime>

#include "conf/config.hpp"
#include "shm/segment.hpp"

namespace ppolicy {

Services::Services(const Config& config, Segment* shm)
    : d_config(config),
      d_shm(shm),
      d_breakers(shm ? &shm->records() : nullptr, config.server.breaker_failures,
                 config.server.breaker_cooldown_s) {}

Services::~Services() = default;

ShmTable* Services::records() {
  return d_shm ? &d_shm->records() : nullptr;
}
ShmTable* Services::cache() {
  return d_shm ? &d_shm->cache() : nullptr;
}
uint32_t Services::now() const {
  return static_cast<uint32_t>(std::time(nullptr));
}

}  // namespace ppolicy
