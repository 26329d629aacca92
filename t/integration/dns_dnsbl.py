# SPDX-License-Identifier: GPL-2.0-or-later
"""Dnsbl, DnsblScore and DnsblDynamic against a real BIND named on loopback
with test zones (t/dns-zones) and a test blacklist data file
(t/data/dnsbl-test.dat): every return code of each module through a running
ppolicyd, IPv6 clients, RHSBL lookups, answers outside the listed range,
SERVFAIL and timeouts, and `ppolicyd -M Dnsbl`."""

import os
import re
import subprocess

import dnsserver
from ppolicytest import PPOLICYD, TOP_SRCDIR, Daemon, check, eq, ppolicyd, run_tests, workdir

DATA = os.path.join(TOP_SRCDIR, "t", "data", "dnsbl-test.dat")

MODULES = {
    # name: (type, parameters)
    "zen": ("Dnsbl", "dnsbl = TZEN"),
    "zen4": ("Dnsbl", "dnsbl = TZEN4"),
    "zennc": ("Dnsbl", "dnsbl = TZEN\ncacheUnknown = 0"),
    "sbl": ("Dnsbl", "dnsbl = TSBL"),
    "mask": ("Dnsbl", "dnsbl = TMASK"),
    "dbl": ("Dnsbl", "dnsbl = TDBL"),
    "drop": ("Dnsbl", "dnsbl = LDROP"),
    "sfail": ("Dnsbl", "dnsbl = LSERVFAIL"),
    "gone": ("Dnsbl", "dnsbl = TGONE"),
    "score": ("DnsblScore", "dnsbl = TSBL, TXBL, TPBL, TDBL, TWL"),
    "score5": ("DnsblScore", "dnsbl = TSBL, TXBL, TPBL, TDBL, TWL\ntreshold = 5"),
    "scoreip": ("DnsblScore", "dnsbl = TSBL, TXBL, TDBL\nparams = client_address"),
    "scorenames": ("DnsblScore", "dnsbl = TDBL\nparams = client_name, helo_name, reverse_client_name"),
    "scorefail": ("DnsblScore", "dnsbl = LDROP, LSERVFAIL"),
    "scorepart": ("DnsblScore", "dnsbl = TSBL, LDROP"),
    "dyn": ("DnsblDynamic", "dnsbl = TPBL"),
    "dynname": ("DnsblDynamic", ""),
    "dynfail": ("DnsblDynamic", "dnsbl = LDROP"),
}

d = None


def config(dns, extra=""):
    conf = "[ppolicyd]\nmin_workers = 2\nbreaker_failures = 1000\n" + dns.dns_section("400ms")
    for name, (kind, params) in MODULES.items():
        conf += "[module %s]\ntype = %s\ndataFile = %s\n%s\n" % (name, kind, DATA, params)
    conf += extra + "[policy main]\n"
    for name, (kind, _) in MODULES.items():
        fields = {"Dnsbl": "hits=${%s.hits} answer=${%s.answer}",
                  "DnsblScore": "score=${%s.score} lists=${%s.lists} errors=${%s.errors}",
                  "DnsblDynamic": "reason=${%s.reason} name=${%s.name}"}[kind]
        conf += ('rule = recipient_local == "%s" -> REJECT 5.7.1 code=${%s} %s info=${%s.info}\n'
                 % (name, name, fields.replace("%s", name), name))
    return conf + "default = DUNNO\n"


def daemon():
    global d
    if d is None or not d.running():
        d = Daemon(config(dnsserver.shared()))
    return d


def run(module, **attrs):
    """(code, {field: value}, info) of one module for one request."""
    reply = daemon().ask(recipient=module + "@example.org", **attrs)
    m = re.match(r"REJECT 5\.7\.1 code=(-?\d+) (.*?) info=(.*)$", reply)
    if not m:
        raise AssertionError("unexpected reply %r" % reply)
    fields = dict(kv.split("=", 1) for kv in m.group(2).split(" "))
    return int(m.group(1)), fields, m.group(3)


def code(module, **attrs):
    return run(module, **attrs)[0]


