# SPDX-License-Identifier: GPL-2.0-or-later
"""Resolve against a real BIND named on loopback (t/lib/dnsserver.py): all
eight types, IPv4 and IPv6, with every return code (1 ok, 0 DNS error or
timeout, -1 translation failed) asserted through a running ppolicyd whose
rules expose the codes."""

import re

import dnsserver
from ppolicytest import Daemon, check, eq, request, run_tests

TYPES = {
    "ipname": ("client_address", "ip->name"),
    "nameip": ("sender", "name->ip"),
    "namemx": ("sender", "name->mx"),
    "ipnameip": ("client_address", "ip->name->ip"),
    "namipname": ("client_name", "name->ip->name"),
    "ip1nameip2": ("client_address", "ip1->name->ip2"),
    "ipnamemx": ("client_address", "ip->name->mx"),
    "name1ipname2": ("client_name", "name1->ip->name2"),
    "revname": ("reverse_client_name", "name->ip"),
}

d = None


def daemon():
    global d
    if d is None or not d.running():
        dns = dnsserver.shared()
        conf = "[ppolicyd]\nmin_workers = 2\nbreaker_failures = 1000\n" + dns.dns_section("500ms")
        for name, (param, kind) in TYPES.items():
            conf += "[module %s]\ntype = Resolve\nparam = %s\ntype = %s\n" % (name, param, kind)
        conf += "[policy main]\n"
        for name in TYPES:
            conf += ('rule = recipient_local == "%s" -> REJECT 5.7.1 code=${%s} names=${%s.names} '
                     'addresses=${%s.addresses} info=${%s.info}\n' % (name, name, name, name, name))
        conf += "default = DUNNO\n"
        d = Daemon(conf)
    return d


def run(module, **attrs):
    """The module's code, fields and info for one request."""
    reply = daemon().ask(recipient=module + "@example.org", **attrs)
    m = re.match(r"REJECT 5\.7\.1 code=(-?\d+) names=(\S*) addresses=(\S*) info=(.*)$", reply)
    if not m:
        raise AssertionError("unexpected reply %r" % reply)
    return int(m.group(1)), m.group(2), m.group(3), m.group(4)


def code(module, **attrs):
    return run(module, **attrs)[0]


def test_ip_to_name():
    c, names, _, info = run("ipname", client_address="192.0.2.10")
    eq((c, names), (1, "mail.example.test"), info)
    eq(code("ipname", client_address="2001:db8::10"), 1, "IPv6 PTR")
    eq(code("ipname", client_address="192.0.2.200"), -1, "no PTR")
    eq(code("ipname", client_address="2001:db8::99"), -1, "no IPv6 PTR")
    c, _, _, info = run("ipname", client_address="198.51.100.5")
    eq(c, 0, "SERVFAIL of the reverse zone")
    check("SERVFAIL" in info and "DNS error" in info, info)
    c, _, _, info = run("ipname", client_address="203.0.113.5")
    eq(c, 0, "reverse zone does not answer")
    check("timeout" in info, info)
    eq(code("ipname", client_address="not-an-ip"), -1, "garbage address")


def test_name_to_ip():
    c, _, addrs, info = run("nameip", sender="alice@example.test")
    eq((c, addrs), (1, "192.0.2.1"), info)
    c, _, addrs, _ = run("nameip", sender="bob@v6host.example.test")
    eq((c, addrs), (1, "2001:db8::25"), "AAAA only")
    eq(code("nameip", sender="a@nx.example.test"), -1, "NXDOMAIN")
    eq(code("nameip", sender="a@softfail.example.test"), -1, "no address records")
    eq(code("nameip", sender="a@x.servfail.test"), 0, "SERVFAIL")
    eq(code("nameip", sender="a@x.timeout.test"), 0, "timeout")
    eq(code("nameip", sender=""), -1, "null sender: no name")
    # The attribute is absent: nothing to resolve, 0.
    eq(code("revname", reverse_client_name=None), 0, "absent attribute")
    eq(code("revname", reverse_client_name="alias.example.test"), 1, "CNAME to an address")


