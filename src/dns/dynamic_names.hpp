// SPDX-License-Identifier: GPL-2.0-or-later
// Host names that look like dynamically assigned client addresses
// ("84-23-11-2.dsl.provider.com", "pool12-34.provider.com", ...), for
// DnsblDynamic. The patterns are those of ppolicy 2.x (Python re.search,
// case-sensitive) converted to POSIX EREs and matched without regard to
// case; names of big senders' outbound hosts ("...mail-...", "...-out-...")
// are excluded. Built once per module instance (master); matching is
// read-only and needs no DNS.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "base/value.hpp"

namespace ppolicy::dns {

class DynamicNames {
 public:
  DynamicNames();
  // True when no exclude pattern and some include pattern matches.
  bool dynamic(std::string_view name) const;

 private:
  std::vector<std::unique_ptr<Regex>> d_include, d_exclude;
};

}  // namespace ppolicy::dns
