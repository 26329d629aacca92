// SPDX-License-Identifier: GPL-2.0-or-later
// loadgen: load generator for Postfix policy servers (ppolicyd, nullpolicy or
// any other). Used by t/bench/bench.sh (make bench), t/bench/soak.sh (make
// soak) and fault-injection tests; it is not part of the daemon.
//
// It holds N persistent connections, like N Postfix smtpd processes, and
// sends realistic requests (every attribute Postfix 3.7 sends) one at a time
// per connection. Each reply is checked: "action=" + an access(5) word, and
// optionally the expected action. Connections closed without a reply,
// invalid replies and replies later than the reply timeout are counted and
// the connection is opened again, so a run survives a restarting server.
//
// Event-driven (one epoll loop per thread, non-blocking sockets, requests
// built into a reused buffer) so that on a small machine the generator costs
// far less CPU than the server it measures.
//
// Output: a human summary on stdout (unless -q) and one machine-readable
// line: "loadgen key=value ..." or, with -j, one JSON object. With -L FILE,
// also one line per request (times, outcome, request keys, reply), so that a
// fault-injection test can tell what every request got and when.
// Exit status: 0 all replies valid (and expected), 1 errors counted, 2 usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 10030;
  std::string unix_path;
  int conns = 8;
  int threads = 1;
  long requests = 0;          // total; 0: use duration
  double duration_s = 10;     // when requests == 0
  double rate = 0;            // requests/s over all connections; 0: as fast as possible
  long distinct = 1000;       // distinct clients, senders, recipients
  long cycle = 0;             // -R: request numbers repeat every cycle requests (0: never)
  unsigned first_octet = 10;  // -A: client addresses first_octet.x.y.z
  long reply_timeout_ms = 30000;
  std::string expect;  // expected action (exact, or prefix when it ends with '*')
  bool json = false;
  bool quiet = false;
  std::string label;
  std::string log_path;  // -L: one line per request
  std::string tag;       // -K: put into sender domains (distinct keys per run)
};

Options g_opt;
std::atomic<bool> g_stop{false};

// -L: the request log, shared by the threads. Times are wall-clock seconds
// (derived from the steady clock and one wall-clock reading at start), so a
// test can compare them with the times it injected faults at.
FILE* g_log = nullptr;
std::mutex g_log_mutex;
Clock::time_point g_steady0;
double g_wall0 = 0;
double wall(Clock::time_point t) {
  return g_wall0 + std::chrono::duration<double>(t - g_steady0).count();
}
std::string num6(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6f", v);
  return b;
}

// Latency histogram in microseconds: exact below 1024 us, then 512
// sub-buckets per power of two (0.2% precision), up to ~70 minutes.
class Histogram {
 public:
  static constexpr int k_buckets = 1024 + 23 * 512;
  void add(uint64_t us) {
    ++d_count[index(us)];
    d_max = std::max(d_max, us);
    ++d_n;
  }
  void merge(const Histogram& o) {
    for (int i = 0; i < k_buckets; ++i)
      d_count[i] += o.d_count[i];
    d_max = std::max(d_max, o.d_max);
    d_n += o.d_n;
  }
  uint64_t count() const { return d_n; }
  uint64_t max() const { return d_max; }
  double percentile(double p) const {
    if (!d_n) return 0;
    uint64_t want = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(d_n)));
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < k_buckets; ++i) {
      seen += d_count[i];
      if (seen >= want) return std::min(static_cast<double>(value(i)), static_cast<double>(d_max));
    }
    return static_cast<double>(d_max);
  }

 private:
  static int index(uint64_t v) {
    if (v < 1024) return static_cast<int>(v);
    int bits = 64 - __builtin_clzll(v);
    int shift = bits - 10;
    if (shift > 23) return k_buckets - 1;
    return 1024 + (shift - 1) * 512 + static_cast<int>((v >> shift) - 512);
  }
  static uint64_t value(int i) {
    if (i < 1024) return static_cast<uint64_t>(i);
    int shift = (i - 1024) / 512 + 1;
    uint64_t top = static_cast<uint64_t>((i - 1024) % 512 + 512);
    return (top << shift) + (uint64_t{1} << shift) / 2;
  }
  std::vector<uint64_t> d_count = std::vector<uint64_t>(k_buckets, 0);
  uint64_t d_max = 0, d_n = 0;
};

