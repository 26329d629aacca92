# SPDX-License-Identifier: GPL-2.0-or-later
"""Overload (issue 12): when every worker holds a connection (max_workers
reached) and a new connection waits, a worker gives up its connection at a
request boundary: connections that never sent a byte first (after
first_byte_timeout), then the longest idle (after reclaim_idle, halved
while connections keep waiting). A connection in the middle of a request is
never taken. And the master never spins: at an open-file limit of 40 with
300 statistics connections held open it stays idle, logs one line, reloads,
and its workers do not inherit the scrape sockets."""

import os
import re
import resource
import signal
import socket
import sys
import threading
import time

import promparse
from ppolicytest import Daemon, check, eq, free_port, request, run_tests

CONFIG = """
[ppolicyd]
min_workers = 2
max_workers = 4
reclaim_idle = %(reclaim)s
first_byte_timeout = 500ms
stats_listen = 127.0.0.1:%(stats)d

[policy main]
default = OK
"""


def daemon(reclaim="1s"):
    sport = free_port()
    return Daemon(CONFIG % {"reclaim": reclaim, "stats": sport}), sport


def raw_request(**kw):
    return b"".join(b"%s=%s\n" % (k.encode(), v.encode()) for k, v in request(**kw).items()) + b"\n"


def answered_in(d, limit):
    """A new connection asks once; its answer must come within `limit` s."""
    start = time.time()
    c = d.client(timeout=limit + 2)
    r = c.ask()
    took = time.time() - start
    c.close()
    eq(r, "OK", "the new connection's answer")
    check(took <= limit, "the new connection waited %.2fs (limit %.1fs)" % (took, limit))
    return took


def test_longest_idle_connection_reclaimed_at_request_boundary():
    d, sport = daemon()
    held = []
    for _ in range(4):
        c = d.client()
        eq(c.ask(), "OK")
        held.append(c)
        time.sleep(0.3)  # held[0] is idle longest
    d.wait_workers(lambda n: n == 4, what="4 workers, each holding a connection")
    time.sleep(1)
    # held[3] is in the middle of a request (half of it sent): never taken.
    half = raw_request()
    held[3].send_raw(half[:40])
    took = answered_in(d, 1.5)
    check(held[0].closed(timeout=2), "the longest idle connection was not closed")
    for c in held[1:3]:
        check(not c.closed(timeout=0.2), "a connection other than the longest idle was closed")
    held[3].send_raw(half[40:])
    eq(held[3].read_reply(), "OK", "the request in progress")
    s = promparse.wait_for(sport, "ppolicy_connections_reclaimed_total", 1)
    eq(promparse.value(s, "ppolicy_connections_cut_silent_total"), 0)
    check(promparse.value(s, "ppolicy_pool_full_seconds_total") is not None, "pool full metric")
    d.wait_log(r"pool full: all 4 workers hold a Postfix connection")
    print("new connection answered in %.2fs; longest idle reclaimed" % took)
    d.signal(signal.SIGUSR1)
    d.wait_log(r"statistics: ppolicy_connections_reclaimed_total 1\b")
    d.wait_log(r"statistics: pool (full|not full); reclaim time now \d+ms")


def test_silent_connections_cut_first():
    d, sport = daemon(reclaim="60s")
    talking = d.client()
    eq(talking.ask(), "OK")
    silent = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(3)]
    d.wait_workers(lambda n: n == 4, what="4 workers, each holding a connection")
    time.sleep(0.6)  # first_byte_timeout (500ms) passed
    answered_in(d, 1.5)
    s = promparse.wait_for(sport, "ppolicy_connections_cut_silent_total", 1)
    eq(promparse.value(s, "ppolicy_connections_reclaimed_total"), 0)
    eq(talking.ask(), "OK", "the connection that spoke kept its worker")
    for c in silent:
        c.close()
    # The slow-loris defence still holds when the pool is not full.
    slow = d.client()
    slow.send_raw(b"request=smtpd_access_policy\n")
    check(not slow.closed(timeout=1), "a partial request cut although the pool is not full")


