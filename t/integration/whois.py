# SPDX-License-Identifier: GPL-2.0-or-later
"""Whois against scripted whois responders on loopback (t/lib/netservers.py):
an IANA-like server on 127.0.0.1 that refers to a registry on 127.0.0.2 (same
port): found (1) with netname, country, organisation, range as fields; RIPE
and ARIN answers; nothing found (-1: no entries, a placeholder block, not an
IP address); errors (0: refused, timeout, circuit breaker open), never
cached; answers cached per address; the referral limit; servers and
referrals given by name, resolved by the test DNS server (t/dns-zones/
whois.test.zone) through [dns], never /etc/hosts; the outbound guard
(referrals to 0.0.0.0, multicast or a name leading there are not followed;
loopback only with allowPrivate = yes, which every other test sets);
timeouts within the request deadline."""

import time

import dnsserver
from ppolicytest import Daemon, check, eq, free_port, ppolicyd, run_tests, workdir
from netservers import WhoisResponder

dns = dnsserver.shared()

IANA_REFER = """% IANA WHOIS server
% for more information on IANA, visit http://www.iana.org

refer:        127.0.0.2

inetnum:      192.0.0.0 - 192.255.255.255
organisation: Test RIR
status:       ALLOCATED

whois:        127.0.0.2
"""

IANA_ARIN = """% IANA WHOIS server

inetnum:      198.0.0.0 - 198.255.255.255
organisation: ARIN
status:       ALLOCATED

#
# ARIN WHOIS data and services are subject to the Terms of Use
#
ReferralServer:  whois://127.0.0.2:4343
"""

RIPE = """% This is the RIPE Database query service.
% Information related to '192.0.2.0 - 192.0.2.255'

inetnum:        192.0.2.0 - 192.0.2.255
netname:        EXAMPLE-NET
descr:          Example network
country:        nl
org:            ORG-EX1-TEST
admin-c:        EX1-TEST
status:         ASSIGNED PA
source:         TEST

organisation:   ORG-EX1-TEST
org-name:       Example B.V.
org-type:       LIR
source:         TEST
"""

ARIN = """#
# ARIN WHOIS data and services are subject to the Terms of Use
#

NetRange:       198.51.100.0 - 198.51.100.255
CIDR:           198.51.100.0/24
NetName:        TEST-NET-2
Organization:   Example Inc (EXI-1)
Country:        US

OrgName:        Example Inc
OrgId:          EXI-1
"""

RIPE_V6 = """inet6num:       2001:db8::/32
netname:        DOC-V6
country:        EU
descr:          Documentation prefix
"""

PLACEHOLDER = """inetnum:        0.0.0.0 - 255.255.255.255
netname:        IANA-BLK
descr:          The whole IPv4 address space
country:        EU
"""

POLICY = """
[policy main]
rule = whois == 1 -> OK ${whois.netname}|${whois.country}|${whois.org}|${whois.range}|${whois.server}|${whois.info}
rule = whois == -1 -> REJECT nothing ${whois.info}
rule = whois == 0 -> DEFER error ${whois.info}
default = DUNNO
"""


def config(whois_port, server="127.0.0.1", extra="", **params):
    # The test servers are on loopback: allowPrivate, unless a test says otherwise.
    p = {"server": server, "port": whois_port, "timeout": "2s", "allowPrivate": "yes"}
    p.update(params)
    body = "".join("%s = %s\n" % (k, v) for k, v in p.items() if v is not None)
    if "request_timeout" not in extra:
        extra += "request_timeout = 3s\n"
    return "[ppolicyd]\nmin_workers = 1\n%s\n%s\n[module whois]\ntype = Whois\n%s\n%s" % (
        extra, dns.dns_section("1s"), body, POLICY)


def servers(iana=None, rir=None):
    """The IANA-like responder on 127.0.0.1:P and the registry on 127.0.0.2:P."""
    for _ in range(20):
        port = free_port()
        try:
            r = WhoisResponder(rir if rir is not None else {"192.0.2.10": RIPE, "198.51.100.7": ARIN,
                                                             "2001:db8::10": RIPE_V6, "192.0.2.99": PLACEHOLDER},
                               host="127.0.0.2", port=port)
        except AssertionError:
            continue  # the port is taken on 127.0.0.2
        i = WhoisResponder(iana if iana is not None else {"192.0.2.10": IANA_REFER, "198.51.100.7": IANA_ARIN,
                                                          "2001:db8::10": IANA_REFER, "192.0.2.99": IANA_REFER,
                                                          "192.0.2.50": IANA_REFER},
                           host="127.0.0.1", port=port)
        return i, r
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")


def ask(d, addr):
    return d.ask(client_address=addr)


