# SPDX-License-Identifier: GPL-2.0-or-later
"""Country with libmaxminddb on a GeoIP2-Country database the test writes
(t/lib/testmmdb.py): IPv4 and IPv6 addresses, host names resolved through
the test DNS server, the country parameter, codes 1/0/-1, and errors."""

import os
import re

import dnsserver
import testmmdb
from ppolicytest import Daemon, check, eq, ppolicyd, run_tests, workdir

d = None
MMDB = None


def daemon():
    global d, MMDB
    if d is None or not d.running():
        MMDB = MMDB or testmmdb.make()
        d = Daemon(dnsserver.shared().dns_section("400ms") +
                   "[module geo]\ntype = Country\nparam = client_address\ndataPath = %s\n" % MMDB +
                   "[module geode]\ntype = Country\nparam = client_address\ndataPath = %s\ncountry = de\n" % MMDB +
                   "[module geoname]\ntype = Country\nparam = client_name\ndataPath = %s\ncountry = CN, FR\n" % MMDB +
                   "[policy main]\n"
                   'rule = recipient_local == "de" -> REJECT 5.7.1 code=${geode} cc=${geode.country} info=${geode.info}\n'
                   'rule = recipient_local == "name" -> REJECT 5.7.1 code=${geoname} cc=${geoname.country} '
                   "info=${geoname.info}\n"
                   "rule = true -> REJECT 5.7.1 code=${geo} cc=${geo.country} info=${geo.info}\n")
    return d


def geo(which="any", **attrs):
    reply = daemon().ask(recipient=which + "@example.org", **attrs)
    m = re.match(r"REJECT 5\.7\.1 code=(-?\d+) cc=(\S*) info=(.*)$", reply)
    if not m:
        raise AssertionError("unexpected reply %r" % reply)
    return int(m.group(1)), m.group(2), m.group(3)


def test_country_of_addresses():
    eq(geo(client_address="192.0.2.10")[:2], (1, "US"))
    eq(geo(client_address="192.0.2.200")[:2], (1, "DE"))
    eq(geo(client_address="2001:db8::1")[:2], (1, "FR"), "IPv6")
    eq(geo(client_address="2001:db8:1::1")[:2], (1, "BR"), "IPv6")
    eq(geo(client_address="::ffff:203.0.113.9")[:2], (1, "RU"), "IPv4-mapped")
    c, cc, info = geo(client_address="10.1.1.1")
    eq((c, cc), (0, ""), "not in the database: " + info)


def test_country_parameter():
    eq(geo("de", client_address="192.0.2.200")[:2], (1, "DE"), "match, case-insensitive parameter")
    eq(geo("de", client_address="192.0.2.10")[:2], (-1, "US"), "mismatch")
    eq(geo("de", client_address="2001:db8::1")[:2], (-1, "FR"))
    eq(geo("de", client_address="10.1.1.1")[0], 0)


def test_country_of_host_names():
    eq(geo("name", client_name="cn-host.example.test")[:2], (1, "CN"), "A record")
    eq(geo("name", client_name="fr-host.example.test")[:2], (1, "FR"), "AAAA record")
    eq(geo("name", client_name="mail2.example.test")[:2], (-1, "US"))
    eq(geo("name", client_name="x.servfail.test")[0], 0, "DNS error")
    eq(geo("name", client_name="nx.example.test")[0], 0, "no such host")
    eq(geo("name", client_name="unknown")[0], 0, "Postfix's unknown")


def test_configuration_errors():
    path = os.path.join(workdir(), "bad.conf")
    with open(path, "w") as f:
        f.write("[module a]\ntype = Country\nparam = client_address\ndataPath = /nonexistent.mmdb\n"
                "[module b]\ntype = Country\nparam = client_address\ndataPath = %s\ncountry = Germany\n"
                % (MMDB or testmmdb.make()) +
                "[module c]\ntype = Country\nparam = client_address\ndataPath = /etc/hostname\n"
                "[policy main]\ndefault = DUNNO\n")
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 1, r.stderr)
    for want in ("/nonexistent.mmdb: No such file or directory", '"Germany" is not a two-letter country code',
                 "/etc/hostname: "):
        check(want in r.stderr, "missing %r in:\n%s" % (want, r.stderr))


run_tests(globals())
