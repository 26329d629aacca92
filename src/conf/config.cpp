// SPDX-License-Identifier: GPL-2.0-or-later
#include "conf/config.hpp"

#include <grp.h>
#include <pwd.h>

#include <cctype>
#include <map>

#include "conf/ini.hpp"
#include "conf/sections.hpp"
#include "base/listen_spec.hpp"
#include "dns/resolver.hpp"
#include "policy/action.hpp"
#include "policy/compile.hpp"
#include "policy/parser.hpp"
#include "proto/request.hpp"
#include "shm/table.hpp"
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

int GlobalStats::action(std::string_view word) const {
  for (const auto& [w, idx] : actions)
    if (w == word) return idx;
  if (word.size() == 3 && (word[0] == '4' || word[0] == '5')) {
    for (const auto& [w, idx] : actions)
      if (w[0] == word[0] && w.substr(1) == "xx") return idx;
  }
  return action_other;
}

std::unique_ptr<Config> Config::load(const std::string& path, const std::vector<Override>& overrides) {
  std::string text, why;
  if (!read_config_text(path, text, &why)) throw ConfigError(path + ": " + why);
  return load_text(text, path, overrides);
}

std::unique_ptr<Config> Config::load_text(std::string_view text, const std::string& name,
                                          const std::vector<Override>& overrides) {
  auto cfg = std::make_unique<Config>();
  cfg->build(text, name, overrides);
  return cfg;
}

ModuleInstance* Config::module(std::string_view name) const {
  for (const auto& m : modules)
    if (m->name == name) return m.get();
  return nullptr;
}

