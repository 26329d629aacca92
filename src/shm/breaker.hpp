// SPDX-License-Identifier: GPL-2.0-or-later
// Circuit breakers for backends (a database, an LDAP server, a DNSBL zone, a
// nameserver), shared by all workers through the records table: after
// `failures` consecutive failures a backend is skipped for `cooldown`
// seconds, so one dead dependency costs one timeout, not one per request.
// After the cool-down one caller is let through as a trial; its success
// closes the breaker, its failure opens it again. Opening and closing are
// logged once (by the process that made the transition).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

class ShmTable;

class Breakers {
 public:
  Breakers(ShmTable* records, long failures, long cooldown_s)
      : d_records(records), d_failures(failures), d_cooldown(cooldown_s) {}

  // False while the backend's breaker is open (skip it, answer "unknown").
  bool allow(std::string_view backend, uint32_t now);
  void success(std::string_view backend, uint32_t now);
  void failure(std::string_view backend, uint32_t now, std::string_view reason);
  // 0 closed, 1 open, 2 trial in progress.
  int state(std::string_view backend, uint32_t now);

  // Every backend with a breaker record (failing, open or on trial), for the
  // statistics (master: SIGUSR1 report, Prometheus gauges). Healthy backends
  // have no record. Locks each stripe of `records` while visiting it.
  struct Status {
    std::string backend;
    int state = 0;          // as state()
    uint32_t failures = 0;  // consecutive
    uint32_t until = 0;     // open/trial until (wall-clock seconds)
  };
  static std::vector<Status> list(ShmTable& records, uint32_t now);

 private:
  ShmTable* d_records;
  long d_failures;
  long d_cooldown;
};

}  // namespace ppolicy