def test_dnsbl_listed_not_listed():
    c, f, info = run("zen", client_address="127.0.0.2")
    eq((c, f["hits"], f["answer"]), (1, "1", "127.0.0.2"), info)
    c, f, info = run("zen", client_address="192.0.2.66")
    eq((c, f["hits"]), (1, "2"), "two listed answers: " + info)
    c, f, info = run("zen", client_address="192.0.2.10")
    eq((c, f["hits"]), (-1, "0"), info)
    # Answered by another list of the zone (PBL code), not by this one.
    eq(code("sbl", client_address="192.0.2.78"), -1, "PBL answer on the SBL sub-list")
    eq(code("sbl", client_address="192.0.2.66"), 1)


def test_dnsbl_ipv6_rfc5782():
    c, f, info = run("zen", client_address="2001:db8::66")
    eq((c, f["answer"]), (1, "127.0.0.2"), "nibble-form query: " + info)
    eq(code("zen", client_address="2001:db8::10"), -1, "IPv6 not listed")
    c, _, info = run("zen4", client_address="2001:db8::66")
    eq(c, 0, "an ip4-only list cannot look up IPv6: " + info)
    check("IPv6" in info, info)


def test_dnsbl_answer_outside_listed_range():
    c, f, info = run("zennc", client_address="192.0.2.77")
    eq((c, f["hits"]), (0, "0"), "127.255.255.254 is an error code, not a listing: " + info)
    check("127.255.255.254" in info, info)
    daemon().wait_log(r"dnsbl zone zen\.test answered 127\.255\.255\.254 for 192\.0\.2\.77: not a listing")
    # Rate-limited: the same answer again (not cached: cacheUnknown = 0) logs
    # nothing new; the limit is per worker, so at most once per worker.
    for _ in range(9):
        eq(code("zennc", client_address="192.0.2.77"), 0)
    # Decision lines reach the log up to 0.1 s after the reply (workers hold them).
    d.wait_log(r"ppolicyd\[(\d+)\]: NOQUEUE: .* modules=zennc:0 ", count=10)
    served = re.findall(r"ppolicyd\[(\d+)\]: NOQUEUE: .* modules=zennc:0 ", d.log())
    eq(len(served), 10)
    warned = re.findall(r"warning: dnsbl zone zen\.test answered 127\.255\.255\.254", d.log())
    check(1 <= len(warned) <= len(set(served)) < 10, d.log()[-2000:])


def test_dnsbl_bitmask_rule():
    eq(code("mask", client_address="127.0.0.2"), 1, "127.0.0.2 has bit 2")
    eq(code("mask", client_address="192.0.2.66"), 1, "one of two answers has bit 2")
    eq(code("mask", client_address="192.0.2.10"), -1)


def test_dnsbl_rhsbl_looks_up_sender_domain():
    c, f, info = run("dbl", sender="bad@spammer.example.test")
    eq((c, f["answer"]), (1, "127.0.1.2"), info)
    eq(code("dbl", sender="good@example.test"), -1)
    eq(code("dbl", sender=""), 0, "null sender: nothing to look up")


def test_dnsbl_dns_failures_are_zero():
    c, _, info = run("drop", client_address="192.0.2.10")
    eq(c, 0, info)
    check("timeout" in info, info)
    # A DNS failure is never shared through the result cache.
    eq(code("drop", client_address="192.0.2.10"), 0)
    d.wait_log(r"modules=drop:0 ", count=2)  # both lookups ran
    c, _, info = run("sfail", client_address="192.0.2.10")
    eq(c, 0, info)
    check("SERVFAIL" in info, info)
    c, _, info = run("gone", client_address="127.0.0.2")
    eq(c, 0, "defunct lists are never queried: " + info)
    check("defunct" in info, info)
    check("blacklist TGONE (gone.test) is defunct" in d.log(), d.log()[-2000:])


