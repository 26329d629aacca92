// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/stats_http.hpp"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "core/listener.hpp"

namespace ppolicy {

namespace {

constexpr size_t k_max_request = 16384;  // a scraper sends a small GET
constexpr int k_conn_timeout_s = 10;

std::string peer_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

struct StatsHttp::Conn {
  StatsHttp* owner;
  bufferevent* bev;
  int fd;
  std::string peer;
  bool answered = false;
};

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
  while (!d_conns.empty())
    drop(*d_conns.begin());
  if (d_resume) event_free(d_resume);
  if (d_listener)
    evconnlistener_free(d_listener);  // closes d_fd (LEV_OPT_CLOSE_ON_FREE)
  else if (d_fd >= 0)
    close(d_fd);
}

void StatsHttp::close_in_child() {
  // The child never runs the master's event loop: close the sockets, leave
  // the (copied) libevent structures alone. The connections are closed too:
  // a worker must not keep a scraper's socket open for its whole life.
  if (d_fd >= 0) close(d_fd);
  for (Conn* c : d_conns)
    close(c->fd);
  d_fd = -1;
  d_listener = nullptr;
  d_resume = nullptr;
  d_conns.clear();  // leaked in the child on purpose: its bufferevents are the master's
}

void StatsHttp::attach(event_base* base, std::function<std::string()> render,
                       std::function<void()> on_refused) {
  d_render = std::move(render);
  d_on_refused = std::move(on_refused);
  // Backlog 0: the socket already listens (1024); -1 would shrink it to 128.
  d_listener = evconnlistener_new(base, on_accept, this,
                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, d_fd);
  if (!d_listener)
    throw std::runtime_error(format("stats_listen %s: cannot serve HTTP", d_where.c_str()));
  evconnlistener_set_error_cb(d_listener, on_accept_error);
  d_resume = evtimer_new(base, on_resume, this);
}

void StatsHttp::on_accept(evconnlistener* l, int fd, sockaddr* sa, int, void* arg) {
  auto* self = static_cast<StatsHttp*>(arg);
  evutil_make_socket_closeonexec(fd);
  if (self->d_conns.size() >= k_max_stats_connections) {
    close(fd);
    if (self->d_on_refused) self->d_on_refused();
    return;
  }
  bufferevent* bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    close(fd);
    return;
  }
  auto* c = new Conn{self, bev, fd, peer_text(sa)};
  self->d_conns.insert(c);
  timeval tv{k_conn_timeout_s, 0};
  bufferevent_set_timeouts(bev, &tv, &tv);
  bufferevent_setcb(bev, on_read, on_write, on_error, c);
  bufferevent_enable(bev, EV_READ);
}

void StatsHttp::on_accept_error(evconnlistener* l, void* arg) {
  auto* self = static_cast<StatsHttp*>(arg);
  int e = errno;
  if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) return;  // transient
  // Out of descriptors: the pending connection stays in the backlog, so a
  // level-triggered listener would call us again at once, forever. Pause.
  evconnlistener_disable(l);
  self->d_paused = true;
  timeval one{1, 0};
  evtimer_add(self->d_resume, &one);
  ++self->d_failed_accepts;
  auto now = SteadyClock::now();
  if (now - self->d_warned >= std::chrono::seconds(60)) {
    self->d_warned = now;
    log_warn(
        "stats_listen %s: accept: %s (%zu statistics connections open); accepting paused for 1s "
        "(%ld pauses since the last warning)",
        self->d_where.c_str(), std::strerror(e), self->d_conns.size(), self->d_failed_accepts);
    self->d_failed_accepts = 0;
  }
}

void StatsHttp::on_resume(int, short, void* arg) {
  static_cast<StatsHttp*>(arg)->resume();
}

void StatsHttp::resume() {
  if (!d_paused || !d_listener) return;
  d_paused = false;
  evtimer_del(d_resume);
  evconnlistener_enable(d_listener);
}

void StatsHttp::drop(Conn* c) {
  d_conns.erase(c);
  bufferevent_free(c->bev);  // closes the socket
  delete c;
  // A descriptor is free again: a paused listener may take the next
  // connection now rather than at the end of its pause.
  resume();
}

void StatsHttp::on_read(bufferevent* bev, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (c->answered) return;
  evbuffer* in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
  if (end.pos < 0) end = evbuffer_search(in, "\n\n", 2, nullptr);
  if (end.pos < 0) {
    if (len > k_max_request) c->owner->drop(c);
    return;
  }
  size_t eol_len = 0;
  char* line = evbuffer_readln(in, &eol_len, EVBUFFER_EOL_CRLF);
  std::string first = line ? line : "";
  free(line);
  auto parts = split(first, " ");
  c->answered = true;
  bufferevent_disable(bev, EV_READ);
  if (parts.size() != 3 || parts[2].rfind("HTTP/1.", 0) != 0) {
    c->owner->answer(c, "", "");
    return;
  }
  c->owner->answer(c, parts[0], parts[1]);
}

void StatsHttp::answer(Conn* c, const std::string& method, const std::string& uri) {
  int code = 200;
  const char* reason = "OK";
  std::string type = "text/plain; charset=utf-8";
  std::string body;
  std::string path = uri.substr(0, uri.find('?'));
  if (method.empty()) {
    code = 400;
    reason = "Bad Request";
  } else if (!d_allow.contains(c->peer)) {
    log_warn("stats_listen %s: refused %s (not in stats_allow)", d_where.c_str(),
             log_quote(c->peer, 60).c_str());
    code = 403;
    reason = "Forbidden";
  } else if (method != "GET" && method != "HEAD") {
    code = 405;
    reason = "Method Not Allowed";
  } else if (path == "/metrics") {
    body = d_render();
    type = "text/plain; version=0.0.4; charset=utf-8";
  } else if (path == "/") {
    body = "ppolicyd statistics: GET /metrics (Prometheus text format)\n";
  } else {
    code = 404;
    reason = "Not Found";
  }
  if (code != 200) body = format("%d %s\n", code, reason);
  std::string head = format(
      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
      code, reason, type.c_str(), body.size(), code == 405 ? "Allow: GET, HEAD\r\n" : "");
  evbuffer* out = bufferevent_get_output(c->bev);
  evbuffer_add(out, head.data(), head.size());
  if (method != "HEAD") evbuffer_add(out, body.data(), body.size());
}

void StatsHttp::on_write(bufferevent*, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (c->answered) c->owner->drop(c);  // the whole answer is written
}

void StatsHttp::on_error(bufferevent*, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->owner->drop(c);  // EOF, error or timeout
}

}  // namespace ppolicy
