# SPDX-License-Identifier: GPL-2.0-or-later
"""A worker killed with SIGKILL in the middle of a shared-memory update must
neither deadlock nor corrupt the segment. With PPOLICY_TEST_SHM_PAUSE_US the
daemon pauses inside every update (holding the stripe's robust mutex, with
the undo journal written); the test kills the worker right then, many
times, and each time asks for the same key again: the next locker must
recover the stripe (EOWNERDEAD), undo the half-made change and answer."""

import os
import signal
import time

from ppolicytest import Daemon, check, eq, encode, request, run_tests

CONFIG = """
[ppolicyd]
min_workers = 3

[module dummy]
type = Dummy

[policy main]
rule = dummy == 0 -> REJECT fine
"""

ROUNDS = 25


def sleeping_workers(d):
    out = []
    for p in d.workers():
        try:
            if open("/proc/%d/wchan" % p).read() in ("hrtimer_nanosleep", "do_nanosleep"):
                out.append(p)
        except OSError:
            pass
    return out


def test_kill_inside_update_many_times():
    d = Daemon(CONFIG, env={"PPOLICY_TEST_SHM_PAUSE_US": "300000"})
    for i in range(ROUNDS):
        addr = "198.51.100.%d" % (i + 1)
        c = d.client()
        c.send_raw(encode(request(client_address=addr)))
        # The worker runs Dummy, then stores the result: it is now paused
        # inside the cache update, holding the stripe lock.
        end = time.time() + 5
        victims = []
        while time.time() < end and not victims:
            victims = sleeping_workers(d)
            time.sleep(0.01)
        check(len(victims) == 1, "round %d: no worker paused inside an update" % i)
        os.kill(victims[0], signal.SIGKILL)
        check(c.closed(timeout=5), "round %d: killed worker's connection still open" % i)
        # Same key, same stripe: this must not hang on the dead owner's lock.
        c2 = d.client(timeout=10)
        start = time.time()
        eq(c2.ask(client_address=addr), "REJECT fine", "round %d" % i)
        check(time.time() - start < 5, "round %d: answer took %.1fs" % (i, time.time() - start))
        c2.close()
    d.wait_log(r"recovered a stripe left locked by a dead process", count=ROUNDS, timeout=20)
    # The half-made updates were undone, later ones completed: each key is
    # now cached exactly once and served from the cache.
    c = d.client()
    for i in range(ROUNDS):
        eq(c.ask(client_address="198.51.100.%d" % (i + 1)), "REJECT fine")
    time.sleep(0.2)
    log = d.log()
    for i in range(ROUNDS):
        addr = "198.51.100.%d" % (i + 1)
        check("client=mail.example.test[%s] " % addr in log, "no decision for %s" % addr)
    hits = log.count("modules=dummy:0(cached)")
    eq(hits, ROUNDS, "cache hits after recovery")


run_tests(globals())
