// SPDX-License-Identifier: GPL-2.0-or-later
// What DOS and Trap share: they count (rate windows, trap hits) in records
// kept in a record store (db/record_store.hpp) that their `store`
// parameter chooses: shm (this host's shared memory, the default) or mysql
// (the table named by `table`, shared by every host using the database).
// The counting itself is pure logic (modules/rate_logic.hpp).
#pragma once

#include <memory>

#include "db/record_store.hpp"
#include "modules/module.hpp"

namespace ppolicy {

class CountingModule : public Module {
 public:
  void prepare(Services& s) override { d_store->prepare(s); }
  void maintain(Services& s) override { d_store->maintain(s); }

 protected:
  // `store` and `table` are the module's parameters of those names; `type`
  // names the module type in messages ("DOS", "Trap").
  CountingModule(const ModuleSetup& s, const std::string& store, const std::string& table,
                 const char* type);
  RecordStore& store() { return *d_store; }

 private:
  std::unique_ptr<RecordStore> d_store;
};

}  // namespace ppolicy
