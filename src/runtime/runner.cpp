// SPDX-License-Identifier: GPL-2.0-or-later
#include "runtime/runner.hpp"

#include <algorithm>

#include "base/codec.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "dns/resolver.hpp"
#include "modules/instance.hpp"
#include "modules/prefetch.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "shm/stats.hpp"
#include "shm/table.hpp"
#include "svc/services.hpp"

namespace ppolicy {

ModuleRunner::~ModuleRunner() {
  if (d_memo) d_memo->end_memo();
}

bool ModuleRunner::prefetches(const CallSite& site) const {
  return site.inst->prefetch && d_generation.config().dns.prefetch;
}

bool ModuleRunner::cache_key(const CallSite& cs, const Request& request, std::string& key) const {
  const ModuleInstance& m = *cs.inst;
  if (!d_services.cache() ||
      (m.cache.positive <= 0 && m.cache.negative <= 0 && m.cache.unknown <= 0))
    return false;
  // One buffer with room for the module's part (a chain of + allocated a
  // temporary per call).
  key.clear();
  key.reserve(m.key_prefix.size() + 96);
  key += m.key_prefix;
  key += cs.args.key();
  key += '\0';
  return m.module->cache_key(request, cs.args, key);
}

bool ModuleRunner::in_cache(const CallSite& cs, const Request& request) const {
  std::string key, blob;
  return cache_key(cs, request, key) && d_services.cache()->get(key, blob, d_services.now());
}

bool ModuleRunner::prefetch(std::span<const CallSite* const> sites, const Request& request,
                            SteadyClock::time_point deadline) {
  // sites[0] is the site about to run: its questions first. When it needs
  // none now (its result is cached), the prefetch waits for the next one.
  std::vector<dns::Query> qs;
  if (sites.empty() || in_cache(*sites[0], request)) return false;
  sites[0]->inst->prefetch->first_questions(request, sites[0]->args, d_services, qs);
  size_t needed_questions = qs.size();
  if (needed_questions == 0) return false;
  for (const CallSite* cs : sites.subspan(1))
    if (cs->inst->prefetch && !in_cache(*cs, request))
      cs->inst->prefetch->first_questions(request, cs->args, d_services, qs);
  dns::Resolver& resolver = d_services.resource<dns::Resolver>();
  if (!d_memo) resolver.begin_memo();
  d_memo = &resolver;
  // Each question once (several DNSBL modules on one zone, two Resolve
  // instances asking the same PTR).
  std::vector<dns::Query*> ask;
  size_t needed = 0;
  for (size_t i = 0; i < qs.size(); ++i) {
    const dns::Query& q = qs[i];
    bool dup = false;
    for (const dns::Query* a : ask)
      dup = dup || (a->type == q.type && a->rule == q.rule && a->name == q.name);
    if (dup) continue;
    ask.push_back(&qs[i]);
    if (i < needed_questions) needed = ask.size();
  }
  d_prefetched += ask.size();
  resolver.prefetch(ask, needed, deadline);
  return true;
}

ModuleRun ModuleRunner::run(const CallSite& cs, Request& request,
                            SteadyClock::time_point deadline) {
  auto start = SteadyClock::now();
  ModuleInstance& m = *cs.inst;
  const ModuleCounters& mc = d_generation.module_counters[m.index];
  ModuleRun run;
  run.inst = &m;
  run.args = cs.args.key();

  std::string key;
  ShmTable* cache = d_services.cache();
  uint32_t now = d_services.now();
  bool cacheable = cache_key(cs, request, key);
  if (cacheable) {
    std::string blob;
    if (cache->get(key, blob, now)) {
      // An entry is the time it was stored, then the result.
      ByteReader rd(blob);
      uint32_t stored = rd.u32();
      if (rd.ok() && Result::decode(std::string_view(blob).substr(4), run.result)) {
        run.cached = true;
        m.module->on_cache_hit(run.result, now > stored ? now - stored : 0);
      }
    }
  }
  if (!run.cached) {
    CheckContext ctx(d_services, deadline, m.name);
    try {
      run.result = m.module->check(request, cs.args, ctx);
    } catch (const std::exception& e) {
      // Quoted: the text may carry request or backend data.
      std::string what = log_quote(e.what());
      log_warn("module %s (%s): %s", m.name.c_str(), m.type->name, what.c_str());
      run.result = Result(0, format("%s failed: %s", m.name.c_str(), what.c_str()));
      if (d_stats) d_stats->add(mc.failures);
      cacheable = false;  // a failure is never shared
    }
    if (cacheable && !run.result.transient) {
      long life = run.result.code > 0   ? m.cache.positive
                  : run.result.code < 0 ? m.cache.negative
                                        : m.cache.unknown;
      if (run.result.ttl >= 0) life = std::min(life, run.result.ttl);
      if (life > 0) {
        std::string blob;
        ByteWriter(blob).u32(now).bytes(run.result.encode());
        cache->put(key, blob, now + static_cast<uint32_t>(life), now);
      }
    }
  }
  run.end = SteadyClock::now();
  run.ms = std::chrono::duration<double, std::milli>(run.end - start).count();
  if (d_stats) {
    d_stats->add(mc.calls);
    d_stats->add(run.cached ? mc.cache_hits : mc.cache_misses);
    int c = std::clamp(run.result.code, ModuleCounters::k_min_code, ModuleCounters::k_max_code);
    d_stats->add(mc.codes[c - ModuleCounters::k_min_code]);
    mc.latency.observe(*d_stats, run.ms / 1000.0);
  }
  if (m.save_result) d_saver.save(run, request);
  return run;
}

void ResultSaver::save(const ModuleRun& run, Request& request) {
  const ModuleInstance& m = *run.inst;
  int n = 0;
  for (size_t i = 0; i < d_nfirst; ++i)
    if (d_first[i].first == &m) n = d_first[i].second++;
  for (auto& [inst, count] : d_more)
    if (inst == &m) n = count++;
  if (n == 0) {
    if (d_nfirst < d_first.size())
      d_first[d_nfirst++] = {&m, 1};
    else
      d_more.emplace_back(&m, 1);
  }
  // A second run of an instance in one request (rare) gets names of its own.
  std::string repeated[4];
  const std::string* names = m.saved_names;
  if (n > 0 || names[0].empty()) {
    saved_result_names(m.save_prefix + m.name + (n ? format("#%d", n) : ""), repeated);
    names = repeated;
  }
  auto set = [&, numbered = names == m.saved_names && m.saved_numbered](int k,
                                                                        std::string_view value) {
    if (numbered)
      request.set_numbered(m.index * 4 + static_cast<size_t>(k), names[k], value);
    else
      request.set(names[k], value);
  };
  std::string num;  // a short number: no allocation
  append_int(num, run.result.code);
  set(0, num);
  set(1, run.result.info);
  set(2, run.cached ? "1" : "0");
  num.clear();
  append_fixed(num, run.ms, 3);  // as "%.3f"
  set(3, num);
}

}  // namespace ppolicy
