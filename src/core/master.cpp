// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/master.hpp"

#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "core/board.hpp"
#include "core/control.hpp"
#include "core/listener.hpp"
#include "core/privs.hpp"
#include "core/proto_master.hpp"
#include "core/stats_http.hpp"
#include "core/stats_report.hpp"
#include "core/worker.hpp"
#include "shm/segment.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

constexpr size_t k_stats_capacity = 16384;
// While the pool is full, how often the master looks for waiting
// connections, and the most connections it reclaims per look.
constexpr long k_pressure_ms = 100;
constexpr int k_reclaim_batch = 64;
// The adaptive reclaim time never goes below this (a connection answered
// this recently is likely to be asked again at once).
constexpr long k_reclaim_floor_ms = 250;

// Raise the soft open-file limit to the hard one (the master holds the
// statistics connections; a worker its client connection and its clients'
// sockets). Returns the soft limit now in force.
rlim_t raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur;
}

// Connections waiting in a listener's accept queue (TCP: exact; a Unix
// socket: 1 when one is there).
int waiting_connections(const Listener& l) {
  if (!l.spec.unix_socket) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (getsockopt(l.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
      return static_cast<int>(ti.tcpi_unacked);
  }
  pollfd p{l.fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 ? 1 : 0;
}

struct WorkerInfo {
  int generation = 0;
  bool reported = false;  // has sent a status yet
  WorkerState state = WorkerState::idle;
  bool retiring = false;
  bool reclaim_sent = false;  // since its last state change
  int slot = -1;              // on the worker board
  SteadyClock::time_point born, since;
  bool holds() const { return reported && state != WorkerState::idle; }
};

class Master {
 public:
  Master(std::unique_ptr<Generation> gen, const MasterOptions& opts)
      : d_gen(std::move(gen)), d_opts(opts) {}
  ~Master();
  int run();

 private:
  void start();
  void spawn(int initial_fd = -1, int initial_listener = 0, std::string pending = {});
  void ensure_workers();
  void reap();
  void read_status();
  void read_handoff();
  void tick();
  void reload();
  void begin_stop();
  void finish_stop();
  void maintenance();
  void report_stats();
  void update_gauges();
  void pressure();
  void note_full(bool full);
  void take_reserve();
  void release_reserve();
  void control_accept();
  void watchdog();
  void order(pid_t pid, const WorkerInfo& w, uint32_t what, int sig) {
    d_board->order(w.slot, pid, what, sig);
  }

  static void on_event(evutil_socket_t fd, short what, void* arg);

  std::unique_ptr<Generation> d_gen;
  MasterOptions d_opts;
  RunAs d_run_as;
  std::vector<Listener> d_listeners;
  std::unique_ptr<StatsHttp> d_stats_http;   // [ppolicyd] stats_listen
  std::unique_ptr<ControlSocket> d_control;  // [ppolicyd] control_socket
  std::set<pid_t> d_control_pids;            // children serving control connections
  std::unique_ptr<Segment> d_shm;
  std::unique_ptr<WorkerBoard> d_board;
  std::vector<pid_t> d_overdue;  // watchdog(): reused
  int d_generation = 1;
  std::map<pid_t, WorkerInfo> d_workers;
  pid_t d_maintenance_pid = -1;
  SteadyClock::time_point d_maintenance_started;
  int d_status[2] = {-1, -1};   // [0] master reads, [1] workers write
  int d_alive[2] = {-1, -1};    // [0] workers poll, [1] held by the master
  int d_handoff[2] = {-1, -1};  // [0] master end, [1] worker end
  event_base* d_base = nullptr;
  std::vector<event*> d_events;
  bool d_stopping = false;
  SteadyClock::time_point d_stop_deadline;
  bool d_killed = false;
  // Throttle after early worker deaths (a module that crashes at start must
  // not make the master fork in a tight loop).
  SteadyClock::time_point d_throttle_until{};
  long d_throttle_ms = 0;
  SteadyClock::time_point d_last_maintenance = SteadyClock::now();
  int d_gauge_start = -1, d_gauge_reload_ok = -1, d_gauge_reload_time = -1;
  int d_gauge_busy = -1, d_gauge_idle = -1, d_gauge_gen = -1, d_gauge_min = -1, d_gauge_max = -1,
      d_spawned = -1, d_crashed = -1, d_watchdog = -1, d_handoffs = -1;
  int d_shm_used[2] = {-1, -1}, d_shm_cap[2] = {-1, -1};
  int d_reclaimed = -1, d_cut = -1, d_full_ms = -1, d_reclaim_gauge = -1, d_stats_refused = -1;
  // Pool pressure: every worker holds a connection and max_workers is reached.
  bool d_full = false;
  SteadyClock::time_point d_full_since{}, d_full_counted{}, d_full_warned{};
  long d_reclaim_ms = 0;  // adaptive: reclaim_idle, halved under stress
  event* d_pressure = nullptr;
  // A descriptor kept open (on /dev/null) and closed just before the master
  // needs one at the limit: reading the configuration on reload, receiving
  // a handed-over connection.
  int d_reserve = -1;
};

Master::~Master() {
  d_stats_http.reset();  // its evhttp belongs to d_base
  for (auto* e : d_events)
    event_free(e);
  if (d_base) event_base_free(d_base);
}

void Master::on_event(evutil_socket_t fd, short what, void* arg) {
  auto* m = static_cast<Master*>(arg);
  if (what & EV_SIGNAL) {
    switch (fd) {
      case SIGCHLD:
        m->reap();
        break;
      case SIGHUP:
        m->reload();
        break;
      case SIGUSR1:
        m->report_stats();
        break;
      case SIGTERM:
      case SIGINT:
        m->begin_stop();
        break;
      default:
        break;
    }
    return;
  }
  if (fd == m->d_status[0]) {
    m->read_status();
  } else if (fd == m->d_handoff[0]) {
    m->read_handoff();
  } else {
    m->tick();
  }
}

// A fresh file: whatever sits at the path (a stale pid file, a planted link)
// is removed, and the new one is created exclusively without following links.
void write_pid_file(const std::string& path) {
  std::string pid = format("%d\n", static_cast<int>(getpid()));
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error(
        format("cannot replace pid file %s: %s", path.c_str(), std::strerror(errno)));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  int e = errno;
  if (fd >= 0) close(fd);
  if (!ok)
    throw std::runtime_error(
        format("cannot write pid file %s: %s", path.c_str(), std::strerror(e)));
}

void Master::start() {
  const ServerSettings& s = d_gen->server();
  rlim_t nofile = raise_nofile();
  take_reserve();
  d_reclaim_ms = s.reclaim_idle_ms;
  d_run_as = resolve_run_as(s.user, s.group);
  gid_t sock_group = s.unix_socket_group.empty()
                         ? (d_run_as.drop ? d_run_as.gid : static_cast<gid_t>(-1))
                         : resolve_group(s.unix_socket_group);
  d_listeners = bind_listeners(s.listen, s.unix_socket_mode, sock_group);
  if (!s.stats_listen.empty())
    d_stats_http = std::make_unique<StatsHttp>(s.stats_listen, s.stats_allow);
  if (!s.control_socket.empty()) {
    auto slash = s.control_socket.rfind('/');
    if (slash != std::string::npos && slash > 0)
      prepare_dir(s.control_socket.substr(0, slash), d_run_as, 0755);
    d_control = std::make_unique<ControlSocket>(
        s.control_socket, d_run_as.drop ? d_run_as.gid : static_cast<gid_t>(-1));
  }

  d_shm = std::make_unique<Segment>(s.cache_size, s.records_size, k_stats_capacity);
  d_board = std::make_unique<WorkerBoard>(k_board_slots);
  d_gen->register_stats(d_shm->stats());
  StatsArea& st = d_shm->stats();
  d_gauge_busy = st.reg("ppolicy_workers{state=\"busy\"}");
  d_gauge_idle = st.reg("ppolicy_workers{state=\"idle\"}");
  d_gauge_gen = st.reg("ppolicy_config_generation");
  d_gauge_start = st.reg("process_start_time_seconds");
  d_gauge_reload_ok = st.reg("ppolicy_config_last_reload_successful");
  d_gauge_reload_time = st.reg("ppolicy_config_last_reload_success_timestamp_seconds");
  // The start is the first successful load (as Prometheus itself counts).
  st.set(d_gauge_start, static_cast<uint64_t>(std::time(nullptr)));
  st.set(d_gauge_reload_ok, 1);
  st.set(d_gauge_reload_time, static_cast<uint64_t>(std::time(nullptr)));
  d_gauge_min = st.reg("ppolicy_workers_min");
  d_gauge_max = st.reg("ppolicy_workers_max");
  d_spawned = st.reg("ppolicy_workers_started_total");
  d_crashed = st.reg("ppolicy_workers_crashed_total");
  d_watchdog = st.reg("ppolicy_workers_watchdog_total");
  d_handoffs = st.reg("ppolicy_connection_handoffs_total");
  d_reclaimed = st.reg("ppolicy_connections_reclaimed_total");
  d_cut = st.reg("ppolicy_connections_cut_silent_total");
  d_full_ms = st.reg("ppolicy_pool_full_seconds_total");
  d_reclaim_gauge = st.reg("ppolicy_reclaim_idle_seconds");
  d_stats_refused = st.reg("ppolicy_stats_connections_refused_total");
  const char* tn[] = {"cache", "records"};
  for (int i = 0; i < 2; ++i) {
    d_shm_used[i] = st.reg(format("ppolicy_shm_entries{table=\"%s\"}", tn[i]));
    d_shm_cap[i] = st.reg(format("ppolicy_shm_capacity{table=\"%s\"}", tn[i]));
  }

  // As root only the directories are prepared (through descriptors, never
  // following a symlink); the files in them belong to the run-time user and
  // are read and written after the drop, so a link or FIFO planted there can
  // do no more than that user could do anyway.
  if (!s.state_file.empty()) prepare_dir(s.state_dir, d_run_as, 0750);
  if (!s.pid_file.empty()) {
    auto slash = s.pid_file.rfind('/');
    if (slash != std::string::npos && slash > 0)
      prepare_dir(s.pid_file.substr(0, slash), d_run_as, 0755);
  }

  // Once, privileged, before any worker exists: e.g. database tables.
  {
    Services services(d_gen->config(), d_shm.get());
    for (auto& m : d_gen->modules) {
      try {
        m->module->prepare(services);
      } catch (const std::exception& e) {
        log_error("module %s: %s", m->name.c_str(), e.what());
      }
    }
  }

  drop_privileges(d_run_as);

  if (!s.state_file.empty()) {
    long n = d_shm->restore(s.state_file);
    if (n > 0) log_info("restored %ld cache and record entries from %s", n, s.state_file.c_str());
  }
  if (!s.pid_file.empty()) write_pid_file(s.pid_file);

  if (pipe2(d_status, O_CLOEXEC) != 0 || pipe2(d_alive, O_CLOEXEC) != 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, d_handoff) != 0)
    throw std::runtime_error(format("pipe: %s", std::strerror(errno)));
  fcntl(d_status[0], F_SETFL, O_NONBLOCK);
  // A worker must never block on a full status pipe (a busy master): a lost
  // status message only delays a pool decision until the next one.
  fcntl(d_status[1], F_SETFL, O_NONBLOCK);
  fcntl(d_handoff[0], F_SETFL, O_NONBLOCK);

  d_base = event_base_new();
  if (!d_base) throw std::runtime_error("event_base_new failed");
  for (int sig : {SIGCHLD, SIGHUP, SIGUSR1, SIGTERM, SIGINT}) {
    event* e = evsignal_new(d_base, sig, on_event, this);
    event_add(e, nullptr);
    d_events.push_back(e);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  for (int fd : {d_status[0], d_handoff[0]}) {
    event* e = event_new(d_base, fd, EV_READ | EV_PERSIST, on_event, this);
    event_add(e, nullptr);
    d_events.push_back(e);
  }
  event* t = event_new(d_base, -1, EV_PERSIST, on_event, this);
  timeval one{1, 0};
  event_add(t, &one);
  d_events.push_back(t);
  d_pressure = evtimer_new(
      d_base, [](evutil_socket_t, short, void* arg) { static_cast<Master*>(arg)->pressure(); },
      this);
  d_events.push_back(d_pressure);
  // The request watchdog (board.hpp): a few loads per worker four times a
  // second, instead of a timer system call in every request.
  event* wd = event_new(
      d_base, -1, EV_PERSIST,
      [](evutil_socket_t, short, void* arg) { static_cast<Master*>(arg)->watchdog(); }, this);
  timeval quarter{0, 250000};
  event_add(wd, &quarter);
  d_events.push_back(wd);
  if (d_control) {
    event* e = event_new(
        d_base, d_control->fd(), EV_READ | EV_PERSIST,
        [](evutil_socket_t, short, void* arg) { static_cast<Master*>(arg)->control_accept(); },
        this);
    event_add(e, nullptr);
    d_events.push_back(e);
  }
  if (d_stats_http)
    d_stats_http->attach(
        d_base,
        [this] {
          update_gauges();
          return prometheus_text(*d_shm);
        },
        [this] { d_shm->stats().add(d_stats_refused, 1); });

  ensure_workers();
  std::vector<std::string> names;
  for (const auto& l : d_listeners)
    names.push_back(l.spec.text);
  if (d_stats_http)
    log_info("statistics served at http://%s/metrics", d_stats_http->where().c_str());
  log_info(
      "ppolicyd started: listening on %s, %d workers (at most %d), running as %s; open files: %lu",
      join(names, ", ").c_str(), s.min_workers, s.max_workers,
      d_run_as.drop ? d_run_as.user.c_str() : "the invoking user",
      static_cast<unsigned long>(nofile));
}

void Master::spawn(int initial_fd, int initial_listener, std::string pending) {
  // Until the worker has its own handlers, the master's (libevent's) would
  // swallow a signal sent to it: a SIGTERM in that window was lost and the
  // stop waited stop_timeout for this worker. Blocked, it stays pending
  // until the worker waits with its own handlers in place.
  int slot = d_board->take();
  if (slot < 0) {  // cannot happen: the board holds two full pools (old and new generation)
    log_warn("no free slot on the worker board; not starting a worker");
    return;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid != 0) sigprocmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    log_warn("fork: %s", std::strerror(errno));
    d_board->release(slot);
    return;
  }
  if (pid == 0) {
    // The child keeps only what a worker needs.
    close(d_status[0]);
    close(d_alive[1]);
    close(d_handoff[0]);
    if (d_reserve >= 0) close(d_reserve);
    if (d_opts.ready_fd >= 0) close(d_opts.ready_fd);  // the starting parent waits for its EOF
    if (d_stats_http) d_stats_http->close_in_child();
    if (d_control) d_control->close_in_child();
    WorkerSetup ws;
    ws.gen = d_gen.get();
    ws.listeners = &d_listeners;
    ws.shm = d_shm.get();
    ws.generation = d_generation;
    ws.status_fd = d_status[1];
    ws.master_fd = d_alive[0];
    ws.handoff_fd = d_handoff[1];
    ws.initial_fd = initial_fd;
    ws.initial_listener = initial_listener;
    ws.initial_pending = std::move(pending);
    ws.board = d_board->slot(slot);
    worker_main(ws);
  }
  d_board->bind(slot, pid);
  WorkerInfo w;
  w.slot = slot;
  w.generation = d_generation;
  w.born = w.since = SteadyClock::now();
  w.reported = initial_fd >= 0;
  w.state = initial_fd >= 0 ? WorkerState::busy : WorkerState::idle;
  d_workers[pid] = w;
  d_shm->stats().add(d_spawned, 1);
}

void Master::ensure_workers() {
  if (d_stopping) return;
  const ServerSettings& s = d_gen->server();
  int total = 0, available = 0;
  for (const auto& [pid, w] : d_workers) {
    if (w.generation != d_generation || w.retiring) continue;
    ++total;
    if (!w.reported || w.state == WorkerState::idle) ++available;
  }
  int need = std::max(s.min_workers - total, 0);
  // Postfix holds a connection per smtpd process: when every worker is
  // busy, start one more so the next connection is accepted at once.
  if (available == 0 && total < s.max_workers) need = std::max(need, 1);
  note_full(available == 0 && total >= s.max_workers);
  if (need > 0 && SteadyClock::now() < d_throttle_until) return;  // tick() retries
  for (int i = 0; i < need; ++i)
    spawn();
}

void Master::reap() {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == d_maintenance_pid) {
      d_maintenance_pid = -1;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        log_warn("maintenance process %d ended abnormally (status 0x%x)", static_cast<int>(pid),
                 status);
      continue;
    }
    if (d_control_pids.erase(pid)) continue;
    auto it = d_workers.find(pid);
    if (it == d_workers.end()) continue;
    WorkerInfo w = it->second;
    d_workers.erase(it);
    d_board->release(w.slot);
    auto lived = SteadyClock::now() - w.born;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == k_exit_watchdog) {
      d_shm->stats().add(d_watchdog, 1);
      log_warn(
          "worker %d: a request exceeded request_timeout by more than 2s; the watchdog answered "
          "default_action and ended the worker",
          static_cast<int>(pid));
    } else if (!clean && !d_stopping) {
      d_shm->stats().add(d_crashed, 1);
      if (WIFSIGNALED(status))
        log_warn("worker %d died by signal %d (%s)", static_cast<int>(pid), WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
      else
        log_warn("worker %d exited with status %d", static_cast<int>(pid), WEXITSTATUS(status));
      // Died before it ever reported ready (e.g. a module crashing at
      // start): forking again at once would only repeat that.
      if (!w.reported && lived < std::chrono::seconds(10)) {
        d_throttle_ms = d_throttle_ms ? std::min(d_throttle_ms * 2, 30000L) : 1000;
        d_throttle_until = SteadyClock::now() + std::chrono::milliseconds(d_throttle_ms);
        log_warn("workers die before they start serving: throttling new workers for %ldms",
                 d_throttle_ms);
      }
    }
  }
  if (d_stopping) {
    if (d_workers.empty()) event_base_loopbreak(d_base);
    return;
  }
  ensure_workers();
}

