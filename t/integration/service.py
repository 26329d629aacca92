# SPDX-License-Identifier: GPL-2.0-or-later
"""The start scripts: conf/ppolicyd.init runs for real (start, status,
reload, configtest, restart, stop; LSB exit codes) with a configuration in
a temporary directory (PPOLICYD_DEFAULTS names the defaults file that
points it there); conf/ppolicyd.service is checked with `systemd-analyze
verify` and run by t/lib/unitrunner.py (there is no systemd PID 1 here):
ExecStartPre (configuration check), ExecStart (Type=forking, PIDFile=),
ExecReload (check, then SIGHUP to $MAINPID), stop (SIGTERM to the main
process, KillMode=mixed)."""

import os
import shutil
import subprocess
import time

import unitrunner
from ppolicytest import (IS_ROOT, PPOLICYD, TOP_SRCDIR, at_exit, check, eq, free_port, run_tests, skip,
                         workdir)

INIT = os.path.join(TOP_SRCDIR, "conf", "ppolicyd.init")
UNIT = os.path.join(TOP_SRCDIR, "conf", "ppolicyd.service")

CONFIG = """
[ppolicyd]
listen = inet:127.0.0.1:%(port)d
min_workers = 2
state_dir = %(dir)s/state
[module dummy]
type = Dummy
[policy main]
rule = dummy == 0 -> REJECT version %(version)s
"""


class Setup:
    def __init__(self):
        self.dir = workdir("service")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "ppolicy.conf")
        self.pidfile = os.path.join(self.dir, "run", "ppolicyd", "ppolicyd.pid")
        self.defaults = os.path.join(self.dir, "default")
        self.write("one")
        with open(self.defaults, "w") as f:
            f.write("# like /etc/default/ppolicyd\nPPOLICYD=%s\nPPOLICYD_CONFIG=%s\nPIDFILE=%s\n"
                    "PPOLICYD_OPTS=\"-o ppolicyd.min_workers=3\"\nSTOP_TIMEOUT=20\n"
                    % (PPOLICYD, self.conf, self.pidfile))
        at_exit(self.cleanup)

    def write(self, version, broken=False):
        text = CONFIG % {"port": self.port, "dir": self.dir, "version": version}
        if broken:
            text = text.replace("dummy == 0", "dummy === 0")
        with open(self.conf, "w") as f:
            f.write(text)

    def ask(self):
        from ppolicytest import Client
        c = Client(self.port)
        try:
            return c.ask()
        finally:
            c.close()

    def wait_answer(self, want, timeout=10):
        end = time.time() + timeout
        got = None
        while time.time() < end:
            try:
                got = self.ask()
                if got == want:
                    return
            except OSError as e:
                got = repr(e)
            time.sleep(0.05)
        raise AssertionError("answer %r, want %r" % (got, want))

    def pid(self):
        with open(self.pidfile) as f:
            return int(f.read())

    def cleanup(self):
        # Whatever the test left running is killed by its pid (and its workers).
        try:
            pid = self.pid()
        except (OSError, ValueError):
            return
        for p in [pid] + unitrunner.Unit.descendants(pid):
            try:
                os.kill(p, 9)
            except OSError:
                pass


def init(setup, action):
    env = dict(os.environ, PPOLICYD_DEFAULTS=setup.defaults)
    r = subprocess.run(["/bin/sh", INIT, action], capture_output=True, text=True, env=env, timeout=120)
    print("$ ppolicyd.init %s -> %d\n%s" % (action, r.returncode, (r.stdout + r.stderr).rstrip()))
    return r


