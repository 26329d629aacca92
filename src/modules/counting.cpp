// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/counting.hpp"

#include "db/identifiers.hpp"
#include "db/schema.hpp"

namespace ppolicy {

CountingModule::CountingModule(const ModuleSetup& s, const char* type) {
  if (s.params.str("store") == "mysql") {
    require_database(s.config, "store");
    d_store = make_mysql_store(s.name, checked_identifier(s.params.str("table"), "table"),
                               "module " + s.name + " (" + type + ")");
  } else {
    d_store = make_shm_store(s.name);
  }
}

}  // namespace ppolicy