void Master::read_status() {
  StatusMessage m[64];
  while (true) {
    ssize_t r = read(d_status[0], m, sizeof m);
    if (r <= 0) break;
    for (size_t i = 0; i < static_cast<size_t>(r) / sizeof(StatusMessage); ++i) {
      auto it = d_workers.find(m[i].pid);
      if (it == d_workers.end()) continue;
      WorkerInfo& w = it->second;
      WorkerState st = m[i].state;
      if (st == WorkerState::reclaimed || st == WorkerState::cut) {
        d_shm->stats().add(st == WorkerState::reclaimed ? d_reclaimed : d_cut, 1);
        st = WorkerState::idle;  // what it is now; its `idle` follows
      }
      w.reported = true;
      if (w.state != st) {
        w.since = SteadyClock::now();
        // The worker reports a connection quiet k_held_report_ms after it
        // went quiet.
        if (st == WorkerState::held || st == WorkerState::silent)
          w.since -= std::chrono::milliseconds(k_held_report_ms);
        w.reclaim_sent = false;
      }
      w.state = st;
    }
  }
  ensure_workers();
}

void Master::read_handoff() {
  // A handed-over descriptor needs a free slot, or the kernel drops it
  // (MSG_CTRUNC) and Postfix loses its connection.
  release_reserve();
  struct Retake {
    Master* m;
    ~Retake() { m->take_reserve(); }
  } retake{this};
  while (true) {
    std::string buf(sizeof(HandoffHeader) + k_max_handoff_pending, '\0');
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t r = recvmsg(d_handoff[0], &mh, MSG_CMSG_CLOEXEC);
    if (r <= 0) return;
    int fd = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (fd < 0) continue;
    HandoffHeader h{};
    if (static_cast<size_t>(r) < sizeof h) {
      close(fd);
      continue;
    }
    std::memcpy(&h, buf.data(), sizeof h);
    if (d_stopping || h.listener < 0 || static_cast<size_t>(h.listener) >= d_listeners.size() ||
        sizeof h + h.pending != static_cast<size_t>(r)) {
      close(fd);
      continue;
    }
    // A retiring worker's client keeps its connection: a new worker of the
    // current configuration continues it (it replaces the retiring one, so
    // max_workers does not apply).
    spawn(fd, h.listener, buf.substr(sizeof h, h.pending));
    close(fd);
    d_shm->stats().add(d_handoffs, 1);
  }
}

