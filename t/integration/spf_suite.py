# SPDX-License-Identifier: GPL-2.0-or-later
"""The RFC 7208 test suite (openspf.org release 2014.04, t/data/rfc7208-tests.yml,
its own licence in t/data/rfc7208-tests.LICENSE) through the SPF module.

Each scenario's zone data is served by t/lib/memdns.py on loopback (BIND
cannot say what the suite's data says: lookups that time out for some types
of a name only, TXT records with control bytes or no strings at all, answers
in a fixed order). The data is read as the suite's reference driver reads
it: an "SPF" record also stands for a TXT record unless the name has TXT
records of its own ("TXT: NONE" means none), TIMEOUT drops the queries of
every type not listed before it.

test_suite_through_e: every test through `ppolicyd -e` (the module's cache
off), one run per scenario; the result must be one of the suite's, and the
explanation the suite's where it gives one ("DEFAULT" is the module's
defaultExplanation here). KNOWN lists the tests that still differ (the man
page, ppolicy-modules(5), SPF, lists the same with the reason); a test that
starts passing must be taken off it, so the figure stays true.

test_suite_through_daemon_cached: the same through a running daemon with
the result cache on, every test asked twice: the second answer comes from
the cache (but a temperror, which is never cached, and a result too large
for a cache entry, which the cache counts) and is the same."""

import os
import re

import yaml

import memdns
import promparse
from ppolicytest import (TOP_SRCDIR, Daemon, at_exit, check, eq, free_port, ppolicyd, run_tests,
                         workdir)

SUITE = os.path.join(TOP_SRCDIR, "t", "data", "rfc7208-tests.yml")
# What a TIMEOUT costs; long enough that a loaded machine never turns an
# answer into a timeout (the server is a thread of this process).
DNS_TIMEOUT = "1s"

# Tests that still differ from the suite: name -> why (also in ppolicy-modules(5)).
KNOWN = {}

_dns = None


def dns():
    global _dns
    if _dns is None:
        _dns = memdns.MemDNS()
        at_exit(stop_dns)
    return _dns


def stop_dns():
    global _dns
    if _dns is not None:
        _dns.stop()
        _dns = None


def value(rtype, v):
    if rtype in ("TXT", "SPF"):
        return [s.encode("utf-8") for s in ([v] if isinstance(v, str) else v)]
    if rtype == "MX":
        return (v[0], v[1])
    return v


def zone_of(zonedata):
    zone = {}
    for name, records in (zonedata or {}).items():
        entries, spf, has_txt = [], [], False
        for r in records:
            if r == "TIMEOUT":
                entries.append(("TIMEOUT",))
                continue
            ((rtype, v),) = r.items()
            has_txt = has_txt or rtype == "TXT"
            if rtype == "SPF":
                spf.append(("TXT", value("TXT", v)))
            if v == "NONE" or v == ["NONE"]:
                continue
            entries.append((rtype, value(rtype, v)))
        if not has_txt:
            entries += spf  # after everything, TIMEOUT included, as the suite's driver does
        zone[name.lower().rstrip(".")] = entries
    return zone


def scenarios():
    with open(SUITE, "rb") as f:
        return [s for s in yaml.safe_load_all(f) if s]


def expected(t):
    r = t["result"]
    return r if isinstance(r, list) else [r]


MODULE = ("type = SPF\ncachePositive = {c}\ncacheNegative = {c}\ncacheUnknown = {c}\n"
          "defaultExplanation = DEFAULT\n")


def verdict(name, t, result, expl):
    """None when the answer is the suite's, else what differs."""
    want = expected(t)
    if result not in want:
        return "result %s, want %s" % (result, "/".join(want))
    if "explanation" in t and expl != t["explanation"]:
        return "explanation %r, want %r" % (expl, t["explanation"])
    return None


REPLY = re.compile(r"REJECT 5\.7\.1 result=(\S*) explanation=(.*)$")


