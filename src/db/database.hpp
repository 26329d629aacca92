// SPDX-License-Identifier: GPL-2.0-or-later
// The MySQL/MariaDB layer (Connector/C++ 1.1).
//
//   DbSettings    the [database] section.
//   DbConnection  one physical connection and its prepared statements; used
//                 directly, briefly, by the master (Module::prepare(), before
//                 fork: it must be closed again) and by the maintenance
//                 process (Module::maintain()).
//   Database      the worker's connection (a WorkerResource: opened after
//                 fork, lazily, on first use). Database::run() executes one
//                 unit of work as one transaction: on a lost connection
//                 (server restarted, killed, idle timeout: 2006/2013/2030/...)
//                 it drops the statements and the connection, reconnects and
//                 retries once; deadlocks (on Galera also certification
//                 conflicts at COMMIT) are retried with a short random pause;
//                 every other failure becomes an error text for the module's
//                 code 0.
//
// Several servers (`host = a, b, c`: nodes of one Galera cluster): a worker
// connects to the first one that works and is ready (on a Galera node:
// wsrep_ready ON and state Synced; checked at connect), moves to the next
// when its server fails (connect error, lost connection, node not ready),
// and leaves the next one for the preferred one again after
// breaker_cooldown. Each server has its own circuit breaker (shared by all
// workers), so a dead node is skipped while the others serve; a dead server
// costs one timeout, not one per request.
//
// Only prepared statements carry data: SQL text is built from validated
// identifiers (identifiers.hpp) and constants, never from a request.
// Connections run in autocommit mode: a single statement is atomic and holds
// its row locks only while the server executes it (no client round trip
// with a lock held), and a reader never keeps an old REPEATABLE READ
// snapshot. Work that needs several statements under one lock calls
// begin(); run() commits it (or rolls it back). Work that is not idempotent
// must be such a transaction too: after a lost connection run() retries it,
// and only a transaction is sure to be undone by the server (an autocommit
// statement may have been applied before the connection was lost; a lost
// COMMIT is never retried). Sessions use UTC, strict SQL mode and
// innodb_lock_wait_timeout = read_timeout.
// Not thread-safe (workers are single-threaded); never shared across fork.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "conf/settings.hpp"
#include "svc/services.hpp"

namespace sql {
class Connection;
class PreparedStatement;
class ResultSet;
class SQLException;
}  // namespace sql

namespace ppolicy {

class Config;

// Load the client library once, in the master before fork (its
// initialisation is not thread-safe); later calls are free.
void db_init_driver();

// How a Connector/C++ error code is handled.
enum class DbFailure {
  lost,       // the connection is gone: reconnect and retry once
  connect,    // cannot connect or log in
  deadlock,   // transaction rolled back by the server: retry
  statement,  // the statement failed (missing table, bad column, ...)
};
DbFailure classify_db_error(int code);

class DbConnection {
 public:
  // Connects or throws sql::SQLException.
  // To server `server` of settings (DbSettings::endpoint()). Throws
  // sql::SQLException, with code 1047 for a Galera node that is not ready.
  DbConnection(const DbSettings& settings, size_t server);
  ~DbConnection();
  DbConnection(const DbConnection&) = delete;
  DbConnection& operator=(const DbConnection&) = delete;

  // A prepared statement for `sql`, prepared once per connection.
  sql::PreparedStatement& prepare(const std::string& sql);
  // A statement without parameters (DDL, maintenance); its text comes from
  // the configuration's validated identifiers only.
  void execute(const std::string& sql);
  // Rows changed by a statement without parameters.
  int update(const std::string& sql);
  // START TRANSACTION (until commit() or rollback()).
  void begin();
  void commit();
  void rollback() noexcept;
  bool in_transaction() const { return d_in_tx; }
  sql::Connection& raw() { return *d_conn; }
  // The server is a Galera node (wsrep_on).
  bool galera() const { return d_galera; }

 private:
  void check_galera(const DbSettings& settings);

  std::unique_ptr<sql::Connection> d_conn;
  bool d_galera = false;
  bool d_in_tx = false;
  // Destroyed before the connection (declared after it).
  std::map<std::string, std::unique_ptr<sql::PreparedStatement>> d_statements;
};

class Database final : public WorkerResource {
 public:
  static std::unique_ptr<Database> create(Services& services);
  Database(Services& services, DbSettings settings);
  ~Database() override;

  using Work = std::function<void(DbConnection&)>;
  // Run `work` (see above; a transaction it began is committed). True on success; else
  // `error` says why (for the module's info) and the problem is logged
  // (rate-limited). No attempt starts after `deadline`.
  bool run(Deadline deadline, const Work& work, std::string& error);
  const DbSettings& settings() const { return d_settings; }
  // Drop the connection (e.g. worker exit).
  void close();
  // Index of the server of the open connection (tests, messages).
  size_t server() const { return d_server; }

 private:
  void log_limited(const std::string& what);
  // Connect to the first server that is allowed and works.
  bool connect(Deadline deadline, std::string& error);
  // A connection to server d_server failed (connect, lost, not ready).
  void server_failed(const std::string& what);

  Services& d_services;
  DbSettings d_settings;
  std::vector<std::string> d_backend;  // breaker name per server
  std::vector<uint32_t> d_skip_until;  // this worker skips server i until then
  size_t d_server = 0;
  uint32_t d_moved_at = 0;  // connected to a server other than the first
  std::unique_ptr<DbConnection> d_conn;
  std::map<std::string, uint32_t> d_logged;  // message -> last logged (wall seconds)
};

// Master / maintenance helper: a short-lived connection, or nullptr with
// the reason logged. After a failed attempt, further attempts by the same
// process within a minute fail at once (the master prepares many modules;
// a dead server must not cost a connect timeout for each).
std::unique_ptr<DbConnection> open_admin_connection(const DbSettings& settings, const char* who);

// Convenience readers for result sets.
std::string db_string(sql::ResultSet& rs, int column);
bool db_is_null(sql::ResultSet& rs, int column);

}  // namespace ppolicy
