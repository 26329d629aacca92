// SPDX-License-Identifier: GPL-2.0-or-later
// The statistics listener ([ppolicyd] stats_listen): HTTP GET /metrics in
// Prometheus text format, served from the master's event loop (libevent
// bufferevents; one request per connection, then close). The master binds
// it before dropping privileges (like the policy listeners) and attaches it
// to its event base afterwards; workers only close their inherited copies.
// Every request's peer must be in stats_allow (403 otherwise); only GET and
// HEAD are answered. It has no authentication and no TLS: keep it on
// loopback, or behind an allow list. It does not compute any statistic
// itself (see stats_report.cpp).
//
// The master must never spin nor run out of descriptors here: at most
// k_max_stats_connections are open at once (more are closed at accept), a
// connection lives at most 10 s, and when accept() fails for want of
// descriptors (EMFILE, ENFILE) accepting pauses until a statistics
// connection closes or a second has passed, with one log line a minute at
// most (the failure that made it spin at 100% CPU).
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "base/clock.hpp"
#include "base/net.hpp"

struct event;
struct event_base;
struct evconnlistener;
struct bufferevent;
struct sockaddr;

namespace ppolicy {

inline constexpr size_t k_max_stats_connections = 32;

class StatsHttp {
 public:
  // Master, privileged: bind and listen on `host_port` ("127.0.0.1:9100",
  // "[::1]:9100"). Throws std::runtime_error naming the listener.
  StatsHttp(const std::string& host_port, NetSet allow);
  ~StatsHttp();
  StatsHttp(const StatsHttp&) = delete;
  StatsHttp& operator=(const StatsHttp&) = delete;

  // Master, after its event base exists: serve requests with `render`
  // producing the exposition text. `on_refused` counts a connection closed
  // at once (the cap was reached).
  void attach(event_base* base, std::function<std::string()> render,
              std::function<void()> on_refused);
  // A forked child (worker, maintenance): close the inherited sockets only.
  void close_in_child();
  // Master, on reload: stats_allow may change (stats_listen may not).
  void set_allow(NetSet allow) { d_allow = std::move(allow); }
  const std::string& where() const { return d_where; }
  size_t connections() const { return d_conns.size(); }

 private:
  struct Conn;
  static void on_accept(evconnlistener* l, int fd, ::sockaddr* sa, int len, void* arg);
  static void on_accept_error(evconnlistener* l, void* arg);
  static void on_resume(int fd, short what, void* arg);
  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_error(bufferevent* bev, short what, void* arg);
  void answer(Conn* c, const std::string& method, const std::string& path);
  void drop(Conn* c);
  void resume();

  std::string d_where;
  NetSet d_allow;
  int d_fd = -1;
  evconnlistener* d_listener = nullptr;
  event* d_resume = nullptr;
  bool d_paused = false;  // accept() failed for want of descriptors
  std::set<Conn*> d_conns;
  std::function<std::string()> d_render;
  std::function<void()> d_on_refused;
  SteadyClock::time_point d_warned{};
  long d_failed_accepts = 0;  // since the last warning
};

}  // namespace ppolicy
