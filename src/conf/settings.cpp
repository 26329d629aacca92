// SPDX-License-Identifier: GPL-2.0-or-later
// The option rows of [ppolicyd], [dns] and [database], each bound to its
// member of ServerSettings, DnsSettings or DbSettings, and the checks
// between keys. A row is the only place of a key's name, default, bounds
// and help: validation, -d, -n, the man-page test and reloads (restart_only)
// all read it.
#include "conf/settings.hpp"

#include <algorithm>
#include <cstdlib>

#include "base/listen_spec.hpp"
#include "base/strings.hpp"
#include "proto/action.hpp"

namespace ppolicy {
namespace {

bool store_default_action(void* obj, const OptValue& v, std::string* why) {
  auto act = parse_plain_action(v.text, why);
  if (act) static_cast<ServerSettings*>(obj)->default_action = *act;
  return act.has_value();
}

bool store_facility(void* obj, const OptValue& v, std::string* why) {
  int fac = syslog_facility(v.text);
  if (fac < 0)
    return *why = format("unknown facility \"%s\" (mail, daemon, user, local0..local7)",
                         v.text.c_str()),
           false;
  static_cast<ServerSettings*>(obj)->log.facility = fac;
  return true;
}

bool store_syslog_name(void* obj, const OptValue& v, std::string*) {
  static_cast<ServerSettings*>(obj)->log.ident = v.text;
  return true;
}

bool store_log_level(void* obj, const OptValue& v, std::string*) {
  static const LogLevel levels[] = {LogLevel::error, LogLevel::warning, LogLevel::info,
                                    LogLevel::debug};
  static const char* const names[] = {"error", "warning", "info", "debug"};
  for (int i = 0; i < 4; ++i)
    if (v.text == names[i]) static_cast<ServerSettings*>(obj)->log.level = levels[i];
  return true;  // the row's choices already refused anything else
}

bool store_stats_allow(void* obj, const OptValue& v, std::string* why) {
  NetSet set;
  for (const auto& n : v.list) {
    auto net = IpNetwork::parse(n);
    if (!net) return *why = format("\"%s\" is not an address or network", n.c_str()), false;
    set.nets.push_back(*net);
  }
  static_cast<ServerSettings*>(obj)->stats_allow = std::move(set);
  return true;
}

bool store_socket_mode(void* obj, const OptValue& v, std::string* why) {
  char* end = nullptr;
  unsigned long m = std::strtoul(v.text.c_str(), &end, 8);
  if (v.text.empty() || *end || m > 07777)
    return *why = format("\"%s\" is not an octal mode such as 0660", v.text.c_str()), false;
  static_cast<ServerSettings*>(obj)->unix_socket_mode = static_cast<unsigned>(m);
  return true;
}

bool store_nameservers(void* obj, const OptValue& v, std::string* why) {
  for (const auto& s : v.list)
    if (!IpAddress::parse(s)) return *why = format("\"%s\" is not an IP address", s.c_str()), false;
  if (v.list.size() > k_max_nameservers)
    return *why = format("at most %zu servers", k_max_nameservers), false;
  static_cast<DnsSettings*>(obj)->nameservers = v.list;
  return true;
}

bool store_db_host(void* obj, const OptValue& v, std::string* why) {
  auto* db = static_cast<DbSettings*>(obj);
  if (!parse_db_servers(v.text, db->servers, why)) return false;
  db->host = v.text;
  return true;
}

// clang-format off
const Option k_server[] = {
    {.name = "listen", .type = OptType::list, .def = "inet:127.0.0.1:10030", .help = "policy listeners: inet:HOST:PORT, inet:[IPV6]:PORT or unix:/PATH (several allowed)", .store = bind<&ServerSettings::listen>(), .restart_only = true},
    {.name = "user", .type = OptType::string, .def = "ppolicy", .help = "user to run as after binding the listeners (when started as root)", .store = bind<&ServerSettings::user>(), .restart_only = true},
    {.name = "group", .type = OptType::string, .def = "", .help = "group to run as (empty: the user's primary group)", .store = bind<&ServerSettings::group>(), .restart_only = true},
    {.name = "pid_file", .type = OptType::string, .def = "/run/ppolicyd/ppolicyd.pid", .help = "pid file of the master process (empty: none)", .store = bind<&ServerSettings::pid_file>(), .restart_only = true},
    {.name = "state_dir", .type = OptType::string, .def = "/var/lib/ppolicy", .help = "directory of the state file; created and given to the user at start", .store = bind<&ServerSettings::state_dir>(), .restart_only = true},
    {.name = "state_file", .type = OptType::string, .def = "ppolicyd.state", .help = "snapshot of the shared memory (caches, counters), relative to state_dir (empty: none)", .store = bind<&ServerSettings::state_file>(), .restart_only = true},
    {.name = "min_workers", .type = OptType::integer, .def = "4", .help = "worker processes kept running even when idle", .min = 1, .max = 10000, .store = bind<&ServerSettings::min_workers>()},
    {.name = "max_workers", .type = OptType::integer, .def = "1000", .help = "most worker processes (about 130 kB of private memory each); should cover every Postfix smtpd process that connects", .min = 1, .max = 10000, .store = bind<&ServerSettings::max_workers>()},
    {.name = "max_requests", .type = OptType::integer, .def = "100000", .help = "a worker is replaced after this many requests (0: never)", .min = 0, .store = bind<&ServerSettings::max_requests>()},
    {.name = "worker_max_idle", .type = OptType::duration, .def = "60s", .help = "a worker above min_workers exits after waiting this long for a connection", .min = 1, .store = bind<&ServerSettings::worker_max_idle_s>()},
    {.name = "idle_timeout", .type = OptType::duration, .def = "330s", .help = "close a client connection idle this long (keep above smtpd_policy_service_max_idle)", .min = 1, .store = bind<&ServerSettings::idle_timeout_s>()},
    {.name = "request_timeout", .type = OptType::millis, .def = "10s", .help = "longest evaluation of one request; then default_action answers", .min = 100, .max = 3600000, .store = bind<&ServerSettings::request_timeout_ms>()},
    {.name = "request_read_timeout", .type = OptType::millis, .def = "10s", .help = "a request must arrive whole this long after its first byte, else the connection is closed " "(Postfix sends a request in one write; slow senders only hold a worker)", .min = 100, .max = 3600000, .store = bind<&ServerSettings::request_read_timeout_ms>()},
    {.name = "default_action", .type = OptType::string, .def = "DUNNO", .help = "answer when the policy cannot be evaluated in time or fails", .store = store_default_action},
    {.name = "max_line_length", .type = OptType::size, .def = "8k", .help = "longest request line; longer: the connection is closed", .min = 256, .max = 16 * 1024 * 1024, .store = bind<&ServerSettings::max_line_length>()},
    {.name = "max_request_size", .type = OptType::size, .def = "64k", .help = "largest request; larger: the connection is closed", .min = 1024, .max = 64 * 1024 * 1024, .store = bind<&ServerSettings::max_request_size>()},
    {.name = "max_attributes", .type = OptType::integer, .def = "1024", .help = "most attributes in one request; more: the connection is closed", .min = 16, .max = 1000000, .store = bind<&ServerSettings::max_attributes>()},
    {.name = "log", .type = OptType::choice, .def = "auto", .help = "where to log: syslog, stderr, or auto (stderr with -f, else syslog)", .choices = "auto|syslog|stderr", .store = bind<&ServerSettings::log_mode>()},
    {.name = "syslog_facility", .type = OptType::string, .def = "mail", .help = "syslog facility", .store = store_facility},
    {.name = "syslog_name", .type = OptType::string, .def = "ppolicyd", .help = "syslog identifier", .store = store_syslog_name},
    {.name = "log_level", .type = OptType::choice, .def = "info", .help = "least severe messages logged", .choices = "error|warning|info|debug", .store = store_log_level},
    {.name = "log_decisions", .type = OptType::boolean, .def = "yes", .help = "log one line per decision", .store = bind<&ServerSettings::log_decisions>()},
    {.name = "shadow_budget", .type = OptType::millis, .def = "20ms", .help = "time a shadow policy may spend on modules the live policy did not run (after the reply was sent)", .max = 10000, .store = bind<&ServerSettings::shadow_budget_ms>()},
    {.name = "policy_tests", .type = OptType::list, .def = "", .help = "files of policy tests (expected decisions) run at every start, -t and reload; a failing test is a configuration error (relative names: next to this file)", .store = bind<&ServerSettings::policy_tests>()},
    {.name = "cache_size", .type = OptType::size, .def = "32M", .help = "shared memory for the module result cache", .min = 65536, .store = bind<&ServerSettings::cache_size>(), .restart_only = true},
    {.name = "records_size", .type = OptType::size, .def = "16M", .help = "shared memory for DOS, Trap, Greylist (store = shm) and circuit-breaker records", .min = 65536, .store = bind<&ServerSettings::records_size>(), .restart_only = true},
    {.name = "reclaim_idle", .type = OptType::millis, .def = "10s", .help = "when every worker holds a connection and a new one waits, a connection idle this long between requests is closed for it (longest idle first; Postfix reconnects after 1s); halved while connections still wait, down to 250ms", .min = 250, .max = 3600000, .store = bind<&ServerSettings::reclaim_idle_ms>()},
    {.name = "first_byte_timeout", .type = OptType::millis, .def = "1s", .help = "when every worker holds a connection and a new one waits, a connection that has not sent a byte this long is closed first", .min = 200, .max = 3600000, .store = bind<&ServerSettings::first_byte_timeout_ms>()},
    {.name = "stats_listen", .type = OptType::string, .def = "", .help = "HOST:PORT of the Prometheus statistics listener, GET /metrics (empty: none)", .store = bind<&ServerSettings::stats_listen>(), .restart_only = true},
    {.name = "stats_allow", .type = OptType::list, .def = "127.0.0.0/8, ::1", .help = "networks that may read the statistics; a stats_listen address that is not loopback needs " "a non-loopback network here", .store = store_stats_allow},
    {.name = "maintenance_interval", .type = OptType::duration, .def = "300s", .help = "how often expired records are removed (shared memory and database)", .min = 10, .store = bind<&ServerSettings::maintenance_interval_s>()},
    {.name = "unix_socket_mode", .type = OptType::string, .def = "0666", .help = "permissions of unix: listener sockets (octal)", .store = store_socket_mode},
    {.name = "unix_socket_group", .type = OptType::string, .def = "", .help = "group of unix: listener sockets (empty: the daemon's group)", .store = bind<&ServerSettings::unix_socket_group>()},
    {.name = "control_socket", .type = OptType::string, .def = "control", .help = "unix socket of the live state commands (ppolicyd -C), mode 0660, group: the daemon's; only root and the daemon's group may use it (a relative path is in the pid file's directory; empty: none)", .store = bind<&ServerSettings::control_socket>(), .restart_only = true},
    {.name = "breaker_failures", .type = OptType::integer, .def = "5", .help = "consecutive failures of a backend that open its circuit breaker", .min = 1, .max = 1000, .store = bind<&ServerSettings::breaker_failures>()},
    {.name = "breaker_cooldown", .type = OptType::duration, .def = "30s", .help = "how long a backend with an open breaker is skipped before it is tried again", .min = 1, .store = bind<&ServerSettings::breaker_cooldown_s>()},
    {.name = "stop_timeout", .type = OptType::duration, .def = "10s", .help = "on stop, how long workers may finish their requests before they are killed", .min = 1, .store = bind<&ServerSettings::stop_timeout_s>()},
};

const Option k_dns[] = {
    {.name = "nameservers", .type = OptType::list, .def = "", .help = "DNS servers to ask (IPv4 or IPv6 addresses, at most 6); empty: the nameserver lines of /etc/resolv.conf", .store = store_nameservers},
    {.name = "port", .type = OptType::integer, .def = "53", .help = "port of the DNS servers", .min = 1, .max = 65535, .store = bind<&DnsSettings::port>()},
    {.name = "timeout", .type = OptType::millis, .def = "2s", .help = "longest wait for the lookups of one module step, sent together (also bounded by the request deadline)", .min = 50, .max = 60000, .store = bind<&DnsSettings::timeout_ms>()},
    {.name = "prefetch", .type = OptType::boolean, .def = "yes", .help = "when a request first needs DNS, ask the first questions of every DNS module the policy may still run for it in one batch (one round trip instead of one per module)", .store = bind<&DnsSettings::prefetch>()},
};

const Option k_database[] = {
    {.name = "host", .type = OptType::string, .def = "127.0.0.1", .help = "MySQL/MariaDB servers in order of preference: HOST[:PORT], [IPV6]:PORT or /SOCKET, comma-separated (several: nodes of one Galera cluster; a worker fails over to the next and returns after breaker_cooldown)", .store = store_db_host},
    {.name = "port", .type = OptType::integer, .def = "3306", .help = "port of the servers in host that name none", .min = 1, .max = 65535, .store = bind<&DbSettings::port>()},
    {.name = "socket", .type = OptType::string, .def = "", .help = "unix socket of the server (used instead of host and port when set; a socket in a list goes in host)", .store = bind<&DbSettings::socket>()},
    {.name = "user", .type = OptType::string, .def = "ppolicy", .help = "database user", .store = bind<&DbSettings::user>()},
    {.name = "password", .type = OptType::string, .def = "", .help = "password of the database user", .store = bind<&DbSettings::password>()},
    {.name = "database", .type = OptType::string, .def = "ppolicy", .help = "database (schema) name", .store = bind<&DbSettings::database>()},
    {.name = "connect_timeout", .type = OptType::duration, .def = "2s", .help = "longest wait for a connection", .min = 1, .max = 600, .store = bind<&DbSettings::connect_timeout>()},
    {.name = "read_timeout", .type = OptType::duration, .def = "2s", .help = "longest wait for a statement's answer (the client library may retry: up to 3 times this); also the " "longest wait for a locked row", .min = 1, .max = 600, .store = bind<&DbSettings::read_timeout>()},
    {.name = "write_timeout", .type = OptType::duration, .def = "2s", .help = "longest wait to send a statement", .min = 1, .max = 600, .store = bind<&DbSettings::write_timeout>()},
    {.name = "create_tables", .type = OptType::boolean, .def = "yes", .help = "create missing tables (at start and by the maintenance process); no: only report them", .store = bind<&DbSettings::create_tables>()},
    {.name = "sync_wait", .type = OptType::boolean, .def = "yes", .help = "on a Galera node: reads wait until the node has applied every write committed anywhere in the cluster before they started (wsrep_sync_wait = 1), so a gateway sees another's greylist or list write at once", .store = bind<&DbSettings::sync_wait>()},
};
// clang-format on

bool is_loopback(const IpAddress& a) {
  static const NetSet k_loopback{{*IpNetwork::parse("127.0.0.0/8"), *IpNetwork::parse("::1")}};
  return k_loopback.contains(a);
}

}  // namespace

std::span<const Option> server_options() {
  return k_server;
}
std::span<const Option> dns_options() {
  return k_dns;
}
std::span<const Option> database_options() {
  return k_database;
}

bool parse_db_servers(const std::string& text, std::vector<DbServer>& out, std::string* why) {
  std::vector<DbServer> list;
  for (const std::string& item : split(text, ",")) {  // pieces come trimmed, empty ones dropped
    DbServer s;
    std::string port;
    if (item[0] == '/') {
      s.socket = item;
    } else if (item[0] == '[') {  // [IPV6] or [IPV6]:PORT
      size_t close = item.find(']');
      if (close == std::string::npos || (close + 1 < item.size() && item[close + 1] != ':'))
        return *why = format("\"%s\": expected [IPV6]:PORT", item.c_str()), false;
      s.host = item.substr(1, close - 1);
      if (close + 1 < item.size()) port = item.substr(close + 2);
    } else if (std::count(item.begin(), item.end(), ':') > 1) {
      s.host = item;  // a bare IPv6 address: no port
    } else {
      size_t colon = item.find(':');
      s.host = item.substr(0, colon);
      if (colon != std::string::npos) port = item.substr(colon + 1);
    }
    if (s.socket.empty() && (s.host.empty() || s.host.find_first_of(" \t/") != std::string::npos))
      return *why = format("\"%s\" is not HOST[:PORT]", item.c_str()), false;
    if (!s.socket.empty() || port.empty()) {
      list.push_back(s);
      continue;
    }
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (*end || p < 1 || p > 65535)
      return *why = format("\"%s\": bad port \"%s\"", item.c_str(), port.c_str()), false;
    s.port = static_cast<int>(p);
    list.push_back(s);
  }
  if (list.empty()) return *why = "no server", false;
  out = std::move(list);
  return true;
}

size_t DbSettings::server_count() const {
  return socket.empty() ? servers.size() : 1;
}

std::string DbSettings::endpoint(size_t i) const {
  if (!socket.empty()) return "unix://" + socket;
  const DbServer& s = servers.at(i);
  if (!s.socket.empty()) return "unix://" + s.socket;
  bool v6 = s.host.find(':') != std::string::npos;
  return format(v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", s.host.c_str(), s.port ? s.port : port);
}

std::string DbSettings::where(size_t i) const {
  std::string e = endpoint(i);
  return e.substr(e.find("://") + 3) + "/" + database;
}

std::string DbSettings::where() const {
  std::string all;
  for (size_t i = 0; i < server_count(); ++i) {
    std::string e = endpoint(i);
    all += (i ? "," : "") + e.substr(e.find("://") + 3);
  }
  return all + "/" + database;
}

void settle_server(ServerSettings& s, const OptionValues& o, ErrorList& errors) {
  auto err = [&](const char* key, const std::string& msg) {
    errors.add(o.file(), o.line(key), format("[ppolicyd] \"%s\": %s", key, msg.c_str()));
  };
  auto good = [&](const char* key) { return !o.get(key).bad; };
  if (good("listen")) {
    if (s.listen.empty()) err("listen", "at least one listener is required");
    for (const auto& l : s.listen) {
      std::string why;
      if (!ListenSpec::parse(l, &why)) err("listen", why);
    }
  }
  if (!s.state_file.empty() && s.state_file[0] != '/') {
    if (s.state_dir.empty())
      err("state_file", "relative path needs state_dir");
    else
      s.state_file = s.state_dir + "/" + s.state_file;
  }
  if (good("min_workers") && good("max_workers") && s.min_workers > s.max_workers)
    err("min_workers", "is larger than max_workers");
  if (!s.control_socket.empty() && s.control_socket[0] != '/') {
    // Next to the pid file (root's /run/ppolicyd by default); without a pid
    // file there is no directory to put a relative name in: no socket.
    auto slash = s.pid_file.rfind('/');
    s.control_socket = slash == std::string::npos || s.pid_file.empty()
                           ? std::string()
                           : s.pid_file.substr(0, slash + 1) + s.control_socket;
  }
  if (!s.stats_listen.empty()) {
    // The statistics have no authentication: serving them beyond this host
    // must be a decision written in stats_allow, not an accident.
    std::string why;
    bool allow_remote = false;
    for (const auto& net : s.stats_allow.nets)
      allow_remote = allow_remote || !is_loopback(net.base);
    auto spec = ListenSpec::parse("inet:" + s.stats_listen, &why);
    if (!spec)
      err("stats_listen", why);
    else if (!is_loopback(*IpAddress::parse(spec->host)) && !allow_remote)
      err("stats_listen",
          format("%s is not a loopback address: the statistics have no authentication; "
                 "list the networks that may read them in stats_allow",
                 spec->host.c_str()));
  }
}

}  // namespace ppolicy