struct Counters {
  uint64_t sent = 0, ok = 0, closed = 0, invalid = 0, unexpected = 0, timeouts = 0,
           connect_errors = 0, reconnects = 0;
  std::string first_error;
  void merge(const Counters& o) {
    sent += o.sent;
    ok += o.ok;
    closed += o.closed;
    invalid += o.invalid;
    unexpected += o.unexpected;
    timeouts += o.timeouts;
    connect_errors += o.connect_errors;
    reconnects += o.reconnects;
    if (first_error.empty()) first_error = o.first_error;
  }
  uint64_t errors() const { return closed + invalid + unexpected + timeouts; }
};

// access(5) words a policy server may answer (as ppolicyd validates them).
bool valid_action(std::string_view a) {
  static const char* const words[] = {
      "OK",   "DUNNO",  "REJECT", "DEFER",   "DEFER_IF_REJECT", "DEFER_IF_PERMIT",
      "WARN", "INFO",   "HOLD",   "DISCARD", "FILTER",          "REDIRECT",
      "BCC",  "PREPEND"};
  std::string_view w = a.substr(0, a.find(' '));
  if (w.size() == 3 && (w[0] == '4' || w[0] == '5') && isdigit(static_cast<unsigned char>(w[1])) &&
      isdigit(static_cast<unsigned char>(w[2])))
    return true;
  for (const char* x : words)
    if (w.size() == std::strlen(x) && strncasecmp(w.data(), x, w.size()) == 0) return true;
  return false;
}

bool expected(std::string_view a) {
  const std::string& e = g_opt.expect;
  if (e.empty()) return true;
  if (e.back() == '*')
    return a.substr(0, e.size() - 1) == std::string_view(e).substr(0, e.size() - 1);
  return a == e;
}

// The client, sender and recipient of request number k (numbers below -D).
struct Keys {
  uint64_t c = 0, s = 0, r = 0;
};

std::string client_of(const Keys& k) {
  char b[32];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", g_opt.first_octet,
                static_cast<unsigned>((k.c >> 16) & 255), static_cast<unsigned>((k.c >> 8) & 255),
                static_cast<unsigned>(k.c & 255));
  return b;
}
std::string sender_of(const Keys& k) {
  char b[160];
  std::snprintf(b, sizeof b, "user%llu@sender%llu.%s%stest", static_cast<unsigned long long>(k.s),
                static_cast<unsigned long long>(k.s % 997), g_opt.tag.c_str(),
                g_opt.tag.empty() ? "" : ".");
  return b;
}
std::string recipient_of(const Keys& k) {
  return "rcpt" + std::to_string(k.r) + "@example.org";
}

// One realistic RCPT request (Postfix 3.7 attribute set). Request number k
// picks client, sender and recipient with different strides so that the
// triples vary too; queue_id/instance change like in a real session.
void build_request(std::string& out, uint64_t k, Keys* keys) {
  // -R: a fixed set of requests, so that a warm-up pass can make a server's
  // per-triplet state (greylisting) known for every request of later runs.
  if (g_opt.cycle > 0) k %= static_cast<uint64_t>(g_opt.cycle);
  // Scrambled (splitmix64), so that a cache smaller than the number of
  // distinct values still hits (a cyclic order would defeat any LRU).
  auto mix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  uint64_t d = static_cast<uint64_t>(g_opt.distinct);
  uint64_t c = mix(k) % d, s = mix(k ^ 0x5555) % d, r = mix(k ^ 0xaaaa) % d;
  *keys = Keys{c, s, r};
  std::string client = client_of(*keys), sender = sender_of(*keys), recipient = recipient_of(*keys);
  char buf[1800];
  int n = std::snprintf(
      buf, sizeof buf,
      "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
      "client_address=%s\nclient_name=mx%llu.client.test\nclient_port=%u\n"
      "reverse_client_name=mx%llu.client.test\nserver_address=127.0.0.1\nserver_port=25\n"
      "helo_name=mx%llu.client.test\nsender=%s\nrecipient=%s\n"
      "recipient_count=%llu\nqueue_id=%s\ninstance=%llx.%llx.0\nsize=%llu\netrn_domain=\nstress=\n"
      "sasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_"
      "fingerprint=\n"
      "ccert_pubkey_fingerprint=\nencryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_"
      "SHA384\n"
      "encryption_keysize=256\npolicy_context=\n\n",
      client.c_str(), static_cast<unsigned long long>(c), static_cast<unsigned>(1024 + k % 60000),
      static_cast<unsigned long long>(c), static_cast<unsigned long long>(c), sender.c_str(),
      recipient.c_str(), static_cast<unsigned long long>(k % 3), (k % 3) ? "4Xy1Zq2LmNp3" : "",
      static_cast<unsigned long long>(k / 3), static_cast<unsigned long long>(c),
      static_cast<unsigned long long>((k % 3) ? 4096 + k % 100000 : 0));
  out.assign(buf, static_cast<size_t>(n));
}

