# SPDX-License-Identifier: GPL-2.0-or-later
"""The README's promises, run as written: its hand test (a bash function,
nothing to install) gets the answers the README prints from a daemon on
conf/ppolicy.conf, without hitting the tarpit; one timeout story: the
main.cf of the README and of ppolicyd(8) use the same Postfix timeout, and it
is above ppolicyd's request_timeout (from `ppolicyd -d`) plus the watchdog's
2 seconds."""

import os
import re
import subprocess
import time

from ppolicytest import TOP_SRCDIR, Daemon, check, eq, ppolicyd, run_tests

README = os.path.join(TOP_SRCDIR, "README")
WATCHDOG_S = 2


def seconds(text):
    m = re.fullmatch(r"(\d+)(s|m)?", text)
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def test_one_timeout_story():
    readme = open(README).read()
    man = open(os.path.join(TOP_SRCDIR, "man", "ppolicyd.8")).read()
    got = {}
    for name, text in (("README", readme), ("ppolicyd.8", man)):
        ts = re.findall(r"check_policy_service \{[^}]*timeout=(\w+)", text)
        check(ts, "%s: no check_policy_service { ..., timeout=... }" % name)
        got[name] = set(ts)
    eq(got["README"], got["ppolicyd.8"], "Postfix timeout in README and ppolicyd(8)")
    d = ppolicyd("-d").stdout
    rt = seconds(re.search(r"^request_timeout = (\w+)$", d, re.M).group(1))
    for t in got["README"]:
        check(seconds(t) > rt + WATCHDOG_S, "Postfix timeout %s is not above request_timeout %ds + %ds"
              % (t, rt, WATCHDOG_S))


def hand_test():
    """The README's hand test: the indented block after "Try it by hand", and
    the answers it prints (its "# action=..." lines)."""
    lines = open(README).read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Try it by hand"))
    block = []
    for line in lines[start + 2:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    script = "\n".join(block).strip()
    want = [line[2:] for line in script.splitlines() if line.startswith("# action=")]
    check(len(want) >= 2, "README hand test without expected answers:\n" + script)
    return script, want


def test_readme_hand_test_works():
    script, want = hand_test()
    check("nc " not in script, "the hand test needs nc")
    d = Daemon(open(os.path.join(TOP_SRCDIR, "conf", "ppolicy.conf")).read(),
               overrides=["ppolicyd.policy_tests=" + os.path.join(TOP_SRCDIR, "conf", "ppolicy.tests")])
    port = d.port
    try:
        t0 = time.time()
        r = subprocess.run(["bash", "-c", script.replace("10030", str(port))], capture_output=True, text=True,
                           timeout=60)
        took = time.time() - t0
    finally:
        d.stop()
    eq(r.returncode, 0, r.stderr)
    got = [line for line in r.stdout.splitlines() if line]
    eq(len(got), len(want), r.stdout)
    for g, w in zip(got, want):
        # The greylist wait is the configured delay (300 s) at most.
        eq(re.sub(r"in \d+ seconds", "in N seconds", g), re.sub(r"in \d+ seconds", "in N seconds", w))
    check(took < 3, "the hand test took %.1f s (the tarpit?)" % took)


run_tests(globals())
