// SPDX-License-Identifier: GPL-2.0-or-later
// A loaded generation: what a configuration becomes and a reload (SIGHUP)
// replaces as a whole. It owns the Config (settings), the module instances
// made from its [module] sections, the policies compiled from its [policy]
// sections, and the counters of both. Built in the master (start, reload,
// -t, -e); register_stats() gives the counters their shared indices once,
// in the master, before workers are forked; after that it is read-only and
// workers inherit it by fork.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "modules/instance.hpp"
#include "policy/ast.hpp"
#include "runtime/counters.hpp"

namespace ppolicy {

class Request;
class StatsArea;

class Generation {
 public:
  // Load, validate, create the modules and compile the policies. Throws
  // ConfigError whose message lists every problem as "file:line: what",
  // sorted by line.
  static std::unique_ptr<Generation> load(const std::string& path,
                                          const std::vector<Override>& overrides);
  static std::unique_ptr<Generation> load_text(std::string_view text, const std::string& name,
                                               const std::vector<Override>& overrides);

  // A generation of an already loaded Config (reload: after
  // Config::keep_restart_only). Throws ConfigError as load() does.
  static std::unique_ptr<Generation> build(std::unique_ptr<Config> config, ErrorList& errors);

  const Config& config() const { return *d_config; }
  const ServerSettings& server() const { return d_config->server; }

  std::vector<std::unique_ptr<ModuleInstance>> modules;
  std::vector<std::unique_ptr<Policy>> policies;
  RequestCounters counters;
  std::vector<ModuleCounters> module_counters;  // by ModuleInstance::index
  size_t policy_tests_run = 0;                  // [ppolicyd] policy_tests, all passed

  ModuleInstance* module(std::string_view name) const;
  // The policy for a request: the first [policy] whose selectors all match.
  const Policy* select_policy(const Request& request) const;
  // Master: give every counter of this generation its shared index.
  void register_stats(StatsArea& area);

 private:
  void make_modules(ErrorList& errors);
  std::unique_ptr<ModuleInstance> make_instance(const NamedSection& sec, ErrorList& errors) const;
  void compile_policies(ErrorList& errors);

  std::unique_ptr<Config> d_config;
  std::vector<std::string> d_broken;  // instances whose section has errors
};

}  // namespace ppolicy