void Master::watchdog() {
  // A worker past its deadline gets SIGALRM; its handler looks at the
  // deadline again, answers default_action and exits with k_exit_watchdog
  // (reap() logs it). A worker that finished meanwhile ignores the signal.
  d_overdue.clear();
  d_board->overdue(board_now_ns(), d_overdue);
  for (pid_t pid : d_overdue)
    kill(pid, SIGALRM);
}

void Master::tick() {
  auto now = SteadyClock::now();
  if (d_stopping) {
    if (!d_killed && now >= d_stop_deadline) {
      d_killed = true;
      log_warn("%zu workers still busy after stop_timeout; killing them", d_workers.size());
      for (const auto& [pid, w] : d_workers)
        kill(pid, SIGKILL);
    }
    return;
  }
  const ServerSettings& s = d_gen->server();
  // Retire surplus idle workers, down to min_workers, but never the last
  // available one: ensure_workers() would fork its replacement at once (a
  // steadily busy pool would renew its spare every worker_max_idle).
  int total = 0, available = 0;
  for (const auto& [pid, w] : d_workers) {
    if (w.generation != d_generation || w.retiring) continue;
    ++total;
    if (!w.reported || w.state == WorkerState::idle) ++available;
  }
  for (auto& [pid, w] : d_workers) {
    if (total <= s.min_workers || available <= 1) break;
    if (w.generation != d_generation || w.retiring || !w.reported || w.state != WorkerState::idle)
      continue;
    if (now - w.since < std::chrono::seconds(s.worker_max_idle_s)) continue;
    w.retiring = true;
    order(pid, w, k_order_retire, SIGUSR2);
    --total;
    --available;
  }
  if (d_throttle_ms && now > d_throttle_until + std::chrono::seconds(10)) d_throttle_ms = 0;
  ensure_workers();
  // Out of stress: the reclaim time grows back to reclaim_idle, doubling
  // each second the pool is not full.
  if (!d_full) d_reclaim_ms = std::min(d_reclaim_ms * 2, s.reclaim_idle_ms);
  if (d_full) {
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - d_full_counted).count();
    if (ms >= 1000) {
      d_shm->stats().add(d_full_ms, static_cast<uint64_t>(ms / 1000));
      d_full_counted += std::chrono::seconds(ms / 1000);
    }
  }
  // Expired shared-memory entries, a slice per second: a whole sweep per interval.
  uint32_t wall = static_cast<uint32_t>(time(nullptr));
  for (ShmTable* t : {&d_shm->cache(), &d_shm->records()})
    t->sweep(wall, t->stripes() / static_cast<size_t>(s.maintenance_interval_s) + 1);
  if (now - d_last_maintenance >= std::chrono::seconds(s.maintenance_interval_s)) {
    d_last_maintenance = now;
    maintenance();
  }
  if (d_maintenance_pid > 0 &&
      now - d_maintenance_started > std::chrono::seconds(s.maintenance_interval_s)) {
    log_warn("maintenance process %d still running after %lds; killing it",
             static_cast<int>(d_maintenance_pid), s.maintenance_interval_s);
    kill(d_maintenance_pid, SIGKILL);
  }
  update_gauges();
}