def test_dnsblscore_sums_scores():
    c, f, info = run("score", client_address="192.0.2.66", sender="x@spammer.example.test")
    eq((c, f["score"], f["lists"]), (8, "7.5", "TSBL,TXBL,TDBL"), "2.5 + 3 + 2, rounded up: " + info)
    c, f, info = run("score", client_address="192.0.2.78", sender="x@example.test")
    eq((c, f["score"]), (1, "1"), info)
    c, f, info = run("score", client_address="192.0.2.10", sender="x@example.test")
    eq((c, f["score"], f["lists"]), (-4, "-4", "TWL"), "an allow list gives a negative score: " + info)
    c, f, info = run("score", client_address="192.0.2.200", sender="x@example.test")
    eq((c, f["score"]), (0, "0"), info)
    c, f, info = run("scoreip", client_address="192.0.2.66", sender="x@spammer.example.test")
    eq((c, f["score"]), (6, "5.5"), "params = client_address only: " + info)
    c, f, info = run("scorenames", client_name="spammer.example.test", helo_name="[192.0.2.1]",
                     reverse_client_name="mail.example.test")
    eq((c, f["score"]), (2, "2"), "client_name looked up, HELO literal skipped: " + info)
    c, f, info = run("scorenames", client_name="unknown", helo_name="Spammer.Example.TEST",
                     reverse_client_name="spammer.example.test")
    eq((c, f["score"], f["lists"]), (4, "4", "TDBL,TDBL"), "HELO and reverse name: " + info)


def test_dnsblscore_treshold():
    c, f, info = run("score5", client_address="192.0.2.66", sender="x@example.test")
    eq((c, f["score"]), (1, "5.5"), info)
    c, f, info = run("score5", client_address="192.0.2.78", sender="x@spammer.example.test")
    eq((c, f["score"]), (-1, "3"), info)
    c, f, info = run("score5", client_address="192.0.2.66", sender="")
    eq((c, f["score"]), (1, "5.5"), "null sender: the address alone")
    c, f, info = run("score5", client_address="unknown", sender="")
    eq(c, 0, "nothing to look up: " + info)


def test_dnsblscore_failures():
    c, f, info = run("scorefail", client_address="192.0.2.10")
    eq((c, f["errors"]), (0, "2"), "no list answered: " + info)
    c, f, info = run("scorepart", client_address="192.0.2.66")
    eq((c, f["score"], f["errors"]), (3, "2.5", "1"), "the answering list counts: " + info)


def test_dnsbldynamic():
    c, f, info = run("dynname", client_address="192.0.2.10", reverse_client_name="84-23-11-2.DSL.provider.test")
    eq((c, f["reason"]), (1, "name"), info)
    c, f, info = run("dynname", client_address="192.0.2.10", reverse_client_name="mail.example.test")
    eq((c, f["reason"]), (-1, ""), info)
    eq(code("dynname", client_address="192.0.2.10", reverse_client_name="mm-retail-out-13101.amazon.test"),
       -1, "outbound hosts of big senders are excluded")
    c, f, info = run("dyn", client_address="192.0.2.78", reverse_client_name="mail.example.test")
    eq((c, f["reason"]), (1, "dnsbl"), "listed in the dynamic-range list: " + info)
    # Postfix < 2.3: no reverse_client_name, the module looks the name up.
    c, f, info = run("dynname", client_address="192.0.2.15", reverse_client_name=None)
    eq((c, f["reason"], f["name"]), (1, "name", "192-0-2-15.dyn.example.test"), info)
    eq(code("dynname", client_address="198.51.100.9", reverse_client_name=None), 0, "PTR lookup SERVFAIL")
    eq(code("dynfail", client_address="192.0.2.10", reverse_client_name="mail.example.test"), 0,
       "the list does not answer")
    eq(code("dynname", client_address="192.0.2.10", reverse_client_name="unknown"), -1, "no name")


def test_module_docs_list_blacklists():
    env_dir = os.path.join(TOP_SRCDIR, "conf")
    r = subprocess.run([PPOLICYD, "-M", "Dnsbl"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PPOLICY_DATADIR=env_dir))
    eq(r.returncode, 0, r.stderr)
    out = r.stdout
    check("Blacklists in %s/dnsbl.dat:" % env_dir in out, out[-3000:])
    check(re.search(r"\n    ZEN +zen\.spamhaus\.org +ip46 +0 +127\.0\.0\.2-127\.0\.0\.11\n", out), out[-3000:])
    check(re.search(r"\n    RCVD_IN_SBL +zen\.spamhaus\.org +ip46 +2\.81 ", out), out[-3000:])
    check(re.search(r"\n    NJABL +dnsbl\.njabl\.org .*defunct", out), out[-3000:])
    for t in ("DnsblScore", "DnsblDynamic"):
        r = subprocess.run([PPOLICYD, "-M", t], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PPOLICY_DATADIR=env_dir))
        check("RCVD_IN_XBL" in r.stdout, t)


