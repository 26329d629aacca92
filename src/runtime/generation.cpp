// SPDX-License-Identifier: GPL-2.0-or-later
#include "runtime/generation.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

#include "base/strings.hpp"
#include "modules/prefetch.hpp"
#include "policy/compile.hpp"
#include "policy/parser.hpp"
#include "proto/request.hpp"
#include "runtime/policy_tests.hpp"
#include "shm/table.hpp"

namespace ppolicy {

int RequestCounters::action(std::string_view word) const {
  for (const auto& [w, idx] : actions)
    if (w == word) return idx;
  if (word.size() == 3 && (word[0] == '4' || word[0] == '5')) {
    for (const auto& [w, idx] : actions)
      if (w[0] == word[0] && w.substr(1) == "xx") return idx;
  }
  return action_other;
}

namespace {

bool valid_instance_name(std::string_view n) {
  if (n.empty() || n.size() > 40 ||
      !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_'))
    return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// Names the language resolves before module names may not be module names.
bool reserved_name(std::string_view n) {
  if (attr_from_name(n) || derived_from_name(n) || is_builtin_name(n)) return true;
  return n == "true" || n == "false" || n == "in" || n == "not" || n == "set";
}

}  // namespace

std::unique_ptr<Generation> Generation::load(const std::string& path,
                                             const std::vector<Override>& overrides) {
  ErrorList errors;
  auto config = Config::load(path, overrides, errors);
  if (!config) errors.raise_if_any();
  return build(std::move(config), errors);
}

std::unique_ptr<Generation> Generation::load_text(std::string_view text, const std::string& name,
                                                  const std::vector<Override>& overrides) {
  ErrorList errors;
  return build(Config::load_text(text, name, overrides, errors), errors);
}

std::unique_ptr<Generation> Generation::build(std::unique_ptr<Config> config, ErrorList& errors) {
  if (!config) {
    errors.raise_if_any();
    throw ConfigError("no configuration");
  }
  auto g = std::unique_ptr<Generation>(new Generation());
  g->d_config = std::move(config);
  g->make_modules(errors);
  g->compile_policies(errors);
  // A reload that breaks an expected decision is refused like a syntax error.
  if (errors.empty()) g->policy_tests_run = check_policy_tests(*g, errors);
  errors.raise_if_any();
  return g;
}

ModuleInstance* Generation::module(std::string_view name) const {
  for (const auto& m : modules)
    if (m->name == name) return m.get();
  return nullptr;
}

void Generation::make_modules(ErrorList& errors) {
  for (const auto& sec : d_config->module_sections) {
    auto inst = make_instance(sec, errors);
    if (!inst) {
      d_broken.push_back(sec.name);
      continue;
    }
    inst->index = modules.size();
    modules.push_back(std::move(inst));
  }
  module_counters.resize(modules.size());
}

// One [module NAME] section: its type (the first "type" key), parameters
// checked against the type's rows, the base parameters, then the type's
// factory. nullptr when the section has errors (they are in `errors`).
std::unique_ptr<ModuleInstance> Generation::make_instance(const NamedSection& sec,
                                                          ErrorList& errors) const {
  const std::string& path = d_config->path;
  const std::string& iname = sec.name;
  if (!valid_instance_name(iname)) {
    errors.add(path, sec.line,
               format("[module %s]: a module name is letters, digits and \"_\" (at most 40)",
                      iname.c_str()));
    return nullptr;
  }
  if (reserved_name(iname)) {
    errors.add(path, sec.line,
               format("[module %s]: the name is a request attribute or function of the policy "
                      "language; choose another",
                      iname.c_str()));
    return nullptr;
  }
  // The first "type" names the module type. Resolve (as in the original's
  // MODULES) has a parameter called "type" too: a second "type" sets it.
  const IniEntry* type_entry = nullptr;
  for (const auto& e : sec.entries)
    if (e.key == "type" && !e.continuation && !type_entry) type_entry = &e;
  if (!type_entry) {
    errors.add(path, sec.line, format("[module %s]: \"type\" is required", iname.c_str()));
    return nullptr;
  }
  const ModuleType* type = find_module_type(type_entry->value);
  if (!type) {
    std::vector<std::string> names;
    for (const auto* t : module_types())
      names.push_back(t->name);
    errors.add(path, type_entry->line,
               format("[module %s]: unknown module type \"%s\" (known: %s)", iname.c_str(),
                      type_entry->value.c_str(), join(names, ", ").c_str()));
    return nullptr;
  }
  auto inst = std::make_unique<ModuleInstance>();
  inst->name = iname;
  inst->type = type;
  inst->line = sec.line;
  inst->params = OptionValues(module_param_rows(*type), "module " + iname, path);
  bool has_type_param = false;
  for (const auto& row : inst->params.rows())
    has_type_param = has_type_param || std::string_view(row.name) == "type";
  size_t before = errors.size();
  bool type_continues = false;
  for (const auto& e : sec.entries) {
    if (&e == type_entry || (e.continuation && type_continues)) {
      type_continues = true;
      continue;
    }
    type_continues = false;
    if (e.key == "type" && !has_type_param) {
      errors.add(path, e.line,
                 format("[module %s]: \"type\" is duplicate (the module type was set on line %d)",
                        iname.c_str(), type_entry->line));
      continue;
    }
    inst->params.apply(e, errors);
  }
  inst->params.finish(errors);
  if (errors.size() != before) return nullptr;
  inst->params.store(inst.get(), errors, type->params.size());  // the base rows
  saved_result_names(inst->save_prefix + iname, inst->saved_names);
  inst->saved_numbered = std::none_of(std::begin(inst->saved_names), std::end(inst->saved_names),
                                      [](const std::string& n) { return attr_from_name(n); });
  uint64_t fp = hash_bytes(std::string(type->name) + "\n" + inst->params.canonical());
  inst->key_prefix = iname + '\0' + format("%016llx", static_cast<unsigned long long>(fp)) + '\0';
  try {
    ModuleSetup setup{inst->name, inst->params, *d_config, type->params.size()};
    inst->module = type->create(setup);
    inst->prefetch = dynamic_cast<const DnsPrefetch*>(inst->module.get());
  } catch (const KeyError& e) {
    int line = sec.line;
    for (const auto& row : inst->params.rows())
      if (e.key() == row.name && inst->params.line(row.name)) line = inst->params.line(row.name);
    errors.add(path, line,
               format("[module %s] \"%s\": %s", iname.c_str(), e.key().c_str(), e.what()));
    return nullptr;
  } catch (const std::exception& e) {
    errors.add(path, sec.line, format("[module %s]: %s", iname.c_str(), e.what()));
    return nullptr;
  }
  return inst;
}

void Generation::compile_policies(ErrorList& errors) {
  const std::string& path = d_config->path;
  PolicyScope scope{path, d_config->server.listen, d_broken,
                    [this](std::string_view n) { return module(n); }};
  for (const auto& sec : d_config->policy_sections) {
    auto p = compile_policy(sec.name, sec.line, sec.entries, scope, errors);
    if (p) policies.push_back(std::move(p));
  }
  if (policies.empty() && errors.empty())
    errors.add(path, 0, "no [policy NAME] section: nothing would ever be decided");
  bool live = false;
  for (const auto& p : policies)
    live = live || !p->shadow;
  if (!live && !policies.empty())
    errors.add(path, policies.front()->line,
               "every [policy] is a shadow: nothing would ever be decided");
  // A policy after one without selectors can never be chosen.
  for (size_t i = 0; i < policies.size(); ++i) {
    const Policy& p = *policies[i];
    if (p.shadow || !p.listen.empty() || !p.context.empty() || !p.state.empty()) continue;
    for (size_t j = i + 1; j < policies.size(); ++j)
      if (!policies[j]->shadow)
        errors.add(
            path, policies[j]->line,
            format("[policy %s] can never be selected: [policy %s] (line %d) before it has no "
                   "listen, context or state selector and takes every request",
                   policies[j]->name.c_str(), p.name.c_str(), p.line));
    break;
  }
}

const Policy* Generation::select_policy(const Request& request) const {
  for (const auto& p : policies)
    if (!p->shadow && policy_selects(*p, request)) return p.get();
  return nullptr;
}

void Generation::register_stats(StatsArea& area) {
  counters.requests = area.reg("ppolicy_requests_total");
  counters.timeouts = area.reg("ppolicy_request_timeouts_total");
  counters.failures = area.reg("ppolicy_request_failures_total");
  counters.no_policy = area.reg("ppolicy_requests_without_policy_total");
  counters.latency.reg(area, "ppolicy_request_duration_seconds", "");
  counters.actions.clear();
  for (const char* w :
       {"OK", "DUNNO", "REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT", "WARN", "INFO",
        "HOLD", "DISCARD", "FILTER", "REDIRECT", "BCC", "PREPEND", "4xx", "5xx"})
    counters.actions.emplace_back(w, area.reg(format("ppolicy_actions_total{action=\"%s\"}", w)));
  counters.action_other = area.reg("ppolicy_actions_total{action=\"other\"}");
  for (auto& m : modules) {
    ModuleCounters& mc = module_counters[m->index];
    std::string l = format("module=\"%s\"", m->name.c_str());
    mc.calls = area.reg("ppolicy_module_calls_total{" + l + "}");
    mc.cache_hits = area.reg("ppolicy_module_cache_hits_total{" + l + "}");
    mc.cache_misses = area.reg("ppolicy_module_cache_misses_total{" + l + "}");
    mc.failures = area.reg("ppolicy_module_failures_total{" + l + "}");
    for (int c = ModuleCounters::k_min_code; c <= ModuleCounters::k_max_code; ++c)
      mc.codes[c - ModuleCounters::k_min_code] =
          area.reg(format("ppolicy_module_results_total{%s,code=\"%d\"}", l.c_str(), c));
    mc.latency.reg(area, "ppolicy_module_duration_seconds", l);
  }
  for (auto& p : policies) {
    for (auto& st : p->statements) {
      if (st.kind != Statement::rule && st.kind != Statement::default_) continue;
      std::string l =
          format("policy=\"%s\",rule=\"%d\",line=\"%d\"", p->name.c_str(), st.number, st.line);
      st.stat_matches = area.reg("ppolicy_rule_matches_total{" + l + "}");
      if (p->shadow)
        st.stat_shadow_differs = area.reg("ppolicy_shadow_differences_total{" + l + "}");
    }
    if (p->shadow) {
      std::string l = format("policy=\"%s\"", p->name.c_str());
      p->stat_shadow_runs = area.reg("ppolicy_shadow_evaluations_total{" + l + "}");
      p->stat_shadow_incomplete = area.reg("ppolicy_shadow_incomplete_total{" + l + "}");
    }
  }
}

}  // namespace ppolicy
