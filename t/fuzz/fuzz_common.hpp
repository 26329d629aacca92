// SPDX-License-Identifier: GPL-2.0-or-later
// Shared by the configuration and policy fuzz targets: fuzzed text may name
// any module type, but creating (or running) modules that open files,
// sockets or databases must not happen while fuzzing. Every type name not
// in the allowed set is replaced by "Dummy" before the text is loaded.
#pragma once

#include <strings.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "modules/module.hpp"

namespace ppolicy {

inline std::string restrict_module_types(std::string text,
                                         std::initializer_list<std::string_view> allowed) {
  for (const ModuleType* t : module_types()) {
    std::string_view name = t->name;
    bool ok = false;
    for (auto a : allowed)
      ok = ok || a == name;
    if (ok || name.empty()) continue;
    for (size_t i = 0; i + name.size() <= text.size(); ++i) {
      if (strncasecmp(text.data() + i, name.data(), name.size()) == 0) {
        text.replace(i, name.size(), "Dummy");
        i += 4;
      }
    }
  }
  return text;
}

}  // namespace ppolicy
