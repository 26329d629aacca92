// SPDX-License-Identifier: GPL-2.0-or-later
// The configuration file as settings: the typed values of [ppolicyd], [dns]
// and [database] (conf/settings.hpp), and the entries of every
// [module NAME] and [policy NAME] section, in file order, still as text.
// Turning those into module instances and compiled policies is the
// runtime's job (runtime/generation.hpp): this floor knows no module and no
// policy, and a Config never changes after load().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/error.hpp"
#include "conf/ini.hpp"
#include "conf/option.hpp"
#include "conf/settings.hpp"

namespace ppolicy {

// -o section.key=value
struct Override {
  std::string section, key, value;
};
std::optional<Override> parse_override(std::string_view text);

// A [module NAME] or [policy NAME] section as written.
struct NamedSection {
  std::string name;
  int line = 0;
  std::vector<IniEntry> entries;
};

class Config {
 public:
  // Read and check the fixed sections; every problem goes to `errors` as
  // "file:line: what" (the caller adds those of modules and policies and
  // raises them together).
  static std::unique_ptr<Config> load(const std::string& path,
                                      const std::vector<Override>& overrides, ErrorList& errors);
  static std::unique_ptr<Config> load_text(std::string_view text, const std::string& name,
                                           const std::vector<Override>& overrides,
                                           ErrorList& errors);

  // Reload: the keys of [ppolicyd] that were set up before privileges were
  // dropped (rows with restart_only) keep the values of `running`. Returns
  // the keys whose new value is therefore ignored.
  std::vector<std::string> keep_restart_only(const Config& running);

  std::string path;
  ServerSettings server;
  DnsSettings dns;
  DbSettings db;
  bool has_dns_section = false, has_database_section = false;
  // The parsed values behind the settings (line numbers, what was set
  // explicitly, the text of each key: reloads and `ppolicyd -n` use them).
  OptionValues server_opts, dns_opts, db_opts;
  std::vector<NamedSection> module_sections, policy_sections;
};

}  // namespace ppolicy
