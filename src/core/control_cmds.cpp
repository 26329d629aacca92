// SPDX-License-Identifier: GPL-2.0-or-later
// The live state commands (ppolicyd -C), run in the control child of the
// master (core/control.cpp) with the daemon's shared memory and, through
// the modules, its database:
//   status                          workers, pool, shared tables, breakers
//   show client|sender|recipient A  what the modules keep about A, and the
//   show triplet CLIENT SENDER RCPT cached module results that name it
//   release CLIENT SENDER RCPT      the triplet passes its Greylist modules
//   reset dos NAME KEY              forget a DOS counter (KEY: values, ',')
//   reset trap NAME CLIENT          forget a client's trap hits
//   flush cache [MODULE]            drop cached results (of one module)
//   flush client|sender|recipient A drop the cached results show would list
//   flush triplet CLIENT SENDER RCPT
//   close breaker BACKEND           close a circuit breaker
// A first argument -j asks for JSON. Every change is logged with the uid
// and pid of the peer.
#include <algorithm>
#include <cctype>

#include "base/codec.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "core/control.hpp"
#include "modules/greylist_logic.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "shm/breaker.hpp"
#include "shm/segment.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

const char* k_usage =
    "commands: status | show SUBJECT | release CLIENT SENDER RECIPIENT |\n"
    "  reset dos MODULE KEY | reset trap MODULE CLIENT | flush cache [MODULE] |\n"
    "  flush SUBJECT | close breaker BACKEND   (-j first: JSON)\n"
    "  SUBJECT: client ADDR | sender ADDR | recipient ADDR | triplet CLIENT SENDER RECIPIENT";

std::string num(uint64_t v) {
  return std::to_string(v);
}

struct Ctx {
  const Peer& peer;
  Generation& gen;
  Segment& shm;
  const PoolSnapshot& pool;
  Services services;
  std::vector<AdminRecord> recs;
};

uint64_t stat(Segment& shm, std::string_view name) {
  int i = shm.stats().find(name);
  return i < 0 ? 0 : shm.stats().get(static_cast<size_t>(i));
}

void status(Ctx& c) {
  Segment& shm = c.shm;
  c.recs.push_back({{"kind", "daemon"},
                    {"pid", std::to_string(getppid())},
                    {"generation", std::to_string(c.pool.generation)}});
  c.recs.push_back({{"kind", "workers"},
                    {"busy", std::to_string(c.pool.busy)},
                    {"holding", std::to_string(c.pool.holding)},
                    {"idle", std::to_string(c.pool.idle)},
                    {"min", std::to_string(c.gen.server().min_workers)},
                    {"max", std::to_string(c.gen.server().max_workers)},
                    {"started", num(stat(shm, "ppolicy_workers_started_total"))},
                    {"crashed", num(stat(shm, "ppolicy_workers_crashed_total"))},
                    {"watchdog", num(stat(shm, "ppolicy_workers_watchdog_total"))}});
  c.recs.push_back({{"kind", "pool"},
                    {"full", c.pool.full ? "yes" : "no"},
                    {"full_seconds", num(stat(shm, "ppolicy_pool_full_seconds_total"))},
                    {"reclaimed", num(stat(shm, "ppolicy_connections_reclaimed_total"))},
                    {"cut_silent", num(stat(shm, "ppolicy_connections_cut_silent_total"))},
                    {"reclaim_ms", std::to_string(c.pool.reclaim_ms)},
                    {"handoffs", num(stat(shm, "ppolicy_connection_handoffs_total"))}});
  for (ShmTable* t : {&shm.cache(), &shm.records()}) {
    TableCounters& k = t->counters();
    c.recs.push_back({{"kind", "table"},
                      {"name", t->name()},
                      {"used", num(t->used())},
                      {"capacity", num(t->capacity())},
                      {"lookups", num(k.lookups.load())},
                      {"hits", num(k.hits.load())},
                      {"inserts", num(k.inserts.load())},
                      {"evictions", num(k.evictions.load())},
                      {"expired", num(k.expired.load())},
                      {"too_large", num(k.too_large.load())}});
  }
  uint32_t now = c.services.now();
  int open = 0;
  for (const auto& b : Breakers::list(shm.records(), now)) {
    open += b.state != 0;
    c.recs.push_back({{"kind", "breaker"},
                      {"backend", b.backend},
                      {"state", b.state == 1   ? "open"
                                : b.state == 2 ? "trial"
                                               : "closed"},
                      {"failures", num(b.failures)},
                      {"for", num(b.until > now ? b.until - now : 0)}});
  }
  c.recs.push_back({{"kind", "breakers"}, {"open", std::to_string(open)}});
}

ModuleInstance* find_instance(Generation& gen, const std::string& name) {
  for (auto& m : gen.modules)
    if (m->name == name) return m.get();
  return nullptr;
}

