#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Logging to syslog (log = syslog, the default without -f). Workers hold
their decision lines and send them in batches (one sendmmsg() of separate
datagrams) on their own /dev/log socket: the lines must arrive one message
each, in syslog(3)'s format, and keep arriving after the syslog daemon was
restarted (a new socket at /dev/log: the old connection is refused).
ppolicyd runs in a private mount namespace whose /dev/log is served by
t/bench/logsink (t/bench/syslog-ns.sh); root only."""

import os
import re
import shutil
import signal
import subprocess
import time

from ppolicytest import TOP_BUILDDIR, TOP_SRCDIR, Daemon, at_exit, check, eq, run_tests, skip

LOGSINK = os.path.join(TOP_BUILDDIR, "t", "bench", "logsink")
SYSLOG_NS = os.path.join(TOP_SRCDIR, "t", "bench", "syslog-ns.sh")

CONFIG = """
[ppolicyd]
min_workers = 1
max_workers = 2

[policy main]
rule = sender == "reject@example.test" -> REJECT 5.7.1 not you
default = DUNNO
"""

# syslog(3) with LOG_PID, facility mail, priority info: <22>Mmm dd hh:mm:ss ident[pid]: text
LINE = r"^<22>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ppolicyd\[(\d+)\]: %s: RCPT client=\S+ helo=<\S*> " \
       r"from=<[^>]*> to=<[^>]*> action=%s policy=main rule=\d line=\d+ time=\S+ms$"


class SyslogDaemon(Daemon):
    def command(self):
        return ["unshare", "-m", "--propagation", "private", SYSLOG_NS, LOGSINK, self.dir] + super().command()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_count(path, pattern, n, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if len(re.findall(pattern, read(path), re.M)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("%d lines matching %r expected in %s:\n%s" % (n, pattern, path, read(path)[-3000:]))


def children(pid, name):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = read("/proc/%s/stat" % d)
            fields = st[st.rindex(")") + 2:].split()
            if int(fields[1]) == pid and st[st.index("(") + 1:st.rindex(")")] == name:
                out.append(int(d))
        except (OSError, ValueError):
            pass
    return out


def in_namespace(pid, *cmd):
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "--"] + list(cmd), capture_output=True, text=True,
                          timeout=10)


def test_decisions_reach_syslog_and_survive_a_syslog_restart():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        skip("needs root, unshare and nsenter")
    check(os.access(LOGSINK, os.X_OK), "%s not built (make check builds it)" % LOGSINK)
    d = SyslogDaemon(CONFIG, overrides=["ppolicyd.log=syslog"])
    first = os.path.join(d.dir, "syslog")
    c = d.client()
    for i in range(20):
        eq(c.ask(queue_id="QA%02d" % i), "DUNNO")
    eq(c.ask(queue_id="QR00", sender="reject@example.test"), "REJECT 5.7.1 not you")
    wait_count(first, LINE % (r"QA\d\d", "DUNNO"), 20)
    wait_count(first, LINE % ("QR00", "REJECT 5.7.1 not you"), 1)
    pids = {int(p) for p in re.findall(LINE % (r"Q[AR]\d\d", ".*"), read(first), re.M)}
    check(pids and pids <= set(d.workers()), "lines from %s, workers %s" % (pids, d.workers()))

    # Restart the syslog daemon: the old socket goes, a new one is made.
    sinks = children(d.pid, "logsink")
    eq(len(sinks), 1, "logsink processes")
    os.kill(sinks[0], signal.SIGTERM)
    in_namespace(d.pid, "rm", "-f", "/dev/log")
    second = os.path.join(d.dir, "syslog2")
    sink2 = subprocess.Popen(["nsenter", "-t", str(d.pid), "-m", "--", LOGSINK, "/dev/log", second])
    at_exit(lambda: sink2.poll() is None and sink2.kill())
    end = time.time() + 5
    while in_namespace(d.pid, "test", "-S", "/dev/log").returncode != 0 and time.time() < end:
        time.sleep(0.05)
    eq(in_namespace(d.pid, "chmod", "666", "/dev/log").returncode, 0, "chmod /dev/log")
    for i in range(20):
        eq(c.ask(queue_id="QB%02d" % i), "DUNNO")
    wait_count(second, LINE % (r"QB\d\d", "DUNNO"), 20)
    check("QA" not in read(second), "old lines sent again")
    d.stop()
    sink2.terminate()
    sink2.wait(timeout=5)


run_tests(globals())