def test_name_to_mx():
    c, names, addrs, info = run("namemx", sender="a@example.test")
    eq((c, names), (1, "mail.example.test"), info)
    check("192.0.2.10" in addrs, addrs)
    eq(code("namemx", sender="a@nomx.example.test"), 1, "implicit MX (RFC 5321 5.1)")
    eq(code("namemx", sender="a@v6mx.example.test"), 1, "IPv6-only mail host")
    c, _, _, info = run("namemx", sender="a@nullmx.example.test")
    eq(c, -1, "null MX (RFC 7505): " + info)
    eq(code("namemx", sender="a@badmx.example.test"), -1, "MX host does not exist")
    eq(code("namemx", sender="a@privmx.example.test"), -1, "MX host on a private address")
    eq(code("namemx", sender="a@loopmx.example.test"), -1, "MX host on loopback")
    eq(code("namemx", sender="a@nx.example.test"), -1, "no such domain")
    eq(code("namemx", sender="a@x.servfail.test"), 0, "SERVFAIL")
    eq(code("namemx", sender="a@slowmx.example.test"), 0, "MX host lookup times out")


def test_ip_name_ip():
    c, names, addrs, info = run("ipnameip", client_address="192.0.2.10")
    eq(c, 1, info)
    eq(code("ipnameip", client_address="2001:db8::10"), 1, "IPv6 forward-confirmed")
    eq(code("ipnameip", client_address="192.0.2.12"), -1, "PTR name points elsewhere")
    eq(code("ipnameip", client_address="192.0.2.13"), -1, "PTR name does not exist")
    eq(code("ipnameip", client_address="192.0.2.14"), -1, "two PTRs, none points back")
    eq(code("ipnameip", client_address="2001:db8::11"), -1, "PTR name has only IPv4")
    eq(code("ipnameip", client_address="192.0.2.200"), -1, "no PTR")
    eq(code("ipnameip", client_address="192.0.2.30"), 0, "PTR name's zone does not answer")
    eq(code("ipnameip", client_address="192.0.2.31"), 0, "PTR name's zone fails")


def test_ip1_name_ip2():
    eq(code("ip1nameip2", client_address="192.0.2.12"), 1, "PTR name has another address")
    eq(code("ip1nameip2", client_address="192.0.2.13"), -1, "PTR name does not exist")
    eq(code("ip1nameip2", client_address="192.0.2.201"), -1, "no PTR")
    eq(code("ip1nameip2", client_address="192.0.2.31"), 0, "SERVFAIL")


def test_ip_name_mx():
    eq(code("ipnamemx", client_address="192.0.2.20"), 1, "PTR name is its own mail host")
    eq(code("ipnamemx", client_address="192.0.2.10"), 1, "mail.example.test (implicit MX)")
    eq(code("ipnamemx", client_address="192.0.2.21"), -1, "only a private mail host")
    eq(code("ipnamemx", client_address="192.0.2.202"), -1, "no PTR")
    eq(code("ipnamemx", client_address="198.51.100.6"), 0, "SERVFAIL")


def test_name_ip_name():
    c, names, addrs, info = run("namipname", client_name="mail.example.test")
    eq(c, 1, info)
    eq(code("namipname", client_name="Mail2.Example.TEST"), 1, "case does not matter")
    eq(code("namipname", client_name="mismatch.example.test"), -1, "address without PTR")
    eq(code("namipname", client_name="nomx.example.test"), 1)
    eq(code("namipname", client_name="unknown"), -1, "Postfix's unknown")
    eq(code("namipname", client_name="nx.example.test"), -1, "no such name")
    eq(code("namipname", client_name="cn-host.example.test"), 0, "PTR zone SERVFAIL")


def test_name1_ip_name2():
    eq(code("name1ipname2", client_name="mail.example.test"), 1)
    eq(code("name1ipname2", client_name="fr-host.example.test"), -1, "IPv6 address without PTR")
    eq(code("name1ipname2", client_name="mismatch.example.test"), -1, "address without PTR")
    eq(code("name1ipname2", client_name="x.servfail.test"), 0, "SERVFAIL")


run_tests(globals())
