// SPDX-License-Identifier: GPL-2.0-or-later
// A module instance: one [module NAME] section made into a Module by its
// type's factory, with the base parameters every instance has (result cache
// lifetimes, saveResult) and the prefix of its result-cache keys. Built by
// the runtime when a configuration is loaded (runtime/generation.cpp);
// policies refer to instances by name, the module runner
// (runtime/runner.cpp) calls them.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "conf/option.hpp"
#include "modules/module.hpp"

namespace ppolicy {

class DnsPrefetch;

struct ModuleInstance {
  std::string name;
  const ModuleType* type = nullptr;
  OptionValues params;
  std::unique_ptr<Module> module;
  const DnsPrefetch* prefetch = nullptr;  // the module, when it can say its first DNS questions
  CacheLifetimes cache{0, 0, 0};
  bool save_result = true;
  std::string save_prefix;
  // saveResult's attribute names for an instance's first run in a request,
  // <save_prefix><name>_code, _info, _cache and _time: built with the
  // instance (saved_result_names), not for every call.
  std::string saved_names[4];
  // None of them is an attribute Postfix sends: they are set by number
  // (Request::set_numbered, numbers index * 4 + 0..3), without a search.
  bool saved_numbered = false;
  std::string key_prefix;  // name + fingerprint of type and parameters: cache keys change with them
  int line = 0;
  size_t index = 0;  // position among the generation's instances (its counters)
};

// The names saveResult gives the code, info, cache flag and time of a run:
// `base` + "_code", "_info", "_cache", "_time".
inline void saved_result_names(const std::string& base, std::string (&names)[4]) {
  static const char* const k_suffix[4] = {"_code", "_info", "_cache", "_time"};
  for (int i = 0; i < 4; ++i)
    names[i] = base + k_suffix[i];
}

// A named info field of an instance (its type's fields, then the instance's
// own, e.g. a List's retcols); null when it has none of that name.
inline const FieldSpec* find_field(const ModuleInstance& inst, std::string_view name) {
  for (const auto& f : inst.type->fields)
    if (name == f.name) return &f;
  if (!inst.module) return nullptr;
  for (const auto& f : inst.module->instance_fields())
    if (name == f.name) return &f;
  return inst.module->instance_field(name);
}

}  // namespace ppolicy