def test_found_through_iana_referral():
    iana, rir = servers()
    d = Daemon(config(iana.port))
    eq(ask(d, "192.0.2.10"),
       "OK EXAMPLE-NET|NL|Example B.V.|192.0.2.0 - 192.0.2.255|127.0.0.2|netname EXAMPLE-NET, country NL, "
       "org Example B.V., range 192.0.2.0 - 192.0.2.255 (127.0.0.2)")
    eq(iana.queries(), ["192.0.2.10"])
    eq(rir.queries(), ["192.0.2.10"])
    d.wait_log(r"client=mail\.example\.test\[192\.0\.2\.10\].*modules=whois:1 ")


def test_arin_answer_and_referral_server_on_configured_port():
    iana, rir = servers()
    d = Daemon(config(iana.port))
    eq(ask(d, "198.51.100.7"),
       "OK TEST-NET-2|US|Example Inc|198.51.100.0 - 198.51.100.255|127.0.0.2|netname TEST-NET-2, country US, "
       "org Example Inc, range 198.51.100.0 - 198.51.100.255 (127.0.0.2)")
    eq(rir.queries(), ["198.51.100.7"])  # whois://127.0.0.2:4343 was asked on the configured port


def test_ipv6():
    iana, rir = servers()
    d = Daemon(config(iana.port))
    got = ask(d, "2001:DB8:0::10")
    check(got.startswith("OK DOC-V6|EU|Documentation prefix|2001:db8::/32|127.0.0.2|"), got)
    eq(rir.queries(), ["2001:db8::10"])


def test_nothing_found_is_minus_one():
    iana, rir = servers()
    d = Daemon(config(iana.port))
    eq(ask(d, "192.0.2.50"), "REJECT nothing nothing found for 192.0.2.50 (127.0.0.2)")
    eq(ask(d, "192.0.2.99"), "REJECT nothing nothing found for 192.0.2.99 (127.0.0.2)")  # IANA-BLK placeholder
    eq(ask(d, "203.0.113.9"), "REJECT nothing nothing found for 203.0.113.9 (127.0.0.1)")
    d2 = Daemon(config(iana.port, param="helo_name"))
    eq(d2.ask(helo_name="mail.example.test"), "REJECT nothing \"mail.example.test\" is not an IP address")
    eq(len(iana.queries()), 3, "no query for a name")


def test_referral_limit():
    iana, rir = servers()
    d = Daemon(config(iana.port, referrals="0"))
    eq(ask(d, "192.0.2.10"),
       "OK |||192.0.0.0 - 192.255.255.255|127.0.0.1|org Test RIR, range 192.0.0.0 - 192.255.255.255 (127.0.0.1)"
       .replace("OK |||", "OK ||Test RIR|"))
    eq(rir.queries(), [])
    # Two servers referring to each other: the limit ends it.
    loop_a, loop_b = servers(iana={"192.0.2.10": IANA_REFER}, rir={"192.0.2.10": IANA_REFER.replace("127.0.0.2", "127.0.0.1")})
    d2 = Daemon(config(loop_a.port, referrals="3"))
    got = ask(d2, "192.0.2.10")
    check(got.startswith("OK ||Test RIR|19"), got)
    eq(len(loop_a.queries()) + len(loop_b.queries()), 4)


def test_errors_are_zero_and_not_cached():
    iana, rir = servers(rir={"192.0.2.10": "hang"})
    d = Daemon(config(iana.port, timeout="400ms"))
    t = time.time()
    got = ask(d, "192.0.2.10")
    check(got == "DEFER error whois 127.0.0.2: read: timed out", got)
    check(0.35 < time.time() - t < 1.0, "took %.3f s" % (time.time() - t))
    rir.set_table({"192.0.2.10": RIPE})
    eq(ask(d, "192.0.2.10")[:14], "OK EXAMPLE-NET")  # the failure was not cached
    eq(ask(d, "192.0.2.10")[:14], "OK EXAMPLE-NET")
    eq(len(rir.queries()), 2, "the answer was cached")
    d.wait_log(r"modules=whois:1\(cached\)")
    # Nothing listening.
    port = free_port()
    d2 = Daemon(config(port))
    got = ask(d2, "192.0.2.10")
    eq(got, "DEFER error whois 127.0.0.1: 127.0.0.1:%d connect: Connection refused" % port)


def test_cached_per_address():
    iana, rir = servers()
    d = Daemon(config(iana.port))
    eq(ask(d, "2001:db8::10")[:9], "OK DOC-V6")
    eq(d.ask(client_address="2001:0db8:0:0::10", sender="other@example.test")[:9], "OK DOC-V6")
    eq(ask(d, "192.0.2.50")[:14], "REJECT nothing")
    eq(ask(d, "192.0.2.50")[:14], "REJECT nothing")
    eq(len(iana.queries()), 2)
    d.wait_log(r"modules=whois:1\(cached\)")
    d.wait_log(r"modules=whois:-1\(cached\)")