namespace {

bool valid_instance_name(std::string_view n) {
  if (n.empty() || n.size() > 40 || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_'))
    return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

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
    for (const auto& s : ini.sections) have = have || s.name == o.section;
    if (!have) ini.sections.push_back({o.section, 0});
    ini.entries.push_back({o.section, o.key, o.value, 0, false});
  }
}

bool is_loopback(const IpAddress& a) {
  static const NetSet k_loopback{{*IpNetwork::parse("127.0.0.0/8"), *IpNetwork::parse("::1")}};
  return k_loopback.contains(a);
}

void settle_server(Config& c, ErrorList& errors) {
  const OptionValues& o = c.server_opts;
  ServerSettings& s = c.server;
  auto err = [&](const char* key, const std::string& msg) {
    errors.add(c.path, o.line(key), format("[ppolicyd] \"%s\": %s", key, msg.c_str()));
  };
  s.listen = o.list("listen");
  if (s.listen.empty()) err("listen", "at least one listener is required");
  for (const auto& l : s.listen) {
    std::string why;
    if (!ListenSpec::parse(l, &why)) err("listen", why);
  }
  s.user = o.str("user");
  s.group = o.str("group");
  s.pid_file = o.str("pid_file");
  s.state_dir = o.str("state_dir");
  s.state_file = o.str("state_file");
  if (!s.state_file.empty() && s.state_file[0] != '/') {
    if (s.state_dir.empty())
      err("state_file", "relative path needs state_dir");
    else
      s.state_file = s.state_dir + "/" + s.state_file;
  }
  s.min_workers = static_cast<int>(o.integer("min_workers"));
  s.max_workers = static_cast<int>(o.integer("max_workers"));
  if (s.min_workers > s.max_workers) err("min_workers", "is larger than max_workers");
  s.max_requests = o.integer("max_requests");
  s.worker_max_idle_s = o.integer("worker_max_idle");
  s.idle_timeout_s = o.integer("idle_timeout");
  s.request_timeout_ms = o.integer("request_timeout");
  s.request_read_timeout_ms = o.integer("request_read_timeout");
  s.stop_timeout_s = o.integer("stop_timeout");
  std::string why;
  auto act = parse_plain_action(o.str("default_action"), &why);
  if (!act)
    err("default_action", why);
  else
    s.default_action = *act;
  s.max_line_length = static_cast<size_t>(o.integer("max_line_length"));
  s.max_request_size = static_cast<size_t>(o.integer("max_request_size"));
  s.max_attributes = o.integer("max_attributes");
  s.log_mode = o.str("log");
  int fac = syslog_facility(o.str("syslog_facility"));
  if (fac < 0) err("syslog_facility", "unknown facility (mail, daemon, user, local0..local7)");
  s.log.facility = fac < 0 ? 0 : fac;
  s.log.ident = o.str("syslog_name");
  static const LogLevel levels[] = {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug};
  static const char* const level_names[] = {"error", "warning", "info", "debug"};
  for (int i = 0; i < 4; ++i)
    if (o.str("log_level") == level_names[i]) s.log.level = levels[i];
  s.log_decisions = o.boolean("log_decisions");
  s.cache_size = static_cast<size_t>(o.integer("cache_size"));
  s.records_size = static_cast<size_t>(o.integer("records_size"));
  s.stats_listen = o.str("stats_listen");
  s.stats_allow = NetSet{};
  bool allow_remote = false;
  for (const auto& n : o.list("stats_allow")) {
    auto net = IpNetwork::parse(n);
    if (!net) {
      err("stats_allow", format("\"%s\" is not an address or network", n.c_str()));
      continue;
    }
    s.stats_allow.nets.push_back(*net);
    allow_remote = allow_remote || !is_loopback(net->base);
  }
  if (!s.stats_listen.empty()) {
    // The statistics have no authentication: serving them beyond this host
    // must be a decision written in stats_allow, not an accident.
    auto spec = ListenSpec::parse("inet:" + s.stats_listen, &why);
    if (!spec)
      err("stats_listen", why);
    else if (!is_loopback(*IpAddress::parse(spec->host)) && !allow_remote)
      err("stats_listen", format("%s is not a loopback address: the statistics have no authentication; "
                                 "list the networks that may read them in stats_allow",
                                 spec->host.c_str()));
  }
  s.maintenance_interval_s = o.integer("maintenance_interval");
  const std::string& mode = o.str("unix_socket_mode");
  char* end = nullptr;
  unsigned long m = std::strtoul(mode.c_str(), &end, 8);
  if (mode.empty() || *end || m > 07777)
    err("unix_socket_mode", "not an octal mode such as 0660");
  else
    s.unix_socket_mode = static_cast<unsigned>(m);
  s.unix_socket_group = o.str("unix_socket_group");
  s.breaker_failures = o.integer("breaker_failures");
  s.breaker_cooldown_s = o.integer("breaker_cooldown");
}

// Names the language resolves before module names may not be module names.
bool reserved_name(std::string_view n) {
  if (attr_from_name(n) || derived_from_name(n) || is_builtin_name(n)) return true;
  return n == "true" || n == "false" || n == "in" || n == "not" || n == "set";
}

}  // namespace

