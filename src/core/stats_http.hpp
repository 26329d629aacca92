// SPDX-License-Identifier: GPL-2.0-or-later
// The statistics listener ([ppolicyd] stats_listen): HTTP GET /metrics in
// Prometheus text format, served by libevent's evhttp from the master's
// event loop. The master binds it before dropping privileges (like the
// policy listeners) and attaches it to its event base afterwards; workers
// only close their inherited copy. Every request's peer must be in
// stats_allow (403 otherwise); only GET and HEAD are answered. It has no
// authentication and no TLS: keep it on loopback, or behind an allow list.
// It does not compute any statistic itself (see stats_report.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/net.hpp"

struct event_base;
struct evhttp;
struct evhttp_request;

namespace ppolicy {

class StatsHttp {
 public:
  // Master, privileged: bind and listen on `host_port` ("127.0.0.1:9100",
  // "[::1]:9100"). Throws std::runtime_error naming the listener.
  StatsHttp(const std::string& host_port, NetSet allow);
  ~StatsHttp();
  StatsHttp(const StatsHttp&) = delete;
  StatsHttp& operator=(const StatsHttp&) = delete;

  // Master, after its event base exists: serve requests with `render`
  // producing the exposition text.
  void attach(event_base* base, std::function<std::string()> render);
  // A forked child (worker, maintenance): close the inherited socket only.
  void close_in_child();
  // Master, on reload: stats_allow may change (stats_listen may not).
  void set_allow(NetSet allow) { d_allow = std::move(allow); }
  const std::string& where() const { return d_where; }

 private:
  static void on_request(::evhttp_request* req, void* arg);

  std::string d_where;
  NetSet d_allow;
  int d_fd = -1;
  evhttp* d_http = nullptr;
  std::function<std::string()> d_render;
};

}  // namespace ppolicy
