// SPDX-License-Identifier: GPL-2.0-or-later
// What a worker offers its modules: the configuration, the shared records
// table and circuit breakers, the wall clock, and the per-worker
// connections that modules share (DNS resolver, database connection),
// created after fork on first use. One Services per worker process (and one
// for `ppolicyd -e`); never shared across fork.
#pragma once

#include <cstdint>
#include <memory>
#include <typeindex>
#include <unordered_map>

#include "shm/breaker.hpp"

namespace ppolicy {

class Config;
class Segment;
class ShmTable;

// A per-worker resource (DNS resolver, database connection, ...). A type T
// used with Services::resource<T>() derives from this and provides
//   static std::unique_ptr<T> create(Services&);
// which is called in the worker on first use (never in the master).
class WorkerResource {
 public:
  virtual ~WorkerResource() = default;
};

class Services {
 public:
  Services(const Config& config, Segment* shm);
  ~Services();
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  const Config& config() const { return d_config; }
  Segment* shm() { return d_shm; }
  ShmTable* records();  // nullptr without a segment
  ShmTable* cache();
  Breakers& breakers() { return d_breakers; }
  // Wall-clock seconds (absolute expiry times in shared memory and database).
  uint32_t now() const;

  // The worker's instance of T, created on first use.
  template <class T>
  T& resource() {
    auto key = std::type_index(typeid(T));
    auto it = d_resources.find(key);
    if (it == d_resources.end()) it = d_resources.emplace(key, T::create(*this)).first;
    return static_cast<T&>(*it->second);
  }

  // Close the per-worker resources now (worker exit; _exit() runs no
  // destructors).
  void release() { d_resources.clear(); }

 private:
  const Config& d_config;
  Segment* d_shm;
  Breakers d_breakers;
  std::unordered_map<std::type_index, std::unique_ptr<WorkerResource>> d_resources;
};

}  // namespace ppolicy
