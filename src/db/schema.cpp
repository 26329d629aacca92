// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/schema.hpp"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <unistd.h>

#include <chrono>
#include <memory>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "conf/config.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"

namespace ppolicy {

void require_database(const Config& config, const char* key) {
  if (!config.has_database_section)
    throw KeyError(key,
                   "this module needs the database: add a [database] section (ppolicy.conf(5))");
}

namespace {
// The expiry lease's length: twice the maintenance interval of the
// configuration the maintenance process runs (set by with_admin_connection,
// read by expire_rows: both run in that process, one after the other).
long g_lease_s = 600;
}  // namespace

TableDef lease_table() {
  return {"ppolicy_lease",
          "CREATE TABLE IF NOT EXISTS `ppolicy_lease` (name VARCHAR(64) NOT NULL, holder "
          "VARCHAR(255) NOT NULL, expire INT UNSIGNED NOT NULL, PRIMARY KEY (name)) ENGINE=InnoDB"};
}

bool maintenance_turn(DbConnection& conn, const std::string& job, long lease_s) {
  // Gateways sharing a database (a Galera cluster above all) would all
  // delete the same expired rows at once: the deletes meet in conflicts and
  // repeat one another's work. The first gateway to find the lease free or
  // expired takes it; its holder renews it every interval and so keeps it
  // until it stops, then another takes over within twice the interval.
  // Gateways are told apart by host name (a restarted daemon keeps its
  // lease; daemons on one host share it, as they share its clock).
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  std::string me = host;
  try {
    if (!table_exists(conn, "ppolicy_lease")) conn.execute(lease_table().ddl);
    auto& take = conn.prepare(
        "INSERT INTO ppolicy_lease (name, holder, expire) VALUES (?, ?, UNIX_TIMESTAMP() + ?) "
        "ON DUPLICATE KEY UPDATE holder = IF(expire <= UNIX_TIMESTAMP() OR holder = "
        "VALUES(holder), VALUES(holder), holder), expire = IF(holder = VALUES(holder), "
        "VALUES(expire), expire)");
    take.setString(1, job);
    take.setString(2, me);
    take.setInt64(3, lease_s);
    take.executeUpdate();
    auto& who = conn.prepare("SELECT holder FROM ppolicy_lease WHERE name = ?");
    who.setString(1, job);
    std::unique_ptr<sql::ResultSet> rs(who.executeQuery());
    return rs->next() && rs->getString(1).asStdString() == me;
  } catch (const sql::SQLException& e) {
    if (classify_db_error(e.getErrorCode()) == DbFailure::deadlock)
      return false;  // another gateway took it in the same moment
    // No lease table and no right to create it: expire as before the lease.
    log_warn("expiry lease %s: %s (error %d); expiring without it", job.c_str(), e.what(),
             e.getErrorCode());
    return true;
  }
}

bool with_admin_connection(const Config& config, const std::string& who,
                           const std::function<void(DbConnection&, const DbSettings&)>& fn) {
  const DbSettings& settings = config.db;
  g_lease_s = 2 * config.server.maintenance_interval_s;
  auto conn = open_admin_connection(settings, who.c_str());
  if (!conn) return false;
  try {
    fn(*conn, settings);
    return true;
  } catch (const sql::SQLException& e) {
    conn->rollback();
    log_error("%s: database %s: %s (error %d)", who.c_str(), settings.where().c_str(), e.what(),
              e.getErrorCode());
  } catch (const std::exception& e) {
    conn->rollback();
    log_error("%s: %s", who.c_str(), e.what());
  }
  return false;
}

bool table_exists(DbConnection& conn, const std::string& table) {
  auto& st = conn.prepare(
      "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
      "TABLE_NAME = ?");
  st.setString(1, table);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  return rs->next() && rs->getInt(1) > 0;
}

bool ensure_tables(DbConnection& conn, const DbSettings& settings,
                   const std::vector<TableDef>& tables, const std::string& who) {
  bool ok = true;
  for (const auto& t : tables) {
    try {
      if (table_exists(conn, t.name)) continue;
      if (!settings.create_tables) {
        log_error(
            "%s: table %s is missing in database %s and [database] create_tables = no: "
            "create it (sql/ppolicy.sql); until then the module answers 0",
            who.c_str(), t.name.c_str(), settings.where().c_str());
        ok = false;
        continue;
      }
      conn.execute(t.ddl);
      log_info("%s: created table %s in database %s", who.c_str(), t.name.c_str(),
               settings.where().c_str());
    } catch (const sql::SQLException& e) {
      log_error(
          "%s: cannot create table %s in database %s: %s (error %d); the module answers 0 "
          "until it exists",
          who.c_str(), t.name.c_str(), settings.where().c_str(), e.what(), e.getErrorCode());
      ok = false;
    }
  }
  return ok;
}

long expire_rows(DbConnection& conn, const std::string& table, const std::string& column,
                 ExpiryColumn kind, long batch, long max_seconds) {
  const char* now = kind == ExpiryColumn::unix_seconds ? "UNIX_TIMESTAMP()" : "UTC_TIMESTAMP()";
  std::string sql = format("DELETE FROM %s WHERE %s < %s LIMIT %ld", quote_ident(table).c_str(),
                           quote_ident(column).c_str(), now, batch);
  if (!maintenance_turn(conn, "expire " + table, g_lease_s)) return 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(max_seconds);
  long total = 0;
  try {
    while (std::chrono::steady_clock::now() < end) {
      int n = conn.update(sql);  // autocommit: each batch is its own transaction
      total += n;
      if (n < batch) break;
    }
  } catch (const sql::SQLException& e) {
    log_warn("expiry of %s.%s: %s (error %d)", table.c_str(), column.c_str(), e.what(),
             e.getErrorCode());
    return -1;
  }
  if (total > 0) log_info("expired %ld rows of table %s", total, table.c_str());
  return total;
}

}  // namespace ppolicy