def test_every_original_list_name_loads():
    """Issue 14: a configuration of ppolicy 2.x naming any of its 910 lists
    loads with the shipped data file: working lists are asked under their
    current zones (UCEPROTECTL1 is dnsbl-1.uceprotect.net), defunct ones are
    never asked and warned about; unknown DnsblScore params are a warning."""
    with open(os.path.join(TOP_SRCDIR, "t", "data", "original-dnsbl-names.txt")) as f:
        names = [n.strip() for n in f if n.strip() and not n.startswith("#")]
    eq(len(names), 910, "names of the 2.x file")
    dns = dnsserver.shared()
    path = os.path.join(workdir(), "original.conf")
    with open(path, "w") as f:
        f.write("[ppolicyd]\nbreaker_failures = 1000\n" + dns.dns_section("400ms") +
                "[module all]\ntype = DnsblScore\nparams = client_address, sender, queue_id\n"
                "dnsbl = %s\n" % ",\n  ".join(", ".join(names[i:i + 8]) for i in range(0, 910, 8)) +
                "[module l1]\ntype = Dnsbl\ndnsbl = UCEPROTECTL1\n"
                "[module nix]\ntype = Dnsbl\ndnsbl = NIXSPAM\n"
                "[policy main]\nrule = l1 == 1 -> REJECT listed\nrule = nix == 1 -> REJECT listed\n"
                "rule = all > 100 -> REJECT score\ndefault = DUNNO\n")
    env = dict(os.environ, PPOLICY_DATADIR=os.path.join(TOP_SRCDIR, "conf"))
    r = subprocess.run([PPOLICYD, "-c", path, "-t"], capture_output=True, text=True, timeout=60,
                       env=env)
    eq(r.returncode, 0, r.stderr[-3000:])
    check(not re.search(r"no blacklist", r.stderr), r.stderr[-3000:])
    for want in ("blacklist NIXSPAM (ix.dnsbl.manitu.net) is defunct",
                 "blacklist WPBL (db.wpbl.info) is defunct",
                 '"queue_id" cannot be looked up and is ignored'):
        check(want in r.stderr, "missing %r in:\n%s" % (want, r.stderr[-3000:]))
    check("UCEPROTECTL1" not in r.stderr and "(dnsbl-1.uceprotect.net) is defunct" not in r.stderr,
          r.stderr[-3000:])
    # The alias is asked under the list's current zone; the defunct list never.
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.77\n"
           "client_name=unknown\nsender=a@example.org\nrecipient=b@example.net\n\n")
    r = subprocess.run([PPOLICYD, "-c", path, "-e"], input=req, capture_output=True, text=True,
                       timeout=60, env=env)
    eq(r.returncode, 0, r.stderr[-3000:])
    check(dns.queries("77.2.0.192.dnsbl-1.uceprotect.net") >= 1, "UCEPROTECTL1 asked")
    eq(dns.queries("77.2.0.192.ix.dnsbl.manitu.net"), 0, "NIXSPAM never asked")
    eq(dns.queries("77.2.0.192.db.wpbl.info"), 0, "WPBL never asked")


def test_configuration_errors():
    path = os.path.join(workdir(), "bad.conf")
    with open(path, "w") as f:
        f.write("[module a]\ntype = Dnsbl\ndnsbl = NOSUCH\ndataFile = %s\n" % DATA +
                "[module b]\ntype = Dnsbl\ndnsbl = TZEN\ndataFile = /nonexistent/dnsbl.dat\n"
                "[module c]\ntype = DnsblScore\ndataFile = %s\nparams = queue_id\n" % DATA +
                "[module e]\ntype = DnsblDynamic\ndataFile = %s\ndnsbl = TDBL\n" % DATA +
                "[module f]\ntype = Dnsbl\n"
                "[dns]\nnameservers = 127.0.0.1, not-an-address\n"
                "[policy main]\ndefault = DUNNO\n")
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 1, r.stderr)
    for want in ('no blacklist "NOSUCH" in %s' % DATA, "/nonexistent/dnsbl.dat: cannot open",
                 "TDBL is a domain list", '"dnsbl" is required',
                 '"not-an-address" is not an IP address'):
        check(want in r.stderr, "missing %r in:\n%s" % (want, r.stderr))


run_tests(globals())