void Master::maintenance() {
  if (d_maintenance_pid > 0) return;
  // Database expiry runs in a child with its own connections, so the master
  // never blocks on a database and never holds a connection across fork.
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, "ppolicyd-maint");
    if (d_stats_http) d_stats_http->close_in_child();
    if (d_control) d_control->close_in_child();
    Services services(d_gen->config(), d_shm.get());
    for (auto& m : d_gen->modules) {
      try {
        m->module->maintain(services);
      } catch (const std::exception& e) {
        log_warn("maintenance of module %s: %s", m->name.c_str(), e.what());
      }
    }
    _exit(0);
  }
  d_maintenance_pid = pid;
  d_maintenance_started = SteadyClock::now();
}

void Master::update_gauges() {
  int busy = 0, idle = 0;
  for (const auto& [pid, w] : d_workers) {
    if (w.reported && w.state == WorkerState::busy)
      ++busy;
    else
      ++idle;
  }
  StatsArea& st = d_shm->stats();
  st.set(d_gauge_busy, busy);
  st.set(d_gauge_idle, idle);
  st.set(d_gauge_gen, d_generation);
  st.set(d_gauge_min, d_gen->server().min_workers);
  st.set(d_gauge_max, d_gen->server().max_workers);
  st.set(d_reclaim_gauge, static_cast<uint64_t>(d_reclaim_ms / 1000));
  ShmTable* tables[] = {&d_shm->cache(), &d_shm->records()};
  for (int i = 0; i < 2; ++i) {
    st.set(d_shm_used[i], tables[i]->used());
    st.set(d_shm_cap[i], tables[i]->capacity());
  }
}

