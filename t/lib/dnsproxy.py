# SPDX-License-Identifier: GPL-2.0-or-later
"""A UDP DNS proxy on 127.0.0.1 in front of the test DNS server, for fault
injection: it forwards every query to 127.0.0.1:UPSTREAM and every answer
back, at once or, when told, only after a delay (a server that answers, but
later than the client's timeout: the late answers must be ignored).

    proxy = DnsProxy(dns.port)          # a separate process (no GIL sharing)
    proxy.port                          # [dns] nameservers = 127.0.0.1, port = proxy.port
    proxy.slow(True)                    # SIGUSR1: answers delayed by `delay` seconds
    proxy.slow(False)                   # SIGUSR2: answers at once again
    proxy.stop(); proxy.start()         # the address stops answering / answers again

Query IDs are rewritten (the clients' IDs may collide), so any number of
clients share one upstream socket. The process runs with PR_SET_PDEATHSIG,
is stopped by its PID (stop(), registered with ppolicytest.at_exit) and
cannot outlive the test. Run as a script it is the proxy itself:
    python3 dnsproxy.py LISTEN_PORT UPSTREAM_PORT DELAY_SECONDS
stdlib only."""

import ctypes
import heapq
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

from ppolicytest import stop_process


def _die_with_parent():
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DnsProxy:
    def __init__(self, upstream_port, port=None, delay=1.0):
        import dnsserver  # only the controlling side needs it
        import ppolicytest

        self.upstream = upstream_port
        self.port = port or dnsserver._free_port()
        self.delay = delay
        self.proc = None
        ppolicytest.at_exit(self.stop)
        self.start()

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(self.port),
                                      str(self.upstream), str(self.delay)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline()  # "ready" once the socket is bound
        if line.strip() != b"ready":
            self.stop()
            raise AssertionError("dnsproxy did not start on 127.0.0.1:%d" % self.port)

    def slow(self, on):
        self.proc.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    def stop(self):
        if self.proc is None:
            return
        stop_process(self.proc, timeout=5)
        self.proc.stdout.close()
        self.proc = None


def serve(port, upstream_port, delay):
    state = {"slow": False, "stop": False}
    signal.signal(signal.SIGUSR1, lambda *_: state.update(slow=True))
    signal.signal(signal.SIGUSR2, lambda *_: state.update(slow=False))
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", port))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.connect(("127.0.0.1", upstream_port))
    for s in (front, back):
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sel = selectors.DefaultSelector()
    sel.register(front, selectors.EVENT_READ)
    sel.register(back, selectors.EVENT_READ)
    pending = {}  # our id -> (client's id bytes, client address, time)
    late = []  # heap of (due time, sequence, packet, client address)
    next_id = 0
    seq = 0
    print("ready", flush=True)
    while not state["stop"]:
        now = time.monotonic()
        while late and late[0][0] <= now:
            _, _, pkt, addr = heapq.heappop(late)
            try:
                front.sendto(pkt, addr)
            except OSError:
                pass
        timeout = max(0.0, late[0][0] - now) if late else 0.5
        for key, _ in sel.select(min(timeout, 0.5)):
            sock = key.fileobj
            while True:
                try:
                    pkt, addr = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # ICMP unreachable from a stopped upstream
                    break
                if len(pkt) < 12:
                    continue
                if sock is front:
                    next_id = (next_id + 1) & 0xFFFF
                    pending[next_id] = (pkt[:2], addr, now)
                    try:
                        back.send(next_id.to_bytes(2, "big") + pkt[2:])
                    except OSError:
                        pass
                else:
                    entry = pending.pop(int.from_bytes(pkt[:2], "big"), None)
                    if entry is None:
                        continue
                    out = entry[0] + pkt[2:]
                    if state["slow"]:
                        seq += 1
                        heapq.heappush(late, (time.monotonic() + delay, seq, out, entry[1]))
                    else:
                        try:
                            front.sendto(out, entry[1])
                        except OSError:
                            pass
        if len(pending) > 30000:  # unanswered queries (upstream down): forget old ones
            cut = now - 10
            pending = {k: v for k, v in pending.items() if v[2] > cut}


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
