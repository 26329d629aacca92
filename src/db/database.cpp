// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/database.hpp"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "conf/config.hpp"

namespace ppolicy {

namespace {
// Attempts of a transaction that keeps meeting deadlocks or certification
// conflicts (each after a pause of up to 32 ms), within the request deadline.
constexpr int k_deadlock_tries = 10;

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
    case 1047:  // Galera: node not ready (lost its primary component, joining)
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

DbConnection::DbConnection(const DbSettings& s, size_t server) {
  sql::ConnectOptionsMap o;
  o["hostName"] = sql::SQLString(s.endpoint(server));
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
  check_galera(s);
}

void DbConnection::check_galera(const DbSettings& s) {
  std::unique_ptr<sql::Statement> st(d_conn->createStatement());
  std::unique_ptr<sql::ResultSet> rs;
  try {
    rs.reset(st->executeQuery("SELECT @@wsrep_on"));
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() == 1193) return;  // unknown variable: MySQL, not a Galera node
    throw;
  }
  if (!rs->next() || rs->getInt(1) == 0) return;
  d_galera = true;
  // A node outside the primary component, joining or donating would refuse
  // queries (1047) or serve stale rows: try the next server instead.
  rs.reset(st->executeQuery(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment')"));
  std::string ready, state;
  while (rs->next())
    (db_string(*rs, 1) == "wsrep_ready" ? ready : state) = db_string(*rs, 2);
  if (ready != "ON" || state != "Synced")
    throw sql::SQLException(
        format("Galera node not ready (wsrep_ready %s, state %s)", ready.c_str(), state.c_str()),
        "08S01", 1047);
  // Reads (SELECT, SHOW, START TRANSACTION) first wait for the writes the
  // cluster committed before them: a greylist retry or a list entry written
  // through another gateway's node is seen at once.
  if (s.sync_wait) execute("SET SESSION wsrep_sync_wait = 1");
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
    : d_services(services), d_settings(std::move(settings)) {
  db_init_driver();
  for (size_t i = 0; i < d_settings.server_count(); ++i)
    d_backend.push_back("mysql " + d_settings.where(i));
  d_skip_until.assign(d_backend.size(), 0);
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
  log_warn("database %s", what.c_str());  // `what` starts with the server
}

void Database::server_failed(const std::string& what) {
  uint32_t now = d_services.now();
  d_services.breakers().failure(d_backend[d_server], now, what);
  // With somewhere else to go, this worker leaves the server for a
  // cool-down at once (its breaker opens only after several failures).
  if (d_backend.size() > 1)
    d_skip_until[d_server] = now + d_services.config().server.breaker_cooldown_s;
}

bool Database::connect(Deadline deadline, std::string& error) {
  Breakers& breakers = d_services.breakers();
  uint32_t now = d_services.now();
  std::string last;
  // First the servers this worker has not seen fail lately, in order; when
  // none of them works, the others too (better a late answer than none).
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < d_backend.size(); ++i) {
      if ((d_skip_until[i] > now) != (pass == 1)) continue;
      if (!breakers.allow(d_backend[i], now)) continue;
      if (ms_until(deadline) < 20) {
        error = "database: no time left before the request deadline";
        return false;
      }
      d_server = i;
      try {
        d_conn = std::make_unique<DbConnection>(d_settings, i);
        d_skip_until[i] = 0;
        if (i > 0) d_moved_at = now;
        return true;
      } catch (const sql::SQLException& e) {
        last = format("%s: %s (error %d)", d_settings.where(i).c_str(), e.what(), e.getErrorCode());
        server_failed(last);
        log_limited(last);
      }
    }
  }
  error = last.empty() ? "database " + d_settings.where() + " unavailable (circuit breaker open)"
                       : "database error: " + last;
  return false;
}

bool Database::run(Deadline deadline, const Work& work, std::string& error) {
  // Back to the preferred server a cool-down after leaving it (if it is
  // still down, connect() moves on again).
  if (d_conn && d_server > 0 &&
      d_services.now() - d_moved_at >= d_services.config().server.breaker_cooldown_s)
    d_conn.reset();
  bool reconnected = false;
  for (int deadlocks = 0;;) {
    if (ms_until(deadline) < 20) {
      error = "database: no time left before the request deadline";
      return false;
    }
    if (!d_conn && !connect(deadline, error)) return false;
    bool committing = false;
    auto started = SteadyClock::now();
    try {
      work(*d_conn);
      committing = true;
      d_conn->commit();
      d_services.breakers().success(d_backend[d_server], d_services.now());
      return true;
    } catch (const sql::SQLException& e) {
      int code = e.getErrorCode();
      DbFailure kind = classify_db_error(code);
      // "Invalid argument" and friends from the connector carry code 0.
      std::string what =
          format("%s: %s (error %d)", d_settings.where(d_server).c_str(), e.what(), code);
      if (kind == DbFailure::lost || kind == DbFailure::connect) {
        d_conn.reset();  // its statements go with it
        // Reconnect (to this server if it is back at once, else to the
        // next) and retry once when the connection was found dead at once
        // (server restarted or killed, idle timeout, node left the
        // cluster); not after a timeout (a hung server would cost the
        // request another wait), and not when it was lost during the
        // COMMIT (the server may have committed: a retry would do the work
        // twice).
        bool quick = SteadyClock::now() - started < std::chrono::milliseconds(500);
        if (kind == DbFailure::lost && !reconnected && quick && !committing) {
          reconnected = true;
          continue;
        }
        server_failed(what);
        error = "database error: " + what;
        log_limited(what);
        return false;
      }
      d_conn->rollback();
      // A deadlock, or on Galera a certification conflict (another node
      // committed a write to the same rows first): the server rolled the
      // whole transaction back, so running it again counts it once. Under
      // contention from several gateways conflicts come in runs: pause a
      // random few milliseconds so the retries do not meet again.
      if (kind == DbFailure::deadlock && ++deadlocks < k_deadlock_tries &&
          ms_until(deadline) > 100) {
        usleep(static_cast<useconds_t>(1000 + random() % (2000 << std::min(deadlocks, 4))));
        continue;
      }
      error = "database error: " + what;
      log_limited(what);
      return false;
    } catch (const std::exception& e) {
      // Our own consistency checks (e.g. an unexpected row shape).
      if (d_conn) d_conn->rollback();
      error = std::string("database: ") + e.what();
      log_limited(d_settings.where(d_server) + ": " + e.what());
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
  db_init_driver();
  std::string last;
  for (size_t i = 0; i < settings.server_count(); ++i) {
    try {
      return std::make_unique<DbConnection>(settings, i);
    } catch (const sql::SQLException& e) {
      last = format("%s (error %d)", e.what(), e.getErrorCode());
      if (settings.server_count() > 1)
        log_warn("%s: cannot connect to database %s: %s", who, settings.where(i).c_str(),
                 last.c_str());
    }
  }
  failed_pid = getpid();
  failed_at = now;
  log_error(
      "%s: cannot connect to database %s: %s; modules that need it answer 0 until it is "
      "reachable",
      who, settings.where().c_str(), last.c_str());
  return nullptr;
}

std::string db_string(sql::ResultSet& rs, int column) {
  return rs.getString(column).asStdString();
}
bool db_is_null(sql::ResultSet& rs, int column) {
  return rs.isNull(column);
}

}  // namespace ppolicy