def run_scenario_e(scenario):
    """{test name: (result, explanation)} through ppolicyd -e."""
    dns().zone = zone_of(scenario.get("zonedata"))
    d = workdir("spfsuite")
    conf = os.path.join(d, "ppolicy.conf")
    with open(conf, "w") as f:
        f.write("[ppolicyd]\nbreaker_failures = 1000\n" + dns().dns_section(DNS_TIMEOUT) +
                "[module spf]\n" + MODULE.format(c=0) +
                "[policy main]\nrule = true -> REJECT 5.7.1 result=${spf.result} "
                "explanation=${spf.explanation}\n")
    names = list(scenario["tests"])
    reqs = ""
    for n in names:
        t = scenario["tests"][n]
        reqs += ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\n"
                 "helo_name=%s\nsender=%s\nrecipient=x@example.org\n\n" %
                 (t["host"], t["helo"], t["mailfrom"]))
    p = ppolicyd("-c", conf, "-e", input=reqs, timeout=300)
    check(p.returncode == 0, "ppolicyd -e failed: %s" % p.stderr)
    # "request N: action=ACTION" lines (the trace lines after each are indented).
    actions = [line.split(": action=", 1)[1] for line in p.stdout.splitlines()
               if line.startswith("request ")]
    eq(len(actions), len(names), "answers")
    out = {}
    for n, a in zip(names, actions):
        m = REPLY.match(a)
        check(m, "%s: unexpected action %r" % (n, a))
        out[n] = (m.group(1), m.group(2))
    return out


def report(results):
    """(passed, total, failures) against the suite and KNOWN."""
    failures = []
    passed = total = 0
    for scenario in scenarios():
        for n, t in scenario["tests"].items():
            total += 1
            why = verdict(n, t, *results[n])
            if why is None:
                passed += 1
                if n in KNOWN:
                    failures.append("%s passes now: take it off KNOWN (and the man page)" % n)
            elif n not in KNOWN:
                failures.append("%s: %s" % (n, why))
    return passed, total, failures


def test_suite_through_e():
    """The command of the conformance figure: `make check` runs this file."""
    results = {}
    for scenario in scenarios():
        results.update(run_scenario_e(scenario))
    passed, total, failures = report(results)
    print("RFC 7208 test suite through ppolicyd -e: %d of %d pass" % (passed, total))
    check(not failures, "\n".join(failures))


def test_suite_through_daemon_cached():
    all_scenarios = scenarios()
    sport = free_port()
    conf = ("[ppolicyd]\nmin_workers = 2\nbreaker_failures = 1000\nstats_listen = 127.0.0.1:%d\n"
            % sport + dns().dns_section(DNS_TIMEOUT))
    for i in range(len(all_scenarios)):
        conf += "[module s%d]\n" % i + MODULE.format(c=3600)
    conf += "[policy main]\n"
    for i in range(len(all_scenarios)):
        conf += ('rule = recipient_local == "s{i}" -> REJECT 5.7.1 cached=${{s{i}.cached}} '
                 "result=${{s{i}.result}} explanation=${{s{i}.explanation}}\n").format(i=i)
    d = Daemon(conf)
    results = {}
    fresh = []
    for i, scenario in enumerate(all_scenarios):
        # One module instance per scenario: the same client, sender and HELO
        # mean other things in other scenarios.
        dns().zone = zone_of(scenario.get("zonedata"))
        asked = set()
        for n, t in scenario["tests"].items():
            replies = [d.ask(client_address=t["host"], sender=t["mailfrom"], helo_name=t["helo"],
                             recipient="s%d@example.org" % i) for _ in range(2)]
            m = [re.match(r"REJECT 5\.7\.1 cached=(\S+) (.*)$", r) for r in replies]
            check(m[0] and m[1], "%s: unexpected replies %r" % (n, replies))
            eq(m[1].group(2), m[0].group(2), n + ": the second answer")
            key = (t["host"], t["mailfrom"], t["helo"])  # a-multi-ip1 and 2 are the same
            check(m[0].group(1) == "false" or key in asked, "%s: the first answer was cached" % n)
            asked.add(key)
            r = REPLY.match("REJECT 5.7.1 " + m[0].group(2))
            results[n] = (r.group(1), r.group(2))
            if r.group(1) != "temperror" and m[1].group(1) != "true":
                fresh.append(n)
    # A result is not cached when key and fields exceed a cache slot (~500
    # bytes): here the tests with an 87-character sender, which the header
    # holds twice (more with a long host name in its comment). Each refused
    # entry was refused twice (both answers); nothing else may be uncached.
    samples, _ = promparse.scrape(sport)
    too_large = samples[("ppolicy_shm_too_large_total", (("table", "cache"),))]
    eq(too_large, 2 * len(fresh), "cache entries refused as too large (uncached: %s)" % fresh)
    check(len(fresh) <= 10, "not answered from the cache the second time: %s" % fresh)
    print("uncached (too large for a cache entry): %s" % (", ".join(fresh) or "none"))
    passed, total, failures = report(results)
    print("RFC 7208 test suite through the daemon, result cache on: %d of %d pass"
          % (passed, total))
    check(not failures, "\n".join(failures))
    d.stop()


run_tests(globals())
