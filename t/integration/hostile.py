# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile clients: slow-loris connections must not starve real ones, and
requests far outside what Postfix sends (10 MB, NUL bytes, invalid UTF-8,
100,000 attributes) are answered by closing the connection with a log line,
while a worker's memory stays flat.

Slow loris: 500 connections each send one byte a second and never finish a
request. Postfix writes a whole request at once, so ppolicyd closes a
connection whose request is still incomplete request_read_timeout after its
first byte; until then each holds a worker, and the pool grows for them up
to max_workers while the real clients keep their answers."""

import socket
import threading
import time

from ppolicytest import Daemon, check, encode, eq, request, run_tests

LORIS_BYTES = b"request=smtpd_access_policy\nsender=" + b"a" * 100000


def config(max_workers, read_timeout="10s", min_workers=2):
    return """
[ppolicyd]
min_workers = %d
max_workers = %d
request_read_timeout = %s
log_decisions = no

[module dummy]
type = Dummy

[policy main]
rule = dummy == 1 -> REJECT never
rule = sender == "reject@example.test" -> REJECT 5.7.1 go away
default = OK
""" % (min_workers, max_workers, read_timeout)


class Loris:
    """N connections sending one byte a second each, from one thread; a
    connection the server closes is opened again at once (an attacker)."""

    def __init__(self, port, n, reconnect=True):
        self.port, self.n, self.reconnect = port, n, reconnect
        self.socks = [None] * n
        self.pos = [0] * n
        self.closed_by_server = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open(self, i):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.socks[i], self.pos[i] = s, 0

    def start(self):
        for i in range(self.n):
            self.open(i)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            start = time.time()
            for i in range(self.n):
                s = self.socks[i]
                if s is None:
                    continue
                try:
                    s.send(LORIS_BYTES[self.pos[i]:self.pos[i] + 1])
                    self.pos[i] += 1
                except BlockingIOError:
                    pass  # not connected yet or the buffer is full
                except OSError:
                    self.closed_by_server += 1
                    s.close()
                    self.socks[i] = None
                    if self.reconnect:
                        self.open(i)
            self.stop.wait(max(0.0, 1.0 - (time.time() - start)))

    def close(self):
        self.stop.set()
        self.thread.join(10)
        for s in self.socks:
            if s is not None:
                s.close()


class RealClient:
    """A Postfix smtpd: one persistent connection, a request every 50 ms."""

    def __init__(self, d, i):
        self.c = d.client(timeout=30)
        self.i = i
        self.latencies = []
        self.errors = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            t = time.time()
            try:
                r = self.c.ask(sender="u%d@example.test" % self.i)
                if r != "OK":
                    self.errors.append(r)
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))
                return
            self.latencies.append(time.time() - t)
            self.stop.wait(0.05)

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        self.c.close()


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))] if xs else 0


def test_slow_loris_pool_grows_and_real_clients_keep_answers():
    # Room for every connection: 500 slow ones and 8 real ones each get a
    # worker; the real ones notice nothing.
    # (request_read_timeout well above the time 500 forks may take on a busy
    # machine: this test is about the pool; the cut has tests of its own.)
    d = Daemon(config(520, read_timeout="300s"))
    reals = [RealClient(d, i) for i in range(8)]
    for r in reals:
        r.thread.start()
    loris = Loris(d.port, 500, reconnect=False)
    loris.start()
    try:
        d.wait_workers(lambda n: n >= 508, timeout=180, what="a worker for each of 508 connections")
        time.sleep(3)  # the slow clients keep trickling; real clients keep asking
        # A new real client (a new smtpd process) is served at once too.
        t = time.time()
        eq(d.ask(sender="new@example.test"), "OK", "new client during the attack")
        new_latency = time.time() - t
    finally:
        loris.close()
        for r in reals:
            r.finish()
    lat = [x for r in reals for x in r.latencies]
    errs = [e for r in reals for e in r.errors]
    eq(errs, [], "real clients' errors")
    p95, worst = percentile(lat, 95), max(lat)
    print("  real clients: %d answers, p50 %.1f ms, p95 %.1f ms, max %.1f ms; new client %.1f ms; %d workers"
          % (len(lat), 1000 * percentile(lat, 50), 1000 * p95, 1000 * worst, 1000 * new_latency, len(d.workers())))
    check(len(lat) > 100, "real clients got too few answers: %d" % len(lat))
    check(p95 < 0.1, "real clients slowed down by slow-loris connections: p95 %.3fs" % p95)
    check(new_latency < 1.0, "a new client waited %.3fs" % new_latency)
    check(len(d.workers()) <= 520, "more workers than max_workers")


def test_slow_loris_beyond_max_workers_cut_by_request_read_timeout():
    # More slow connections than workers: the pool stops at max_workers,
    # the real clients that hold a worker keep their answers, and the slow
    # ones are cut after request_read_timeout, so a new real client gets a
    # worker within a few timeouts (without the timeout: never, because
    # the trickle also defeats idle_timeout).
    d = Daemon(config(40, read_timeout="2s"))
    reals = [RealClient(d, i) for i in range(4)]
    for r in reals:
        r.thread.start()
    loris = Loris(d.port, 120)
    loris.start()
    try:
        n = d.wait_workers(lambda n: n >= 40, timeout=60, what="pool at max_workers")
        eq(n, 40, "pool size")
        d.wait_log(r"pool full: all \d+ workers hold a Postfix connection \(max_workers\)", timeout=20)
        d.wait_log(r"request still incomplete \d+ms after its first byte .*request_read_timeout", timeout=20)
        t = time.time()
        c = d.client(timeout=60)
        try:
            eq(c.ask(sender="new@example.test"), "OK", "new client during the attack")
        finally:
            c.close()
        waited = time.time() - t
        eq(len(d.workers()), 40, "pool size during the attack")
    finally:
        loris.close()
        for r in reals:
            r.finish()
    lat = [x for r in reals for x in r.latencies]
    eq([e for r in reals for e in r.errors], [], "real clients' errors")
    p95 = percentile(lat, 95)
    print("  real clients: %d answers, p95 %.1f ms, max %.1f ms; new client waited %.2fs; %d slow connections cut"
          % (len(lat), 1000 * p95, 1000 * max(lat), waited, loris.closed_by_server))
    check(p95 < 0.1, "real clients slowed down: p95 %.3fs" % p95)
    check(loris.closed_by_server >= 40, "slow connections were not cut: %d" % loris.closed_by_server)
    check(waited < 20, "a new client waited %.1fs for a worker" % waited)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def private_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            return sum(int(line.split()[1]) for line in f if line.startswith(("Private_Dirty:", "Private_Clean:")))
    except OSError:
        return 0


def hostile_inputs():
    attrs = encode(request())[:-1]  # without the final empty line
    return [
        ("10 MB line", b"request=smtpd_access_policy\nsender=" + b"a" * (10 << 20) + b"\n\n",
         r"line longer than 8192 bytes \(max_line_length\)"),
        ("10 MB of lines", b"request=smtpd_access_policy\n" + b"x_filler=" + b"b" * 1000 + b"\n" * 1 +
         b"".join(b"x%d=%s\n" % (i, b"c" * 1000) for i in range(10000)) + b"\n",
         r"request larger than 65536 bytes \(max_request_size\)|more than 1024 attributes"),
        ("NUL byte", attrs + b"helo_name=a\x00b\n\n", r"NUL byte in request"),
        ("invalid UTF-8", attrs + b"sender=\xc3\x28@example.test\n\n", r"invalid UTF-8"),
        ("100,000 attributes", b"request=smtpd_access_policy\n" +
         b"".join(b"a%d=%d\n" % (i, i) for i in range(100000)) + b"\n", r"more than 1024 attributes \(max_attributes\)"),
    ]


def send_hostile(d, data):
    """Send DATA on a new connection; True when the server closed it
    without a reply."""
    c = d.client(timeout=10)
    try:
        try:
            c.send_raw(data)
        except OSError:
            pass  # the server closed while we were still sending: fine
        try:
            return c.read_reply() is None
        except OSError:
            return True
    finally:
        c.close()


def test_hostile_requests_close_the_connection_memory_flat():
    # One worker serves every connection, so its memory tells the story.
    d = Daemon(config(1, min_workers=1))
    d.wait_workers(lambda n: n == 1, what="one worker")
    eq(d.ask(), "OK", "normal request")
    pid = d.workers()[0]
    before, before_priv = rss_kb(pid), private_kb(pid)
    sizes = []
    for rnd in range(6):
        for name, data, pattern in hostile_inputs():
            check(send_hostile(d, data), "%s: the connection was not closed without a reply" % name)
            if rnd == 0:
                d.wait_log(pattern + r".*closing the connection without reply", timeout=10)
        eq(d.ask(), "OK", "normal request after hostile ones (round %d)" % rnd)
        eq(d.workers(), [pid], "the worker survived")
        sizes.append(rss_kb(pid))
    after, after_priv = rss_kb(pid), private_kb(pid)
    print("  worker RSS %d kB before, %s kB after each round; private %d -> %d kB"
          % (before, sizes, before_priv, after_priv))
    check(after - before < 4096, "worker RSS grew by %d kB" % (after - before))
    # Flat: later rounds cost nothing more than the first.
    check(sizes[-1] - sizes[1] < 512, "worker RSS keeps growing: %s" % sizes)


def test_request_read_timeout_is_per_request_not_idle():
    # An idle persistent connection (no partial request) is not cut by
    # request_read_timeout; a partial request is, with a log line.
    d = Daemon(config(4, read_timeout="1s"))
    c = d.client()
    eq(c.ask(), "OK", "first request")
    time.sleep(2.5)
    eq(c.ask(), "OK", "request after 2.5s idle")
    c.send_raw(b"request=smtpd_access_policy\nsender=a@b\n")
    t = time.time()
    check(c.closed(timeout=5), "a partial request was not cut")
    waited = time.time() - t
    check(0.8 < waited < 2.5, "cut after %.2fs, want about 1s" % waited)
    d.wait_log(r"request still incomplete 1000ms after its first byte \(\d+ bytes; request_read_timeout\)")
    c.close()
    # A request split over a few quick writes is fine.
    c = d.client()
    data = encode(request())
    for i in range(0, len(data), 50):
        c.send_raw(data[i:i + 50])
        time.sleep(0.01)
    eq(c.read_reply(), "OK", "request in pieces")
    c.close()


if __name__ == "__main__":
    run_tests(globals())
