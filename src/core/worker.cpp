// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/worker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "core/board.hpp"
#include "core/proto_master.hpp"
#include "proto/reader.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/handler.hpp"
#include "shm/segment.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

volatile sig_atomic_t g_stop = 0;     // SIGTERM: shut down
volatile sig_atomic_t g_retire = 0;   // SIGUSR2: exit when idle, hand over when busy
volatile sig_atomic_t g_reclaim = 0;  // SIGRTMIN+1: give a quiet connection up

// The request watchdog: if a module ignores the deadline, the master sees
// the request's deadline on the worker board pass and sends SIGALRM, which
// answers default_action on the connection and ends the worker (the master
// logs it and starts another). Only async-signal-safe calls in the handler.
volatile sig_atomic_t g_watch_fd = -1;
BoardSlot* g_board = nullptr;
char g_watch_reply[600];
size_t g_watch_len = 0;

void on_term(int) {
  g_stop = 1;
}
void on_usr2(int) {
  g_retire = 1;
}
void on_reclaim(int) {
  g_reclaim = 1;
}
void on_alarm(int) {
  // The master judged from a snapshot of the board: the request may have
  // ended since (or another begun). Then the signal means nothing (an
  // interrupted wait sees EINTR and carries on).
  int fd = g_watch_fd;
  if (fd < 0 || !g_board) return;
  int64_t deadline = g_board->deadline_ns.load(std::memory_order_relaxed);
  if (deadline == 0 || board_now_ns() < deadline) return;
  ssize_t ignored = write(fd, g_watch_reply, g_watch_len);
  (void)ignored;
  log_flush_from_signal();  // the decisions of earlier requests
  _exit(k_exit_watchdog);
}

void set_handler(int sig, void (*fn)(int), int flags = 0) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

// The wait for a busy connection's next request (Worker::serve): a
// blocking read of at most k_busy_wait, and a wait in ppoll at least every
// k_poll_every all the same.
constexpr auto k_busy_wait = std::chrono::milliseconds(100);
constexpr auto k_poll_every = std::chrono::milliseconds(100);

// A connection is served on a blocking socket whose reads and writes time
// out after k_busy_wait (write_all then waits in poll); it is handed over
// non-blocking, as accepted.
void set_busy_socket(int fd, bool busy) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return;
  fcntl(fd, F_SETFL, busy ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
  if (!busy) return;
  timeval tv{0, static_cast<suseconds_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(k_busy_wait).count())};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return format("%s:%d", buf, ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    return format("[%s]:%d", buf, ntohs(a->sin6_port));
  }
  return "unix";
}

class Worker {
 public:
  explicit Worker(WorkerSetup& s)
      : d_s(s),
        d_gen(*s.gen),
        d_server(s.gen->server()),
        d_services(s.gen->config(), s.shm),
        d_stats(s.shm ? &s.shm->stats() : nullptr),
        d_handler(*s.gen, d_services, &d_stats),
        d_reader(ProtocolLimits{d_server.max_line_length, d_server.max_request_size,
                                static_cast<size_t>(d_server.max_attributes)}) {}

  [[noreturn]] void run();

 private:
  enum class End { closed, error, idle, stop, handoff, reclaimed };
  // fresh: a connection just accepted (not one handed over by a retiring worker).
  End serve(int fd, int listener, std::string_view pending, bool fresh);
  bool write_all(int fd, std::string_view data);
  bool handoff(int fd, int listener);
  void report(WorkerState st);
  void flush_pending(bool force, SteadyClock::time_point now = SteadyClock::now());
  bool must_retire() const {
    return g_retire || (d_server.max_requests > 0 && d_served >= d_server.max_requests);
  }
  [[noreturn]] void finish(int code);

  WorkerSetup& d_s;
  const Generation& d_gen;
  const ServerSettings& d_server;
  Services d_services;
  StatsBuffer d_stats;
  RequestHandler d_handler;
  RequestReader d_reader;
  Request d_request;
  long d_served = 0;
  SteadyClock::time_point d_flushed = SteadyClock::now();
  int64_t d_watch_ns = 0;  // request_timeout + 2s: the board deadline of a request
  sigset_t d_waitmask{};   // signals unblocked only while waiting
};

void Worker::report(WorkerState st) {
  StatusMessage m{static_cast<int32_t>(getpid()), d_s.generation, st};
  ssize_t ignored = write(d_s.status_fd, &m, sizeof m);  // <= PIPE_BUF: atomic
  (void)ignored;
}

