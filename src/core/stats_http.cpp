// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/stats_http.hpp"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "core/listener.hpp"

namespace ppolicy {

StatsHttp::StatsHttp(const std::string& host_port, NetSet allow) : d_allow(std::move(allow)) {
  std::vector<Listener> listeners;
  try {
    listeners = bind_listeners({"inet:" + host_port}, 0, static_cast<gid_t>(-1));
  } catch (const std::exception& e) {
    throw std::runtime_error(format("stats_listen %s", e.what()));
  }
  d_fd = listeners.front().fd;
  d_where = host_port;
}

StatsHttp::~StatsHttp() {
  // evhttp_free closes the sockets it accepted on.
  if (d_http)
    evhttp_free(d_http);
  else if (d_fd >= 0)
    close(d_fd);
}

void StatsHttp::close_in_child() {
  // The child never runs the master's event loop: drop the socket, leave
  // the (copied) evhttp structures alone.
  if (d_fd >= 0) close(d_fd);
  d_fd = -1;
  d_http = nullptr;
}

void StatsHttp::attach(event_base* base, std::function<std::string()> render) {
  d_render = std::move(render);
  d_http = evhttp_new(base);
  if (!d_http) throw std::runtime_error("stats_listen: evhttp_new failed");
  // A scraper sends a small GET; anything large or slow is not one.
  evhttp_set_timeout(d_http, 10);
  evhttp_set_max_headers_size(d_http, 16384);
  evhttp_set_max_body_size(d_http, 1024);
  evhttp_set_allowed_methods(d_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(d_http, on_request, this);
  if (!evhttp_accept_socket_with_handle(d_http, d_fd))
    throw std::runtime_error(format("stats_listen %s: cannot serve HTTP", d_where.c_str()));
}

void StatsHttp::on_request(evhttp_request* req, void* arg) {
  auto* self = static_cast<StatsHttp*>(arg);
  char* peer = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
  std::string who = peer ? peer : "";
  // evhttp reports IPv6 peers as plain text without brackets.
  if (!self->d_allow.contains(who)) {
    log_warn("stats_listen %s: refused %s (not in stats_allow)", self->d_where.c_str(),
             log_quote(who, 60).c_str());
    evhttp_send_error(req, 403, "Forbidden");
    return;
  }
  const char* uri = evhttp_request_get_uri(req);
  std::string path = uri ? uri : "";
  path = path.substr(0, path.find('?'));
  evbuffer* body = evbuffer_new();
  if (!body) {
    evhttp_send_error(req, 500, "Internal Server Error");
    return;
  }
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  if (path == "/metrics") {
    std::string text = self->d_render();
    evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    evbuffer_add(body, text.data(), text.size());
    evhttp_send_reply(req, 200, "OK", body);
  } else if (path == "/") {
    static const char k_index[] = "ppolicyd statistics: GET /metrics (Prometheus text format)\n";
    evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
    evbuffer_add(body, k_index, sizeof k_index - 1);
    evhttp_send_reply(req, 200, "OK", body);
  } else {
    evhttp_send_error(req, 404, "Not Found");
  }
  evbuffer_free(body);
}

}  // namespace ppolicy
