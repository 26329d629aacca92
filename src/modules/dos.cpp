// SPDX-License-Identifier: GPL-2.0-or-later
// DOS: limit the number of requests that share the values of `params` (one
// sender, one sender + client, ...) within a sliding window (limitTime
// split into limitGran buckets; db/rate_logic.hpp). Code 1 means the limit
// is reached. Counters live in shared memory (store = shm, default: atomic
// across workers, bounded, survive restarts through the state file) or in
// MySQL (store = mysql: shared by every host using the database; atomic
// read-modify-write under a row lock, db/record_store.hpp). Every
// combination of the params' values (a list from the `values` call argument
// makes a cartesian product) is one counter; the result is 1 when any of
// them is over the limit. Exemptions (postmaster, the null sender) belong
// in the policy. Never cached: every request must be counted.
#include <algorithm>

#include "base/strings.hpp"
#include "modules/counting.hpp"
#include "modules/param_values.hpp"
#include "modules/rate_logic.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct DosParams {
  std::vector<std::string> params;
  uint64_t limit_count;
  uint32_t limit_time;
  uint32_t limit_gran;
  bool per_recipient;
  bool case_sensitive;
  bool count_over;
  std::string store;
  std::string table;
};

const Option k_params[] = {
    bound_row<&DosParams::params>(
        {"params", OptType::list, nullptr,
         "parameters that will be used to test equality (request attribute names)", nullptr,
         LLONG_MIN, LLONG_MAX, true}),
    bound_row<&DosParams::limit_count>({"limitCount", OptType::integer, "1000",
                                        "number of messages accepted during limitTime period",
                                        nullptr, 1, 1000000000}),
    bound_row<&DosParams::limit_time>({"limitTime", OptType::duration, "3600",
                                       "time period for limitCount messages", nullptr, 1,
                                       86400 * 366}),
    bound_row<&DosParams::limit_gran>({"limitGran", OptType::integer, "10",
                                       "data collection granularity (buckets of the window)",
                                       nullptr, 1, 60}),
    bound_row<&DosParams::per_recipient>(
        {"perRecipient", OptType::boolean, "yes",
         "count every request as 1; no: a request with recipient_count N > 0 counts 1/N"}),
    bound_row<&DosParams::case_sensitive>(
        {"caseSensitive", OptType::boolean, "no", "compare parameter values case-sensitively"}),
    bound_row<&DosParams::count_over>(
        {"countOver", OptType::boolean, "no",
         "count requests also while over the limit (a sender that keeps trying stays blocked)"}),
    bound_row<&DosParams::store>(
        {"store", OptType::choice, "shm",
         "where counters live: shm (this host) or mysql (shared by every host using the database)",
         "shm|mysql"}),
    bound_row<&DosParams::table>(
        {"table", OptType::string, "dos", "database table of the counters (store = mysql)"}),
};

const FieldSpec k_fields[] = {
    {"count", Type::number, "messages counted in the window (the highest over all combinations)"},
    {"limit", Type::number, "limitCount"},
};

const ArgSpec k_args[] = {k_values_arg};

class Dos final : public CountingModule {
 public:
  Dos(const ModuleSetup& s, const DosParams& p)
      : CountingModule(s, p.store, p.table, "DOS"),
        d_params(p.params),
        d_limit(p.limit_count),
        d_time(p.limit_time),
        d_spec(window_spec(d_time, p.limit_gran)),
        d_per_recipient(p.per_recipient),
        d_case(p.case_sensitive),
        d_count_over(p.count_over) {
    if (d_params.empty()) throw KeyError("params", "at least one parameter is needed");
    if (d_time < p.limit_gran)
      throw KeyError("limitGran", "must not exceed limitTime (buckets of at least one second)");
  }

  Result check(Request& request, const CallArgs& args, CheckContext& ctx) override {
    // Each combination's key: its values joined by "\n". The usual call (no
    // `values` argument) has one, built straight from the request.
    std::vector<std::vector<std::string>> combos;  // with `values`: every combination
    std::vector<std::string> keys;
    std::string one;
    const Value* given = args.get("values");
    if (!given || !given->list) {
      std::string missing;
      if (!append_request_values(one, request, d_params, !d_case, '\n', &missing))
        return Result(0, "request has no attribute " + missing);
    } else {
      ParamValues pv = param_values(request, args, d_params, !d_case);
      if (!pv.missing.empty()) return Result(0, "request has no attribute " + pv.missing);
      combos = cartesian(pv.values);
      if (combos.empty()) return Result(0, "too many value combinations");
      for (const auto& combo : combos)
        keys.push_back(join(combo, "\n"));
    }
    uint32_t inc = 1000;
    if (!d_per_recipient) {
      auto n = parse_int(request.get(Attr::recipient_count));
      if (n && *n > 0) inc = static_cast<uint32_t>((1000 + *n / 2) / *n);
    }
    uint64_t highest = 0;
    std::string over_what;
    Window w;  // one buffer for every combination's window
    for (size_t c = 0; c < (keys.empty() ? 1 : keys.size()); ++c) {
      const std::string& key = keys.empty() ? one : keys[c];
      DosOutcome out;
      std::string error;
      bool ok = store().update(
          ctx.services(), ctx.deadline(), key,
          [&](std::string& v, uint32_t& expire, bool found, uint32_t now) {
            if (found && !decode_window(v, d_spec, w)) found = false;
            out = dos_step(w, found, d_spec, now, inc, d_limit, d_count_over, expire);
            encode_window(w, v);  // in place: v's buffer is reused
            return true;
          },
          error);
      if (!ok) return Result(0, error);
      highest = std::max(highest, out.count);
      if (out.over && over_what.empty()) {
        std::vector<std::string> combo;
        if (combos.empty())  // the usual call: its values once more, as a list (rare)
          for (auto& vs : param_values(request, args, d_params, !d_case).values)
            combo.push_back(std::move(vs[0]));
        else
          combo = combos[c];
        over_what = describe_combination(d_params, combo);
      }
    }
    double count = static_cast<double>(highest) / 1000.0;
    // "frequency is acceptable (%g of %llu in %us)" or "limit reached for %s
    // (...)", without printf: this runs for every request.
    std::string info;
    info.reserve(64 + over_what.size());
    if (over_what.empty()) {
      info += "frequency is acceptable (";
    } else {
      info += "limit reached for ";
      info += over_what;
      info += " (";
    }
    append_g(info, count);
    info += " of ";
    append_uint(info, d_limit);
    info += " in ";
    append_uint(info, d_time);
    info += "s)";
    Result r(over_what.empty() ? -1 : 1, std::move(info));
    r.fields.reserve(2);  // one allocation, not two
    r.set("count", count);
    r.set("limit", static_cast<double>(d_limit));
    return r;
  }

