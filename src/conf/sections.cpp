// SPDX-License-Identifier: GPL-2.0-or-later
#include "conf/sections.hpp"

namespace ppolicy {
namespace {

// clang-format off
const Option k_server[] = {
  {"listen", OptType::list, "inet:127.0.0.1:10030",
   "policy listeners: inet:HOST:PORT, inet:[IPV6]:PORT or unix:/PATH (several allowed)"},
  {"user", OptType::string, "nobody", "user to run as after binding the listeners (when started as root)"},
  {"group", OptType::string, "", "group to run as (empty: the user's primary group)"},
  {"pid_file", OptType::string, "/run/ppolicyd/ppolicyd.pid", "pid file of the master process (empty: none)"},
  {"state_dir", OptType::string, "/var/lib/ppolicy",
   "directory of the state file; created and given to the user at start"},
  {"state_file", OptType::string, "ppolicyd.state",
   "snapshot of the shared memory (caches, counters), relative to state_dir (empty: none)"},
  {"min_workers", OptType::integer, "4", "worker processes kept running even when idle", nullptr, 1, 10000},
  {"max_workers", OptType::integer, "500",
   "most worker processes; must cover every Postfix smtpd process that connects", nullptr, 1, 10000},
  {"max_requests", OptType::integer, "10000",
   "a worker is replaced after this many requests (0: never)", nullptr, 0},
  {"worker_max_idle", OptType::duration, "60s",
   "a worker above min_workers exits after waiting this long for a connection", nullptr, 1},
  {"idle_timeout", OptType::duration, "330s",
   "close a client connection idle this long (keep above smtpd_policy_service_max_idle)", nullptr, 1},
  {"request_timeout", OptType::millis, "10s",
   "longest evaluation of one request; then default_action answers", nullptr, 100, 3600000},
  {"request_read_timeout", OptType::millis, "10s",
   "a request must arrive whole this long after its first byte, else the connection is closed "
   "(Postfix sends a request in one write; slow senders only hold a worker)", nullptr, 100, 3600000},
  {"default_action", OptType::string, "DUNNO",
   "answer when the policy cannot be evaluated in time or fails"},
  {"max_line_length", OptType::size, "8k", "longest request line; longer: the connection is closed",
   nullptr, 256, 16 * 1024 * 1024},
  {"max_request_size", OptType::size, "64k", "largest request; larger: the connection is closed",
   nullptr, 1024, 64 * 1024 * 1024},
  {"max_attributes", OptType::integer, "1024", "most attributes in one request; more: the connection is closed",
   nullptr, 16, 1000000},
  {"log", OptType::choice, "auto", "where to log: syslog, stderr, or auto (stderr with -f, else syslog)",
   "auto|syslog|stderr"},
  {"syslog_facility", OptType::string, "mail", "syslog facility"},
  {"syslog_name", OptType::string, "ppolicyd", "syslog identifier"},
  {"log_level", OptType::choice, "info", "least severe messages logged", "error|warning|info|debug"},
  {"log_decisions", OptType::boolean, "yes", "log one line per decision"},
  {"cache_size", OptType::size, "32M", "shared memory for the module result cache", nullptr, 65536},
  {"records_size", OptType::size, "16M",
   "shared memory for DOS, Trap, Greylist (store = shm) and circuit-breaker records", nullptr, 65536},
  {"stats_listen", OptType::string, "",
   "HOST:PORT of the Prometheus statistics listener, GET /metrics (empty: none)"},
  {"stats_allow", OptType::list, "127.0.0.0/8, ::1",
   "networks that may read the statistics; a stats_listen address that is not loopback needs "
   "a non-loopback network here"},
  {"maintenance_interval", OptType::duration, "300s",
   "how often expired records are removed (shared memory and database)", nullptr, 10},
  {"unix_socket_mode", OptType::string, "0666", "permissions of unix: listener sockets (octal)"},
  {"unix_socket_group", OptType::string, "", "group of unix: listener sockets (empty: the daemon's group)"},
  {"breaker_failures", OptType::integer, "5",
   "consecutive failures of a backend that open its circuit breaker", nullptr, 1, 1000},
  {"breaker_cooldown", OptType::duration, "30s",
   "how long a backend with an open breaker is skipped before it is tried again", nullptr, 1},
  {"stop_timeout", OptType::duration, "10s",
   "on stop, how long workers may finish their requests before they are killed", nullptr, 1},
};

const Option k_dns[] = {
  {"nameservers", OptType::list, "",
   "DNS servers to ask (IPv4 or IPv6 addresses, at most 6); empty: the nameserver lines of /etc/resolv.conf"},
  {"port", OptType::integer, "53", "port of the DNS servers", nullptr, 1, 65535},
  {"timeout", OptType::millis, "2s",
   "longest wait for the lookups of one module step, sent together (also bounded by the request deadline)",
   nullptr, 50, 60000},
};

const Option k_database[] = {
  {"host", OptType::string, "127.0.0.1", "MySQL/MariaDB server (name or address)"},
  {"port", OptType::integer, "3306", "server port", nullptr, 1, 65535},
  {"socket", OptType::string, "", "unix socket of the server (used instead of host and port when set)"},
  {"user", OptType::string, "ppolicy", "database user"},
  {"password", OptType::string, "", "password of the database user"},
  {"database", OptType::string, "ppolicy", "database (schema) name"},
  {"connect_timeout", OptType::duration, "2s", "longest wait for a connection", nullptr, 1, 600},
  {"read_timeout", OptType::duration, "2s",
   "longest wait for a statement's answer (the client library may retry: up to 3 times this); also the "
   "longest wait for a locked row", nullptr, 1, 600},
  {"write_timeout", OptType::duration, "2s", "longest wait to send a statement", nullptr, 1, 600},
  {"create_tables", OptType::boolean, "yes",
   "create missing tables (at start and by the maintenance process); no: only report them"},
};
// clang-format on

}  // namespace

std::span<const Option> server_options() { return k_server; }
std::span<const Option> dns_options() { return k_dns; }
std::span<const Option> database_options() { return k_database; }

}  // namespace ppolicy
