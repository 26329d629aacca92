# SPDX-License-Identifier: GPL-2.0-or-later
"""Daemon life cycle: SIGHUP with a broken file keeps the old policy, with a
good one serves the new one (on the same Postfix connection: it is handed
over to a new worker, never closed); SIGTERM lets in-flight requests finish;
SIGUSR1 logs statistics; the pid file; daemon mode; the shared-memory
snapshot saved on stop and restored on start; root never follows a link or
opens a FIFO planted by the run-time user in its directories."""

import os
import shutil
import signal
import threading
import time

from ppolicytest import IS_ROOT, Daemon, check, eq, free_port, run_tests, skip, workdir

CONFIG = """
[ppolicyd]
min_workers = 2

[module dummy]
type = Dummy

[module nap]
type = Sleep
sleep = 1500ms

[policy main]
rule = sender == "nap@example.test" && nap == 0 -> REJECT woke up
rule = dummy == 0 -> REJECT version one
"""

CONFIG2 = CONFIG.replace("version one", "version two")
BROKEN = CONFIG.replace("dummy == 0", "dummy === 0")


def test_reload_broken_config_keeps_old_policy():
    d = Daemon(CONFIG)
    c = d.client()
    eq(c.ask(), "REJECT version one")
    d.write_config(BROKEN)
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload failed: the new configuration has errors; still running the previous one")
    check("unexpected" in d.log() or "expression expected" in d.log(), "the error itself is not logged")
    eq(c.ask(), "REJECT version one")
    eq(d.ask(), "REJECT version one")


def test_reload_good_config_same_connection():
    d = Daemon(CONFIG)
    c = d.client()
    eq(c.ask(), "REJECT version one")
    old = set(d.workers())
    d.write_config(CONFIG2)
    d.signal(signal.SIGHUP)
    d.wait_log(r"configuration reloaded \(generation 2\)")
    # The very same connection answers with the new policy: it was handed
    # to a worker of the new generation instead of being closed.
    end = time.time() + 10
    got = None
    while time.time() < end:
        got = c.ask()
        if got == "REJECT version two":
            break
        time.sleep(0.05)
    eq(got, "REJECT version two", "same connection after reload")
    eq(d.ask(), "REJECT version two")
    d.wait_workers(lambda n: not (set(d.workers()) & old), what="old workers gone")


def test_reload_during_inflight_request():
    d = Daemon(CONFIG)
    c = d.client()
    # A first answer: a worker has accepted this connection (a busy machine
    # may take a while), so the next request is in flight once sent.
    eq(c.ask(), "REJECT version one")
    result = {}

    def slow():
        result["r"] = c.ask(sender="nap@example.test")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    d.write_config(CONFIG2)
    d.signal(signal.SIGHUP)
    t.join(10)
    eq(result.get("r"), "REJECT woke up", "in-flight request across reload")
    # Under load the reload may take longer than the nap: a request sent
    # before the master has told the old worker to retire is the old
    # configuration's to answer.
    d.wait_log(r"configuration reloaded")
    eq(c.ask(), "REJECT version two")


def test_sigterm_finishes_inflight_requests():
    d = Daemon(CONFIG)
    c = d.client()
    # A first answer: a worker has accepted this connection (a busy machine
    # may take a while), so the next request is in flight once sent.
    eq(c.ask(), "REJECT version one")
    result = {}

    def slow():
        result["r"] = c.ask(sender="nap@example.test")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    d.signal(signal.SIGTERM)
    t.join(10)
    eq(result.get("r"), "REJECT woke up", "in-flight request across SIGTERM")
    d.proc.wait(10)
    eq(d.proc.returncode, 0, "exit status")
    check(not os.path.exists(d.pidfile), "pid file left behind")
    d.wait_log("stopped")


def test_sigusr1_logs_statistics():
    d = Daemon(CONFIG)
    for _ in range(3):
        d.ask()
    time.sleep(0.3)  # workers flush their counters when idle
    d.signal(signal.SIGUSR1)
    d.wait_log(r"statistics: ppolicy_requests_total 3\b")
    d.wait_log(r"statistics: ppolicy_actions_total \{action=\"REJECT\"\}=3")
    d.wait_log(r"statistics: shm cache: 1 of \d+ entries")


