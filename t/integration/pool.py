# SPDX-License-Identifier: GPL-2.0-or-later
"""The worker pool: it grows to serve 200 concurrent persistent connections
(one worker each, as Postfix smtpd processes hold them), shrinks back to
min_workers when they go, keeps its one spare while the others are busy
(instead of renewing it every worker_max_idle), replaces a worker killed
while busy without disturbing other connections, and throttles workers that
die at once."""

import os
import pwd
import signal
import threading
import time

from ppolicytest import IS_ROOT, Daemon, check, eq, request, run_tests

CONFIG = """
[ppolicyd]
min_workers = 3
max_workers = 300
worker_max_idle = 2s

[module nap]
type = Sleep
sleep = 2

[policy main]
rule = sender == "nap@example.test" && nap == 0 -> DUNNO
rule = sender == "reject@example.test" -> REJECT go away
default = OK
"""


def test_starts_min_workers():
    d = Daemon(CONFIG)
    d.wait_workers(lambda n: n == 3, what="3 workers at start")


def test_200_concurrent_connections_then_shrink():
    d = Daemon(CONFIG)
    clients = [d.client() for _ in range(200)]
    # Every connection gets answers while all 200 stay open.
    errors = []

    def use(c, i):
        try:
            for _ in range(3):
                r = c.ask(sender="s%d@example.test" % i)
                if r != "OK":
                    errors.append(r)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=use, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    eq(errors, [], "errors on concurrent connections")
    n = len(d.workers())
    check(n >= 200, "pool did not grow to cover 200 connections: %d workers" % n)
    for c in clients:
        c.close()
    # Surplus idle workers exit after worker_max_idle (2 s), down to min_workers.
    d.wait_workers(lambda n: n <= 3 + 1, timeout=30, what="pool shrinking to min_workers")
    eq(d.ask(sender="reject@example.test"), "REJECT go away")


def test_busy_pool_keeps_its_spare():
    """Every worker but one holds a connection: the idle one is the spare
    that takes the next connection. It must not be retired after
    worker_max_idle only to be forked again at once (that renewed the spare,
    with its database and LDAP connections, every worker_max_idle forever)."""
    d = Daemon(CONFIG)
    clients = [d.client() for _ in range(5)]
    for c in clients:
        eq(c.ask(), "OK")
    d.wait_workers(lambda n: n == 6, what="5 busy workers and one spare")
    before = d.workers()
    time.sleep(3 * 2 + 1.5)  # three times worker_max_idle, and a tick
    eq(d.workers(), before, "the pool's workers after 3 x worker_max_idle")
    for c in clients:
        eq(c.ask(), "OK")
        c.close()
    d.wait_workers(lambda n: n == 3, timeout=30, what="pool shrinking to min_workers")


def test_kill_busy_worker_replaced_others_undisturbed():
    d = Daemon(CONFIG)
    others = [d.client() for _ in range(5)]
    for c in others:
        eq(c.ask(), "OK")
    victim_conn = d.client()
    before = set(d.workers())
    # A busy worker: in the middle of a 2-second module call.
    victim_conn.send_raw(
        b"".join(b"%s=%s\n" % (k.encode(), v.encode()) for k, v in request(sender="nap@example.test").items()) + b"\n")
    time.sleep(0.5)
    busy = [p for p in d.workers() if open("/proc/%d/wchan" % p).read() in ("hrtimer_nanosleep", "do_nanosleep")]
    check(len(busy) == 1, "expected one sleeping worker, found %r" % busy)
    os.kill(busy[0], signal.SIGKILL)
    check(victim_conn.closed(timeout=5), "the killed worker's connection stays open")
    d.wait_log(r"worker %d died by signal 9" % busy[0])
    # A replacement appears; the other connections never noticed.
    d.wait_workers(lambda n: busy[0] not in d.workers() and n >= len(before), what="replacement worker")
    for c in others:
        eq(c.ask(), "OK")
    # Not an early death: no throttling.
    check("throttling" not in d.log(), "a killed long-lived worker caused throttling")


def idle_workers(d):
    """Workers waiting for a connection (in epoll_wait), not holding one."""
    return [p for p in d.workers() if open("/proc/%d/wchan" % p).read() == "ep_poll"]


def test_kill_idle_workers_repeatedly():
    d = Daemon(CONFIG)
    c = d.client()
    eq(c.ask(), "OK")
    for _ in range(10):
        ws = idle_workers(d)
        if ws:
            os.kill(ws[0], signal.SIGKILL)
        time.sleep(0.05)
    eq(c.ask(sender="reject@example.test"), "REJECT go away")
    d.wait_workers(lambda n: n >= 3, what="pool back to min_workers")


def test_workers_run_unprivileged():
    if not IS_ROOT:
        return
    d = Daemon(CONFIG)
    # The port listens before the master drops privileges: wait for the start.
    d.wait_log(r"ppolicyd started")
    d.wait_workers(lambda n: n >= 3, what="3 workers")
    for pid in [d.pid] + d.workers():
        with open("/proc/%d/status" % pid) as f:
            uid_line = [l for l in f if l.startswith("Uid:")][0].split()
        check(all(u != "0" for u in uid_line[1:]), "process %d still has uid 0: %s" % (pid, uid_line))
        # The shipped default: a dedicated account, never one shared like nobody.
        eq(int(uid_line[1]), pwd.getpwnam("ppolicy").pw_uid, "process %d runs as" % pid)


def test_master_gone_workers_exit():
    d = Daemon(CONFIG)
    workers = d.workers()
    c = d.client()
    eq(c.ask(), "OK")
    os.kill(d.pid, signal.SIGKILL)
    end = time.time() + 10
    alive = workers
    while time.time() < end and alive:
        alive = [p for p in workers if os.path.exists("/proc/%d" % p) and
                 open("/proc/%d/stat" % p).read().split(")")[-1].split()[0] != "Z"]
        time.sleep(0.1)
    eq(alive, [], "workers still running after the master was killed")


run_tests(globals())
