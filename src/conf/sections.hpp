// SPDX-License-Identifier: GPL-2.0-or-later
// Option rows of the fixed sections: [ppolicyd] (the server), [dns] and
// [database]. Module parameters live with each module; policy sections are
// statements, not options (policy/compile.cpp).
#pragma once

#include <span>

#include "conf/option.hpp"

namespace ppolicy {

std::span<const Option> server_options();    // [ppolicyd]
std::span<const Option> dns_options();       // [dns]
std::span<const Option> database_options();  // [database]

}  // namespace ppolicy
