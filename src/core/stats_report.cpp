// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/stats_report.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "config.h"
#include "shm/breaker.hpp"
#include "shm/segment.hpp"

namespace ppolicy {
namespace {

// "ppolicy_module_calls_total{module=\"x\"}" -> family "ppolicy_module_calls_total"
std::string family(std::string_view name) {
  return std::string(name.substr(0, name.find('{')));
}

// The labels inside the braces ("" without labels).
std::string labels_of(std::string_view name) {
  auto open = name.find('{');
  if (open == std::string_view::npos || name.back() != '}') return "";
  return std::string(name.substr(open + 1, name.size() - open - 2));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A label value as the exposition format wants it: \ " and newline escaped.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// One line of help per family we know; families without an entry get none
// (HELP is optional in the format).
const std::map<std::string_view, std::string_view>& help_texts() {
  static const std::map<std::string_view, std::string_view> m = {
      {"ppolicy_requests_total", "Policy requests answered."},
      {"ppolicy_request_timeouts_total",
       "Requests answered with default_action after request_timeout."},
      {"ppolicy_request_failures_total",
       "Requests whose evaluation failed (answered with default_action)."},
      {"ppolicy_requests_without_policy_total",
       "Requests no [policy] section matched (answered DUNNO)."},
      {"ppolicy_request_duration_seconds", "Time to evaluate one request."},
      {"ppolicy_actions_total", "Replies by action word."},
      {"ppolicy_rule_matches_total", "Requests decided by each rule or default."},
      {"ppolicy_module_calls_total", "Module checks requested (cache hits included)."},
      {"ppolicy_module_cache_hits_total", "Module results taken from the shared result cache."},
      {"ppolicy_module_cache_misses_total", "Module results computed (not in the cache)."},
      {"ppolicy_module_failures_total",
       "Module checks that failed with an error (answered code 0)."},
      {"ppolicy_module_results_total", "Module results by return code."},
      {"ppolicy_module_duration_seconds", "Time a module call took (cache hits included)."},
      {"ppolicy_workers", "Worker processes by state."},
      {"ppolicy_workers_max", "Configured max_workers."},
      {"ppolicy_workers_min", "Configured min_workers."},
      {"ppolicy_workers_started_total", "Worker processes started."},
      {"ppolicy_workers_crashed_total", "Worker processes that died abnormally."},
      {"ppolicy_workers_watchdog_total", "Workers ended by the request watchdog."},
      {"ppolicy_connection_handoffs_total",
       "Client connections handed from a retiring worker to a new one."},
      {"ppolicy_config_generation",
       "Configuration generation (1 at start, +1 per successful reload)."},
      {"ppolicy_build_info", "Always 1; the version of the running ppolicyd as a label."},
      {"process_start_time_seconds", "Start time of the master process (Unix time)."},
      {"ppolicy_config_last_reload_successful",
       "1 when the last configuration load (start or reload) succeeded, 0 when it failed."},
      {"ppolicy_config_last_reload_success_timestamp_seconds",
       "Time of the last successful configuration load (Unix time)."},
      {"ppolicy_shm_entries", "Live entries in a shared-memory table."},
      {"ppolicy_shm_capacity", "Slots of a shared-memory table."},
      {"ppolicy_shm_lookups_total", "Lookups in a shared-memory table."},
      {"ppolicy_shm_hits_total", "Lookups that found a live entry."},
      {"ppolicy_shm_evictions_total", "Live entries evicted because the table was full."},
      {"ppolicy_shm_expired_total", "Expired entries removed."},
      {"ppolicy_shm_too_large_total", "Entries refused because key and value exceed a slot."},
      {"ppolicy_shm_repairs_total", "Stripes repaired after a process died while updating them."},
      {"ppolicy_breaker_state",
       "Circuit breaker of a failing backend: 0 closed, 1 open, 2 on trial."},
      {"ppolicy_breaker_failures", "Consecutive failures of a backend."},
      {"ppolicy_breakers_open", "Backends whose circuit breaker is open or on trial."},
  };
  return m;
}

// Builds the exposition: samples are grouped per family (the format wants
// every line of a family in one block, under one TYPE line) in the order the
// families first appear.
class Exposition {
 public:
  enum class Kind { counter, gauge, histogram };

  void sample(const std::string& fam, Kind kind, const std::string& line) {
    block(fam, kind).lines.push_back(line);
  }

  // One histogram series entry: `labels` without le.
  struct Series {
    std::vector<std::pair<std::string, uint64_t>> buckets;  // le text, cumulative count
    uint64_t sum_us = 0;
  };
  Series& series(const std::string& fam, const std::string& labels) {
    Block& b = block(fam, Kind::histogram);
    for (auto& [l, s] : b.series)
      if (l == labels) return s;
    b.series.emplace_back(labels, Series{});
    return b.series.back().second;
  }

  std::string text() const {
    std::string out;
    const auto& help = help_texts();
    for (const auto& name : d_order) {
      const Block& b = d_blocks.at(name);
      auto h = help.find(name);
      if (h != help.end())
        out += format("# HELP %s %.*s\n", name.c_str(), static_cast<int>(h->second.size()),
                      h->second.data());
      out += format("# TYPE %s %s\n", name.c_str(),
                    b.kind == Kind::histogram ? "histogram"
                    : b.kind == Kind::counter ? "counter"
                                              : "gauge");
      for (const auto& l : b.lines)
        out += l;
      for (const auto& [labels, s] : b.series)
        histogram(out, name, labels, s);
    }
    return out;
  }

 private:
  struct Block {
    Kind kind = Kind::gauge;
    std::vector<std::string> lines;
    std::vector<std::pair<std::string, Series>> series;
  };

  Block& block(const std::string& fam, Kind kind) {
    auto it = d_blocks.find(fam);
    if (it == d_blocks.end()) {
      d_order.push_back(fam);
      it = d_blocks.emplace(fam, Block{}).first;
      it->second.kind = kind;
    }
    return it->second;
  }

  // Workers add their deltas bucket by bucket, so a scrape may see a flush
  // half done; cumulative counts are made monotonic and _count is the +Inf
  // bucket, which keeps every scrape a valid histogram.
  static void histogram(std::string& out, const std::string& name, const std::string& labels,
                        const Series& s) {
    std::string sep = labels.empty() ? "" : ",";
    uint64_t run = 0;
    for (const auto& [le, v] : s.buckets) {
      run = std::max(run, v);
      out += format("%s_bucket{%s%sle=\"%s\"} %llu\n", name.c_str(), labels.c_str(), sep.c_str(),
                    le.c_str(), static_cast<unsigned long long>(run));
    }
    std::string lb = labels.empty() ? "" : "{" + labels + "}";
    out += format("%s_sum%s %.6f\n", name.c_str(), lb.c_str(), static_cast<double>(s.sum_us) / 1e6);
    out +=
        format("%s_count%s %llu\n", name.c_str(), lb.c_str(), static_cast<unsigned long long>(run));
  }

  std::vector<std::string> d_order;
  std::map<std::string, Block> d_blocks;
};

// Split `le="..."` out of a bucket's labels.
bool split_le(const std::string& labels, std::string& rest, std::string& le) {
  auto p = labels.rfind("le=\"");
  if (p == std::string::npos || labels.back() != '"') return false;
  le = labels.substr(p + 4, labels.size() - p - 5);
  rest = labels.substr(0, p);
  if (!rest.empty() && rest.back() == ',') rest.pop_back();
  return true;
}

}  // namespace

void log_stats_report(Segment& shm, size_t workers, int generation) {
  StatsArea& st = shm.stats();
  // One line per metric family keeps the report readable in the mail log.
  std::map<std::string, std::string> lines;
  for (size_t i = 0; i < st.count(); ++i) {
    uint64_t v = st.get(i);
    std::string_view n = st.name(i);
    if (v == 0 || n.find("_bucket{") != std::string_view::npos) continue;
    std::string fam = family(n);
    std::string labels = n.size() > fam.size() ? std::string(n.substr(fam.size())) : "";
    std::string& line = lines[fam];
    line += format(" %s%s%llu", labels.c_str(), labels.empty() ? "" : "=",
                   static_cast<unsigned long long>(v));
  }
  log_info("statistics: %zu worker processes, configuration generation %d", workers, generation);
  for (const auto& [fam, line] : lines)
    log_info("statistics: %s%s", fam.c_str(), line.c_str());
  for (ShmTable* t : {&shm.cache(), &shm.records()}) {
    auto& c = t->counters();
    log_info(
        "statistics: shm %s: %zu of %zu entries, %llu lookups, %llu hits, %llu evictions, %llu "
        "expired, "
        "%llu too large, %llu repaired stripes",
        t->name(), t->used(), t->capacity(), static_cast<unsigned long long>(c.lookups.load()),
        static_cast<unsigned long long>(c.hits.load()),
        static_cast<unsigned long long>(c.evictions.load()),
        static_cast<unsigned long long>(c.expired.load()),
        static_cast<unsigned long long>(c.too_large.load()),
        static_cast<unsigned long long>(c.repairs.load()));
  }
  uint32_t now = static_cast<uint32_t>(std::time(nullptr));
  auto breakers = Breakers::list(shm.records(), now);
  if (breakers.empty()) log_info("statistics: circuit breakers: every backend healthy");
  for (const auto& b : breakers) {
    const char* state = b.state == 1 ? "open" : b.state == 2 ? "on trial" : "closed";
    log_info(
        "statistics: circuit breaker %s: %s, %u consecutive failures%s",
        log_quote(b.backend, 200).c_str(), state, b.failures,
        b.state == 1 && b.until > now ? format(", retried in %us", b.until - now).c_str() : "");
  }
}

std::string prometheus_text(Segment& shm) {
  using Kind = Exposition::Kind;
  Exposition ex;
  ex.sample("ppolicy_build_info", Kind::gauge,
            format("ppolicy_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION));
  StatsArea& st = shm.stats();
  // Histograms are registered as NAME_bucket{...,le="..."} (ascending le),
  // NAME_sum_microseconds{...} and NAME_count{...}; everything else is a
  // counter (NAME_total) or a gauge.
  std::vector<std::string> hist_families;
  auto is_hist = [&](const std::string& f) {
    return std::find(hist_families.begin(), hist_families.end(), f) != hist_families.end();
  };
  for (size_t i = 0; i < st.count(); ++i) {
    std::string n(st.name(i));
    uint64_t v = st.get(i);
    std::string fam = family(n);
    std::string labels = labels_of(n);
    if (ends_with(fam, "_bucket")) {
      std::string base = fam.substr(0, fam.size() - 7), rest, le;
      if (split_le(labels, rest, le)) {
        if (!is_hist(base)) hist_families.push_back(base);
        ex.series(base, rest).buckets.emplace_back(le, v);
        continue;
      }
    }
    if (ends_with(fam, "_sum_microseconds")) {
      std::string base = fam.substr(0, fam.size() - 17);
      ex.series(base, labels).sum_us = v;
      continue;
    }
    if (ends_with(fam, "_count") && is_hist(fam.substr(0, fam.size() - 6)))
      continue;  // = the +Inf bucket
    // One series per possible return code and module: only those that
    // occurred (a counter that appears later starts at its first value).
    if (v == 0 && fam == "ppolicy_module_results_total") continue;
    Kind kind = ends_with(fam, "_total") ? Kind::counter : Kind::gauge;
    ex.sample(fam, kind, format("%s %llu\n", n.c_str(), static_cast<unsigned long long>(v)));
  }
  for (ShmTable* t : {&shm.cache(), &shm.records()}) {
    auto& c = t->counters();
    struct {
      const char* fam;
      uint64_t v;
    } rows[] = {{"ppolicy_shm_lookups_total", c.lookups.load()},
                {"ppolicy_shm_hits_total", c.hits.load()},
                {"ppolicy_shm_evictions_total", c.evictions.load()},
                {"ppolicy_shm_expired_total", c.expired.load()},
                {"ppolicy_shm_too_large_total", c.too_large.load()},
                {"ppolicy_shm_repairs_total", c.repairs.load()}};
    for (const auto& r : rows)
      ex.sample(r.fam, Kind::counter,
                format("%s{table=\"%s\"} %llu\n", r.fam, t->name(),
                       static_cast<unsigned long long>(r.v)));
  }
  uint32_t now = static_cast<uint32_t>(std::time(nullptr));
  auto breakers = Breakers::list(shm.records(), now);
  int open = 0;
  for (const auto& b : breakers) {
    std::string l = label_value(b.backend);
    ex.sample("ppolicy_breaker_state", Kind::gauge,
              format("ppolicy_breaker_state{backend=\"%s\"} %d\n", l.c_str(), b.state));
    ex.sample("ppolicy_breaker_failures", Kind::gauge,
              format("ppolicy_breaker_failures{backend=\"%s\"} %u\n", l.c_str(), b.failures));
    if (b.state != 0) ++open;
  }
  ex.sample("ppolicy_breakers_open", Kind::gauge, format("ppolicy_breakers_open %d\n", open));
  return ex.text();
}

}  // namespace ppolicy
