// SPDX-License-Identifier: GPL-2.0-or-later
// logsink: a minimal syslog daemon for the benchmark: binds a unix datagram
// socket (normally /dev/log inside a private mount namespace, see
// t/bench/syslog-ns.sh), receives messages in batches (recvmmsg) and appends
// them to a file through a large buffer, as rsyslog's file output does. It
// lets `make bench` measure ppolicyd logging every decision to syslog on a
// machine without a syslog daemon.
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: logsink SOCKET FILE\n");
    return 2;
  }
  // Exits with its parent (ppolicyd's master): PR_SET_PDEATHSIG, and in
  // case that is lost (the parent changes its credentials), a check of
  // getppid() at least twice a second.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  pid_t parent = getppid();
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
  unlink(argv[1]);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  timeval half{0, 500000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &half, sizeof half);
  FILE* out = std::fopen(argv[2], "a");
  if (!out) {
    std::perror(argv[2]);
    return 1;
  }
  static char file_buf[1 << 20];
  setvbuf(out, file_buf, _IOFBF, sizeof file_buf);
  constexpr int k_batch = 64;
  std::vector<char> bufs(k_batch * 2048);
  mmsghdr msgs[k_batch];
  iovec iov[k_batch];
  while (true) {
    for (int i = 0; i < k_batch; ++i) {
      iov[i] = {bufs.data() + i * 2048, 2047};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, k_batch, MSG_WAITFORONE, nullptr);
    if (getppid() != parent) {
      unlink(argv[1]);
      return 0;
    }
    if (n < 0) continue;
    for (int i = 0; i < n; ++i) {
      std::fwrite(iov[i].iov_base, 1, msgs[i].msg_len, out);
      std::fputc('\n', out);
    }
    // Like rsyslog's asynchronous file writer: flushed when the batch ends.
    std::fflush(out);
  }
}
