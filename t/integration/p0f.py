# SPDX-License-Identifier: GPL-2.0-or-later
"""P0f against a scripted p0f responder on a unix socket (t/lib/netservers.py)
speaking the p0f 3 API and the p0f 2 protocol, and against the real p0f 3 on
`lo` when the test runs as root: success (1) with the OS fields, no data (0),
errors (-1: no socket, bad query, bad magic, no answer, timeout, not an IP
address), IPv6, p0f 2 versions compared as numbers, timeouts within the
request deadline, the circuit breaker, and caching (failures never)."""

import os
import time

from ppolicytest import Daemon, check, eq, free_port, request, run_tests, workdir
from netservers import P0fResponder, RealP0f

POLICY = """
[policy main]
rule = p0f == 1 -> OK ${p0f.os}|${p0f.flavor}|${p0f.distance}|${p0f.uptime}|${p0f.link}|${p0f.nat}|${p0f.fuzzy}|${p0f.generic}|${p0f.language}|${p0f.http}|${p0f.total_conn}|${p0f.info}
rule = p0f == 0 -> HOLD nodata ${p0f.info}
rule = p0f == -1 -> REJECT error ${p0f.info}
default = DUNNO
"""

WINDOWS = {"os": "Windows", "flavor": "7 or 8", "distance": 12, "uptime_min": 125, "up_mod_days": 49,
           "total_conn": 7, "link": "DSL", "language": "English", "http_name": "Firefox", "http_flavor": "10.x",
           "fuzzy": True, "last_nat": 1700000050}
TABLE = {
    "192.0.2.10": WINDOWS,
    "2001:db8::10": {"os": "Linux", "flavor": "3.11 and newer", "distance": 3, "generic": True},
    "192.0.2.20": "badquery",
    "192.0.2.21": "hang",
    "192.0.2.22": "badmagic",
    "192.0.2.23": "close",
    "192.0.2.24": {"os": "", "http_name": "curl", "distance": -1},
}


def config(socket, server="", **params):
    p = {"socket": socket, "timeout": "2s"}
    p.update(params)
    body = "".join("%s = %s\n" % (k, v) for k, v in p.items() if v is not None)
    if "request_timeout" not in server:
        server += "request_timeout = 3s\n"
    return "[ppolicyd]\nmin_workers = 1\n%s\n[module p0f]\ntype = P0f\n%s\n%s" % (server, body, POLICY)


def ask(d, addr):
    return d.ask(client_address=addr)


def test_p0f3_success_with_fields():
    r = P0fResponder(TABLE)
    d = Daemon(config(r.socket))
    eq(ask(d, "192.0.2.10"),
       "OK Windows|7 or 8|12|125|DSL|1|1|0|English|Firefox 10.x|7|Windows 7 or 8, distance 12, uptime 2h05m, NAT")
    eq(r.queries(), ["magic=50304601 type=4 addr=192.0.2.10"])
    eq(ask(d, "192.0.2.24"), "OK ||-1|-1||0|0|0||curl|1|unknown OS")
    d.wait_log(r"client=mail\.example\.test\[192\.0\.2\.10\].*modules=p0f:1 ")


def test_p0f3_ipv6():
    r = P0fResponder(TABLE)
    d = Daemon(config(r.socket))
    eq(ask(d, "2001:db8::10"), "OK Linux|3.11 and newer|3|-1||0|0|1|||1|Linux 3.11 and newer, distance 3")
    eq(r.queries(), ["magic=50304601 type=6 addr=2001:db8::10"])


def test_p0f3_no_match_is_zero():
    r = P0fResponder(TABLE)
    d = Daemon(config(r.socket))
    eq(ask(d, "198.51.100.7"), "HOLD nodata p0f: no match")


def test_errors_are_minus_one():
    r = P0fResponder(TABLE)
    d = Daemon(config(r.socket))
    eq(ask(d, "192.0.2.20"), "REJECT error p0f: bad query")
    got = ask(d, "192.0.2.22")
    check(got.startswith("REJECT error p0f %s: bad p0f reply magic 0xdeadbeef" % r.socket), got)
    got = ask(d, "192.0.2.23")
    check(got.startswith("REJECT error p0f %s: connection closed after 0 of 232 bytes" % r.socket), got)
    eq(ask(d, "not-an-address"), "REJECT error client address \"not-an-address\" is not an IP address")
    missing = os.path.join(workdir(), "none.sock")
    d2 = Daemon(config(missing))
    got = ask(d2, "192.0.2.10")
    check(got.startswith("REJECT error p0f %s: connect: No such file or directory" % missing), got)