// Counters and held log lines (log_hold) go out together, at most every
// 100 ms while requests come, and at once when the worker goes idle.
void Worker::flush_pending(bool force, SteadyClock::time_point now) {
  if (!d_stats.dirty() && !log_held()) return;
  if (force || now - d_flushed >= std::chrono::milliseconds(100)) {
    if (d_stats.dirty()) d_stats.flush();
    log_flush();
    d_flushed = now;
  }
}

void Worker::finish(int code) {
  flush_pending(true);
  for (const auto& m : d_gen.modules)
    m->module->stop();
  d_services.release();  // e.g. say goodbye to the database instead of dropping the connection
  _exit(code);           // no static destructors: the master's objects are not ours
}

bool Worker::write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w > 0) {
      data.remove_prefix(static_cast<size_t>(w));
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Postfix reads every reply; a client that stops reading for the
      // whole idle timeout is gone.
      pollfd p{fd, POLLOUT, 0};
      int n = poll(&p, 1, static_cast<int>(d_server.idle_timeout_s * 1000));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool Worker::handoff(int fd, int listener) {
  std::string_view pending = d_reader.pending();
  if (pending.size() > k_max_handoff_pending || d_s.handoff_fd < 0) return false;
  set_busy_socket(fd, false);
  HandoffHeader h{static_cast<int32_t>(getpid()), listener, static_cast<uint32_t>(pending.size())};
  std::string msg(reinterpret_cast<const char*>(&h), sizeof h);
  msg += pending;
  iovec iov{msg.data(), msg.size()};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(d_s.handoff_fd, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
}

Worker::End Worker::serve(int fd, int listener, std::string_view pending, bool fresh) {
  const std::string& where = (*d_s.listeners)[listener].spec.text;
  d_reader.reset();
  d_request.clear();  // gives back what a hostile previous request took
  d_reader.append(pending);
  set_busy_socket(fd, true);
  std::string out;
  std::string why;
  auto last_input = SteadyClock::now();
  auto polled = last_input;     // the last wait in ppoll
  bool fresh_input = true;      // bytes came (at last_input) since a request last started
  bool busy_read_idle = false;  // the last blocking read timed out
  // When the request now buffered in part began to arrive: Postfix writes
  // a request at once, so one that trickles in (a slow-loris client) is
  // cut off after request_read_timeout instead of holding this worker for
  // the whole idle_timeout.
  // (A time and a flag, not std::optional: GCC 12 warns falsely on the latter here.)
  SteadyClock::time_point began{};
  bool partial = false;
  // Reclaim (proto_master.hpp): quiet since when, whether the master was
  // told (held or silent), and whether a byte ever came.
  auto quiet_since = last_input;
  bool told_quiet = false;
  bool spoke = !fresh || !pending.empty();
  g_reclaim = 0;
  std::string peer;
  bool drained = false;  // the socket was read once more after a stop
  char buf[16384];
  auto took_input = [&](ssize_t r) {
    d_reader.append(std::string_view(buf, static_cast<size_t>(r)));
    last_input = quiet_since = SteadyClock::now();
    fresh_input = true;
    spoke = true;
    if (told_quiet) {
      report(WorkerState::busy);
      told_quiet = false;
    }
  };
  while (true) {
    RequestReader::Status st;
    SteadyClock::time_point decided{};
    while ((st = d_reader.next(d_request, &why)) == RequestReader::Status::complete) {
      d_request.listener = where;
      // Arm the watchdog: a module stuck past the deadline (plus grace)
      // must not hold Postfix longer. (g_watch_reply is set in run().)
      // The first request after a read starts when the read returned (no
      // second clock reading); a later one in the same bytes, now.
      auto start = fresh_input ? last_input : SteadyClock::now();
      fresh_input = false;
      g_watch_fd = fd;
      g_board->deadline_ns.store(board_ns(start) + d_watch_ns, std::memory_order_relaxed);
      double elapsed = 0;
      const Decision& d = d_handler.handle(d_request, &elapsed, start, &decided);
      g_board->deadline_ns.store(0, std::memory_order_relaxed);
      g_watch_fd = -1;
      out += "action=";
      out += d.reply;
      out += "\n\n";
      ++d_served;
      // Shadow policies run once the reply is on its way: they never delay it.
      if (d_handler.has_shadows()) {
        if (!write_all(fd, out)) return End::closed;
        out.clear();
        d_handler.shadow(d_request, d);
        decided = {};  // (shadow policies took time since)
      }
    }
    // One clock reading for the rest of this pass (quiet time, flush
    // interval, idle timeout): when the last request was decided, if one
    // was just now (each reading costs tens of ns, more in a VM).
    auto now = decided != SteadyClock::time_point{} ? decided : SteadyClock::now();
    decided = {};
    if (!out.empty()) {
      if (!write_all(fd, out)) return End::closed;
      out.clear();
      quiet_since = now;
      // SIGTERM/SIGUSR2 are blocked while a request is evaluated. One that
      // came meanwhile is still pending, and ppoll() prefers a ready socket
      // to a pending signal: the next request, already there, would be
      // answered by a worker told to stop or retire (a reload would not
      // take effect on this connection). The master wrote the order on the
      // board before signalling: read it there (no system call).
      uint32_t orders = g_board->orders.load(std::memory_order_relaxed);
      if (orders & k_order_stop) g_stop = 1;
      if (orders & k_order_retire) g_retire = 1;
    }
    if (st == RequestReader::Status::error) {
      if (peer.empty()) peer = peer_name(fd);
      log_warn("%s from %s: %s; closing the connection without reply", where.c_str(), peer.c_str(),
               why.c_str());
      return End::error;
    }
    if (!d_reader.has_pending())
      partial = false;
    else if (!partial) {
      partial = true;
      began = last_input;
    }
    flush_pending(false, now);
    if (g_stop) {
      // A request already in the socket when the stop came was sent before
      // it: answer it (and whatever else arrived with it), then close.
      if (!drained) {
        drained = true;
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
          d_reader.append(std::string_view(buf, static_cast<size_t>(r)));
          continue;
        }
      }
      return End::stop;
    }
    // Between requests (nothing partial buffered) a retiring worker hands
    // the connection to the master, so Postfix never sees it closed.
    if (must_retire() && !d_reader.has_pending())
      return handoff(fd, listener) ? End::handoff : End::stop;
    if (g_reclaim) {
      g_reclaim = 0;
      // Only a connection still quiet since the master was told: a request
      // that arrived meanwhile (even unread) is answered.
      char peek;
      if (told_quiet && !d_reader.has_pending() &&
          recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
          (errno == EAGAIN || errno == EWOULDBLOCK)) {
        report(spoke ? WorkerState::reclaimed : WorkerState::cut);
        log_debug(
            "%s: pool full, gave up a connection quiet for %ldms%s", where.c_str(),
            static_cast<long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(now - quiet_since).count()),
            spoke ? "" : " (it never sent a byte)");
        return End::reclaimed;
      }
    }
    if (!told_quiet && !d_reader.has_pending()) {
      long quiet_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - quiet_since).count();
      if (quiet_ms >= k_held_report_ms) {
        report(spoke ? WorkerState::held : WorkerState::silent);
        told_quiet = true;
      }
    }

    long idle_ms = d_server.idle_timeout_s * 1000 -
                   std::chrono::duration_cast<std::chrono::milliseconds>(now - last_input).count();
    if (idle_ms <= 0) {
      log_debug("%s: client idle for %lds, closing", where.c_str(), d_server.idle_timeout_s);
      return End::idle;
    }
    long wait_ms = d_stats.dirty() || log_held() ? std::min(idle_ms, 100L) : idle_ms;
    if (!told_quiet) wait_ms = std::min(wait_ms, k_held_report_ms);
    if (partial) {
      long read_ms = d_server.request_read_timeout_ms -
                     std::chrono::duration_cast<std::chrono::milliseconds>(now - began).count();
      if (read_ms <= 0) {
        if (peer.empty()) peer = peer_name(fd);
        log_warn(
            "%s from %s: request still incomplete %ldms after its first byte (%zu bytes; "
            "request_read_timeout); closing the connection without reply",
            where.c_str(), peer.c_str(), d_server.request_read_timeout_ms,
            d_reader.pending().size());
        return End::error;
      }
      wait_ms = std::min(wait_ms, read_ms);
    }
    // A busy connection's next request usually comes within a millisecond
    // or two: the worker waits for it in a blocking read (the socket times
    // out after k_busy_wait; TERM, USR2 and the reclaim signal stay blocked),
    // one system call per request instead of ppoll and read (ppoll costs a
    // do-nothing server of this shape about 5% of its throughput:
    // t/bench/nullpolicy -m fork-ppoll). It
    // waits in ppoll, where those signals reach it and the master's end
    // shows, when no request came within k_busy_wait, when a request is
    // partly read or the connection is reported quiet, and at least every
    // k_poll_every. Orders given meanwhile are on the board, read after
    // every request; a signal sent with one stays pending until then.
    if (!busy_read_idle && !partial && !told_quiet && wait_ms >= k_busy_wait.count() &&
        now - polled < k_poll_every) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        took_input(r);
      } else if (r == 0) {
        return End::closed;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        busy_read_idle = true;
      } else if (errno != EINTR) {
        return End::closed;
      }
      continue;
    }
    busy_read_idle = false;
    polled = now;
    pollfd p[2] = {{fd, POLLIN, 0}, {d_s.master_fd, POLLIN, 0}};
    timespec ts{wait_ms / 1000, (wait_ms % 1000) * 1000000L};
    int n = ppoll(p, 2, &ts, &d_waitmask);
    if (n < 0) {
      if (errno == EINTR) continue;
      return End::closed;
    }
    if (n == 0) continue;
    if (p[1].revents) return End::stop;  // the master is gone
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r == 0) return End::closed;
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return End::closed;
      }
      took_input(r);
    }
  }
}

