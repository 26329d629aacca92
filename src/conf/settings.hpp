// SPDX-License-Identifier: GPL-2.0-or-later
// The settings of the fixed sections: [ppolicyd] (the server), [dns] and
// [database], as typed structs. Each member is filled by exactly one option
// row (settings.cpp), which holds its name, default, bounds and help: the
// struct has no defaults of its own, so there is one default, in the row.
// Module parameters live with each module; policy sections are statements
// (policy/compile.cpp).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "base/net.hpp"
#include "conf/option.hpp"

namespace ppolicy {

struct ServerSettings {
  std::vector<std::string> listen;
  std::string user, group, pid_file, state_dir;
  std::string state_file;  // full path (state_dir joined) or ""
  int min_workers, max_workers;
  long max_requests;
  long worker_max_idle_s, idle_timeout_s, stop_timeout_s;
  long request_timeout_ms;
  long request_read_timeout_ms;  // first byte to last byte of one request
  long reclaim_idle_ms;          // pool full: a connection idle this long may be reclaimed
  long first_byte_timeout_ms;    // pool full: a connection silent this long is cut
  std::string default_action;    // validated reply text ("DUNNO", "DEFER_IF_PERMIT Service ...")
  size_t max_line_length, max_request_size;
  long max_attributes;
  std::string log_mode;  // auto, syslog, stderr
  LogTarget log;
  bool log_decisions;
  long shadow_budget_ms;                  // new module calls of shadow policies
  std::vector<std::string> policy_tests;  // files of expected decisions, run at every load
  size_t cache_size, records_size;
  std::string stats_listen;  // HOST:PORT or ""
  NetSet stats_allow;
  long maintenance_interval_s;
  unsigned unix_socket_mode;
  std::string unix_socket_group;
  std::string control_socket;  // path of the local control socket (ppolicyd -C) or ""
  long breaker_failures, breaker_cooldown_s;
};

struct DnsSettings {
  std::vector<std::string> nameservers;  // addresses; empty: /etc/resolv.conf
  int port;
  long timeout_ms;
  bool prefetch;  // send the first questions of every DNS module a request may still run together
};

// One server of `[database] host`: HOST[:PORT] ([IPV6]:PORT) or a unix
// socket path (starting with '/'). Port 0: the `port` key.
struct DbServer {
  std::string host;
  int port = 0;
  std::string socket;
};

struct DbSettings {
  std::string host;               // the key's text
  std::vector<DbServer> servers;  // parsed from it, in order of preference
  int port;
  std::string socket, user, password, database;
  int connect_timeout, read_timeout, write_timeout;
  bool create_tables;
  bool sync_wait;

  // The servers to try, in order: `socket` alone when set, else `servers`.
  size_t server_count() const;
  // "tcp://127.0.0.1:3306" or "unix:///run/mysqld/mysqld.sock".
  std::string endpoint(size_t i) const;
  // "127.0.0.1:3306/ppolicy" or "/run/mysqld/mysqld.sock/ppolicy": for
  // messages and as that server's circuit breaker's name.
  std::string where(size_t i) const;
  // Every server: "a:3306,b:3306/ppolicy".
  std::string where() const;
};

// Parses a `[database] host` value: comma-separated servers, blanks around
// them ignored. False with `why` on an empty or malformed entry.
bool parse_db_servers(const std::string& text, std::vector<DbServer>& out, std::string* why);

std::span<const Option> server_options();    // [ppolicyd]
std::span<const Option> dns_options();       // [dns]
std::span<const Option> database_options();  // [database]

// Checks between keys of [ppolicyd] once every value is stored (min_workers
// against max_workers, state_file against state_dir, ...). Keys whose own
// value was refused are not checked again.
void settle_server(ServerSettings& s, const OptionValues& o, ErrorList& errors);

// At most this many [dns] nameservers (udns' DNS_MAXSERV).
inline constexpr size_t k_max_nameservers = 6;

}  // namespace ppolicy