void Master::reload() {
  if (d_stopping) return;
  log_info("reloading %s", d_opts.config_path.c_str());
  std::unique_ptr<Generation> fresh;
  // At the open-file limit the configuration file (and what it includes)
  // must still open.
  release_reserve();
  struct Retake {
    Master* m;
    ~Retake() { m->take_reserve(); }
  } retake{this};
  try {
    ErrorList errors;
    auto config = Config::load(d_opts.config_path, d_opts.overrides, errors);
    // What was set up before privileges were dropped cannot change now.
    if (config)
      for (const auto& key : config->keep_restart_only(d_gen->config()))
        log_warn("reload: [ppolicyd] %s changes only on restart; keeping the running value",
                 key.c_str());
    if (!config) errors.raise_if_any();
    fresh = Generation::build(std::move(config), errors);
  } catch (const std::exception& e) {
    for (const auto& line : split(e.what(), "\n"))
      if (!line.empty()) log_error("%s", line.c_str());
    log_error("reload failed: the new configuration has errors; still running the previous one");
    d_shm->stats().set(d_gauge_reload_ok, 0);
    return;
  }
  d_shm->stats().set(d_gauge_reload_ok, 1);
  d_shm->stats().set(d_gauge_reload_time, static_cast<uint64_t>(std::time(nullptr)));
  fresh->register_stats(d_shm->stats());
  d_gen = std::move(fresh);
  if (d_stats_http) d_stats_http->set_allow(d_gen->server().stats_allow);
  d_reclaim_ms = std::min(d_reclaim_ms, d_gen->server().reclaim_idle_ms);
  ++d_generation;
  log_open(log_target_for(d_gen->server(), d_opts.foreground));
  for (auto& [pid, w] : d_workers) {
    if (w.generation == d_generation || w.retiring) continue;
    w.retiring = true;
    order(pid, w, k_order_retire, SIGUSR2);
  }
  ensure_workers();
  log_info("configuration reloaded (generation %d)", d_generation);
  // New module instances may need database tables: the maintenance process
  // creates missing ones (as prepare() did at start), so run it now rather
  // than after maintenance_interval. It is a child: the master never waits
  // for the database.
  d_last_maintenance = SteadyClock::now();
  maintenance();
}