  // A counter is shown when every parameter is one the subject gives
  // (client_address, sender, recipient): its key is then known.
  void admin_show(Services& sv, const AdminSubject& s, std::vector<AdminRecord>& out) override {
    std::vector<std::string> values;
    for (const auto& p : d_params) {
      const std::string& v = p == "client_address" ? s.client
                             : p == "sender"       ? s.sender
                             : p == "recipient"    ? s.recipient
                                                   : std::string();
      if (v.empty()) return;
      values.push_back(d_case ? v : lower(v));
    }
    std::string v, error;
    bool found = false;
    uint32_t now = 0;
    if (!store().get(sv, SteadyClock::now() + std::chrono::seconds(10), join(values, "\n"), v,
                     found, now, error)) {
      out.push_back({{"kind", "dos"}, {"error", error}});
      return;
    }
    Window w;
    uint64_t count = 0;
    if (found && decode_window(v, d_spec, w)) {
      uint32_t current = now / d_spec.width;
      for (size_t i = 0; i < w.counts.size(); ++i)
        if (w.newest >= i && w.newest - i + d_spec.buckets > current) count += w.counts[i];
    }
    out.push_back({{"kind", "dos"},
                   {"key", join(values, ",")},
                   {"count", format("%g", static_cast<double>(count) / 1000.0)},
                   {"limit", std::to_string(d_limit)},
                   {"window", std::to_string(d_time)},
                   {"over", count >= d_limit * 1000 ? "yes" : "no"}});
  }

  bool admin_reset(Services& sv, const std::string& key, std::string& done,
                   std::string& error) override {
    std::vector<std::string> values = split(key, ",");
    if (values.size() != d_params.size()) {
      error = format("the key needs %zu values separated by ',' (%s)", d_params.size(),
                     join(d_params, ",").c_str());
      return false;
    }
    for (auto& v : values)
      if (!d_case) v = lower(v);
    bool existed = false;
    bool ok = store().update(
        sv, SteadyClock::now() + std::chrono::seconds(10), join(values, "\n"),
        [&](std::string& v, uint32_t&, bool found, uint32_t) {
          existed = found;
          v.clear();  // deletes the record
          return found;
        },
        error);
    if (!ok) return false;
    if (!existed) {
      error = "no counter for " + key;
      return false;
    }
    done = "counter " + key;
    return true;
  }

 private:
  std::vector<std::string> d_params;
  uint64_t d_limit;
  uint32_t d_time;
  WindowSpec d_spec;
  bool d_per_recipient, d_case, d_count_over;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<Dos>(s, s.bound<DosParams>());
}

}  // namespace

extern const ModuleType k_dos_type = {
    "DOS",
    "Limit number of incoming mail that has same parameters. You can e.g. limit number of\n"
    "messages that can be accepted by one recipient from one sender in defined period of\n"
    "time. The period (limitTime) is a sliding window of limitGran buckets: a message stops\n"
    "counting when its bucket leaves the window. Counters are in shared memory (store = shm:\n"
    "bounded, expired keys freed) or in the database (store = mysql: shared by all hosts).\n"
    "Some mail should not be blocked (e.g. to postmaster@your.domain.com, from <>, ...) and\n"
    "your policy should take care of it.",
    k_params,
    {0, 0, 0},
    k_fields,
    k_args,
    "    1 .... frequency reached defined limit\n"
    "    0 .... unrelated error (e.g. database problem)\n"
    "   -1 .... frequency is acceptable\n",
    "# limit number of mail from one sender to 1000/hour\n"
    "[module dos1]\ntype = DOS\nparams = sender\n\n"
    "# limit number of mail from one sender and one mailserver to 100 in 10 minutes\n"
    "[module dos2]\ntype = DOS\nparams = sender, client_address\nlimitCount = 100\nlimitTime = "
    "10m\n",
    create,
};

}  // namespace ppolicy