// Keys of the result cache that `pred(key)` selects (visited under the
// stripe locks, erased afterwards: erase takes the lock again).
template <class Pred>
std::vector<std::string> cache_keys(Ctx& c, Pred&& pred) {
  std::vector<std::string> keys;
  c.shm.cache().for_each(c.services.now(), [&](std::string_view k, std::string_view, uint32_t) {
    if (pred(k)) keys.emplace_back(k);
  });
  return keys;
}

// The cache key tail (after the instance's prefix and call arguments) the
// module would use for a request of this subject, or "" when it has none.
std::string subject_tail(const ModuleInstance& m, const AdminSubject& s) {
  Request r;
  if (!s.client.empty()) r.set("client_address", s.client);
  if (!s.sender.empty()) r.set("sender", s.sender);
  if (!s.recipient.empty()) r.set("recipient", s.recipient);
  std::string key;
  if (!m.module->cache_key(r, CallArgs{}, key)) return "";
  return key;
}

// Whether `word` stands in `inputs` as a whole address, not as a part of a
// longer one (192.0.2.1 is not in 192.0.2.10), case-insensitively.
bool names_word(std::string_view inputs, const std::string& word) {
  auto addr_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_' ||
           ch == '+' || ch == '@';
  };
  std::string in = lower(inputs);
  for (size_t at = in.find(word); at != std::string::npos; at = in.find(word, at + 1)) {
    size_t end = at + word.size();
    if ((at == 0 || !addr_char(in[at - 1])) && (end == in.size() || !addr_char(in[end])))
      return true;
  }
  return false;
}

// Every cached result whose inputs name the subject: for a whole triplet
// the key the module itself makes of such a request, for one address the
// address as a word of the inputs. `fn(instance, key, value, expiry)`.
template <class Fn>
void each_cached(Ctx& c, const AdminSubject& s, Fn&& fn) {
  uint32_t now = c.services.now();
  bool full = !s.client.empty() && !s.sender.empty() && !s.recipient.empty();
  std::string word = lower(!s.client.empty()   ? s.client
                           : !s.sender.empty() ? s.sender
                                               : s.recipient);
  if (word.empty()) return;
  for (auto& m : c.gen.modules) {
    std::string tail = full ? subject_tail(*m, s) : "";
    if (full && tail.empty()) continue;
    c.shm.cache().for_each(now, [&](std::string_view k, std::string_view v, uint32_t exp) {
      if (k.substr(0, m->key_prefix.size()) != m->key_prefix) return;
      std::string_view rest = k.substr(m->key_prefix.size());
      auto nul = rest.find('\0');
      if (nul == std::string_view::npos) return;
      std::string_view inputs = rest.substr(nul + 1);
      if (full ? inputs == tail : names_word(inputs, word)) fn(*m, k, v, exp);
    });
  }
}

void show_cached(Ctx& c, const AdminSubject& s) {
  uint32_t now = c.services.now();
  each_cached(c, s, [&](ModuleInstance& m, std::string_view, std::string_view v, uint32_t exp) {
    Result r;
    // The value: when it was stored (4 bytes), then the result.
    if (v.size() < 4 || !Result::decode(v.substr(4), r)) return;
    c.recs.push_back({{"kind", "cached"},
                      {"module", m.name},
                      {"code", std::to_string(r.code)},
                      {"info", r.info},
                      {"expires_in", num(exp > now ? exp - now : 0)}});
  });
}

// A subject from "client A", "sender A", "recipient A" or "triplet C S R".
bool parse_subject(const std::vector<std::string>& a, size_t i, AdminSubject& s) {
  size_t n = a.size() - i;
  if (n == 2 && a[i] == "client")
    s.client = a[i + 1];
  else if (n == 2 && a[i] == "sender")
    s.sender = a[i + 1];
  else if (n == 2 && a[i] == "recipient")
    s.recipient = a[i + 1];
  else if (n == 4 && a[i] == "triplet")
    s = AdminSubject{a[i + 1], a[i + 2], a[i + 3]};
  else
    return false;
  return true;
}

void changed(Ctx& c, const std::string& what) {
  log_info("control: uid=%d pid=%d: %s", static_cast<int>(c.peer.uid), static_cast<int>(c.peer.pid),
           what.c_str());
  c.recs.push_back({{"kind", "done"}, {"what", what}});
}

// Drop cached results (of one module; with `inputs`, only those whose
// inputs, the module's cache_key() part, start with it).
size_t flush(Ctx& c, const ModuleInstance* only, const std::string& inputs = "") {
  auto keys = cache_keys(c, [&](std::string_view k) {
    if (!only) return true;
    if (k.substr(0, only->key_prefix.size()) != only->key_prefix) return false;
    if (inputs.empty()) return true;
    auto nul = k.find('\0', only->key_prefix.size());
    return nul != std::string_view::npos && k.substr(nul + 1).starts_with(inputs);
  });
  size_t n = 0;
  for (const auto& k : keys)
    n += c.shm.cache().erase(k);
  return n;
}