void Worker::run() {
  // Signals: handlers only set flags; TERM and USR2 are blocked except while
  // waiting (ppoll/epoll_pwait), so a signal is never lost between the flag
  // check and the wait.
  set_handler(SIGTERM, on_term);
  set_handler(SIGUSR2, on_usr2);
  set_handler(reclaim_signal(), on_reclaim);
  set_handler(SIGALRM, on_alarm, SA_RESTART);  // a late (idle) alarm must not fail a read or write
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);  // a terminal ^C reaches the whole group: the master decides
  signal(SIGUSR1, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR2);
  sigaddset(&block, reclaim_signal());
  // The master forked us with every signal blocked (see Master::spawn):
  // from here only TERM and USR2 stay blocked outside the waits.
  sigprocmask(SIG_SETMASK, &block, nullptr);
  sigemptyset(&d_waitmask);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  prctl(PR_SET_NAME, "ppolicyd-worker");
  log_hold();
  std::string pre = "action=" + d_server.default_action + "\n\n";
  g_watch_len = std::min(pre.size(), sizeof g_watch_reply);
  std::memcpy(g_watch_reply, pre.data(), g_watch_len);
  d_watch_ns = (static_cast<int64_t>(d_server.request_timeout_ms) + 2000) * 1000000;
  g_board = d_s.board;
  if (!g_board) log_fatal("worker started without a slot on the worker board");

  for (const auto& m : d_gen.modules) {
    try {
      m->module->start(d_services);
    } catch (const std::exception& e) {
      log_warn("module %s: start failed: %s (it will answer 0 until it works)", m->name.c_str(),
               e.what());
    }
  }

  if (d_s.initial_fd >= 0) {
    report(WorkerState::busy);
    End e = serve(d_s.initial_fd, d_s.initial_listener, d_s.initial_pending, false);
    if (e == End::handoff) finish(0);
    close(d_s.initial_fd);
    d_s.initial_pending.clear();
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) log_fatal("epoll_create1: %s", std::strerror(errno));
  for (size_t i = 0; i < d_s.listeners->size(); ++i) {
    // EPOLLEXCLUSIVE: one idle worker wakes per new connection, not all.
    epoll_event ev{EPOLLIN | EPOLLEXCLUSIVE, {}};
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, (*d_s.listeners)[i].fd, &ev);
  }
  epoll_event mev{EPOLLIN, {}};
  mev.data.u32 = UINT32_MAX;
  epoll_ctl(ep, EPOLL_CTL_ADD, d_s.master_fd, &mev);

  while (!g_stop && !must_retire()) {
    report(WorkerState::idle);
    epoll_event evs[8];
    int n = epoll_pwait(ep, evs, 8, d_stats.dirty() || log_held() ? 100 : -1, &d_waitmask);
    flush_pending(n == 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      log_fatal("epoll_wait: %s", std::strerror(errno));
    }
    for (int i = 0; i < n && !g_stop; ++i) {
      if (evs[i].data.u32 == UINT32_MAX) finish(0);  // the master is gone
      int li = static_cast<int>(evs[i].data.u32);
      int fd = accept4((*d_s.listeners)[li].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) continue;  // another worker got it, or the client left
      report(WorkerState::busy);
      End e = serve(fd, li, {}, true);
      if (e != End::handoff) close(fd);
      if (e == End::handoff) finish(0);
      break;  // report idle again before taking more
    }
  }
  finish(0);
}

}  // namespace

void worker_main(WorkerSetup& setup) {
  Worker w(setup);
  w.run();
}

}  // namespace ppolicy
