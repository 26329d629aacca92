#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Throughput of Greylist and DOS with store = shm and store = mysql: a
simple load generator (one process per connection, each sending requests
back to back for a few seconds) against a ppolicyd started here, with a
throwaway MariaDB on loopback. Not part of `make check`.

    PPOLICYD=build/src/ppolicyd PYTHONPATH=t/lib TOP_SRCDIR=. \\
        python3 t/bench/db_load.py [CONNECTIONS] [SECONDS]

Scenarios: greylist with a new triplet per request (insert path) and with
triplets that passed (update path; its own cache off so every request
reaches the store), DOS over 1000 senders. Prints requests/s per scenario."""

import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from mariadb import MariaDB  # noqa: E402
from ppolicytest import Client, Daemon, encode, request  # noqa: E402

CONNS = int(sys.argv[1]) if len(sys.argv) > 1 else 32
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 8


def module(kind, store):
    if kind == "greylist":
        return ("[module m]\ntype = Greylist\nstore = %s\ndelay = 0\nmustRetry = 1d\n"
                "cachePositive = 0\ncacheNegative = 0\ncacheUnknown = 0\n" % store)
    return "[module m]\ntype = DOS\nparams = sender\nlimitCount = 1000000\nstore = %s\n" % store


def client(port, kind, mode, n, seconds, out):
    c = Client(port, timeout=30)
    count, i, errors = 0, 0, 0
    end = time.time() + seconds
    while time.time() < end:
        i += 1
        if mode == "new":
            sender = "bench%d-%d@example.test" % (n, i)
        else:
            sender = "known%d@example.test" % (i % 1000)
        reply = c.ask(request(sender=sender, client_address="198.51.%d.%d" % (n % 250, i % 250)
                              if mode == "new" else "198.51.100.1"))
        if reply is None:
            break
        if "code=0" in reply:
            errors += 1
        count += 1
    c.close()
    out.put((count, errors))


def run(port, kind, mode):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(port, kind, mode, n, SECONDS, q)) for n in range(CONNS)]
    start = time.time()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.time() - start
    total = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return total / SECONDS, errors, elapsed


def main():
    db = MariaDB()
    rules = "[policy main]\nrule = true -> WARN code=${m}\n"
    print("%d connections, %.0fs per scenario" % (CONNS, SECONDS))
    for kind, mode in (("greylist", "new"), ("greylist", "known"), ("dos", "known")):
        for store in ("shm", "mysql"):
            d = Daemon(db.section() + module(kind, store) + rules,
                       overrides=["ppolicyd.min_workers=%d" % CONNS, "ppolicyd.log_decisions=no"])
            d.wait_workers(lambda n: n >= CONNS, timeout=60)
            if mode == "known":  # make the triplets pass / the counters exist first
                c = Client(d.port)
                for i in range(1000):
                    for _ in range(2 if kind == "greylist" else 1):
                        c.send_raw(encode(request(sender="known%d@example.test" % i, client_address="198.51.100.1")))
                        c.read_reply()
                c.close()
            rate, errors, _ = run(d.port, kind, mode)
            print("%-9s %-6s %-5s %8.0f requests/s  (%d code 0)" % (kind, mode, store, rate, errors), flush=True)
            d.kill()


if __name__ == "__main__":
    main()