struct Conn {
  int fd = -1;
  std::string out;
  size_t out_off = 0;
  std::string in;
  Clock::time_point started{};   // when the request was due (rate) or sent
  Clock::time_point sent{};      // when it was sent
  Keys keys;                     // of the outstanding request (-L)
  bool waiting = false;          // a request is outstanding
  Clock::time_point retry_at{};  // reconnect not before
};

class Worker {
 public:
  Worker(int first, int n, long requests, double rate, Clock::time_point end)
      : d_first(first),
        d_conns(static_cast<size_t>(n)),
        d_left(requests),
        d_rate(rate),
        d_end(end) {}
  void run();
  Histogram hist;
  Counters counters;
  double seconds = 0;

 private:
  bool open(Conn& c);
  void drop(Conn& c, uint64_t* counter, const char* why);
  void start_request(Conn& c, Clock::time_point now);
  void on_readable(Conn& c, Clock::time_point now);
  void on_writable(Conn& c);
  bool want_more() const { return d_left != 0 && !g_stop; }
  void error(const char* what, const std::string& detail);
  void log(const Conn& c, const char* status, Clock::time_point end, std::string_view reply);

  int d_first;
  std::vector<Conn> d_conns;
  long d_left;  // requests still to start (-1: unlimited)
  double d_rate;
  Clock::time_point d_end;
  int d_ep = -1;
  uint64_t d_seq = 0;
  Clock::time_point d_t0{};
  uint64_t d_scheduled = 0;  // rate mode: requests scheduled so far
};

void Worker::error(const char* what, const std::string& detail) {
  if (counters.first_error.empty()) counters.first_error = std::string(what) + ": " + detail;
}

// One line per request: due, sent and end times, outcome, client, sender,
// recipient, the reply's action value (or "-"); tab-separated.
void Worker::log(const Conn& c, const char* status, Clock::time_point end, std::string_view reply) {
  if (!g_log) return;
  std::string line = num6(wall(c.started)) + "\t" + num6(wall(c.sent)) + "\t" + num6(wall(end)) +
                     "\t" + status + "\t" + client_of(c.keys) + "\t" + sender_of(c.keys) + "\t" +
                     recipient_of(c.keys) + "\t";
  for (char ch : reply.substr(0, 1000))
    line += ch == '\t' || ch == '\n' ? ' ' : ch;
  if (reply.empty()) line += "-";
  line += "\n";
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fwrite(line.data(), 1, line.size(), g_log);
}

bool Worker::open(Conn& c) {
  int fd;
  int rc;
  if (!g_opt.unix_path.empty()) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g_opt.unix_path.c_str());
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(g_opt.port));
    inet_pton(AF_INET, g_opt.host.c_str(), &sa.sin_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
    ++counters.connect_errors;
    error("connect", std::strerror(errno));
    close(fd);
    c.fd = -1;
    c.retry_at = Clock::now() + std::chrono::milliseconds(100);
    return false;
  }
  c.fd = fd;
  c.in.clear();
  c.out.clear();
  c.out_off = 0;
  c.waiting = false;
  epoll_event ev{EPOLLIN | EPOLLRDHUP, {}};
  ev.data.u64 = static_cast<uint64_t>(&c - d_conns.data());
  epoll_ctl(d_ep, EPOLL_CTL_ADD, fd, &ev);
  return true;
}

void Worker::drop(Conn& c, uint64_t* counter, const char* why) {
  if (c.waiting && counter)
    log(c,
        counter == &counters.timeouts  ? "timeout"
        : counter == &counters.invalid ? "invalid"
                                       : "closed",
        Clock::now(), {});
  if (counter) {
    ++*counter;
    error(why, "connection " + std::to_string(d_first + (&c - d_conns.data())));
  }
  if (c.fd >= 0) close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  c.waiting = false;
  c.retry_at = Clock::now() + std::chrono::milliseconds(counter ? 10 : 0);
}

