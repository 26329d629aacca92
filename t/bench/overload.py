#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench-overload: the shipped configuration (conf/ppolicy.conf, only the
listener, pid file and state directory moved) under idle connections, as a
gateway's smtpd processes hold them (issue 12). For IDLE in 500 1000 2000:
IDLE connections each ask once and stay open; then t/bench/loadgen drives 8
busy connections for BENCH_SECONDS while a new connection asks once every
0.5 s. Prints, per row: busy throughput as a ratio of the same load without
idle connections, the worst new-connection latency, idle connections the
server reclaimed (closed), workers, total private memory of the daemon.

  t/bench/overload.py BUILD_DIR [IDLE...]    environment: BENCH_SECONDS (10)
"""

import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.path.abspath(sys.argv[1])
IDLES = [int(x) for x in sys.argv[2:]] or [500, 1000, 2000]
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
REQ = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
       "client_address=192.0.2.%d\nclient_name=mail.example.test\nhelo_name=mail.example.test\n"
       "sender=idle%d@example.test\nrecipient=rcpt@example.org\n\n")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ppbench.")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.log = os.path.join(self.dir, "ppolicyd.log")
        cmd = [os.path.join(BUILD, "src/ppolicyd"), "-f", "-c", os.path.join(SRC, "conf/ppolicy.conf"),
               "-o", "ppolicyd.listen=inet:127.0.0.1:%d" % self.port,
               "-o", "ppolicyd.pid_file=%s/ppolicyd.pid" % self.dir,
               "-o", "ppolicyd.state_dir=%s/state" % self.dir, "-o", "ppolicyd.log=stderr"]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("ppolicyd did not start:\n" + open(self.log).read())

    def workers(self):
        out = []
        for d in os.listdir("/proc"):
            try:
                st = open("/proc/%s/stat" % d).read()
                if int(st.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
        return out

    def private_kb(self):
        total = 0
        for p in [self.proc.pid] + self.workers():
            try:
                for line in open("/proc/%d/smaps_rollup" % p):
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total

    def report(self, key):
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        m = re.findall(r"statistics: %s (\d+)" % re.escape(key), open(self.log, errors="replace").read())
        return int(m[-1]) if m else 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def loadgen(port):
    r = subprocess.run([os.path.join(BUILD, "t/bench/loadgen"), "-p", str(port), "-c", "8",
                        "-d", str(SECONDS), "-q"], capture_output=True, text=True)
    m = re.search(r"\brps=([\d.]+)", r.stdout)
    return float(m.group(1)) if m else 0.0


def hold_idle(port, n, timeout=60):
    """n connections, each asks once (replies read as they come); returns
    (sockets, answered count)."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall((REQ % (i % 250 + 1, i)).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [i, b""])
        socks.append(s)
    answered = 0
    end = time.time() + timeout
    while answered < n and time.time() < end:
        for key, _ in sel.select(0.5):
            data = key.data
            try:
                chunk = key.fileobj.recv(4096)
            except OSError:
                chunk = b""
            data[1] += chunk
            if b"\n\n" in data[1] or not chunk:
                sel.unregister(key.fileobj)
                answered += b"\n\n" in data[1]
    sel.close()
    return socks, answered


def probe(port, results, stop):
    """A new connection every 0.5 s asks once: its latency (None: no answer in 10 s)."""
    while not stop.is_set():
        t = time.time()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall((REQ % (7, 999999)).encode())
            buf = b""
            while b"\n\n" not in buf:
                c = s.recv(4096)
                if not c:
                    break
                buf += c
            s.close()
            results.append(time.time() - t if b"\n\n" in buf else None)
        except OSError:
            results.append(None)
        stop.wait(0.5)


def closed_by_server(socks):
    n = 0
    for s in socks:
        try:
            n += s.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            pass
        except OSError:
            n += 1
    return n


def main():
    print("machine: %d CPUs, load %s; %gs of 8 busy connections per row; conf/ppolicy.conf as shipped"
          % (os.cpu_count(), open("/proc/loadavg").read().split()[0], SECONDS))
    d = Daemon()
    loadgen(d.port)  # warm-up
    base = loadgen(d.port)
    d.stop()
    print("busy throughput without idle connections: %.0f req/s" % base)
    print("%6s %9s %10s %12s %10s %8s %12s" % ("idle", "answered", "busy ratio", "worst new",
                                               "reclaimed", "workers", "private MB"))
    for n in IDLES:
        d = Daemon()
        socks, answered = hold_idle(d.port, n)
        results, stop = [], threading.Event()
        t = threading.Thread(target=probe, args=(d.port, results, stop))
        t.start()
        rps = loadgen(d.port)
        stop.set()
        t.join()
        workers = len(d.workers())
        mem = d.private_kb() / 1024
        reclaimed = d.report("ppolicy_connections_reclaimed_total")
        lost = sum(r is None for r in results)
        worst = max((r for r in results if r is not None), default=float("nan"))
        print("%6d %9d %10.2f %11.2fs%s %10d %8d %12.0f" % (
            n, answered, rps / base if base else 0, worst, " (%d unanswered)" % lost if lost else "",
            reclaimed, workers, mem))
        sys.stdout.flush()
        closed = closed_by_server(socks)
        for s in socks:
            s.close()
        d.stop()
        if closed != reclaimed:
            print("       (idle connections seen closed by the client: %d)" % closed)


main()