void Master::begin_stop() {
  if (d_stopping) return;
  d_stopping = true;
  d_stop_deadline = SteadyClock::now() + std::chrono::seconds(d_gen->server().stop_timeout_s);
  log_info("stopping: waiting for %zu workers to finish their requests", d_workers.size());
  for (const auto& [pid, w] : d_workers)
    order(pid, w, k_order_stop, SIGTERM);
  if (d_maintenance_pid > 0) kill(d_maintenance_pid, SIGTERM);
  for (pid_t pid : d_control_pids)
    kill(pid, SIGTERM);
  if (d_workers.empty()) event_base_loopbreak(d_base);
}

void Master::finish_stop() {
  const ServerSettings& s = d_gen->server();
  if (!s.state_file.empty()) {
    long n = d_shm->save(s.state_file);
    if (n >= 0) log_info("saved %ld cache and record entries to %s", n, s.state_file.c_str());
  }
  close_listeners(d_listeners, true);
  if (d_control) d_control->remove();
  if (!s.pid_file.empty()) unlink(s.pid_file.c_str());
  log_info("stopped");
}

void Master::report_stats() {
  update_gauges();
  log_stats_report(*d_shm, d_workers.size(), d_generation);
  log_info("statistics: pool %s; reclaim time now %ldms (reclaim_idle %ldms)%s",
           d_full ? "full (every worker holds a connection, max_workers reached)" : "not full",
           d_reclaim_ms, d_gen->server().reclaim_idle_ms,
           d_stats_http
               ? format("; %zu statistics connections open", d_stats_http->connections()).c_str()
               : "");
}

