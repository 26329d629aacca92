// SPDX-License-Identifier: GPL-2.0-or-later
// The whole configuration, loaded and validated in one go in the master
// (start, SIGHUP, -t, -e): server settings, [dns], [database], module
// instances (created, i.e. validated by their factories) and compiled
// policies. A Config is immutable once loaded; workers inherit it by fork.
// A reload builds a new Config and only replaces the old one on success.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/option.hpp"
#include "base/log.hpp"
#include "modules/module.hpp"
#include "policy/ast.hpp"
#include "shm/stats.hpp"
#include "base/net.hpp"

namespace ppolicy {

class Request;
class StatsArea;

// -o section.key=value
struct Override {
  std::string section, key, value;
};
std::optional<Override> parse_override(std::string_view text);

struct ServerSettings {
  std::vector<std::string> listen;
  std::string user, group, pid_file, state_dir, state_file;  // state_file: full path or ""
  int min_workers = 4, max_workers = 500;
  long max_requests = 10000;
  long worker_max_idle_s = 60, idle_timeout_s = 330, stop_timeout_s = 10;
  long request_timeout_ms = 10000;
  long request_read_timeout_ms = 10000;  // first byte to last byte of one request
  std::string default_action;  // validated reply text ("DUNNO", "DEFER_IF_PERMIT Service ...")
  size_t max_line_length = 8192, max_request_size = 65536;
  long max_attributes = 1024;
  std::string log_mode;  // auto, syslog, stderr
  LogTarget log;
  bool log_decisions = true;
  size_t cache_size = 0, records_size = 0;
  std::string stats_listen;  // HOST:PORT or ""
  NetSet stats_allow;
  long maintenance_interval_s = 300;
  unsigned unix_socket_mode = 0666;
  std::string unix_socket_group;
  long breaker_failures = 5, breaker_cooldown_s = 30;
};

struct ModuleStats {
  static constexpr int k_min_code = -20, k_max_code = 20;
  int calls = -1, cache_hits = -1, cache_misses = -1, failures = -1;
  int codes[k_max_code - k_min_code + 1] = {};
  Histogram latency;
};

struct ModuleInstance {
  std::string name;
  const ModuleType* type = nullptr;
  OptionValues params;
  std::unique_ptr<Module> module;
  CacheLifetimes cache{0, 0, 0};
  bool save_result = true;
  std::string save_prefix;
  std::string key_prefix;  // name + fingerprint of type and parameters: cache keys change with them
  int line = 0;
  ModuleStats stats;
};

// Counters of the request path, registered by the master (register_stats).
struct GlobalStats {
  int requests = -1, timeouts = -1, failures = -1, no_policy = -1;
  Histogram latency;
  std::vector<std::pair<std::string, int>> actions;  // action word -> counter
  int action_other = -1;
  int action(std::string_view word) const;
};

class Config {
public:
  // Load, validate, create modules, compile policies. Throws ConfigError
  // whose message lists every problem as "file:line: what".
  static std::unique_ptr<Config> load(const std::string& path, const std::vector<Override>& overrides);
  static std::unique_ptr<Config> load_text(std::string_view text, const std::string& name,
                                           const std::vector<Override>& overrides);

  std::string path;
  OptionValues server_opts, dns_opts, db_opts;
  bool has_dns_section = false, has_database_section = false;
  ServerSettings server;
  std::vector<std::unique_ptr<ModuleInstance>> modules;
  std::vector<std::unique_ptr<Policy>> policies;
  GlobalStats stats;

  ModuleInstance* module(std::string_view name) const;
  // Instances whose section has errors (for a clear message in the policy).
  std::vector<std::string> broken_modules;
  // The policy for a request: the first [policy] whose selectors all match.
  const Policy* select_policy(const Request& request) const;
  // Master: give every counter of this configuration its shared index.
  void register_stats(StatsArea& area);

private:
  void build(std::string_view text, const std::string& name, const std::vector<Override>& overrides);
};

}  // namespace ppolicy
