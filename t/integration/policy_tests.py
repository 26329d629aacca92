#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Policy tests (ppolicy.conf(5), POLICY TESTS): `ppolicyd -T FILE` runs a
file of requests with expected decisions and fixed module results; the files
named by [ppolicyd] policy_tests run at -t, start and reload, and a reload
that breaks an expected decision is refused like a syntax error."""

import os
import signal
import time

from ppolicytest import TOP_SRCDIR, Daemon, check, eq, ppolicyd, run_tests, workdir

CONF = """
[ppolicyd]
listen = inet:127.0.0.1:10030
min_workers = 1
%(tests)s
[module greylist]
type = Greylist
store = shm
delay = 5m
[module rbl]
type = DnsblScore
dnsbl = ZEN
dataFile = %(top)s/conf/dnsbl.dat
[policy main]
rule = recipient_local == "postmaster" -> DUNNO
rule = rbl > %(limit)s -> REJECT 5.7.1 listed ${rbl.hits} times
rule = greylist < 0 -> DEFER_IF_PERMIT 4.7.1 greylisted for ${greylist.wait} s
default = DUNNO
"""

TESTS = """
# comments as in ppolicy.conf
[test postmaster passes]
recipient = postmaster@example.org
expect = DUNNO
expect_rule = 1

[test listed client is rejected]
client_address = 198.51.100.7
recipient = user@example.org
rbl = 7
rbl.hits = 2
expect = REJECT 5.7.1 listed 2 times

[test unlisted new triplet is greylisted]
client_address = 198.51.100.8
sender = a@example.net
recipient = user@example.org
rbl = 0
greylist = -1
greylist.wait = 300
expect = defer_if_permit
expect_rule = 3
"""


def files(limit="5", tests=TESTS, key=True):
    d = workdir()
    os.chmod(d, 0o755)
    with open(os.path.join(d, "main.tests"), "w") as f:
        f.write(tests)
    path = os.path.join(d, "ppolicy.conf")
    with open(path, "w") as f:
        f.write(CONF % {"top": TOP_SRCDIR, "limit": limit, "tests": "policy_tests = main.tests" if key else ""})
    return path, os.path.join(d, "main.tests")


def test_passing_file():
    conf, tests = files(key=False)
    r = ppolicyd("-c", conf, "-T", tests)
    eq(r.returncode, 0, r.stdout + r.stderr)
    check("ok     %s:3: postmaster passes" % tests in r.stdout, r.stdout)
    check(r.stdout.rstrip().endswith("3 tests: 3 passed, 0 failed"), r.stdout)


def test_failing_file_prints_the_trace():
    # The policy now rejects at 8: the listed client (score 7) is not rejected.
    conf, tests = files(limit="8", key=False)
    r = ppolicyd("-c", conf, "-T", tests)
    eq(r.returncode, 1, r.stdout)
    check("FAILED %s:8: listed client is rejected: expected REJECT 5.7.1 listed 2 times, "
          "got \"DUNNO\" (default, line 18)" % tests in r.stdout, r.stdout)
    # The trace of the failing evaluation: the fixed results, as -e shows them.
    check("module rbl (DnsblScore): code 7, info \"\", hits=2" in r.stdout, r.stdout)
    check("module greylist (Greylist): code 0, info \"not fixed by the test\"" in r.stdout, r.stdout)
    check("3 tests: 2 passed, 1 failed" in r.stdout, r.stdout)


def test_module_not_fixed_fails_without_running_it():
    t = TESTS.replace("rbl = 0\n", "")
    conf, tests = files(tests=t, key=False)
    r = ppolicyd("-c", conf, "-T", tests)
    eq(r.returncode, 1, r.stdout)
    check("unlisted new triplet is greylisted: module rbl ran without a fixed result "
          "(add rbl = CODE to the test)" in r.stdout, r.stdout)


def test_errors_in_the_file():
    bad = """
