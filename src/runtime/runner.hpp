// SPDX-License-Identifier: GPL-2.0-or-later
// The module runner: how the evaluator's call of a module instance becomes
// a result. It looks in the shared result cache first (by the instance's
// key prefix, the call's arguments and the module's cache_key()), calls the
// module otherwise, keeps the result for as long as its code's lifetime (and
// never longer than the TTL the result carries), turns an escaping
// exception into code 0, counts calls, hits, codes and latency, and saves
// the result into the request (saveResult). One runner per request.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "policy/eval.hpp"

namespace ppolicy {

namespace dns {
class Resolver;
}
class Generation;
class Services;
class StatsBuffer;

// saveResult: a run's code, info, cache flag and time as request attributes
// (<prefix><name>_code, ...); a second run of the same instance in one
// request is saved as <prefix><name>#1_..., like the original.
class ResultSaver {
 public:
  void save(const ModuleRun& run, Request& request);

 private:
  // instance -> times saved; the first few inline: one runner per request,
  // and a vector would allocate for every request.
  std::array<std::pair<const ModuleInstance*, int>, 8> d_first{};
  size_t d_nfirst = 0;
  std::vector<std::pair<const ModuleInstance*, int>> d_more;
};

class ModuleRunner final : public CallRunner {
 public:
  ModuleRunner(const Generation& generation, Services& services, StatsBuffer* stats)
      : d_generation(generation), d_services(services), d_stats(stats) {}
  ~ModuleRunner() override;
  ModuleRunner(const ModuleRunner&) = delete;
  ModuleRunner& operator=(const ModuleRunner&) = delete;
  ModuleRun run(const CallSite& site, Request& request, SteadyClock::time_point deadline) override;
  // The cold-path prefetch ([dns] prefetch): the first DNS questions of the
  // sites not answered by the result cache, in one batch; the resolver keeps
  // the answers until this runner (the request) ends.
  bool prefetches(const CallSite& site) const override;
  bool prefetch(std::span<const CallSite* const> sites, const Request& request,
                SteadyClock::time_point deadline) override;
  size_t prefetched() const { return d_prefetched; }  // questions sent by prefetch()

 private:
  // The site's result-cache key; false when its result is not shared.
  bool cache_key(const CallSite& site, const Request& request, std::string& key) const;
  bool in_cache(const CallSite& site, const Request& request) const;

  const Generation& d_generation;
  Services& d_services;
  StatsBuffer* d_stats;
  ResultSaver d_saver;
  dns::Resolver* d_memo = nullptr;  // set while the resolver keeps this request's answers
  size_t d_prefetched = 0;
};

}  // namespace ppolicy