// A control connection: served by a child (control.cpp) that checks the
// peer, runs the command with the shared memory and the database, and
// exits; the master never waits for the client or the database.
void Master::control_accept() {
  constexpr size_t k_max_control = 4;
  int fd = d_control->accept_one();
  if (fd < 0) return;
  if (d_stopping || d_control_pids.size() >= k_max_control) {
    static const char busy[] = "error\nbusy: too many control commands at once, or stopping\n";
    ssize_t ignored = write(fd, busy, sizeof busy - 1);
    (void)ignored;
    close(fd);
    return;
  }
  update_gauges();
  PoolSnapshot pool;
  for (const auto& [pid, w] : d_workers) {
    if (!w.reported || w.state == WorkerState::idle)
      ++pool.idle;
    else if (w.state == WorkerState::busy)
      ++pool.busy;
    else
      ++pool.holding;  // a connection between requests
  }
  pool.generation = d_generation;
  pool.full = d_full;
  pool.reclaim_ms = d_reclaim_ms;
  pid_t pid = fork();
  if (pid < 0) {
    log_warn("control: fork: %s", std::strerror(errno));
    close(fd);
    return;
  }
  if (pid == 0) {
    if (d_stats_http) d_stats_http->close_in_child();
    d_control->close_in_child();
    control_child(fd, *d_gen, *d_shm, pool);
  }
  close(fd);
  d_control_pids.insert(pid);
}

