// SPDX-License-Identifier: GPL-2.0-or-later
// Trap: catch clients that probe random recipients. Mail to a trap address
// (the `traps` parameter, or a per-call list: trap(traps = [...])) records a
// hit for the client address and answers -2; a client with `threshold`
// live hits (treshold > 0, or the number of traps / -treshold) is blocked
// (1) for its other mail until its hits expire (`expire` after each hit).
// Only clients that hit a trap are stored, with expiry times, so memory is
// bounded and released (db/rate_logic.hpp). store = shm (default) or mysql
// (shared by every host; db/record_store.hpp). The null sender and mail to
// postmaster answer 0, as the original did. Never cached.
#include <algorithm>

#include "base/strings.hpp"
#include "modules/counting.hpp"
#include "modules/rate_logic.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct TrapParams {
  std::vector<std::string> traps;
  long treshold;
  uint32_t expire;
  std::string store;
  std::string table;
};

const Option k_params[] = {
    bound_row<&TrapParams::traps>(
        {"traps", OptType::list, nullptr, "comma separated list of trap email addresses"}),
    bound_row<&TrapParams::treshold>(
        {"treshold", OptType::integer, "-2",
         "how many traps has to be touched before blacklisting (negative value mean fraction 1/x)",
         nullptr, -64, 64}),
    bound_row<&TrapParams::expire>({"expire", OptType::duration, "3600",
                                    "expiration time for client that send trapped email", nullptr,
                                    1, 86400 * 365}),
    bound_row<&TrapParams::store>(
        {"store", OptType::choice, "shm",
         "where trap hits live: shm (this host) or mysql (shared by every host using the database)",
         "shm|mysql"}),
    bound_row<&TrapParams::table>(
        {"table", OptType::string, "trap", "database table of the trap hits (store = mysql)"}),
};

const FieldSpec k_fields[] = {
    {"hits", Type::number, "live trap hits of the client"},
    {"threshold", Type::number, "hits that block the client"},
};

const ArgSpec k_args[] = {
    {"traps", Type::list, "trap addresses for this call (instead of the traps parameter)"},
};

class Trap final : public CountingModule {
 public:
  Trap(const ModuleSetup& s, const TrapParams& p)
      : CountingModule(s, p.store, p.table, "Trap"), d_treshold(p.treshold), d_expire(p.expire) {
    if (d_treshold == 0) throw KeyError("treshold", "must not be 0");
    for (const auto& t : p.traps)
      d_traps.push_back(lower(t));
  }

  Result check(Request& request, const CallArgs& args, CheckContext& ctx) override {
    if (request.get(Attr::sender).empty()) return Result(0, "accept empty From address");
    std::string rcpt = lower(request.get(Attr::recipient));
    if (iequals(address_local(rcpt), "postmaster") || rcpt == "postmaster")
      return Result(0, "accept mail to postmaster");
    std::vector<std::string> traps;
    if (const Value* v = args.get("traps"); v && v->list) {
      for (const auto& t : *v->list)
        traps.push_back(lower(t.s));
    } else {
      traps = d_traps;
    }
    if (traps.empty()) return Result(0, "no trap addresses (traps parameter or call argument)");
    // At most 64 hits are kept per client (they must fit a record).
    size_t threshold = std::min<size_t>(trap_threshold(d_treshold, traps.size()), 64);
    std::string client = lower(request.get(Attr::client_address));
    if (client.empty()) return Result(0, "no client address");
    bool is_trap = std::find(traps.begin(), traps.end(), rcpt) != traps.end();

    std::vector<uint32_t> hits;
    std::string error;
    bool ok;
    if (is_trap) {
      ok = store().update(
          ctx.services(), ctx.deadline(), client,
          [&](std::string& v, uint32_t& expire, bool found, uint32_t now) {
            hits = found ? decode_hits(v) : std::vector<uint32_t>{};
            trap_hit(hits, now, d_expire, threshold);
            v = encode_hits(hits);
            expire = hits.back();
            return true;
          },
          error);
    } else {
      std::string v;
      bool found = false;
      uint32_t now = 0;
      ok = store().get(ctx.services(), ctx.deadline(), client, v, found, now, error);
      if (ok && found) {
        hits = decode_hits(v);
        live_hits(hits, now);
      }
    }
    if (!ok) return Result(0, error);
    Result r = is_trap ? Result(-2, format("%s is a spam trap (client %s: %zu of %zu hits)",
                                           rcpt.c_str(), client.c_str(), hits.size(), threshold))
               : hits.size() >= threshold
                   ? Result(1, format("client %s touched %zu spam traps: blocked", client.c_str(),
                                      hits.size()))
                   : Result(-1, format("client %s did not touch enough spam traps (%zu of %zu)",
                                       client.c_str(), hits.size(), threshold));
    r.set("hits", static_cast<double>(hits.size()));
    r.set("threshold", static_cast<double>(threshold));
    return r;
  }

  void admin_show(Services& sv, const AdminSubject& s, std::vector<AdminRecord>& out) override {
    if (s.client.empty()) return;
    std::string v, error;
    bool found = false;
    uint32_t now = 0;
    if (!store().get(sv, SteadyClock::now() + std::chrono::seconds(10), lower(s.client), v, found,
                     now, error)) {
      out.push_back({{"kind", "trap"}, {"error", error}});
      return;
    }
    std::vector<uint32_t> hits;
    if (found) {
      hits = decode_hits(v);
      live_hits(hits, now);
    }
    uint32_t last = hits.empty() ? 0 : *std::max_element(hits.begin(), hits.end());
    out.push_back({{"kind", "trap"},
                   {"client", lower(s.client)},
                   {"hits", std::to_string(hits.size())},
                   {"expires_in", std::to_string(last > now ? last - now : 0)}});
  }

  bool admin_reset(Services& sv, const std::string& key, std::string& done,
                   std::string& error) override {
    bool existed = false;
    bool ok = store().update(
        sv, SteadyClock::now() + std::chrono::seconds(10), lower(key),
        [&](std::string& v, uint32_t&, bool found, uint32_t) {
          existed = found;
          v.clear();
          return found;
        },
        error);
    if (!ok) return false;
    if (!existed) {
      error = "no trap hits for client " + key;
      return false;
    }
    done = "trap hits of client " + lower(key);
    return true;
  }

 private:
  long d_treshold;
  uint32_t d_expire;
  std::vector<std::string> d_traps;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<Trap>(s, s.bound<TrapParams>());
}

}  // namespace

extern const ModuleType k_trap_type = {
    "Trap",
    "Trap module catches mail probing random recipient addresses. If in defined time fall\n"
    "more than defined amount of mail from one client to the trap, all mail from that client\n"
    "will be temporarily blocked. A hit lives `expire` seconds, so a client is released once\n"
    "it stops. The trap list is the `traps` parameter or the call argument of the same name;\n"
    "addresses compare case-insensitively. store = shm (this host) or mysql (all hosts).",
    k_params,
    {0, 0, 0},
    k_fields,
    k_args,
    "    1 .... request from client that send many mail touched our mail traps\n"
    "    0 .... some problem (also: null sender, recipient postmaster)\n"
    "   -1 .... client is not touched mail traps\n"
    "   -2 .... the recipient is a trap address (the hit is recorded)\n",
    "# block client_address for one hour if we receive one mail with recipient\n"
    "# spamtrap1 or spamtrap2\n"
    "[module trap1]\ntype = Trap\ntraps = spamtrap1@domain.com, spamtrap2@domain.com\n",
    create,
};

}  // namespace ppolicy
