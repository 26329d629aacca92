// SPDX-License-Identifier: GPL-2.0-or-later
// Dummy: the module skeleton of MODULES. It does nothing and answers 0; its
// parameters show how parameters are declared, and its cache key (the
// client address) how a module lets the daemon share its results. Start a
// new module by copying this file.
#include "modules/module.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

const Option k_params[] = {
    {"test1", OptType::string, nullptr, "test parameter 1"},
    {"test2", OptType::string, "abc", "test parameter 2"},
};

const ArgSpec k_args[] = {
    {"test1", Type::string, "overrides the test1 parameter for this call (shows call arguments)"},
};

class Dummy final : public Module {
 public:
  // The result depends on the client address only (and on the parameters,
  // which the daemon adds to every key itself).
  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += r.get(Attr::client_address);
    return true;
  }
  Result check(Request&, const CallArgs&, CheckContext&) override { return Result(0, "dummy"); }
};

std::unique_ptr<Module> create(const ModuleSetup&) {
  return std::make_unique<Dummy>();
}

}  // namespace

extern const ModuleType k_dummy_type = {
    "Dummy",
    "Dummy module skeleton for creating new modules. Its (constant) result is cached\n"
    "per client address, like a real module's result would be.",
    k_params,
    {900, 900, 900},
    {},
    k_args,
    "    1 .... ok\n"
    "    0 .... undefined (default for this module)\n"
    "   -1 .... failed\n",
    "[module dummy1]\ntype = Dummy\n\n[module dummy2]\ntype = Dummy\ntest1 = 1\ntest2 = def\n",
    create,
};

}  // namespace ppolicy