void Master::take_reserve() {
  if (d_reserve < 0) d_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Master::release_reserve() {
  if (d_reserve >= 0) close(d_reserve);
  d_reserve = -1;
}

void Master::note_full(bool full) {
  auto now = SteadyClock::now();
  if (full == d_full) return;
  d_full = full;
  if (!full) {
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - d_full_counted).count();
    d_shm->stats().add(d_full_ms, static_cast<uint64_t>((ms + 500) / 1000));
    return;
  }
  d_full_since = d_full_counted = now;
  if (now - d_full_warned > std::chrono::seconds(60)) {
    d_full_warned = now;
    log_warn(
        "pool full: all %d workers hold a Postfix connection (max_workers); a new connection "
        "now takes the connection idle longest (at least %ldms, reclaim_idle), which its smtpd "
        "reopens after 1s. If this recurs, raise [ppolicyd] max_workers to the number of smtpd "
        "processes that connect",
        d_gen->server().max_workers, d_reclaim_ms);
  }
  pressure();
}

// While the pool is full: give waiting connections a worker by reclaiming
// quiet connections, those that never sent a byte first (after
// first_byte_timeout), then the longest idle (after the adaptive reclaim
// time). Runs every k_pressure_ms while full; never loops on a listener.
void Master::pressure() {
  if (!d_full || d_stopping) return;
  timeval tv{0, k_pressure_ms * 1000};
  evtimer_add(d_pressure, &tv);
  int waiting = 0;
  for (const auto& l : d_listeners)
    waiting += waiting_connections(l);
  if (waiting == 0) return;
  int in_flight = 0;
  auto now = SteadyClock::now();
  std::vector<std::pair<long, pid_t>> silent, held;
  const ServerSettings& s = d_gen->server();
  for (const auto& [pid, w] : d_workers) {
    if (w.reclaim_sent) {
      ++in_flight;
      continue;
    }
    if (!w.reported || w.retiring) continue;
    long quiet = std::chrono::duration_cast<std::chrono::milliseconds>(now - w.since).count();
    if (w.state == WorkerState::silent && quiet >= s.first_byte_timeout_ms)
      silent.emplace_back(quiet, pid);
    else if ((w.state == WorkerState::held || w.state == WorkerState::silent) &&
             quiet >= d_reclaim_ms)
      held.emplace_back(quiet, pid);
  }
  int want = std::min(waiting - in_flight, k_reclaim_batch);
  if (want <= 0) return;
  std::sort(silent.rbegin(), silent.rend());
  std::sort(held.rbegin(), held.rend());
  silent.insert(silent.end(), held.begin(), held.end());
  if (silent.empty()) {
    // Stress (Postfix's stress mode is the model): connections wait and
    // none has been quiet long enough; shorten the reclaim time.
    d_reclaim_ms = std::max(d_reclaim_ms / 2, k_reclaim_floor_ms);
    return;
  }
  for (size_t i = 0; i < silent.size() && static_cast<int>(i) < want; ++i) {
    d_workers[silent[i].second].reclaim_sent = true;
    kill(silent[i].second, reclaim_signal());
  }
}

int Master::run() {
  try {
    start();
  } catch (const std::exception& e) {
    log_error("fatal: %s", e.what());
    if (d_opts.ready_fd >= 0) {
      std::string msg = e.what();
      ssize_t ignored = write(d_opts.ready_fd, msg.data(), msg.size());
      (void)ignored;
      close(d_opts.ready_fd);
    }
    close_listeners(d_listeners, true);
    return 1;
  }
  if (d_opts.ready_fd >= 0) {
    ssize_t ignored = write(d_opts.ready_fd, "ok", 2);
    (void)ignored;
    close(d_opts.ready_fd);
    d_opts.ready_fd = -1;
  }
  event_base_dispatch(d_base);
  // Stopped: every worker has exited (or was killed).
  reap();
  finish_stop();
  return 0;
}

}  // namespace

LogTarget log_target_for(const ServerSettings& s, bool foreground) {
  LogTarget t = s.log;
  t.use_syslog = s.log_mode == "syslog" || (s.log_mode == "auto" && !foreground);
  return t;
}

int run_master(std::unique_ptr<Generation> gen, const MasterOptions& options) {
  Master m(std::move(gen), options);
  return m.run();
}

}  // namespace ppolicy