[test one]
rbl = lots
rbl.nosuch = 1
nosuch.field = 2
expect_rule = first
[test two]
recipient = a@b
[something else]
[test %s]
expect = DUNNO
""" % ("x" * 45)
    conf, tests = files(tests=bad, key=False)
    r = ppolicyd("-c", conf, "-T", tests)
    eq(r.returncode, 1, r.stdout)
    for line, what in [
            (3, "[test one] module rbl: the code must be a number (e.g. rbl = -1), not \"lots\""),
            (4, "[test one] module rbl (DnsblScore) has no field \"nosuch\""),
            (5, "[test one] no module instance \"nosuch\""),
            (6, "[test one] expect_rule \"first\": a rule number, or default"),
            (2, "[test one] has no expect = ACTION"),
            (7, "[test two] has no expect = ACTION"),
            (9, "[something else]: sections of a policy test file are [test NAME]"),
            (10, "[test %s]: a test name has at most 44 characters" % ("x" * 45))]:
        check("%s:%d: %s" % (tests, line, what) in r.stdout, "missing %d: %s\n%s" % (line, what, r.stdout))


def test_check_runs_the_configured_tests():
    conf, tests = files()
    r = ppolicyd("-c", conf, "-t")
    eq(r.returncode, 0, r.stderr)
    check("3 policy tests" in r.stdout, r.stdout)
    conf, tests = files(limit="8")
    r = ppolicyd("-c", conf, "-t")
    eq(r.returncode, 1, r.stdout)
    check("%s:8: policy test \"listed client is rejected\": expected REJECT 5.7.1 listed 2 times, "
          "got \"DUNNO\" (default, line 18)" % tests in r.stderr, r.stderr)
    os.unlink(tests)
    r = ppolicyd("-c", conf, "-t")
    eq(r.returncode, 1)
    check("%s: cannot open" % tests in r.stderr, r.stderr)


def test_shipped_configuration_carries_its_tests():
    conf = os.path.join(TOP_SRCDIR, "conf", "ppolicy.conf")
    r = ppolicyd("-c", conf, "-T", os.path.join(TOP_SRCDIR, "conf", "ppolicy.tests"))
    eq(r.returncode, 0, r.stdout)
    check(" 0 failed" in r.stdout, r.stdout)
    with open(conf) as f:
        check("\npolicy_tests = ppolicy.tests\n" in f.read(), "ppolicy.conf does not run its tests")


def test_reload_refused_when_a_test_fails():
    conf, tests = files(key=False)
    with open(conf) as f:
        text = f.read().replace("min_workers = 1\n", "min_workers = 1\npolicy_tests = %s\n" % tests)
    d = Daemon(text)
    postmaster = dict(client_address="127.0.0.2", recipient="postmaster@example.org")
    eq(d.ask(**postmaster), "DUNNO")
    # An edit that changes a decision the tests rely on: the reload is refused
    # like a syntax error, and the running policy stays.
    d.write_config(text.replace('"postmaster" -> DUNNO', '"postmaster" -> OK'))
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload failed")
    check("policy test \"postmaster passes\": expected DUNNO, got \"OK\" (rule 1, line 16)" in d.log(),
          d.log()[-3000:])
    time.sleep(0.3)
    eq(d.ask(**postmaster), "DUNNO")
    # The same edit with its test updated is taken.
    with open(tests) as f:
        t = f.read()
    with open(tests, "w") as f:
        f.write(t.replace("expect = DUNNO\nexpect_rule = 1", "expect = OK\nexpect_rule = 1"))
    d.signal(signal.SIGHUP)
    d.wait_log(r"configuration reloaded")
    end = time.time() + 10
    while d.ask(**postmaster) != "OK" and time.time() < end:
        time.sleep(0.1)
    eq(d.ask(**postmaster), "OK")
    d.stop()


SHADOW = """
[ppolicyd]
min_workers = 1
stats_listen = 127.0.0.1:%(stats)d
[module dummy]
type = Dummy
[module greylist]
type = Greylist
store = shm
[policy main]
rule = sender_domain == "spam.test" -> REJECT
default = DUNNO
[policy candidate]
shadow = yes
rule = sender_domain == "spam.test" -> REJECT
rule = sender_domain == "other.test" && dummy == 0 -> REJECT 5.7.1 new rule
rule = sender_domain == "grey.test" && greylist < 0 -> DEFER_IF_PERMIT
default = DUNNO
"""


def test_shadow_policy_logs_and_counts_differences():
    import urllib.request
    from ppolicytest import free_port
    stats = free_port()
    d = Daemon(SHADOW % {"stats": stats})
    # The live policy decides; the shadow only logs what it would have done.
    eq(d.ask(sender="a@other.test"), "DUNNO")
    eq(d.ask(sender="a@spam.test"), "REJECT")
    eq(d.ask(sender="a@grey.test"), "DUNNO")
    d.wait_log(r"shadow=candidate would REJECT 5\.7\.1 new rule rule=2 line=\d+ \(live: DUNNO rule=default")
    # All three decisions are in the log (held lines: up to 0.1 s after the reply), with the
    # shadow's lines, held after them.
    d.wait_log(r"from=<a@grey\.test> ")
    d.wait_log(r"from=<a@other\.test> ")
    time.sleep(0.3)
    check("would REJECT rule=1" not in d.log(), "an equal decision was logged as a difference")
    check("grey.test" not in "".join(l for l in d.log().splitlines() if "would" in l),
          "the shadow called Greylist (a module with side effects):\n" + d.log())
    end = time.time() + 10  # workers flush their counters when idle
    while True:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % stats, timeout=10).read().decode()
        if 'ppolicy_shadow_evaluations_total{policy="candidate"} 3' in text or time.time() > end:
            break
        time.sleep(0.2)
    check('ppolicy_shadow_differences_total{policy="candidate",rule="2",line="16"} 1' in text,
          "\n".join(l for l in text.splitlines() if "shadow" in l))
    check('ppolicy_shadow_evaluations_total{policy="candidate"} 3' in text, text[-2000:])
    check('ppolicy_shadow_incomplete_total{policy="candidate"} 1' in text, text[-2000:])
    d.stop()


def test_shadow_key_checked():
    d = workdir()
    path = os.path.join(d, "ppolicy.conf")
    with open(path, "w") as f:
        f.write("[module dummy]\ntype = Dummy\n[policy p]\nshadow = maybe\ndefault = DUNNO\n"
                "[policy q]\nshadow = yes\ndefault = DUNNO\n")
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 1)
    check("[policy p] shadow: yes or no, not \"maybe\"" in r.stderr, r.stderr)


if __name__ == "__main__":
    run_tests(globals())