def test_init_script_lifecycle():
    if not IS_ROOT:
        skip("the init script starts ppolicyd as root")
    s = Setup()
    eq(init(s, "status").returncode, 3, "status before start")
    r = init(s, "start")
    eq(r.returncode, 0, "start")
    pid = s.pid()
    check(unitrunner.Unit.alive(pid), "master runs")
    s.wait_answer("REJECT version one")
    # PPOLICYD_OPTS from the defaults file reach the daemon.
    end = time.time() + 10
    while len(unitrunner.Unit.descendants(pid)) < 3 and time.time() < end:
        time.sleep(0.05)
    eq(len(unitrunner.Unit.descendants(pid)), 3, "min_workers from PPOLICYD_OPTS")
    r = init(s, "status")
    eq(r.returncode, 0, "status when running")
    check("is running (pid %d)" % pid in r.stdout, r.stdout)
    r = init(s, "start")
    eq(r.returncode, 0, "start when running")
    check("already running" in r.stdout, r.stdout)
    eq(s.pid(), pid, "no second daemon")
    eq(init(s, "configtest").returncode, 0, "configtest")

    s.write("two")
    eq(init(s, "reload").returncode, 0, "reload")
    s.wait_answer("REJECT version two")
    eq(s.pid(), pid, "reload keeps the master")

    s.write("three", broken=True)
    r = init(s, "configtest")
    eq(r.returncode, 1, "configtest of a broken file")
    check("unexpected" in r.stderr or "expected" in r.stderr, r.stderr)
    r = init(s, "reload")
    eq(r.returncode, 1, "reload of a broken file")
    check("configuration has errors, not reloading" in r.stderr, r.stderr)
    r = init(s, "restart")
    eq(r.returncode, 1, "restart with a broken file")
    eq(s.pid(), pid, "a broken file never stops the running server")
    eq(s.ask(), "REJECT version two", "still the old configuration")

    s.write("four")
    eq(init(s, "restart").returncode, 0, "restart")
    check(s.pid() != pid, "restart runs a new master")
    pid = s.pid()
    s.wait_answer("REJECT version four")
    workers = unitrunner.Unit.descendants(pid)
    eq(init(s, "stop").returncode, 0, "stop")
    check(not unitrunner.Unit.alive(pid), "master gone")
    check(not any(unitrunner.Unit.alive(w) for w in workers), "workers gone")
    check(not os.path.exists(s.pidfile), "pid file removed")
    eq(init(s, "status").returncode, 3, "status after stop")
    eq(init(s, "stop").returncode, 0, "stop when stopped")
    eq(init(s, "reload").returncode, 7, "reload when stopped")

    # A stale pid file (the pid of a process that is gone, or not ppolicyd).
    p = subprocess.Popen(["sleep", "30"])
    with open(s.pidfile, "w") as f:
        f.write("%d\n" % p.pid)
    eq(init(s, "status").returncode, 1, "status with a stale pid file")
    p.kill()
    p.wait()
    eq(init(s, "start").returncode, 0, "start over a stale pid file")
    s.wait_answer("REJECT version four")
    eq(init(s, "stop").returncode, 0, "stop")
    eq(init(s, "bogus").returncode, 2, "unknown action")


def test_init_script_reports_start_failure():
    if not IS_ROOT:
        skip("the init script starts ppolicyd as root")
    s = Setup()
    # The port is taken: ppolicyd's parent waits for the master and says why.
    import socket
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", s.port))
    blocker.listen(1)
    try:
        r = init(s, "start")
    finally:
        blocker.close()
    eq(r.returncode, 1, "start on a busy port")
    check("cannot listen: Address already in use" in r.stderr, r.stderr)
    eq(init(s, "status").returncode, 3)
    with open(s.defaults, "a") as f:
        f.write("PPOLICYD=/nonexistent/ppolicyd\n")
    eq(init(s, "start").returncode, 5, "daemon not installed")


def test_init_script_shellcheck():
    sc = shutil.which("shellcheck")
    if not sc:
        skip("shellcheck is not installed")
    r = subprocess.run([sc, "-s", "sh", INIT], capture_output=True, text=True)
    eq(r.returncode, 0, r.stdout + r.stderr)


