// SPDX-License-Identifier: GPL-2.0-or-later
// Shadow policies ([policy NAME] shadow = yes): evaluated beside the live
// policy after the reply went out, so a changed policy can run on live mail
// before it decides anything. A shadow reuses the module results of the
// live evaluation; it calls a module the live one did not run only within
// [ppolicyd] shadow_budget, and never one that changes state or talks to
// other mail systems (modules/module.hpp changes_state): such a call makes
// the shadow evaluation incomplete (counted, not compared). A decision that
// differs from the live one is logged ("shadow=NAME would ACTION rule=N")
// and counted per rule of the shadow.
#pragma once

#include "policy/eval.hpp"

namespace ppolicy {

class Generation;
class Services;
class StatsBuffer;

// Whether the generation has any shadow policy (workers skip all else).
bool has_shadow_policies(const Generation& gen);

// Evaluate every shadow policy that selects `request`, given the live
// decision (its module runs are reused).
void run_shadow_policies(const Generation& gen, Services& services, StatsBuffer* stats,
                         Request& request, const Decision& live);

}  // namespace ppolicy