def test_pid_file_and_daemon_mode():
    d = Daemon(CONFIG, foreground=False, overrides=["ppolicyd.log=stderr"])
    check(os.path.exists(d.pidfile), "no pid file")
    pid = int(open(d.pidfile).read())
    check(d.running(), "daemon not running after ppolicyd returned")
    eq(d.ask(), "REJECT version one")
    os.kill(pid, signal.SIGTERM)
    end = time.time() + 10
    while time.time() < end and d.running():
        time.sleep(0.05)
    check(not d.running(), "daemon did not stop")
    check(not os.path.exists(d.pidfile), "pid file not removed")


def test_daemon_mode_reports_start_failure():
    d = Daemon(CONFIG)
    # A second daemon on the same port must fail and say why.
    try:
        Daemon(CONFIG, port=d.port, foreground=False)
    except AssertionError as e:
        check("cannot listen" in str(e), "failure reason not reported: %s" % e)
    else:
        raise AssertionError("second daemon on a busy port started")


def test_snapshot_saved_and_restored():
    d = Daemon(CONFIG)
    eq(d.ask(client_address="192.0.2.77"), "REJECT version one")
    d.wait_log(r"modules=dummy:0 ")
    d.stop()
    d.wait_log(r"saved 1 cache and record entries")
    d.start()
    d.wait_log(r"restored 1 cache and record entries")
    eq(d.ask(client_address="192.0.2.77"), "REJECT version one")
    d.wait_log(r"modules=dummy:0\(cached\)")


def victim_file():
    """A file only root may change: what a planted link points at."""
    path = os.path.join(workdir("victim"), "root-only")
    with open(path, "w") as f:
        f.write("secret\n")
    os.chmod(path, 0o600)
    return path


def test_planted_pid_file_link_is_not_followed():
    if not IS_ROOT:
        skip("needs root")
    d = Daemon(CONFIG)
    d.stop()
    # The run-time user owns run/: it can put a link where the pid file goes.
    victim = victim_file()
    os.symlink(victim, d.pidfile)
    d.start()
    d.wait_log(r"ppolicyd started")
    eq(open(victim).read(), "secret\n", "the link's target was written")
    eq(os.stat(victim).st_uid, 0, "the link's target was given away")
    check(not os.path.islink(d.pidfile), "the pid file is still the planted link")
    eq(int(open(d.pidfile).read()), d.pid)


def test_planted_state_dir_link_is_refused():
    if not IS_ROOT:
        skip("needs root")
    d = Daemon(CONFIG)
    d.stop()
    state = os.path.join(d.dir, "state")
    shutil.rmtree(state)
    victim = os.path.dirname(victim_file())
    os.chmod(victim, 0o700)
    os.symlink(victim, state)
    d.start(wait=False)
    rc = d.proc.wait(timeout=20)
    check(rc != 0, "started with a symlinked state_dir")
    check("a symlink is refused" in d.log(), d.log())
    st = os.stat(victim)
    eq((st.st_uid, st.st_mode & 0o777), (0, 0o700), "the link's target was given away")


def test_state_file_fifo_does_not_hang_the_start():
    d = Daemon(CONFIG)
    d.stop()
    state = os.path.join(d.dir, "state", "ppolicyd.state")
    if os.path.exists(state):
        os.unlink(state)
    os.mkfifo(state)
    d.start()
    d.wait_log(r"ppolicyd started", timeout=10)
    d.wait_log(r"state file .* is not a regular file; moved aside")
    eq(d.ask(), "REJECT version one")


def test_state_file_size_is_capped():
    d = Daemon(CONFIG, overrides=["ppolicyd.cache_size=64k", "ppolicyd.records_size=64k"])
    d.stop()
    state = os.path.join(d.dir, "state", "ppolicyd.state")
    with open(state, "wb") as f:
        f.write(b"PPOLSNP1")
        f.truncate(1 << 30)  # sparse: 1 GiB never read
    d.start()
    d.wait_log(r"ppolicyd started", timeout=10)
    d.wait_log(r"state file .* is larger than the tables could have saved")


def test_unix_socket_mode_and_group():
    path = os.path.join(workdir(), "policy.sock")
    port = free_port()
    Daemon(CONFIG, port=port, overrides=["ppolicyd.listen=inet:127.0.0.1:%d, unix:%s" % (port, path),
                                         "ppolicyd.unix_socket_mode=0640", "ppolicyd.unix_socket_group=0"])
    st = os.lstat(path)
    eq(oct(st.st_mode & 0o7777), oct(0o640))
    eq(st.st_gid, 0)


run_tests(globals())