def test_reclaim_time_adapts_under_stress():
    """reclaim_idle = 60s, yet connections asked every 0.8s are reclaimed for a
    new one within 2s: the time halves while connections wait (stress), and
    grows back once the pool is not full."""
    d, sport = daemon(reclaim="60s")
    held = [d.client() for _ in range(4)]
    for c in held:
        eq(c.ask(), "OK")
    d.wait_workers(lambda n: n == 4, what="4 workers")
    stop = time.time() + 3
    errors = []

    def chatter(c):
        while time.time() < stop:
            try:
                r = c.ask()
            except OSError:
                return  # reclaimed: Postfix would reconnect after 1s
            if r is None:
                return  # reclaimed (EOF)
            if r != "OK":
                errors.append(r)
            time.sleep(0.8)

    threads = [threading.Thread(target=chatter, args=(c,)) for c in held]
    for t in threads:
        t.start()
    time.sleep(0.5)
    answered_in(d, 2.5)
    for t in threads:
        t.join()
    eq(errors, [])
    s = promparse.wait_for(sport, "ppolicy_connections_reclaimed_total", 1)
    check(promparse.value(s, "ppolicy_reclaim_idle_seconds") < 60, "reclaim time did not shrink")
    for c in held:
        c.close()
    # Out of stress, back to reclaim_idle (doubling each second).
    promparse.wait_for(sport, "ppolicy_reclaim_idle_seconds", 60, timeout=15)


class LimitedDaemon(Daemon):
    """ppolicyd started with RLIMIT_NOFILE soft 24, hard 40."""

    def command(self):
        wrap = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (24, 40)); "
                "os.execv(sys.argv[1], sys.argv[1:])")
        return [sys.executable, "-c", wrap] + super().command()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_statistics_listener_at_a_low_open_file_limit():
    sport = free_port()
    d = LimitedDaemon(CONFIG % {"reclaim": "10s", "stats": sport})
    d.wait_log(r"ppolicyd started: .*open files: 40\b")
    eq(d.ask(), "OK")
    # The test itself needs room for 300 sockets.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1024:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1024), hard))
    held = [socket.create_connection(("127.0.0.1", sport)) for _ in range(300)]
    time.sleep(0.5)
    before = cpu_seconds(d.pid)
    time.sleep(3)
    used = cpu_seconds(d.pid) - before
    lines = len(re.findall(r"stats_listen .*accept", d.log()))
    print("master CPU over 3s with 300 statistics connections held open: %.2fs; log lines: %d"
          % (used, lines))
    check(used < 0.5, "the master used %.2fs of CPU in 3s" % used)
    # Descriptors ran out (17 + 32 > 40): one warning, then paused accepts.
    check(1 <= lines <= 2, "%d accept warnings" % lines)
    # Reload works at the limit (the reserve descriptor), and its new
    # workers hold none of the scrape sockets.
    d.signal(signal.SIGHUP)
    d.wait_log(r"configuration reloaded \(generation 2\)")
    eq(d.ask(), "OK")
    time.sleep(0.5)
    for w in d.workers():
        n = len(os.listdir("/proc/%d/fd" % w))
        check(n < 20, "worker %d holds %d descriptors" % (w, n))
    for c in held:
        c.close()
    promparse.wait_for(sport, "ppolicy_config_generation", 2, timeout=5)


def test_statistics_connections_capped():
    d, sport = daemon()
    held = [socket.create_connection(("127.0.0.1", sport)) for _ in range(40)]
    time.sleep(0.5)
    for c in held:
        c.close()
    s = promparse.wait_for(sport, "ppolicy_stats_connections_refused_total", 8)
    eq(promparse.value(s, "ppolicy_config_generation"), 1)


run_tests(globals())
