// SPDX-License-Identifier: GPL-2.0-or-later
// core/stats_report (Prometheus text) and Breakers::list: one TYPE line per
// family with its samples in one block, histograms with _bucket/_sum/_count
// that stay valid while workers flush, circuit-breaker gauges with escaped
// label values. (t/integration/stats.py checks the served text with a
// strict parser and against a load generator.)
#include <boost/test/unit_test.hpp>
#include <ctime>
#include <string>
#include <vector>

#include "core/stats_report.hpp"
#include "shm/breaker.hpp"
#include "shm/segment.hpp"

using namespace ppolicy;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
    ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

uint32_t now() {
  return static_cast<uint32_t>(std::time(nullptr));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stats_report)

BOOST_AUTO_TEST_CASE(one_type_line_per_family_and_contiguous_samples) {
  Segment seg(1 << 20, 1 << 20, 256);
  StatsArea& st = seg.stats();
  // Registered interleaved, as Generation::register_stats does per module.
  int a_calls = st.reg("ppolicy_module_calls_total{module=\"a\"}");
  st.reg("ppolicy_module_cache_hits_total{module=\"a\"}");
  int b_calls = st.reg("ppolicy_module_calls_total{module=\"b\"}");
  st.reg("ppolicy_module_cache_hits_total{module=\"b\"}");
  st.reg("ppolicy_workers{state=\"busy\"}");
  st.add(a_calls, 3);
  st.add(b_calls, 4);
  std::string text = prometheus_text(seg);
  BOOST_TEST(count_of(text, "# TYPE ppolicy_module_calls_total counter\n") == 1u);
  BOOST_TEST(count_of(text, "# TYPE ppolicy_module_cache_hits_total counter\n") == 1u);
  BOOST_TEST(count_of(text, "# TYPE ppolicy_workers gauge\n") == 1u);
  BOOST_TEST(text.find("ppolicy_module_calls_total{module=\"a\"} 3\n"
                       "ppolicy_module_calls_total{module=\"b\"} 4\n") != std::string::npos);
  BOOST_TEST(text.find("# TYPE ppolicy_shm_evictions_total "
                       "counter\nppolicy_shm_evictions_total{table=\"cache\"} 0\n"
                       "ppolicy_shm_evictions_total{table=\"records\"} 0\n") != std::string::npos);
  // Every sample line follows the TYPE line of its own family.
  std::string current;
  for (const auto& l : lines_of(text)) {
    if (l.rfind("# TYPE ", 0) == 0) {
      current = l.substr(7, l.find(' ', 7) - 7);
      continue;
    }
    if (l.empty() || l[0] == '#') continue;
    std::string name = l.substr(0, l.find_first_of("{ "));
    BOOST_TEST_CONTEXT(l) {
      BOOST_TEST(name.rfind(current, 0) == 0u);
    }
  }
}

// A value on a bound counts in that bucket (le); one above the largest
// bound only in +Inf; every bucket is cumulative.
BOOST_AUTO_TEST_CASE(histogram_bounds) {
  Segment seg(1 << 20, 1 << 20, 256);
  StatsArea& st = seg.stats();
  Histogram h;
  h.reg(st, "ppolicy_x_seconds", "");
  StatsBuffer buf(&st);
  h.observe(buf, 0.001);
  h.observe(buf, 0.0);
  h.observe(buf, 11.0);
  buf.flush();
  std::string text = prometheus_text(seg);
  auto has = [&](const char* line) { BOOST_TEST(text.find(line) != std::string::npos, line); };
  has("ppolicy_x_seconds_bucket{le=\"0.0005\"} 1\n");
  has("ppolicy_x_seconds_bucket{le=\"0.001\"} 2\n");
  has("ppolicy_x_seconds_bucket{le=\"10\"} 2\n");
  has("ppolicy_x_seconds_bucket{le=\"+Inf\"} 3\n");
  has("ppolicy_x_seconds_count 3\n");
}

BOOST_AUTO_TEST_CASE(histogram_buckets_sum_count) {
  Segment seg(1 << 20, 1 << 20, 256);
  StatsArea& st = seg.stats();
  Histogram h;
  h.reg(st, "ppolicy_module_duration_seconds", "module=\"a\"");
  StatsBuffer buf(&st);
  h.observe(buf, 0.0007);  // le 0.001 and up
  h.observe(buf, 3.0);     // le 5 and up
  buf.flush();
  std::string text = prometheus_text(seg);
  BOOST_TEST(count_of(text, "# TYPE ppolicy_module_duration_seconds histogram\n") == 1u);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"0.0005\"} 0\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"0.001\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"2.5\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"5\"} 2\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"+Inf\"} 2\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_sum{module=\"a\"} 3.000700\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_count{module=\"a\"} 2\n") !=
             std::string::npos);
  BOOST_TEST(text.find("_sum_microseconds") == std::string::npos);

  // A scrape in the middle of a worker's flush (low buckets and count
  // already added, higher buckets not yet) still shows a valid histogram.
  st.add(h.bucket[0], 5);
  st.add(h.count, 5);
  text = prometheus_text(seg);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"0.0005\"} 5\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"0.001\"} 5\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_bucket{module=\"a\",le=\"+Inf\"} 5\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_module_duration_seconds_count{module=\"a\"} 5\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(breaker_gauges) {
  Segment seg(1 << 20, 1 << 20, 64);
  Breakers b(&seg.records(), 2, 30);
  uint32_t t = now();
  std::string text = prometheus_text(seg);
  BOOST_TEST(text.find("# TYPE ppolicy_breakers_open gauge\nppolicy_breakers_open 0\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_breaker_state{") == std::string::npos);

  b.failure("mysql:127.0.0.1:3306", t, "timeout");
  b.failure("dnsbl:bad\"zone\\name\n", t, "servfail");
  b.failure("dnsbl:bad\"zone\\name\n", t, "servfail");  // second failure: open
  auto list = Breakers::list(seg.records(), t);
  BOOST_TEST(list.size() == 2u);
  text = prometheus_text(seg);
  BOOST_TEST(text.find("ppolicy_breaker_state{backend=\"mysql:127.0.0.1:3306\"} 0\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_breaker_failures{backend=\"mysql:127.0.0.1:3306\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_breaker_state{backend=\"dnsbl:bad\\\"zone\\\\name\\n\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(text.find("ppolicy_breakers_open 1\n") != std::string::npos);
  BOOST_TEST(count_of(text, "# TYPE ppolicy_breaker_state gauge\n") == 1u);

  // After the cool-down the next caller is the trial (state 2); its success
  // closes the breaker and removes the record.
  BOOST_TEST(b.allow("dnsbl:bad\"zone\\name\n", t + 31));
  text = prometheus_text(seg);
  BOOST_TEST(text.find("ppolicy_breaker_state{backend=\"dnsbl:bad\\\"zone\\\\name\\n\"} 2\n") !=
             std::string::npos);
  b.success("dnsbl:bad\"zone\\name\n", t + 31);
  b.success("mysql:127.0.0.1:3306", t + 31);
  BOOST_TEST(Breakers::list(seg.records(), t + 31).empty());
  text = prometheus_text(seg);
  BOOST_TEST(text.find("ppolicy_breakers_open 0\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
