# SPDX-License-Identifier: GPL-2.0-or-later
"""The database dies and comes back under load. While 8 connections send
requests that each need the database (Greylist and DOS with store = mysql,
nothing cached), MariaDB is killed with SIGKILL and restarted on the same
port and data. Every request must get an answer (code 0 while the database
is gone, never a hang past request_timeout), the circuit breaker must make
the outage cheap, and the modules must recover by themselves: the same
ppolicyd (same master PID) answers from the database again shortly after it
is back. Also: a database unreachable at start (the daemon starts, logs it,
answers 0, and recovers when the database appears)."""

import signal
import threading
import time

from dbtest import result
from mariadb import MariaDB
from ppolicytest import Daemon, Client, check, eq, request, run_tests

db = MariaDB()

CONF = """
[module greylist]
type = Greylist
domainSubject = no
delay = 600
cacheNegative = 0
cacheUnknown = 0

[module dos]
type = DOS
params = sender
store = mysql

[policy main]
rule = true -> WARN code=${greylist} dos=${dos} info=${greylist.info}
"""

OVERRIDES = ["ppolicyd.breaker_failures=3", "ppolicyd.breaker_cooldown=2s", "ppolicyd.request_timeout=5s",
             "ppolicyd.min_workers=8"]


def load(port, stop, log, n):
    c = Client(port, timeout=30)
    i = 0
    try:
        while not stop.is_set():
            i += 1
            start = time.time()
            reply = c.ask(request(sender="load%d-%d@example.test" % (n, i)))
            code = result(reply)[0] if reply else None
            log.append((start, time.time() - start, code, reply))
    finally:
        c.close()


def test_kill_and_restart_under_load():
    d = Daemon(db.section(connect_timeout="1s", read_timeout="2s", write_timeout="2s") + CONF,
               overrides=OVERRIDES)
    master = d.pid
    stop = threading.Event()
    log = []
    threads = [threading.Thread(target=load, args=(d.port, stop, log, n)) for n in range(8)]
    t0 = time.time()
    for t in threads:
        t.start()
    time.sleep(3)
    killed = time.time()
    db.kill()
    time.sleep(3)
    restarted = time.time()
    db.start()
    back = time.time()
    time.sleep(8)
    stop.set()
    for t in threads:
        t.join()
    eq(d.pid, master, "same daemon")
    check(d.running(), "daemon still running")
    check(all(r[3] is not None for r in log), "every request answered")
    before = [r for r in log if r[0] + r[1] < killed]
    during = [r for r in log if killed + 0.5 < r[0] < restarted]
    after = [r for r in log if r[0] > back + 4]
    check(before and all(r[2] == -1 for r in before), "answers from the database before the kill")
    check(during and all(r[2] == 0 for r in during), "code 0 while the database is gone")
    check(after and all(r[2] == -1 for r in after), "recovered without restarting ppolicyd: %s" %
          sorted(set(r[3] for r in after if r[2] != -1))[:3])
    slowest = max(r[1] for r in log)
    check(slowest < 5.5, "no request waited past request_timeout (%.2fs)" % slowest)
    recovered = min(r[0] for r in log if r[0] > back and r[2] == -1)
    zero = sum(1 for r in log if r[2] == 0)
    print("    %d requests answered in %.1fs; %d code 0 during the outage (%.1fs down); first database "
          "answer %.2fs after the restart completed; slowest request %.2fs; breaker-open answers: %d" %
          (len(log), time.time() - t0, zero, back - killed, recovered - back, slowest,
           sum(1 for r in log if "circuit breaker open" in r[3])))
    d.wait_log(r"circuit breaker for mysql .* opened")
    d.wait_log(r"circuit breaker for mysql .* closed")


def test_hung_database_costs_few_timeouts():
    """A server that accepts but never answers (SIGSTOP): requests wait at
    most a read timeout, and only until the breaker opens."""
    d = Daemon(db.section(connect_timeout="1s", read_timeout="1s", write_timeout="1s") + CONF, overrides=OVERRIDES)
    stop = threading.Event()
    log = []
    threads = [threading.Thread(target=load, args=(d.port, stop, log, 100 + n)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(1)
    frozen = time.time()
    db.proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(5)
    finally:
        db.proc.send_signal(signal.SIGCONT)
    thawed = time.time()
    time.sleep(5)
    stop.set()
    for t in threads:
        t.join()
    check(all(r[3] is not None for r in log), "every request answered")
    hung = [r for r in log if frozen < r[0] < thawed]
    slow = [r for r in hung if r[1] > 0.5]
    slowest = max(r[1] for r in log)
    check(slowest < 4, "slowest request %.2fs" % slowest)
    check(len(slow) <= 24, "%d slow requests of %d: the breaker should have opened" % (len(slow), len(hung)))
    after = [r for r in log if r[0] > thawed + 3]
    check(after and all(r[2] == -1 for r in after), "recovered after the server woke up")
    print("    hung server for %.1fs: %d requests, %d of them slow (> 0.5s), slowest %.2fs" %
          (thawed - frozen, len(hung), len(slow), slowest))


def test_database_unreachable_at_start():
    db.stop()
    try:
        d = Daemon(db.section(connect_timeout="1s") + CONF.replace("[module greylist]", "[module greylist]\ntable = grey_late"),
                   overrides=OVERRIDES + ["ppolicyd.maintenance_interval=10s"])
        d.wait_log(r"cannot connect to database .*answer 0 until it is reachable")
        eq(result(d.ask())[0], 0, "answers 0 without the database")
    finally:
        db.start()
    # The tables could not be created at start: the maintenance process
    # creates them once the database is there, and the module recovers.
    d.wait_log(r"created table grey_late", timeout=30)
    eq(result(d.ask(sender="late@example.test"))[0], -1, "recovered once the database is there")


run_tests(globals())