void Config::build(std::string_view text, const std::string& name, const std::vector<Override>& overrides) {
  ErrorList errors;
  path = name;
  IniFile ini = read_ini_text(text, name, errors);
  apply_overrides(ini, overrides);

  server_opts = OptionValues(server_options(), "ppolicyd", path);
  dns_opts = OptionValues(dns_options(), "dns", path);
  db_opts = OptionValues(database_options(), "database", path);

  // Sections in file order; entries grouped by section.
  std::map<std::string, std::vector<const IniEntry*>> by_section;
  for (const auto& e : ini.entries) by_section[e.section].push_back(&e);

  for (const auto& sec : ini.sections) {
    const auto& entries = by_section[sec.name];
    auto words = split(sec.name, " \t");
    std::string kind = words.empty() ? "" : words[0];
    if (sec.name == "ppolicyd" || sec.name == "dns" || sec.name == "database") {
      OptionValues& ov = sec.name == "ppolicyd" ? server_opts : sec.name == "dns" ? dns_opts : db_opts;
      if (sec.name == "dns") has_dns_section = true;
      if (sec.name == "database") has_database_section = true;
      for (const auto* e : entries) ov.apply(*e, errors);
    } else if ((kind == "module" || kind == "policy") && words.size() == 2) {
      // handled below, once the server settings are known
    } else if (kind == "module" || kind == "policy") {
      errors.add(path, sec.line, format("[%s]: expected \"[%s NAME]\"", sec.name.c_str(), kind.c_str()));
    } else {
      errors.add(path, sec.line,
                 format("unknown section [%s] (expected [ppolicyd], [dns], [database], "
                        "[module NAME] or [policy NAME])",
                        sec.name.c_str()));
    }
  }
  server_opts.finish(errors);
  dns_opts.finish(errors);
  dns::check_settings(dns_opts, errors);
  db_opts.finish(errors);
  settle_server(*this, errors);

  // Module instances.
  for (const auto& sec : ini.sections) {
    auto words = split(sec.name, " \t");
    if (words.size() != 2 || words[0] != "module") continue;
    const std::string& iname = words[1];
    const auto& entries = by_section[sec.name];
    if (!valid_instance_name(iname)) {
      errors.add(path, sec.line,
                 format("[module %s]: a module name is letters, digits and \"_\" (at most 40)", iname.c_str()));
      continue;
    }
    if (reserved_name(iname)) {
      errors.add(path, sec.line,
                 format("[module %s]: the name is a request attribute or function of the policy "
                        "language; choose another",
                        iname.c_str()));
      continue;
    }
    // The first "type" names the module type. Resolve (as in the original's
    // MODULES) has a parameter called "type" too: a second "type" sets it.
    const IniEntry* type_entry = nullptr;
    for (const auto* e : entries)
      if (e->key == "type" && !e->continuation && !type_entry) type_entry = e;
    if (!type_entry) {
      errors.add(path, sec.line, format("[module %s]: \"type\" is required", iname.c_str()));
      continue;
    }
    const ModuleType* type = find_module_type(type_entry->value);
    if (!type) {
      broken_modules.push_back(iname);
      std::vector<std::string> names;
      for (const auto* t : module_types()) names.push_back(t->name);
      errors.add(path, type_entry->line,
                 format("[module %s]: unknown module type \"%s\" (known: %s)", iname.c_str(),
                        type_entry->value.c_str(), join(names, ", ").c_str()));
      continue;
    }
    auto inst = std::make_unique<ModuleInstance>();
    inst->name = iname;
    inst->type = type;
    inst->line = sec.line;
    inst->params = OptionValues(module_param_rows(*type), sec.name, path);
    size_t before = errors.size();
    bool type_continues = false;
    for (const auto* e : entries) {
      if (e == type_entry || (e->continuation && type_continues)) {
        type_continues = true;
        continue;
      }
      type_continues = false;
      bool has_type_param = false;
      for (const auto& row : inst->params.rows()) has_type_param = has_type_param || std::string(row.name) == "type";
      if (e->key == "type" && !has_type_param) {
        errors.add(path, e->line,
                   format("[module %s]: \"type\" is duplicate (the module type was set on line %d)", iname.c_str(),
                          type_entry->line));
        continue;
      }
      inst->params.apply(*e, errors);
    }
    inst->params.finish(errors);
    if (errors.size() != before) {
      broken_modules.push_back(iname);
      continue;
    }
    inst->cache = {static_cast<long>(inst->params.integer("cachePositive")),
                   static_cast<long>(inst->params.integer("cacheUnknown")),
                   static_cast<long>(inst->params.integer("cacheNegative"))};
    inst->save_result = inst->params.boolean("saveResult");
    inst->save_prefix = inst->params.str("saveResultPrefix");
    uint64_t fp = hash_bytes(std::string(type->name) + "\n" + inst->params.canonical());
    inst->key_prefix = iname + '\0' + format("%016llx", static_cast<unsigned long long>(fp)) + '\0';
    try {
      ModuleSetup setup{inst->name, inst->params, *this};
      inst->module = type->create(setup);
    } catch (const KeyError& e) {
      int line = inst->params.rows().empty() ? sec.line : 0;
      for (const auto& row : inst->params.rows())
        if (e.key() == row.name) line = inst->params.line(row.name);
      errors.add(path, line ? line : sec.line,
                 format("[module %s] \"%s\": %s", iname.c_str(), e.key().c_str(), e.what()));
      broken_modules.push_back(iname);
      continue;
    } catch (const std::exception& e) {
      errors.add(path, sec.line, format("[module %s]: %s", iname.c_str(), e.what()));
      broken_modules.push_back(iname);
      continue;
    }
    modules.push_back(std::move(inst));
  }

  // Policies, compiled against the modules.
  for (const auto& sec : ini.sections) {
    auto words = split(sec.name, " \t");
    if (words.size() != 2 || words[0] != "policy") continue;
    auto p = compile_policy(words[1], sec.line, by_section[sec.name], *this, errors);
    if (p) policies.push_back(std::move(p));
  }
  if (policies.empty() && errors.empty())
    errors.add(path, 0, "no [policy NAME] section: nothing would ever be decided");
  // A policy after one without selectors can never be chosen.
  for (size_t i = 0; i < policies.size(); ++i) {
    const Policy& p = *policies[i];
    if (!p.listen.empty() || !p.context.empty() || !p.state.empty()) continue;
    for (size_t j = i + 1; j < policies.size(); ++j)
      errors.add(path, policies[j]->line,
                 format("[policy %s] can never be selected: [policy %s] (line %d) before it has no "
                        "listen, context or state selector and takes every request",
                        policies[j]->name.c_str(), p.name.c_str(), p.line));
    break;
  }
  errors.raise_if_any();
}

