// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/database.hpp"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <unistd.h>

#include <ctime>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "conf/config.hpp"

namespace ppolicy {

namespace {
sql::Driver* driver() {
  static sql::Driver* d = sql::mysql::get_mysql_driver_instance();
  return d;
}
}  // namespace

void db_init_driver() {
  driver();
}

DbFailure classify_db_error(int code) {
  switch (code) {
    case 2006:  // server has gone away
    case 2013:  // lost connection during query (also: read timeout)
    case 2030:  // statement not prepared (after a reconnect)
    case 2055:  // lost connection at ...
    case 2014:  // commands out of sync
    case 1053:  // server shutdown in progress
    case 1927:  // connection killed
    case 4031:  // disconnected by the server (idle)
      return DbFailure::lost;
    case 2002:  // cannot connect (socket)
    case 2003:  // cannot connect (TCP)
    case 2005:  // unknown host
    case 2026:  // TLS error
    case 1040:  // too many connections
    case 1045:  // access denied
    case 1049:  // unknown database
    case 1129:  // host blocked
    case 1130:  // host not allowed
    case 1203:  // too many connections for the user
      return DbFailure::connect;
    case 1213:  // deadlock
      return DbFailure::deadlock;
    default:
      return DbFailure::statement;
  }
}

DbConnection::DbConnection(const DbSettings& s) {
  sql::ConnectOptionsMap o;
  o["hostName"] = sql::SQLString(s.socket.empty() ? format("tcp://%s:%d", s.host.c_str(), s.port)
                                                  : "unix://" + s.socket);
  o["userName"] = sql::SQLString(s.user);
  o["password"] = sql::SQLString(s.password);
  o["schema"] = sql::SQLString(s.database);
  o["OPT_RECONNECT"] = false;  // we reconnect ourselves and re-prepare (2030 otherwise)
  o["OPT_CONNECT_TIMEOUT"] = s.connect_timeout;
  o["OPT_READ_TIMEOUT"] = s.read_timeout;
  o["OPT_WRITE_TIMEOUT"] = s.write_timeout;
  o["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  d_conn.reset(driver()->connect(o));
  d_conn->setAutoCommit(true);
  // Same behaviour on every host and server default: strict (no silent
  // truncation), UTC for DATETIME columns, and no lock wait longer than a
  // read timeout (a row locked by a stuck client must not hold a request).
  execute(
      format("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
             "NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', innodb_lock_wait_timeout = %d",
             s.read_timeout));
}

DbConnection::~DbConnection() {
  d_statements.clear();
  try {
    if (d_conn) d_conn->close();
  } catch (const sql::SQLException&) {
    // A dead connection: nothing to close.
  }
}

sql::PreparedStatement& DbConnection::prepare(const std::string& text) {
  auto it = d_statements.find(text);
  if (it == d_statements.end()) {
    std::unique_ptr<sql::PreparedStatement> st(d_conn->prepareStatement(text));
    it = d_statements.emplace(text, std::move(st)).first;
  }
  it->second->clearParameters();
  return *it->second;
}

void DbConnection::execute(const std::string& text) {
  std::unique_ptr<sql::Statement> st(d_conn->createStatement());
  st->execute(text);
}

int DbConnection::update(const std::string& text) {
  std::unique_ptr<sql::Statement> st(d_conn->createStatement());
  return st->executeUpdate(text);
}

void DbConnection::begin() {
  execute("START TRANSACTION");
  d_in_tx = true;
}

void DbConnection::commit() {
  if (!d_in_tx) return;
  d_in_tx = false;
  execute("COMMIT");
}

void DbConnection::rollback() noexcept {
  if (!d_in_tx) return;
  d_in_tx = false;
  try {
    execute("ROLLBACK");
  } catch (const sql::SQLException&) {
  }
}

std::unique_ptr<Database> Database::create(Services& services) {
  return std::make_unique<Database>(services, services.config().db);
}

Database::Database(Services& services, DbSettings settings)
    : d_services(services),
      d_settings(std::move(settings)),
      d_backend("mysql " + d_settings.where()) {
  db_init_driver();
}

Database::~Database() {
  close();
}

void Database::close() {
  d_conn.reset();
}

void Database::log_limited(const std::string& what) {
  // One line per distinct problem and minute per worker: a dead database
  // must not flood the log with one line per request.
  uint32_t now = d_services.now();
  auto& last = d_logged[what];
  if (last && now - last < 60) return;
  last = now;
  if (d_logged.size() > 100) d_logged.clear();
  log_warn("database %s: %s", d_settings.where().c_str(), what.c_str());
}

bool Database::run(Deadline deadline, const Work& work, std::string& error) {
  Breakers& breakers = d_services.breakers();
  if (!breakers.allow(d_backend, d_services.now())) {
    error = "database " + d_settings.where() + " unavailable (circuit breaker open)";
    return false;
  }
  for (int attempt = 1;; ++attempt) {
    if (ms_until(deadline) < 20) {
      error = "database: no time left before the request deadline";
      return false;
    }
    bool connecting = !d_conn, committing = false;
    auto started = SteadyClock::now();
    try {
      if (!d_conn) d_conn = std::make_unique<DbConnection>(d_settings);
      connecting = false;
      work(*d_conn);
      committing = true;
      d_conn->commit();
      breakers.success(d_backend, d_services.now());
      return true;
    } catch (const sql::SQLException& e) {
      int code = e.getErrorCode();
      DbFailure kind = connecting ? DbFailure::connect : classify_db_error(code);
      // "Invalid argument" and friends from the connector carry code 0.
      std::string what = format("%s (error %d)", e.what(), code);
      if (kind == DbFailure::lost || kind == DbFailure::connect) {
        d_conn.reset();  // its statements go with it
        // Reconnect and retry once when the connection was found dead at
        // once (server restarted, idle timeout); not after a timeout (a hung
        // server would cost the request another wait), and not when it was
        // lost during the COMMIT (the server may have committed: a retry
        // would do the work twice).
        bool quick = SteadyClock::now() - started < std::chrono::milliseconds(500);
        if (kind == DbFailure::lost && attempt == 1 && quick && !committing) continue;
        breakers.failure(d_backend, d_services.now(), what);
        error = "database error: " + what;
        log_limited(what);
        return false;
      }
      d_conn->rollback();
      if (kind == DbFailure::deadlock && attempt < 4) continue;
      error = "database error: " + what;
      log_limited(what);
      return false;
    } catch (const std::exception& e) {
      // Our own consistency checks (e.g. an unexpected row shape).
      if (d_conn) d_conn->rollback();
      error = std::string("database: ") + e.what();
      log_limited(e.what());
      return false;
    }
  }
}

std::unique_ptr<DbConnection> open_admin_connection(const DbSettings& settings, const char* who) {
  static pid_t failed_pid = 0;
  static time_t failed_at = 0;
  time_t now = time(nullptr);
  if (failed_pid == getpid() && now - failed_at < 60) {
    log_warn("%s: skipped: database %s was unreachable a moment ago", who,
             settings.where().c_str());
    return nullptr;
  }
  try {
    db_init_driver();
    return std::make_unique<DbConnection>(settings);
  } catch (const sql::SQLException& e) {
    failed_pid = getpid();
    failed_at = now;
    log_error(
        "%s: cannot connect to database %s: %s (error %d); modules that need it answer 0 "
        "until it is reachable",
        who, settings.where().c_str(), e.what(), e.getErrorCode());
    return nullptr;
  }
}

std::string db_string(sql::ResultSet& rs, int column) {
  return rs.getString(column).asStdString();
}
bool db_is_null(sql::ResultSet& rs, int column) {
  return rs.isNull(column);
}

}  // namespace ppolicy
