// SPDX-License-Identifier: GPL-2.0-or-later
// Tables of the database modules, outside the request path:
//  - ensure_tables(): the master at start (Module::prepare(), before fork)
//    and the maintenance process create missing tables when [database]
//    create_tables allows it, or say clearly which ones are missing. Existing
//    tables are never altered (sql/ppolicy.sql documents every layout).
//  - expire_rows(): the generic expiry of the maintenance process: delete
//    rows whose expiry column is in the past, in small batches (DELETE ...
//    LIMIT n in a loop), so no long lock is ever held; only on the gateway
//    holding the table's lease (maintenance_turn()). Greylist, ListDyn,
//    DOS/Trap (store = mysql) and Verification's cache use it.
// Both take a DbConnection opened by the caller (open_admin_connection())
// and closed by it afterwards.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace ppolicy {

class Config;
class DbConnection;
struct DbSettings;

// Module factories (create()): a module that needs the database needs a
// [database] section; throws KeyError(key, ...) otherwise.
void require_database(const Config& config, const char* key);

// Master and maintenance process: open a short-lived connection with the
// [database] settings, run `fn`, close it. Connection problems and
// exceptions from `fn` are logged under `who`; returns false then.
bool with_admin_connection(const Config& config, const std::string& who,
                           const std::function<void(DbConnection&, const DbSettings&)>& fn);

struct TableDef {
  std::string name;  // validated identifier
  std::string ddl;   // "CREATE TABLE IF NOT EXISTS `name` (...)"
};

// Create (or, when creating is not allowed, only check) the tables; logs
// what it did and what is missing. Returns false when a table is missing
// afterwards.
bool ensure_tables(DbConnection& conn, const DbSettings& settings,
                   const std::vector<TableDef>& tables, const std::string& who);

enum class ExpiryColumn {
  unix_seconds,  // INT UNSIGNED seconds since the epoch, compared with UNIX_TIMESTAMP()
  datetime,      // DATETIME (UTC), compared with UTC_TIMESTAMP()
};

// Delete the rows of `table` whose `column` lies in the past, `batch` rows
// per statement (each statement commits), for at most `max_seconds`.
// Returns the rows deleted, or -1 on an error (logged).
long expire_rows(DbConnection& conn, const std::string& table, const std::string& column,
                 ExpiryColumn kind, long batch = 1000, long max_seconds = 60);

// The table of maintenance leases (sql/ppolicy.sql).
TableDef lease_table();

// True when this gateway may run maintenance job `job` now: it took or
// renewed the job's lease row (for `lease_s` seconds), or there is no lease
// table and it cannot be created (logged). expire_rows() asks it first, so
// the gateways sharing a database do not expire the same rows at once.
bool maintenance_turn(DbConnection& conn, const std::string& job, long lease_s);

// True when `table` exists in the connection's database.
bool table_exists(DbConnection& conn, const std::string& table);

}  // namespace ppolicy
