// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: the configuration reader (src/conf: our line reader over
// inih, option rows, sections, module parameters, policy compilation) via
// Generation::load_text on arbitrary text. Only the Dummy, Sleep and
// DumpDataFile module types can be created (see fuzz_common.hpp); loading
// never runs a module. Errors must be ConfigError-style exceptions with a
// message, never crashes.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "base/log.hpp"
#include "fuzz_common.hpp"
#include "runtime/generation.hpp"

using namespace ppolicy;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log_capture([](LogLevel, std::string_view) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return 0;
  std::string text = restrict_module_types(std::string(reinterpret_cast<const char*>(data), size),
                                           {"Dummy", "Sleep", "DumpDataFile"});
  try {
    auto config = Generation::load_text(text, "fuzz.conf", {});
    if (!config) __builtin_trap();
  } catch (const std::exception& e) {
    if (!*e.what()) __builtin_trap();  // errors always say what is wrong
  }
  return 0;
}
