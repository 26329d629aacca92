# SPDX-License-Identifier: GPL-2.0-or-later
"""The cold-path prefetch ([dns] prefetch): with every DNS answer 50 ms late
(t/lib/dnsproxy.py in front of the test BIND), a policy of four DNS modules
(Dnsbl, Resolve ip->name->ip, SPF, DnsblScore) costs one round trip per
dependent step, not one per module. Two daemons run the same policy through
the same proxy, one with `prefetch = no` (the sequential evaluation): every
decision is the same, and the round trips are measured beside each other
(median of 5 requests on one connection, results not cached).

  client 192.0.2.161: no PTR -> DEFER at the Resolve rule. Sequential: Dnsbl,
    then Resolve (2 round trips); prefetched: 1.
  client 192.0.2.15 (PTR 192-0-2-15.dyn.example.test, which resolves back),
    sender example.test (SPF pass): every rule runs. Sequential: Dnsbl,
    Resolve's PTR, its A/AAAA, SPF's TXT, DnsblScore (5); prefetched: the
    first questions of all four, then Resolve's A/AAAA (2)."""

import statistics
import time

import dnsserver
from dnsproxy import DnsProxy
from ppolicytest import Daemon, check, eq, run_tests

DATA = dnsserver.os.path.join(dnsserver.TOP_SRCDIR, "t", "data", "dnsbl-test.dat")
LATE = 0.05


def config(port, prefetch):
    return ("[ppolicyd]\nbreaker_failures = 1000\n"
            "[dns]\nnameservers = 127.0.0.1\nport = %d\ntimeout = 2s\nprefetch = %s\n"
            "[module zen]\ntype = Dnsbl\ndnsbl = TSBL\ndataFile = %s\n"
            "[module rdns]\ntype = Resolve\nparam = client_address\ntype = ip->name->ip\n"
            "[module spf]\ntype = SPF\n"
            "[module score]\ntype = DnsblScore\ndnsbl = L0, L1, L2\nparams = client_address\n"
            "dataFile = %s\n"
            "[policy main]\n"
            "rule = zen > 0 -> REJECT listed\n"
            "rule = rdns < 0 -> DEFER no reverse name\n"
            "rule = spf < -1 -> REJECT spf\n"
            "rule = score > 5 -> REJECT score\n"
            "default = DUNNO spf=${spf} score=${score}\n"
            % (port, prefetch, DATA, DATA))


def no_cache(text):
    """Every module section gets cache lifetimes of 0: each request asks DNS."""
    lines = []
    for line in text.splitlines(True):
        lines.append(line)
        if line.startswith("[module"):
            lines.append("cachePositive = 0\ncacheUnknown = 0\ncacheNegative = 0\n")
    return "".join(lines)


def median_ms(client, **req):
    times, replies = [], set()
    for _ in range(5):
        start = time.perf_counter()
        replies.add(client.ask(**req))
        times.append((time.perf_counter() - start) * 1000)
    check(len(replies) == 1, "one decision: %s" % replies)
    return statistics.median(times), replies.pop()


def test_prefetch_one_round_trip_per_step():
    dns = dnsserver.shared()
    proxy = DnsProxy(dns.port, delay=LATE)
    on = Daemon(no_cache(config(proxy.port, "yes")))
    off = Daemon(no_cache(config(proxy.port, "no")))
    con, coff = on.client(), off.client()
    cases = {
        "no PTR": dict(client_address="192.0.2.161", sender="a@example.test"),
        "all rules": dict(client_address="192.0.2.15", sender="a@example.test",
                          client_name="192-0-2-15.dyn.example.test"),
    }
    # Warm up (resolver creation, worker start) without the delay.
    for req in cases.values():
        con.ask(**req)
        coff.ask(**req)
    proxy.slow(True)
    t = {}
    for name, req in cases.items():
        t[name, "seq"], r_off = median_ms(coff, **req)
        t[name, "pre"], r_on = median_ms(con, **req)
        eq(r_on, r_off)
        t[name, "reply"] = r_on
    proxy.slow(False)
    print("DNS %d ms late; median of 5 (ms): no PTR: sequential %.1f, prefetched %.1f; "
          "all four rules: sequential %.1f, prefetched %.1f" %
          (LATE * 1000, t["no PTR", "seq"], t["no PTR", "pre"], t["all rules", "seq"],
           t["all rules", "pre"]))
    check(t["no PTR", "reply"].startswith("DEFER no reverse name"), t["no PTR", "reply"])
    check(t["all rules", "reply"].startswith("DUNNO spf=1 score=0"), t["all rules", "reply"])
    # Sequential: 2 and 5 round trips; prefetched: 1 and 2. Bounds leave
    # room for a loaded machine but not for another round trip.
    check(t["no PTR", "seq"] >= 2 * LATE * 1000, t)
    check(t["all rules", "seq"] >= 5 * LATE * 1000, t)
    check(LATE * 1000 <= t["no PTR", "pre"] < 2 * LATE * 1000, t)
    check(2 * LATE * 1000 <= t["all rules", "pre"] < 3 * LATE * 1000, t)


def test_prefetch_sends_only_what_the_policy_may_still_run():
    # A rule that answers before the DNS modules: nothing is asked. The
    # client 192.0.2.163 appears in no other test of this file.
    dns = dnsserver.shared()
    text = no_cache(config(dns.port, "yes")).replace(
        "[policy main]\n", "[policy main]\nrule = sender == \"early@example.test\" -> OK\n")
    d = Daemon(text)
    c = d.client()
    eq(c.ask(client_address="192.0.2.163", sender="early@example.test"), "OK")
    eq(dns.queries("163.2.0.192.in-addr.arpa"), 0)
    # Past the Dnsbl rule (TSBL lists 192.0.2.66): the other three modules'
    # questions went out with it, though the request ended there.
    eq(c.ask(client_address="192.0.2.66", sender="a@example.test"), "REJECT listed")
    check(dns.queries("66.2.0.192.in-addr.arpa") >= 1, "the PTR was prefetched")


def test_a_silent_later_module_does_not_delay_an_early_decision():
    # SPF's TXT of x.timeout.test is never answered (the test server drops
    # the zone): prefetched with the Dnsbl query, it must not hold the
    # Dnsbl hit that decides until the 2 s [dns] timeout.
    dns = dnsserver.shared()
    d = Daemon(no_cache(config(dns.port, "yes")))
    c = d.client()
    c.ask(client_address="192.0.2.66", sender="a@example.test")  # warm up
    start = time.perf_counter()
    eq(c.ask(client_address="192.0.2.66", sender="a@x.timeout.test"), "REJECT listed")
    ms = (time.perf_counter() - start) * 1000
    print("Dnsbl hit with a silent SPF domain prefetched: %.1f ms" % ms)
    check(ms < 1000, "%.1f ms" % ms)
    check(dns.queries("x.timeout.test") >= 1, "the TXT was prefetched")


run_tests(globals())
