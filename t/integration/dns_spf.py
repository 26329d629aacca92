# SPDX-License-Identifier: GPL-2.0-or-later
"""SPF (our RFC 7208 evaluator through our resolver) against a real BIND named on loopback:
pass, fail, softfail, neutral, none, permerror, temperror, include,
redirect, exp=, IPv6, the HELO identity for the null sender, the codes
1/0/-1/-2, and the Received-SPF header a rule can PREPEND."""

import os
import re

import dnsserver
from ppolicytest import Daemon, check, eq, ppolicyd, run_tests, workdir

d = None


def daemon():
    global d
    if d is None or not d.running():
        dns = dnsserver.shared()
        d = Daemon("[ppolicyd]\nmin_workers = 2\nbreaker_failures = 1000\n" + dns.dns_section("400ms") +
                   "[module spf]\ntype = SPF\n"
                   "[module spfhelo]\ntype = SPF\nidentity = helo\n"
                   "[module spfexpl]\ntype = SPF\n"
                   "defaultExplanation = %{S} from %{c} (%{i}, %{v}, %{h}): not %{o}'s, see %{d}%_\n"
                   "[policy main]\n"
                   'rule = recipient_local == "prepend" -> PREPEND Received-SPF: ${spf.header}\n'
                   'rule = recipient_local == "expl" -> REJECT 5.7.1 ${spfexpl.explanation}|\n'
                   'rule = recipient_local == "helo" -> REJECT 5.7.1 code=${spfhelo} result=${spfhelo.result} '
                   'identity=${spfhelo.identity} info=${spfhelo.info}\n'
                   'rule = true -> REJECT 5.7.1 code=${spf} result=${spf.result} identity=${spf.identity} '
                   'expl=${spf.explanation}|\n'
                   "default = DUNNO\n")
    return d


def spf(client, sender, helo="mail.example.test", recipient="x@example.org"):
    reply = daemon().ask(client_address=client, sender=sender, helo_name=helo, recipient=recipient)
    m = re.match(r"REJECT 5\.7\.1 code=(-?\d+) result=(\S*) identity=(\S*) (?:expl|info)=(.*?)\|?$", reply)
    if not m:
        raise AssertionError("unexpected reply %r" % reply)
    return int(m.group(1)), m.group(2), m.group(3), m.group(4)


def test_pass_and_fail():
    eq(spf("192.0.2.10", "a@example.test")[:3], (1, "pass", "mailfrom"))
    c, result, _, expl = spf("198.51.100.1", "a@example.test")
    eq((c, result), (-2, "fail"))
    eq(spf("2001:db8::10", "a@example.test")[:2], (1, "pass"), "IPv6 client, ip6: mechanism")
    eq(spf("2001:db8:1::1", "a@example.test")[:2], (-2, "fail"), "IPv6 outside")


def test_softfail_neutral_none():
    eq(spf("198.51.100.1", "a@softfail.example.test")[:2], (-1, "softfail"))
    eq(spf("198.51.100.1", "a@neutral.example.test")[:2], (0, "neutral"))
    eq(spf("198.51.100.1", "a@nospf.example.test")[:2], (0, "none"))
    eq(spf("198.51.100.1", "a@nx.example.test")[:2], (0, "none"), "no such domain: none, not temperror")


def test_include_redirect_exp():
    eq(spf("192.0.2.10", "a@include.example.test")[:2], (1, "pass"))
    eq(spf("198.51.100.2", "a@include.example.test")[:2], (-2, "fail"))
    eq(spf("192.0.2.11", "a@redirect.example.test")[:2], (1, "pass"))
    eq(spf("198.51.100.3", "a@redirect.example.test")[:2], (-2, "fail"))
    c, result, _, expl = spf("198.51.100.4", "a@exp.example.test")
    eq((c, result), (-2, "fail"))
    # The domain's exp= text is fetched and its macros expanded.
    check(expl.startswith("198.51.100.4") and "mail" in expl, "exp= explanation: %r" % expl)


