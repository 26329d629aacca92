// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/counting.hpp"

#include "db/identifiers.hpp"
#include "db/schema.hpp"

namespace ppolicy {

CountingModule::CountingModule(const ModuleSetup& s, const std::string& store,
                               const std::string& table, const char* type) {
  if (store == "mysql") {
    require_database(s.config, "store");
    d_store = make_mysql_store(s.name, checked_identifier(table, "table"),
                               "module " + s.name + " (" + type + ")");
  } else {
    d_store = make_shm_store(s.name);
  }
}

}  // namespace ppolicy