def test_systemd_analyze_verify():
    sa = shutil.which("systemd-analyze")
    if not sa:
        skip("systemd-analyze is not installed")
    d = workdir("unit")
    # verify checks that ExecStart= binaries exist: point them at the build.
    with open(UNIT) as f:
        text = f.read().replace("/usr/sbin/ppolicyd", os.path.abspath(PPOLICYD))
    good = os.path.join(d, "ppolicyd.service")
    with open(good, "w") as f:
        f.write(text)
    r = subprocess.run([sa, "verify", "--man=no", good], capture_output=True, text=True, cwd=d)
    eq((r.returncode, (r.stdout + r.stderr).strip()), (0, ""), "systemd-analyze verify")
    # The check itself catches mistakes.
    bad = os.path.join(d, "bad", "ppolicyd.service")
    os.makedirs(os.path.dirname(bad))
    with open(bad, "w") as f:
        f.write(text.replace("ExecStart=/", "ExecStart=relative/"))
    r = subprocess.run([sa, "verify", "--man=no", bad], capture_output=True, text=True, cwd=d)
    check(r.returncode != 0 and "Neither a valid executable name nor an absolute path" in r.stderr,
          "a broken unit passed verify:\n" + r.stderr)


def test_systemd_unit_lifecycle():
    if not IS_ROOT:
        skip("the unit starts ppolicyd as root")
    s = Setup()
    run = os.path.join(s.dir, "run")
    with open(s.defaults, "w") as f:
        f.write("PPOLICYD_CONFIG=%s\nPPOLICYD_OPTS=-o ppolicyd.min_workers=3\n" % s.conf)
    unit = unitrunner.Unit(UNIT, path_map={
        "/usr/sbin/ppolicyd": os.path.abspath(PPOLICYD),
        "/run/": run + "/",
        "/etc/default/ppolicyd": s.defaults,
        "/etc/sysconfig/ppolicyd": os.path.join(s.dir, "no-sysconfig"),
    })
    for key in ("ProtectSystem", "NoNewPrivileges", "CapabilityBoundingSet", "PrivateTmp", "ProtectHome"):
        check(key in unit.ignored, "hardening %s missing from the unit" % key)
    eq(unit.one("Type"), "forking")
    eq(unit.one("KillMode"), "mixed")
    pid = unit.start()
    at_exit(lambda: unit.main_pid and unit.stop())
    eq(pid, s.pid(), "MAINPID from PIDFile=")
    check(os.path.isdir(os.path.join(run, "ppolicyd")), "RuntimeDirectory")
    s.wait_answer("REJECT version one")
    end = time.time() + 10
    while len(unit.descendants(pid)) < 3 and time.time() < end:
        time.sleep(0.05)
    eq(len(unit.descendants(pid)), 3, "min_workers from PPOLICYD_OPTS in the EnvironmentFile")

    s.write("two")
    results = unit.reload()
    eq([r[1][-1] for r in results], ["-t", str(pid)], "ExecReload: check, then HUP to $MAINPID")
    s.wait_answer("REJECT version two")
    eq(s.pid(), pid, "reload keeps the master")

    s.write("three", broken=True)
    try:
        unit.reload()
        raise AssertionError("reload of a broken file succeeded")
    except unitrunner.UnitError as e:
        check("ExecReload failed with status 1" in str(e), str(e))
    time.sleep(0.5)
    eq(s.ask(), "REJECT version two", "no SIGHUP after a failed check")

    # A failed ExecStartPre= keeps ExecStart= from running.
    unit2 = unitrunner.Unit(UNIT, path_map=unit.path_map)
    try:
        unit2.start()
        raise AssertionError("start with a broken file succeeded")
    except unitrunner.UnitError as e:
        check("ExecStartPre failed" in str(e), str(e))

    s.write("four")
    workers = unit.descendants(pid)
    took = unit.stop()
    check(not unit.alive(pid) and not any(unit.alive(w) for w in workers), "stopped")
    check(took < 10, "stop took %.1fs" % took)
    check(not os.path.exists(s.pidfile), "pid file removed by the daemon")
    check(not os.path.exists(os.path.join(run, "ppolicyd")), "RuntimeDirectory removed")


run_tests(globals())