def test_failures_are_not_cached_answers_are():
    path = os.path.join(workdir(), "p0f.sock")
    d = Daemon(config(path))
    check(ask(d, "192.0.2.10").startswith("REJECT error"), "no socket yet")
    r = P0fResponder(TABLE)
    os.symlink(r.socket, path)
    eq(ask(d, "192.0.2.10")[:10], "OK Windows")  # the failure was not cached
    eq(ask(d, "192.0.2.10")[:10], "OK Windows")
    eq(len(r.queries()), 1, "the answer was cached")
    d.wait_log(r"modules=p0f:1\(cached\)")


def test_timeout_and_circuit_breaker():
    r = P0fResponder(TABLE)
    d = Daemon(config(r.socket, timeout="300ms", server="breaker_failures = 2\nbreaker_cooldown = 30s\n"))
    times = []
    for i in range(4):
        t = time.time()
        got = ask(d, "192.0.2.21")
        times.append(time.time() - t)
        check(got.startswith("REJECT error p0f"), got)
    check(all(0.25 < t < 0.8 for t in times[:2]), "timeouts took %s" % times)
    check(all(t < 0.15 for t in times[2:]), "after the breaker opened: %s" % times)
    d.wait_log(r"circuit breaker for p0f %s opened" % r.socket)
    eq(ask(d, "192.0.2.10"), "REJECT error p0f skipped: circuit breaker open")
    print("    hanging p0f (timeout 300ms): %s s" % ", ".join("%.3f" % t for t in times))


def test_timeout_bounded_by_request_deadline():
    r = P0fResponder(TABLE)
    d = Daemon(config(r.socket, timeout="10s", server="request_timeout = 400ms\ndefault_action = DEFER_IF_PERMIT late\n"))
    t = time.time()
    eq(ask(d, "192.0.2.21"), "DEFER_IF_PERMIT late")
    check(time.time() - t < 1.0, "took %.3f s" % (time.time() - t))


def test_p0f2_protocol():
    r = P0fResponder({"192.0.2.10": {"os": "FreeBSD", "flavor": "6.x", "distance": 7, "link": "ethernet/modem",
                                     "uptime_hours": 30, "nat": True},
                      "192.0.2.20": "badquery"}, version=2)
    d = Daemon(config(r.socket, version="2.0.8", ip="127.0.0.25", port="2525"))
    eq(ask(d, "192.0.2.10"), "OK FreeBSD|6.x|7|1800|ethernet/modem|1|0|0|||0|FreeBSD 6.x, distance 7, uptime 30h00m, NAT")
    q = r.queries()[0]
    check(q.startswith("magic=0defaced size=24 type=1 ") and q.endswith(" src=192.0.2.10 dst=127.0.0.25 sport=0 dport=2525"), q)
    eq(ask(d, "198.51.100.7"), "HOLD nodata p0f: no match")
    eq(ask(d, "192.0.2.20"), "REJECT error p0f: bad query")
    # -1 as in ppolicy 2.x (issue 14), without asking p0f.
    eq(ask(d, "2001:db8::10"), "REJECT error p0f 2 knows only IPv4 clients")
    eq(len(r.queries()), 3, "no query for the IPv6 client")


def test_p0f2_versions_compared_as_numbers():
    r = P0fResponder({"192.0.2.10": {"os": "OpenBSD"}}, version=2)
    # The original compared strings: "2.0.10" < "2.0.8" chose the old query without a type.
    for version, size in (("2.0.10", 24), ("2.0.5", 20), ("2", 20), ("2.1", 24)):
        d = Daemon(config(r.socket, version=version))
        eq(ask(d, "192.0.2.10")[:10], "OK OpenBSD", version)
        q = r.queries()[-1]
        check(" size=%d " % size in q and " dst=0.0.0.0 sport=0 dport=25" in q, "version %s: %s" % (version, q))
        d.stop()


def test_real_p0f_on_loopback():
    if not RealP0f.usable():
        print("    skipped: needs root and /usr/sbin/p0f")
        return
    port = free_port()
    p0f = RealP0f("tcp port %d" % port)
    d = Daemon(config(p0f.socket, timeout="1s", cachePositive="0"), port=port)
    # The policy client's own connection to ppolicyd (from 127.0.0.1) is what p0f sees.
    c = d.client()
    time.sleep(0.3)
    got = c.ask(request(client_address="127.0.0.1"))
    check(got.startswith("OK Linux|") and got.split("|")[2] == "0", got + "\n" + p0f.log())  # distance 0
    eq(c.ask(request(client_address="127.0.0.2")), "HOLD nodata p0f: no match")
    check("cli=127.0.0.1/" in p0f.log() and "os=Linux" in p0f.log(), p0f.log())
    c.close()


run_tests(globals())
