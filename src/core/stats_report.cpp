// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/stats_report.hpp"

#include <cstring>
#include <map>

#include "core/log.hpp"
#include "shm/segment.hpp"
#include "util/strings.hpp"

namespace ppolicy {
namespace {

// "ppolicy_module_calls_total{module=\"x\"}" -> family "ppolicy_module_calls_total"
std::string family(std::string_view name) { return std::string(name.substr(0, name.find('{'))); }

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
    line += format(" %s%s%llu", labels.c_str(), labels.empty() ? "" : "=", static_cast<unsigned long long>(v));
  }
  log_info("statistics: %zu worker processes, configuration generation %d", workers, generation);
  for (const auto& [fam, line] : lines) log_info("statistics: %s%s", fam.c_str(), line.c_str());
  for (ShmTable* t : {&shm.cache(), &shm.records()}) {
    auto& c = t->counters();
    log_info("statistics: shm %s: %zu of %zu entries, %llu lookups, %llu hits, %llu evictions, %llu expired, "
             "%llu too large, %llu repaired stripes",
             t->name(), t->used(), t->capacity(), static_cast<unsigned long long>(c.lookups.load()),
             static_cast<unsigned long long>(c.hits.load()), static_cast<unsigned long long>(c.evictions.load()),
             static_cast<unsigned long long>(c.expired.load()), static_cast<unsigned long long>(c.too_large.load()),
             static_cast<unsigned long long>(c.repairs.load()));
  }
}

std::string prometheus_text(Segment& shm) {
  StatsArea& st = shm.stats();
  std::string out;
  std::string last;
  for (size_t i = 0; i < st.count(); ++i) {
    std::string_view n = st.name(i);
    uint64_t v = st.get(i);
    std::string fam = family(n);
    bool gauge = fam.find("_total") == std::string::npos && fam.find("_seconds") == std::string::npos;
    // Histogram sums are kept in microseconds; the exposition wants seconds.
    auto us = n.find("_sum_microseconds");
    if (us != std::string_view::npos) {
      std::string base = std::string(n.substr(0, us));
      out += format("%s_sum%s %.6f\n", base.c_str(), std::string(n.substr(us + 17)).c_str(), v / 1e6);
      continue;
    }
    std::string hist = fam;
    for (const char* suf : {"_bucket", "_count"})
      if (hist.size() > strlen(suf) && hist.compare(hist.size() - strlen(suf), strlen(suf), suf) == 0)
        hist.resize(hist.size() - strlen(suf));
    if (hist != last) {
      last = hist;
      bool is_hist = hist != fam;
      out += format("# TYPE %s %s\n", hist.c_str(), is_hist ? "histogram" : gauge ? "gauge" : "counter");
    }
    out += format("%.*s %llu\n", static_cast<int>(n.size()), n.data(), static_cast<unsigned long long>(v));
  }
  for (ShmTable* t : {&shm.cache(), &shm.records()}) {
    auto& c = t->counters();
    const char* nm = t->name();
    out += format("ppolicy_shm_lookups_total{table=\"%s\"} %llu\n", nm, static_cast<unsigned long long>(c.lookups.load()));
    out += format("ppolicy_shm_hits_total{table=\"%s\"} %llu\n", nm, static_cast<unsigned long long>(c.hits.load()));
    out += format("ppolicy_shm_evictions_total{table=\"%s\"} %llu\n", nm, static_cast<unsigned long long>(c.evictions.load()));
    out += format("ppolicy_shm_repairs_total{table=\"%s\"} %llu\n", nm, static_cast<unsigned long long>(c.repairs.load()));
  }
  return out;
}

}  // namespace ppolicy