def test_circuit_breaker_and_request_deadline():
    iana, rir = servers(iana={"192.0.2.10": "hang", "192.0.2.11": "hang"})
    d = Daemon(config(iana.port, timeout="300ms", extra="breaker_failures = 2\nbreaker_cooldown = 30s\n"))
    times = []
    for i in range(4):
        t = time.time()
        got = ask(d, "192.0.2.1%d" % (i % 2))
        times.append(time.time() - t)
        check(got.startswith("DEFER error whois 127.0.0.1"), got)
    check(all(0.25 < t < 0.8 for t in times[:2]) and all(t < 0.15 for t in times[2:]), "times %s" % times)
    eq(ask(d, "192.0.2.10"), "DEFER error whois 127.0.0.1 skipped: circuit breaker open")
    print("    hanging whois server (timeout 300ms): %s s" % ", ".join("%.3f" % t for t in times))
    d2 = Daemon(config(iana.port, timeout="10s",
                       extra="request_timeout = 400ms\ndefault_action = DEFER_IF_PERMIT late\n"))
    t = time.time()
    eq(ask(d2, "192.0.2.10"), "DEFER_IF_PERMIT late")
    check(time.time() - t < 1.0, "took %.3f s" % (time.time() - t))


def test_servers_by_name_through_dns():
    iana, rir = servers(iana={"192.0.2.10": IANA_REFER.replace("127.0.0.2", "rir.whois.test")})
    before = (dns.queries("iana.whois.test"), dns.queries("rir.whois.test"))
    d = Daemon(config(iana.port, server="iana.whois.test", test1="client_address"))
    eq(ask(d, "192.0.2.10"),
       "OK EXAMPLE-NET|NL|Example B.V.|192.0.2.0 - 192.0.2.255|rir.whois.test|netname EXAMPLE-NET, "
       "country NL, org Example B.V., range 192.0.2.0 - 192.0.2.255 (rir.whois.test)")
    # Both names (A and AAAA each) were asked of the test DNS server.
    check(dns.queries("iana.whois.test") >= before[0] + 2, "iana.whois.test not asked of [dns]")
    check(dns.queries("rir.whois.test") >= before[1] + 2, "rir.whois.test not asked of [dns]")
    # localhost is in /etc/hosts, not in [dns] (the test server refuses it):
    # the system resolver is never asked.
    d2 = Daemon(config(iana.port, server="localhost"))
    eq(ask(d2, "192.0.2.10"), "DEFER error whois localhost: resolving localhost: SERVFAIL")
    eq(iana.queries(), ["192.0.2.10"])


def test_referral_to_special_purpose_address_is_refused():
    iana, rir = servers(iana={"192.0.2.10": IANA_REFER.replace("127.0.0.2", "0.0.0.0"),
                              "192.0.2.11": IANA_REFER.replace("127.0.0.2", "zero.whois.test"),
                              "192.0.2.12": IANA_REFER.replace("127.0.0.2", "224.0.0.1"),
                              "192.0.2.13": IANA_REFER.replace("127.0.0.2", "mapped.whois.test")})
    d = Daemon(config(iana.port))
    # Connecting to 0.0.0.0 would reach the local host (this very responder):
    # the referral is not followed, the referring answer stands.
    eq(ask(d, "192.0.2.10"),
       "OK ||Test RIR|192.0.0.0 - 192.255.255.255|127.0.0.1|org Test RIR, range 192.0.0.0 - "
       "192.255.255.255 (127.0.0.1); referral to 0.0.0.0 refused: 0.0.0.0 is \"this network\" (RFC 791)")
    got = ask(d, "192.0.2.11")
    check(got.endswith("(127.0.0.1); referral to zero.whois.test refused: 0.0.0.0 is \"this network\" "
                       "(RFC 791)"), got)
    got = ask(d, "192.0.2.12")
    check(got.endswith("referral to 224.0.0.1 refused: 224.0.0.1 is multicast (RFC 5771)"), got)
    eq(iana.queries(), ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
    # ::ffff:127.0.0.2 is 127.0.0.2: followed with allowPrivate, like 127.0.0.2 itself.
    eq(ask(d, "192.0.2.13"), "REJECT nothing nothing found for 192.0.2.13 (mapped.whois.test)")
    eq(rir.queries(), ["192.0.2.13"])
    # Without allowPrivate the configured server on loopback is refused too,
    # and so is a name that leads there: nothing is sent.
    for server in ("127.0.0.1", "iana.whois.test", "::1"):
        d2 = Daemon(config(iana.port, server=server, allowPrivate="no"))
        got = ask(d2, "192.0.2.20")
        check(got.startswith("DEFER error whois %s refused: " % server) and "loopback" in got, got)
    eq(len(iana.queries()), 4)


def test_configuration_errors():
    for params, msg in (({"server": "bad host"}, "\"server\": expected a host name"),
                        ({"port": "0"}, "\"port\": value 0 is outside 1..65535"),
                        ({"referrals": "9"}, "\"referrals\": value 9 is outside 0..5")):
        path = "%s/ppolicy.conf" % workdir()
        with open(path, "w") as f:
            f.write(config(43, **params))
        r = ppolicyd("-c", path, "-t")
        eq(r.returncode, 1, r.stderr)
        check(msg in r.stderr, "want %r in %s" % (msg, r.stderr))


run_tests(globals())
