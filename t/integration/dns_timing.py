# SPDX-License-Identifier: GPL-2.0-or-later
"""DnsblScore's lookups go out in one batch: ten lists, one of which never
answers, take one [dns] timeout (500 ms), as long as that one list alone,
not ten times as long; ten answering lists take about as long as one.
Measured as the round trip of a policy request to a running ppolicyd, the
median of five requests on one connection (results are not cached)."""

import statistics
import time

import dnsserver
from ppolicytest import Daemon, check, run_tests

DATA = dnsserver.os.path.join(dnsserver.TOP_SRCDIR, "t", "data", "dnsbl-test.dat")
LISTS = {
    "tendrop": "L0, L1, L2, L3, L4, L5, L6, L7, L8, LDROP",
    "onedrop": "LDROP",
    "tenok": "L0, L1, L2, L3, L4, L5, L6, L7, L8, L9",
    "oneok": "L0",
}


def daemon():
    text = "[ppolicyd]\nbreaker_failures = 1000\n" + dnsserver.shared().dns_section("500ms")
    for name, lists in LISTS.items():
        text += ("[module %s]\ntype = DnsblScore\ndnsbl = %s\nparams = client_address\ndataFile = %s\n"
                 "cachePositive = 0\ncacheUnknown = 0\ncacheNegative = 0\n" % (name, lists, DATA))
    text += "[policy main]\n"
    for name in LISTS:
        text += 'rule = recipient_local == "%s" -> REJECT 5.7.1 code=${%s} info=${%s.info}\n' % (name, name, name)
    return Daemon(text + "default = DUNNO\n")


def median_ms(client, module, expect):
    times = []
    for _ in range(5):
        start = time.perf_counter()
        reply = client.ask(recipient=module + "@example.org", client_address="192.0.2.50")
        times.append((time.perf_counter() - start) * 1000)
        check(reply.startswith("REJECT 5.7.1 code=%d " % expect), reply)
    return statistics.median(times)


def test_ten_lists_cost_one_round_trip():
    d = daemon()
    c = d.client()
    median_ms(c, "tenok", 10)  # warm up: the worker's resolver is created on first use
    t = {name: median_ms(c, name, want) for name, want in
         (("oneok", 1), ("tenok", 10), ("onedrop", 0), ("tendrop", 9))}
    print("DnsblScore round trips (median of 5, ms): one list %.1f, ten lists %.1f, "
          "one list not answering %.1f, ten lists with one not answering %.1f" %
          (t["oneok"], t["tenok"], t["onedrop"], t["tendrop"]))
    check(t["tenok"] < 100, "ten answering lists: %.1f ms" % t["tenok"])
    check(t["tenok"] < t["oneok"] + 50, "ten lists cost about one: %s" % t)
    check(480 <= t["onedrop"] < 800, "one silent list waits the 500 ms timeout: %s" % t)
    check(480 <= t["tendrop"] < 800, "ten lists with a silent one: one timeout, not ten: %s" % t)
    check(abs(t["tendrop"] - t["onedrop"]) < 100, "%s" % t)


run_tests(globals())