def test_explanations():
    """Issue 14: the exp= text with its spaces and macros; without exp= our own
    default (no URL), configurable with every macro."""
    eq(spf("198.51.100.4", "a@exp.example.test")[3],
       "198.51.100.4 is not one of exp.example.test's mail servers")
    eq(spf("198.51.100.1", "a@example.test")[3],
       "example.test does not allow 198.51.100.1 to send its mail (SPF)")
    # softfail and neutral have no explanation (libspf2 gave its openspf.org text).
    eq(spf("198.51.100.1", "a@softfail.example.test")[3], "")
    eq(spf("198.51.100.1", "a@neutral.example.test")[3], "")
    reply = daemon().ask(client_address="2001:db8:1::1", sender="Some.One@example.test",
                         helo_name="[2001:db8:1::1]", recipient="expl@example.org")
    eq(reply, "REJECT 5.7.1 Some.One%40example.test from 2001:db8:1::1 (2.0.0.1.0.D.B.8.0.0.0.1."
              "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1, ip6, [2001:db8:1::1]): not example.test's, "
              "see example.test |")


def test_default_explanation_is_checked():
    path = os.path.join(workdir(), "bad.conf")
    with open(path, "w") as f:
        f.write("[module spf]\ntype = SPF\ndefaultExplanation = The %{x}-files\n"
                "[policy main]\ndefault = DUNNO\n")
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 1, r.stderr)
    check('"defaultExplanation"' in r.stderr and "invalid macro letter" in r.stderr, r.stderr)


def test_permerror():
    eq(spf("192.0.2.10", "a@twospf.example.test")[:2], (-2, "permerror"), "two SPF records")
    eq(spf("192.0.2.10", "a@badinc.example.test")[:2], (-2, "permerror"), "include of a domain without SPF")
    eq(spf("192.0.2.10", "a@permerr.example.test")[:2], (-2, "permerror"), "top-level syntax error (invalid)")


def test_temperror():
    eq(spf("192.0.2.10", "a@tempspf.example.test")[:2], (-1, "temperror"), "include of a SERVFAIL zone")
    # A temperror is not cached (its -1 would otherwise last cacheNegative, a day).
    eq(spf("192.0.2.10", "a@tempspf.example.test")[:2], (-1, "temperror"))
    # Decision lines reach the log up to 0.1 s after the reply (workers hold them).
    d.wait_log(r"from=<a@tempspf\.example\.test> .*modules=spf:-1", count=2)
    check("modules=spf:-1(cached)" not in d.log(), d.log()[-2000:])
    eq(spf("198.51.100.1", "a@example.test")[:2], (-2, "fail"))
    eq(spf("198.51.100.1", "a@example.test")[:2], (-2, "fail"))
    d.wait_log(r"modules=spf:-2\(cached\)")  # a fail is cached
    eq(spf("192.0.2.10", "a@x.servfail.test")[:2], (-1, "temperror"), "top-level SERVFAIL (invalid)")
    c, result, _, expl = spf("192.0.2.10", "a@slowspf.example.test")
    eq((c, result), (-1, "temperror"), "include that does not answer")


def test_null_sender_uses_helo_identity():
    eq(spf("192.0.2.10", "", helo="helo.example.test")[:3], (1, "pass", "helo"))
    eq(spf("198.51.100.1", "", helo="helo.example.test")[:3], (-2, "fail", "helo"))
    c, result, ident, _ = spf("192.0.2.10", "", helo="[192.0.2.10]")
    eq((c, ident), (0, "helo"), "an address literal is no HELO identity")
    # identity = helo checks the HELO name even with a sender.
    reply = daemon().ask(client_address="198.51.100.1", sender="a@example.test", helo_name="helo.example.test",
                         recipient="helo@example.org")
    check(reply.startswith("REJECT 5.7.1 code=-2 result=fail identity=helo "), reply)


def test_received_spf_header_can_be_prepended():
    reply = daemon().ask(client_address="192.0.2.10", sender="a@example.test", helo_name="mail.example.test",
                         recipient="prepend@example.org")
    check(reply.startswith("PREPEND Received-SPF: pass ("), reply)
    check("client-ip=192.0.2.10;" in reply and "envelope-from=a@example.test;" in reply, reply)
    reply = daemon().ask(client_address="192.0.2.10", sender="a@x.servfail.test", helo_name="mail.example.test",
                         recipient="prepend@example.org")
    check(reply.startswith("PREPEND Received-SPF: temperror ("), reply)


run_tests(globals())