void Worker::start_request(Conn& c, Clock::time_point now) {
  if (d_left > 0) --d_left;
  build_request(c.out,
                d_seq++ * static_cast<uint64_t>(g_opt.threads) + static_cast<uint64_t>(d_first),
                &c.keys);
  c.sent = now;
  c.out_off = 0;
  c.waiting = true;
  if (d_rate > 0) {
    // Latency counts from the slot the request was due in, so a stalled
    // server cannot hide its stall (no coordinated omission).
    c.started = d_t0 + std::chrono::nanoseconds(
                           static_cast<int64_t>(1e9 * static_cast<double>(d_scheduled++) / d_rate));
  } else {
    c.started = now;
  }
  ++counters.sent;
  on_writable(c);
}

void Worker::on_writable(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (w > 0) {
      c.out_off += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      epoll_event ev{EPOLLIN | EPOLLOUT | EPOLLRDHUP, {}};
      ev.data.u64 = static_cast<uint64_t>(&c - d_conns.data());
      epoll_ctl(d_ep, EPOLL_CTL_MOD, c.fd, &ev);
      return;
    }
    drop(c, &counters.closed, "send failed / closed without reply");
    return;
  }
}

void Worker::on_readable(Conn& c, Clock::time_point now) {
  char buf[8192];
  while (true) {
    ssize_t r = read(c.fd, buf, sizeof buf);
    if (r > 0) {
      c.in.append(buf, static_cast<size_t>(r));
      if (static_cast<size_t>(r) < sizeof buf) break;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
    // EOF or error: a reply was owed if a request is outstanding.
    drop(c, c.waiting ? &counters.closed : nullptr, "closed without reply");
    return;
  }
  size_t end = c.in.find("\n\n");
  if (end == std::string::npos) {
    if (c.in.size() > 65536) drop(c, &counters.invalid, "reply too long");
    return;
  }
  if (!c.waiting || end + 2 != c.in.size()) {
    drop(c, &counters.invalid, "unsolicited data");
    return;
  }
  std::string_view reply(c.in.data(), end);
  c.waiting = false;
  // The first line must be action=...; other lines are tolerated.
  std::string_view first = reply.substr(0, reply.find('\n'));
  const char* status = "ok";
  if (first.substr(0, 7) != "action=" || !valid_action(first.substr(7))) {
    ++counters.invalid;
    status = "invalid";
    error("invalid reply", std::string(reply.substr(0, 200)));
  } else if (!expected(first.substr(7))) {
    ++counters.unexpected;
    status = "unexpected";
    error("unexpected action", std::string(first.substr(7, 200)));
  } else {
    ++counters.ok;
  }
  log(c, status, now, first.substr(0, 7) == "action=" ? first.substr(7) : reply);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count();
  hist.add(static_cast<uint64_t>(std::max<int64_t>(us, 0)));
  c.in.clear();
}

void Worker::run() {
  d_ep = epoll_create1(EPOLL_CLOEXEC);
  d_t0 = Clock::now();
  for (auto& c : d_conns)
    open(c);
  std::vector<epoll_event> evs(d_conns.size() + 1);
  while (true) {
    auto now = Clock::now();
    if (g_stop || (d_left < 0 && now >= d_end)) d_left = 0;
    bool busy = false;
    auto wait = std::chrono::nanoseconds(std::chrono::milliseconds(100));
    // Start requests on idle connections; reopen dropped ones; time out.
    for (auto& c : d_conns) {
      if (c.fd < 0) {
        if (!want_more()) continue;
        if (now < c.retry_at) continue;
        ++counters.reconnects;
        if (!open(c)) continue;
      }
      if (c.waiting) {
        busy = true;
        if (now - c.started > std::chrono::milliseconds(g_opt.reply_timeout_ms))
          drop(c, &counters.timeouts, "reply timeout");
        continue;
      }
      if (!want_more()) continue;
      if (d_rate > 0) {
        auto due = d_t0 + std::chrono::nanoseconds(static_cast<int64_t>(
                              1e9 * static_cast<double>(d_scheduled) / d_rate));
        if (due > now) {
          wait = std::min(wait, std::chrono::duration_cast<std::chrono::nanoseconds>(due - now));
          continue;
        }
      }
      start_request(c, now);
      busy = true;
    }
    if (!busy && !want_more()) break;
    // Nanosecond timeout (epoll_pwait2): at a steady rate the gaps between
    // requests are below a millisecond.
    timespec ts{static_cast<time_t>(wait.count() / 1000000000),
                static_cast<long>(wait.count() % 1000000000)};
    int n = epoll_pwait2(d_ep, evs.data(), static_cast<int>(evs.size()), &ts, nullptr);
    if (n < 0 && errno == ENOSYS)
      n = epoll_wait(d_ep, evs.data(), static_cast<int>(evs.size()),
                     static_cast<int>((wait.count() + 999999) / 1000000));
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      Conn& c = d_conns[evs[i].data.u64];
      if (c.fd < 0) continue;
      if (evs[i].events & EPOLLOUT) {
        on_writable(c);
        if (c.fd >= 0 && c.out_off == c.out.size()) {
          epoll_event ev{EPOLLIN | EPOLLRDHUP, {}};
          ev.data.u64 = evs[i].data.u64;
          epoll_ctl(d_ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (c.fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        on_readable(c, now);
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - d_t0).count();
  for (auto& c : d_conns)
    if (c.fd >= 0) close(c.fd);
  close(d_ep);
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

void usage() {
  std::fprintf(stderr,
               "usage: loadgen [options]\n"
               "  -H HOST      server address (127.0.0.1)\n"
               "  -p PORT      server port (10030)\n"
               "  -U PATH      unix socket instead of TCP\n"
               "  -c N         concurrent persistent connections (8)\n"
               "  -t N         threads (1); connections are shared out\n"
               "  -n N         send N requests in total, or\n"
               "  -d SECONDS   run this long (10)\n"
               "  -r RATE      steady rate, requests/s over all connections (0: flat out);\n"
               "               latency then counts from each request's due time\n"
               "  -D N         distinct clients, senders and recipients (1000)\n"
               "  -R N         request numbers repeat every N requests (N distinct requests;\n"
               "               with one thread, -n N sends each once); 0: never (0)\n"
               "  -A OCTET     client addresses OCTET.x.y.z (10)\n"
               "  -T MS        reply timeout; later replies count as timeouts (30000)\n"
               "  -e ACTION    expected action (\"DUNNO\", or a prefix ending in '*')\n"
               "  -l LABEL     label copied into the result line\n"
               "  -K TAG       put TAG into every sender domain (userN@senderM.TAG.test), so\n"
               "               that runs use distinct keys\n"
               "  -L FILE      write one line per request to FILE: due, sent and end time\n"
               "               (wall clock, s), ok|invalid|unexpected|closed|timeout, client,\n"
               "               sender, recipient, reply action (or -); tab-separated\n"
               "  -j           result as one JSON line instead of key=value\n"
               "  -q           no human summary\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int ch;
  while ((ch = getopt(argc, argv, "H:p:U:c:t:n:d:r:D:R:A:T:e:l:K:L:jqh")) != -1) {
    switch (ch) {
      case 'H':
        g_opt.host = optarg;
        break;
      case 'p':
        g_opt.port = std::atoi(optarg);
        break;
      case 'U':
        g_opt.unix_path = optarg;
        break;
      case 'c':
        g_opt.conns = std::atoi(optarg);
        break;
      case 't':
        g_opt.threads = std::atoi(optarg);
        break;
      case 'n':
        g_opt.requests = std::atol(optarg);
        break;
      case 'd':
        g_opt.duration_s = std::atof(optarg);
        break;
      case 'r':
        g_opt.rate = std::atof(optarg);
        break;
      case 'D':
        g_opt.distinct = std::atol(optarg);
        break;
      case 'R':
        g_opt.cycle = std::atol(optarg);
        break;
      case 'A':
        g_opt.first_octet = static_cast<unsigned>(std::atoi(optarg));
        break;
      case 'T':
        g_opt.reply_timeout_ms = std::atol(optarg);
        break;
      case 'e':
        g_opt.expect = optarg;
        break;
      case 'l':
        g_opt.label = optarg;
        break;
      case 'K':
        g_opt.tag = optarg;
        break;
      case 'L':
        g_opt.log_path = optarg;
        break;
      case 'j':
        g_opt.json = true;
        break;
      case 'q':
        g_opt.quiet = true;
        break;
      default:
        usage();
    }
  }
  if (g_opt.conns < 1 || g_opt.threads < 1 || g_opt.distinct < 1 || g_opt.requests < 0 ||
      g_opt.cycle < 0 || g_opt.first_octet > 255 || g_opt.rate < 0 ||
      (g_opt.requests == 0 && g_opt.duration_s <= 0))
    usage();
  g_opt.threads = std::min(g_opt.threads, g_opt.conns);
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (!g_opt.log_path.empty()) {
    g_log = std::fopen(g_opt.log_path.c_str(), "w");
    if (!g_log) {
      std::fprintf(stderr, "loadgen: %s: %s\n", g_opt.log_path.c_str(), std::strerror(errno));
      return 2;
    }
    setvbuf(g_log, nullptr, _IOFBF, 1 << 20);
  }
  g_steady0 = Clock::now();
  g_wall0 =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

  auto end = Clock::now() + std::chrono::milliseconds(static_cast<long>(g_opt.duration_s * 1000));
  std::vector<std::unique_ptr<Worker>> workers;
  int first = 0;
  for (int t = 0; t < g_opt.threads; ++t) {
    int n = g_opt.conns / g_opt.threads + (t < g_opt.conns % g_opt.threads ? 1 : 0);
    long reqs = g_opt.requests
                    ? g_opt.requests / g_opt.threads + (t < g_opt.requests % g_opt.threads ? 1 : 0)
                    : -1;
    workers.push_back(std::make_unique<Worker>(first, n, reqs, g_opt.rate / g_opt.threads, end));
    first += n;
  }
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads)
    t.join();

  if (g_log && std::fclose(g_log) != 0) {
    std::fprintf(stderr, "loadgen: %s: %s\n", g_opt.log_path.c_str(), std::strerror(errno));
    return 2;
  }

  Histogram h;
  Counters c;
  double secs = 0;
  for (auto& w : workers) {
    h.merge(w->hist);
    c.merge(w->counters);
    secs = std::max(secs, w->seconds);
  }
  double rps = secs > 0 ? static_cast<double>(h.count()) / secs : 0;
  double p50 = h.percentile(50) / 1000, p99 = h.percentile(99) / 1000,
         mx = static_cast<double>(h.max()) / 1000;
  if (!g_opt.quiet) {
    std::printf(
        "%s%s%d connections, %.1f s: %llu replies, %.0f req/s; latency p50 %.3f ms, p99 %.3f ms, "
        "max %.3f ms\n",
        g_opt.label.c_str(), g_opt.label.empty() ? "" : ": ", g_opt.conns, secs,
        static_cast<unsigned long long>(h.count()), rps, p50, p99, mx);
    if (c.errors() || c.connect_errors)
      std::printf(
          "  errors: %llu closed without reply, %llu invalid, %llu unexpected, %llu timeouts, "
          "%llu connect errors; first: %s\n",
          static_cast<unsigned long long>(c.closed), static_cast<unsigned long long>(c.invalid),
          static_cast<unsigned long long>(c.unexpected),
          static_cast<unsigned long long>(c.timeouts),
          static_cast<unsigned long long>(c.connect_errors), c.first_error.c_str());
  }
  // One machine-readable line: JSON or key=value, same keys.
  const std::pair<const char*, std::string> kv[] = {
      {"label", g_opt.label.empty() ? "-" : g_opt.label},
      {"conns", std::to_string(g_opt.conns)},
      {"seconds", num(secs)},
      {"replies", std::to_string(h.count())},
      {"ok", std::to_string(c.ok)},
      {"rps", num(rps)},
      {"p50_ms", num(p50)},
      {"p99_ms", num(p99)},
      {"max_ms", num(mx)},
      {"sent", std::to_string(c.sent)},
      {"closed", std::to_string(c.closed)},
      {"invalid", std::to_string(c.invalid)},
      {"unexpected", std::to_string(c.unexpected)},
      {"timeouts", std::to_string(c.timeouts)},
      {"connect_errors", std::to_string(c.connect_errors)},
      {"reconnects", std::to_string(c.reconnects)},
  };
  std::string line = g_opt.json ? "{" : "loadgen";
  for (const auto& [k, v] : kv) {
    if (g_opt.json) {
      bool text = std::string_view(k) == "label";
      line +=
          (line.size() > 1 ? ",\"" : "\"") + std::string(k) + "\":" + (text ? "\"" + v + "\"" : v);
    } else {
      line += " " + std::string(k) + "=" + v;
    }
  }
  if (g_opt.json) line += "}";
  std::printf("%s\n", line.c_str());
  return c.errors() ? 1 : 0;
}