// The start of the cache inputs of a Greylist triplet with any client
// (the client part is its network, or with domainSubject the client's own
// address too: a release drops them all).
std::string grey_inputs(const AdminSubject& s) {
  Triplet tr;
  if (make_triplet(s.sender == "<>" ? "" : s.sender, s.recipient, "127.0.0.1", 32, 128, tr) !=
      TripletProblem::none)
    return "";
  return tr.sender + "\n" + tr.recipient + "\n";
}

bool fail(std::string& out, std::string why) {
  out = std::move(why);
  return false;
}

}  // namespace

bool run_control_command(const std::vector<std::string>& in, const Peer& peer, Generation& gen,
                         Segment& shm, const PoolSnapshot& pool, std::string& out) {
  std::vector<std::string> a = in;
  bool json = !a.empty() && a[0] == "-j";
  if (json) a.erase(a.begin());
  if (a.empty()) return fail(out, k_usage);
  Ctx c{peer, gen, shm, pool, Services(gen.config(), &shm), {}};
  const std::string& cmd = a[0];
  size_t n = a.size();
  if (cmd == "status" && n == 1) {
    status(c);
  } else if (cmd == "show" && n >= 3) {
    AdminSubject s;
    if (!parse_subject(a, 1, s)) return fail(out, k_usage);
    for (auto& m : gen.modules) {
      std::vector<AdminRecord> recs;
      m->module->admin_show(c.services, s, recs);
      for (auto& r : recs) {
        r.insert(r.begin() + (r.empty() ? 0 : 1), {"module", m->name});
        c.recs.push_back(std::move(r));
      }
    }
    show_cached(c, s);
  } else if (cmd == "release" && n == 4) {
    AdminSubject s{a[1], a[2], a[3]};
    int released = 0;
    std::string errors;
    for (auto& m : gen.modules) {
      if (std::string(m->type->name) != "Greylist") continue;
      std::string done, error;
      if (m->module->admin_release(c.services, s, done, error)) {
        ++released;
        // A cached "greylisted" answer must not outlive the release.
        std::string inputs = grey_inputs(s);
        if (!inputs.empty()) flush(c, m.get(), inputs);
        changed(c, "release " + m->name + " " + done);
      } else {
        errors += m->name + ": " + error + "\n";
      }
    }
    if (!released) return fail(out, errors.empty() ? "no Greylist module" : errors);
  } else if (cmd == "reset" && n == 4 && (a[1] == "dos" || a[1] == "trap")) {
    ModuleInstance* m = find_instance(gen, a[2]);
    std::string type = a[1] == "dos" ? "DOS" : "Trap";
    if (!m || type != m->type->name)
      return fail(out, format("no %s module named %s", type.c_str(), a[2].c_str()));
    std::string done, error;
    if (!m->module->admin_reset(c.services, a[3], done, error))
      return fail(out, m->name + ": " + error);
    changed(c, "reset " + m->name + " " + done);
  } else if (cmd == "flush" && n >= 3 && a[1] != "cache") {
    AdminSubject s;
    if (!parse_subject(a, 1, s)) return fail(out, k_usage);
    std::vector<std::string> keys;
    each_cached(c, s, [&](ModuleInstance&, std::string_view k, std::string_view, uint32_t) {
      keys.emplace_back(k);
    });
    size_t k = 0;
    for (const auto& key : keys)
      k += c.shm.cache().erase(key);
    std::string what = a[1];
    for (size_t i = 2; i < n; ++i)
      what += " " + a[i];
    changed(c, format("flush %s: %zu cached results dropped", what.c_str(), k));
  } else if (cmd == "flush" && (n == 2 || n == 3) && a[1] == "cache") {
    ModuleInstance* m = n == 3 ? find_instance(gen, a[2]) : nullptr;
    if (n == 3 && !m) return fail(out, "no module named " + a[2]);
    size_t k = flush(c, m);
    changed(c,
            format("flush cache %s: %zu cached results dropped", m ? m->name.c_str() : "(all)", k));
  } else if (cmd == "close" && n == 3 && a[1] == "breaker") {
    uint32_t now = c.services.now();
    bool found = false;
    for (const auto& b : Breakers::list(shm.records(), now))
      found = found || b.backend == a[2];
    if (!found) return fail(out, "no breaker record for backend " + a[2]);
    c.services.breakers().success(a[2], now);
    changed(c, "close breaker " + a[2]);
  } else {
    return fail(out, k_usage);
  }
  out = format_records(c.recs, json);
  return true;
}

}  // namespace ppolicy
