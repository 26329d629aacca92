// SPDX-License-Identifier: GPL-2.0-or-later
// nullpolicy: a do-nothing Postfix policy server, the reference the
// benchmark (t/bench/bench.sh) compares ppolicyd with. It answers
// "action=DUNNO\n\n" after every empty line and parses nothing else, so its
// throughput is what the machine, the kernel's loopback and the load
// generator allow: the ceiling for any policy server.
//
// Design: prefork + epoll. The parent binds one listening socket and forks
// P processes (default: the number of CPUs); each runs one epoll loop over
// the shared listener (EPOLLEXCLUSIVE, so one process wakes per new
// connection) and all the connections it accepted, non-blocking. Per
// readable event it reads what is there, counts the empty lines (a request
// may arrive split anywhere, several may arrive at once), and writes all
// the replies in one send. No per-request allocation, no threads, no locks.
// The parent only waits; SIGTERM/SIGINT to the parent stops everything.
//
// With -m fork it has ppolicyd's shape instead: one process per connection
// (the parent accepts and forks; the child serves that connection with
// blocking reads until the client closes). Comparing ppolicyd with both
// modes separates what the process-per-connection model costs on a machine
// (a context switch per request that epoll amortises over many
// connections) from what ppolicyd's own request path costs. -m fork-ppoll
// waits in ppoll (two descriptors, a signal mask, a timeout) before each
// read, as ppolicyd's workers did for every request: what that wait costs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char k_reply[] = "action=DUNNO\n\n";
constexpr size_t k_reply_len = sizeof k_reply - 1;

struct Conn {
  bool at_line_start = true;  // the previous byte was '\n' (or nothing yet)
};

[[noreturn]] void serve(int lfd) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{EPOLLIN | EPOLLEXCLUSIVE, {}};
  lev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  std::vector<Conn> conns(1024);
  std::string out;
  char buf[65536];
  epoll_event evs[256];
  while (true) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno != EINTR) std::_Exit(1);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (static_cast<size_t>(c) >= conns.size()) conns.resize(static_cast<size_t>(c) * 2);
          conns[static_cast<size_t>(c)] = Conn{};
          epoll_event ev{EPOLLIN | EPOLLRDHUP, {}};
          ev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      Conn& st = conns[static_cast<size_t>(fd)];
      size_t replies = 0;
      bool eof = false;
      while (true) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
          eof = r == 0 || (errno != EAGAIN && errno != EINTR);
          break;
        }
        // Count empty lines: a '\n' right after a '\n'.
        const char* p = buf;
        const char* end = buf + r;
        while (p < end) {
          const char* nl =
              static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
          if (!nl) {
            st.at_line_start = false;
            break;
          }
          if (nl == p && st.at_line_start) ++replies;
          st.at_line_start = true;
          p = nl + 1;
        }
        if (static_cast<size_t>(r) < sizeof buf) break;
      }
      if (replies) {
        out.clear();
        for (size_t k = 0; k < replies; ++k)
          out.append(k_reply, k_reply_len);
        // Replies are small; a client that does not read them is dropped.
        if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
          eof = true;
      }
      if (eof) close(fd);
    }
  }
}

volatile sig_atomic_t g_stop = 0;
bool g_ppoll = false;  // -m fork-ppoll

// -m fork: serve one connection in this process, synchronously.
[[noreturn]] void serve_one(int fd) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  Conn st;
  char buf[65536];
  std::string out;
  int idle[2] = {-1, -1};  // -m fork-ppoll: a second descriptor to wait on
  if (g_ppoll && pipe(idle) != 0) std::_Exit(1);
  sigset_t none;
  sigemptyset(&none);
  while (true) {
    if (g_ppoll) {
      pollfd p[2] = {{fd, POLLIN, 0}, {idle[0], POLLIN, 0}};
      timespec ts{0, 100000000L};
      if (ppoll(p, 2, &ts, &none) <= 0) continue;
    }
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) std::_Exit(0);
    size_t replies = 0;
    const char* p = buf;
    const char* end = buf + r;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!nl) {
        st.at_line_start = false;
        break;
      }
      if (nl == p && st.at_line_start) ++replies;
      st.at_line_start = true;
      p = nl + 1;
    }
    out.clear();
    for (size_t k = 0; k < replies; ++k)
      out.append(k_reply, k_reply_len);
    if (!out.empty() &&
        send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
      std::_Exit(0);
  }
}

void accept_and_fork(int lfd) {
  signal(SIGCHLD, SIG_IGN);  // no zombies
  int fl = 0;
  ioctl(lfd, FIONBIO, &fl);  // blocking accept
  while (!g_stop) {
    int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fork() == 0) serve_one(c);
    close(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 10040, procs = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  bool fork_mode = false;
  int ch;
  while ((ch = getopt(argc, argv, "H:p:P:m:")) != -1) {
    switch (ch) {
      case 'H':
        host = optarg;
        break;
      case 'p':
        port = std::atoi(optarg);
        break;
      case 'P':
        procs = std::atoi(optarg);
        break;
      case 'm':
        fork_mode = std::string(optarg) == "fork" || std::string(optarg) == "fork-ppoll";
        g_ppoll = std::string(optarg) == "fork-ppoll";
        break;
      default:
        std::fprintf(
            stderr,
            "usage: nullpolicy [-H HOST] [-p PORT] [-P PROCESSES] [-m epoll|fork|fork-ppoll]\n");
        return 2;
    }
  }
  if (procs < 1) procs = 1;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1 ||
      bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(lfd, 1024) != 0) {
    std::fprintf(stderr, "nullpolicy: %s:%d: %s\n", host.c_str(), port, std::strerror(errno));
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction act {};
  act.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGTERM, &act, nullptr);
  sigaction(SIGINT, &act, nullptr);
  if (fork_mode) {
    std::printf("nullpolicy: listening on %s:%d, one process per connection\n", host.c_str(), port);
    std::fflush(stdout);
    accept_and_fork(lfd);
    return 0;  // the children get SIGTERM (PR_SET_PDEATHSIG)
  }
  std::vector<pid_t> kids;
  for (int i = 0; i < procs; ++i) {
    pid_t pid = fork();
    if (pid == 0) serve(lfd);
    if (pid > 0) kids.push_back(pid);
  }
  std::printf("nullpolicy: listening on %s:%d with %d processes\n", host.c_str(), port, procs);
  std::fflush(stdout);
  while (!g_stop)
    pause();
  for (pid_t p : kids)
    kill(p, SIGTERM);
  for (pid_t p : kids)
    waitpid(p, nullptr, 0);
  return 0;
}