const Policy* Config::select_policy(const Request& request) const {
  auto in = [](const std::vector<std::string>& list, std::string_view v) {
    for (const auto& x : list)
      if (x == v) return true;
    return false;
  };
  for (const auto& p : policies) {
    if (!p->listen.empty() && !in(p->listen, request.listener)) continue;
    if (!p->context.empty() && !in(p->context, request.get(Attr::policy_context))) continue;
    if (!p->state.empty() && !in(p->state, upper(request.get(Attr::protocol_state)))) continue;
    return p.get();
  }
  return nullptr;
}

void Config::register_stats(StatsArea& area) {
  stats.requests = area.reg("ppolicy_requests_total");
  stats.timeouts = area.reg("ppolicy_request_timeouts_total");
  stats.failures = area.reg("ppolicy_request_failures_total");
  stats.no_policy = area.reg("ppolicy_requests_without_policy_total");
  stats.latency.reg(area, "ppolicy_request_duration_seconds", "");
  stats.actions.clear();
  for (const char* w : {"OK", "DUNNO", "REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT", "WARN",
                        "INFO", "HOLD", "DISCARD", "FILTER", "REDIRECT", "BCC", "PREPEND", "4xx", "5xx"})
    stats.actions.emplace_back(w, area.reg(format("ppolicy_actions_total{action=\"%s\"}", w)));
  stats.action_other = area.reg("ppolicy_actions_total{action=\"other\"}");
  for (auto& m : modules) {
    std::string l = format("module=\"%s\"", m->name.c_str());
    m->stats.calls = area.reg("ppolicy_module_calls_total{" + l + "}");
    m->stats.cache_hits = area.reg("ppolicy_module_cache_hits_total{" + l + "}");
    m->stats.cache_misses = area.reg("ppolicy_module_cache_misses_total{" + l + "}");
    m->stats.failures = area.reg("ppolicy_module_failures_total{" + l + "}");
    for (int c = ModuleStats::k_min_code; c <= ModuleStats::k_max_code; ++c)
      m->stats.codes[c - ModuleStats::k_min_code] =
          area.reg(format("ppolicy_module_results_total{%s,code=\"%d\"}", l.c_str(), c));
    m->stats.latency.reg(area, "ppolicy_module_duration_seconds", l);
  }
  for (auto& p : policies)
    for (auto& st : p->statements)
      if (st.kind == Statement::rule || st.kind == Statement::default_)
        st.stat_matches = area.reg(format("ppolicy_rule_matches_total{policy=\"%s\",rule=\"%d\",line=\"%d\"}",
                                          p->name.c_str(), st.number, st.line));
}

}  // namespace ppolicy
