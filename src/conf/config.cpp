// SPDX-License-Identifier: GPL-2.0-or-later
#include "conf/config.hpp"

#include <map>

#include "base/strings.hpp"

namespace ppolicy {

std::optional<Override> parse_override(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view lhs = trim(text.substr(0, eq));
  auto dot = lhs.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == lhs.size()) return std::nullopt;
  return Override{std::string(trim(lhs.substr(0, dot))), std::string(trim(lhs.substr(dot + 1))),
                  std::string(trim(text.substr(eq + 1)))};
}

namespace {

void apply_overrides(IniFile& ini, const std::vector<Override>& overrides) {
  for (const auto& o : overrides) {
    std::vector<IniEntry> kept;
    bool dropping = false;
    for (auto& e : ini.entries) {
      if (!e.continuation) dropping = e.section == o.section && e.key == o.key;
      if (!dropping) kept.push_back(std::move(e));
    }
    ini.entries = std::move(kept);
    bool have = false;
    for (const auto& s : ini.sections)
      have = have || s.name == o.section;
    if (!have) ini.sections.push_back({o.section, 0});
    ini.entries.push_back({o.section, o.key, o.value, k_override_line, false});
  }
}

}  // namespace

std::unique_ptr<Config> Config::load(const std::string& path,
                                     const std::vector<Override>& overrides, ErrorList& errors) {
  std::string text, why;
  if (!read_config_text(path, text, &why)) {
    errors.add(path + ": " + why);
    return nullptr;
  }
  return load_text(text, path, overrides, errors);
}

std::unique_ptr<Config> Config::load_text(std::string_view text, const std::string& name,
                                          const std::vector<Override>& overrides,
                                          ErrorList& errors) {
  auto c = std::make_unique<Config>();
  c->path = name;
  IniFile ini = read_ini_text(text, name, errors);
  apply_overrides(ini, overrides);
  c->server_opts = OptionValues(server_options(), "ppolicyd", name);
  c->dns_opts = OptionValues(dns_options(), "dns", name);
  c->db_opts = OptionValues(database_options(), "database", name);

  std::map<std::string, std::vector<const IniEntry*>> by_section;
  for (const auto& e : ini.entries)
    by_section[e.section].push_back(&e);
  for (const auto& sec : ini.sections) {
    const auto& entries = by_section[sec.name];
    auto words = split(sec.name, " \t");
    std::string kind = words.empty() ? "" : words[0];
    if (sec.name == "ppolicyd" || sec.name == "dns" || sec.name == "database") {
      OptionValues& ov = sec.name == "ppolicyd" ? c->server_opts
                         : sec.name == "dns"    ? c->dns_opts
                                                : c->db_opts;
      if (sec.name == "dns") c->has_dns_section = true;
      if (sec.name == "database") c->has_database_section = true;
      for (const auto* e : entries)
        ov.apply(*e, errors);
    } else if ((kind == "module" || kind == "policy") && words.size() == 2) {
      NamedSection ns{words[1], sec.line, {}};
      for (const auto* e : entries)
        ns.entries.push_back(*e);
      (kind == "module" ? c->module_sections : c->policy_sections).push_back(std::move(ns));
    } else if (kind == "module" || kind == "policy") {
      errors.add(name, sec.line,
                 format("[%s]: expected \"[%s NAME]\"", sec.name.c_str(), kind.c_str()));
    } else {
      errors.add(name, sec.line,
                 format("unknown section [%s] (expected [ppolicyd], [dns], [database], "
                        "[module NAME] or [policy NAME])",
                        sec.name.c_str()));
    }
  }
  c->server_opts.finish(errors);
  c->dns_opts.finish(errors);
  c->db_opts.finish(errors);
  c->server_opts.store(&c->server, errors);
  c->dns_opts.store(&c->dns, errors);
  c->db_opts.store(&c->db, errors);
  settle_server(c->server, c->server_opts, errors);
  return c;
}

std::vector<std::string> Config::keep_restart_only(const Config& running) {
  std::vector<std::string> changed;
  auto rows = server_opts.rows();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].restart_only) continue;
    if (server_opts.value(i).text == running.server_opts.value(i).text) continue;
    changed.push_back(rows[i].name);
    server_opts.set_value(i, running.server_opts.value(i));
  }
  if (!changed.empty()) {
    // The running values were valid: storing them again cannot fail.
    ErrorList ignored;
    server_opts.store(&server, ignored);
    settle_server(server, server_opts, ignored);
  }
  return changed;
}

}  // namespace ppolicy
