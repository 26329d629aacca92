// SPDX-License-Identifier: GPL-2.0-or-later
// Sleep: wait, then answer 0. For debugging and as a tarpit for suspicious
// clients. The wait never goes past the request deadline (request_timeout):
// a sleep that would is cut short there and the request gets default_action.
#include <time.h>

#include "base/strings.hpp"
#include "modules/module.hpp"

namespace ppolicy {
namespace {

struct SleepParams {
  long sleep_ms;
};

const Option k_params[] = {
    bound_row<&SleepParams::sleep_ms>({"sleep", OptType::millis, "1",
                                       "sleep interval (seconds, or e.g. 500ms)", nullptr, 0,
                                       3600000}),
};

class Sleep final : public Module {
 public:
  explicit Sleep(long ms) : d_ms(ms) {}
  Result check(Request&, const CallArgs&, CheckContext& ctx) override {
    long left = ctx.remaining_ms();
    long ms = d_ms < left ? d_ms : left + 1;  // past the deadline: evaluation stops there
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    return Result(0, "Sleep");
  }

 private:
  long d_ms;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<Sleep>(s.bound<SleepParams>().sleep_ms);
}

}  // namespace

extern const ModuleType k_sleep_type = {
    "Sleep",
    "Sleep module for debugging (and as a tarpit). The sleep ends at the request deadline\n"
    "at the latest (request_timeout), in which case default_action answers.",
    k_params,
    {900, 900, 900},
    {},
    {},
    "    1 .... ok\n"
    "    0 .... undefined (default for this module)\n"
    "   -1 .... failed\n",
    "[module sleep1]\ntype = Sleep\n\n[module tarpit]\ntype = Sleep\nsleep = 10\n",
    create,
};

}  // namespace ppolicy
