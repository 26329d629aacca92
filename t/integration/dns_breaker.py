# SPDX-License-Identifier: GPL-2.0-or-later
"""Circuit breakers of the DNS layer, shared by all workers through shared
memory: a DNSBL zone that keeps timing out is skipped for the cool-down
(other zones still asked; silent zones never count against the nameservers,
whose probe they answer), a nameserver set that stops answering is skipped
altogether; both are logged when they open and close, and close again when
the zone / server answers after the cool-down."""

import re
import time

import dnsserver
from ppolicytest import Daemon, at_exit, check, eq, run_tests

DATA = dnsserver.os.path.join(dnsserver.TOP_SRCDIR, "t", "data", "dnsbl-test.dat")


def conf(port, modules, dns_extra=""):
    text = ("[ppolicyd]\nmin_workers = 3\nbreaker_failures = 2\nbreaker_cooldown = 2s\n"
            "[dns]\nnameservers = 127.0.0.1\nport = %d\ntimeout = 300ms\n%s" % (port, dns_extra))
    for name, body in modules.items():
        text += "[module %s]\n%s\ncachePositive = 0\ncacheUnknown = 0\ncacheNegative = 0\n" % (name, body)
    text += "[policy main]\n"
    for name in modules:
        text += 'rule = recipient_local == "%s" -> REJECT 5.7.1 code=${%s} info=${%s.info}\n' % (name, name, name)
    return text + "default = DUNNO\n"


def ask(d, module, **attrs):
    """(code, info, milliseconds), each on a new connection (any worker)."""
    start = time.time()
    reply = d.ask(recipient=module + "@example.org", **attrs)
    ms = (time.time() - start) * 1000
    m = re.match(r"REJECT 5\.7\.1 code=(-?\d+) info=(.*)$", reply)
    if not m:
        raise AssertionError("unexpected reply %r" % reply)
    return int(m.group(1)), m.group(2), ms


def test_dead_zone_is_skipped_then_retried():
    dns = dnsserver.DnsServer()
    at_exit(dns.stop)
    d = Daemon(conf(dns.port, {"drop": "type = Dnsbl\ndnsbl = LDROP\ndataFile = %s" % DATA,
                               "l0": "type = Dnsbl\ndnsbl = L0\ndataFile = %s" % DATA}))
    for i in range(2):
        c, info, ms = ask(d, "drop", client_address="192.0.2.50")
        eq(c, 0, info)
        check("timeout" in info and ms >= 280, "%s after %.0f ms" % (info, ms))
    d.wait_log(r"circuit breaker for dnsbl zone bl\.timeout\.test opened after 2 failures")
    asked = dns.queries("50.2.0.192.bl.timeout.test")
    check(asked >= 2, "queries seen by named: %d" % asked)  # (udns may have resent one)
    # Open: every worker skips the zone at once, without asking it.
    for i in range(6):
        c, info, ms = ask(d, "drop", client_address="192.0.2.50")
        eq(c, 0, info)
        check("skipped" in info and ms < 200, "%s after %.0f ms" % (info, ms))
    eq(dns.queries("50.2.0.192.bl.timeout.test"), asked, "no query while the breaker is open")
    # Other zones are still asked.
    eq(ask(d, "l0", client_address="192.0.2.50")[0], 1)
    # The zone comes back; after the cool-down one trial lookup closes it.
    dns.restart(drop=())
    time.sleep(2.2)
    c, info, ms = ask(d, "drop", client_address="192.0.2.50")
    eq(c, 1, "the zone answers again: " + info)
    d.wait_log(r"circuit breaker for dnsbl zone bl\.timeout\.test closed")
    eq(ask(d, "drop", client_address="192.0.2.50")[0], 1)


def test_dead_zones_never_open_the_nameservers_breaker():
    """Issue 14: two silent DNSBL zones in one DnsblScore used to open the
    nameservers' breaker (lookups under two domains unanswered), and then SPF
    and Resolve answered "skipped" for names the server answered all along."""
    dns = dnsserver.DnsServer()
    at_exit(dns.stop)
    d = Daemon(conf(dns.port, {
        "score": "type = DnsblScore\ndnsbl = LDROP, LDROP2\ndataFile = %s" % DATA,
        "spf": "type = SPF",
        "ptr": "type = Resolve\nparam = client_address\ntype = ip->name"},
        # Silent batches: with the prefetch, SPF's and Resolve's questions
        # (answered) would go out with the dead zones' and prove the server
        # alive without a probe.
        "prefetch = no\n"))
    for i in range(6):
        c, info, ms = ask(d, "score", client_address="192.0.2.50")
        eq(c, 0, info)
    d.wait_log(r"circuit breaker for dnsbl zone bl2?\.timeout\.test opened after 2 failures")
    # The probe of each silent batch was answered (REFUSED: recursion is off).
    check(dns.queries(".") >= 2, "probes seen by named: %d" % dns.queries("."))
    check(not re.search(r"circuit breaker for dns nameservers", d.log()),
          "the nameservers' breaker stayed closed:\n" + d.log())
    c, info, ms = ask(d, "spf", client_address="192.0.2.10", sender="a@example.test")
    eq(c, 1, "SPF pass while the dead zones are skipped: " + info)
    c, info, ms = ask(d, "ptr", client_address="192.0.2.10")
    eq(c, 1, "Resolve answers: " + info)


def test_dead_nameserver_is_skipped_then_retried():
    port = dnsserver._free_port()  # nothing listens here yet
    d = Daemon(conf(port, {"score": "type = DnsblScore\ndnsbl = L0, L1, L2\ndataFile = %s" % DATA,
                           "ptr": "type = Resolve\nparam = client_address\ntype = ip->name"}))
    for i in range(2):
        c, info, ms = ask(d, "score", client_address="192.0.2.50")
        eq(c, 0, info)
        check("no blacklist answered" in info and ms >= 280, "%s after %.0f ms" % (info, ms))
    d.wait_log(r"circuit breaker for dns nameservers 127\.0\.0\.1:%d opened after 2 failures" % port)
    # Every DNS lookup of every worker is skipped now, at once.
    for i in range(4):
        c, info, ms = ask(d, "ptr", client_address="192.0.2.10")
        eq(c, 0, info)
        check("skipped" in info and ms < 200, "%s after %.0f ms" % (info, ms))
    # The server starts; after the cool-down the trial batch closes the breaker.
    at_exit(dnsserver.DnsServer(port=port).stop)
    time.sleep(2.2)
    c, info, ms = ask(d, "score", client_address="192.0.2.50")
    eq(c, 3, "all three lists answer again: " + info)
    d.wait_log(r"circuit breaker for dns nameservers 127\.0\.0\.1:%d closed" % port)
    eq(ask(d, "ptr", client_address="192.0.2.10")[0], 1)


run_tests(globals())
