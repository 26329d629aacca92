# SPDX-License-Identifier: GPL-2.0-or-later
"""Integration-test harness: start a real ppolicyd on loopback with a
configuration written by the test, talk the Postfix policy protocol to it,
inspect its processes and its log, and stop it by its PID.

Tests are plain functions named test_*; run_tests() runs them in order,
prints one line per test and exits non-zero when one failed. Every process
a test starts is stopped at the end, also when the test fails."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

PPOLICYD = os.environ.get("PPOLICYD", "ppolicyd")
TOP_SRCDIR = os.environ.get("TOP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("TOP_BUILDDIR", os.path.join(TOP_SRCDIR, "build"))
IS_ROOT = os.geteuid() == 0

_cleanups = []


def at_exit(fn):
    """Register a clean-up that runs after the tests (last registered first)."""
    _cleanups.append(fn)


def second_start(margin=0.05):
    """Sleep until just after the start of a wall-clock second.

    Modules keep times in whole seconds (greylisting, expiry): a test that
    sleeps 1.1 s between two requests sees 1 or 2 seconds pass depending on
    where in the second it started. Starting just after a second begins
    makes the count exact while the requests in between stay fast."""
    time.sleep(1.0 - time.time() % 1.0 + margin)


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Stop a server a test started (subprocess.Popen), by its PID: `sig`,
    then SIGKILL after `timeout` seconds; waits for it. A stopped (SIGSTOP)
    server is continued first, so that it can handle the signal."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def stop_pid(pid, timeout=10):
    """The same for a process that is not our child (a daemon that forked
    itself away): SIGTERM, SIGKILL after `timeout`; returns once it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.time() + timeout
    while time.time() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_run_user():
    """As root, the daemon drops to the shipped default user `ppolicy`:
    create the system account when missing (what `make run` does)."""
    if not IS_ROOT:
        return
    if subprocess.run(["getent", "passwd", "ppolicy"], capture_output=True).returncode == 0:
        return
    subprocess.run(["useradd", "--system", "--user-group", "--home-dir", "/var/lib/ppolicy",
                    "--no-create-home", "--shell", "/usr/sbin/nologin", "ppolicy"],
                   capture_output=True)


def workdir(prefix="pptest"):
    d = tempfile.mkdtemp(prefix=prefix + ".", dir="/tmp")
    os.chmod(d, 0o755)  # the daemon drops to an unprivileged user
    return d


def request(**attrs):
    """A realistic RCPT request; keyword arguments override or add attributes."""
    base = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": "192.0.2.10",
        "client_name": "mail.example.test",
        "reverse_client_name": "mail.example.test",
        "helo_name": "mail.example.test",
        "sender": "alice@example.test",
        "recipient": "bob@example.org",
        "recipient_count": "0",
        "queue_id": "",
        "instance": "1a2b.3c4d.1",
        "size": "0",
        "etrn_domain": "",
        "stress": "",
        "sasl_method": "",
        "sasl_username": "",
        "sasl_sender": "",
        "ccert_subject": "",
        "ccert_issuer": "",
        "ccert_fingerprint": "",
        "encryption_protocol": "",
        "encryption_cipher": "",
        "encryption_keysize": "0",
        "client_port": "43210",
        "policy_context": "",
    }
    for k, v in attrs.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def encode(attrs):
    return "".join("%s=%s\n" % (k, v) for k, v in attrs.items()).encode() + b"\n"


class Client:
    """One persistent policy connection, like one Postfix smtpd process."""

    def __init__(self, port, host="127.0.0.1", timeout=30, path=None):
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_reply(self):
        """The next reply's action value, or None when the server closed."""
        while b"\n\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n\n", 1)
        lines = reply.decode().split("\n")
        for line in lines:
            if line.startswith("action="):
                return line[len("action="):]
        raise AssertionError("reply without action: %r" % reply)

    def ask(self, attrs=None, **kw):
        self.send_raw(encode(attrs if attrs is not None else request(**kw)))
        return self.read_reply()

    def closed(self, timeout=5):
        """True when the server closes the connection (without more replies)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return data == b""

    def close(self):
        self.sock.close()


class Daemon:
    """A ppolicyd started with -f on a free loopback port."""

    def __init__(self, config, port=None, overrides=(), env=None, foreground=True, args=()):
        ensure_run_user()
        self.dir = workdir()
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "ppolicy.conf")
        self.logfile = os.path.join(self.dir, "ppolicyd.log")
        self.pidfile = os.path.join(self.dir, "run", "ppolicyd.pid")
        self.write_config(config)
        self.overrides = [
            "ppolicyd.listen=inet:127.0.0.1:%d" % self.port,
            "ppolicyd.pid_file=%s" % self.pidfile,
            "ppolicyd.state_dir=%s" % os.path.join(self.dir, "state"),
            "ppolicyd.log=stderr",
        ] + list(overrides)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.foreground = foreground
        self.args = list(args)
        self.proc = None
        self.pid = None
        at_exit(self.kill)
        self.start()

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def command(self):
        cmd = [PPOLICYD, "-c", self.conf] + (["-f"] if self.foreground else [])
        for o in self.overrides:
            cmd += ["-o", o]
        return cmd + self.args

    def start(self, wait=True):
        self.log_fd = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log_fd, stderr=self.log_fd, env=self.env,
                                     stdin=subprocess.DEVNULL)
        if not self.foreground:
            rc = self.proc.wait(timeout=30)
            if rc != 0:
                raise AssertionError("ppolicyd (daemon mode) exited %d:\n%s" % (rc, self.log()))
            self.pid = int(open(self.pidfile).read())
        else:
            self.pid = self.proc.pid
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.foreground and self.proc.poll() is not None:
                raise AssertionError("ppolicyd exited %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("ppolicyd not listening after %ss:\n%s" % (timeout, self.log()))

    def client(self, **kw):
        return Client(self.port, **kw)

    def ask(self, attrs=None, **kw):
        c = self.client()
        try:
            return c.ask(attrs, **kw)
        finally:
            c.close()

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10, count=1):
        end = time.time() + timeout
        while time.time() < end:
            if len(re.findall(pattern, self.log())) >= count:
                return True
            time.sleep(0.05)
        raise AssertionError("log never matched %r:\n%s" % (pattern, self.log()[-4000:]))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def workers(self):
        """PIDs of the worker processes (children of the master)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                name = st[st.index("(") + 1:st.rindex(")")]
                fields = st[st.rindex(")") + 2:].split()
                if int(fields[1]) == self.pid and fields[0] != "Z" and name == "ppolicyd-worker":
                    out.append(int(d))
            except (OSError, ValueError):
                pass
        return sorted(out)

    def wait_workers(self, pred, timeout=15, what="worker count"):
        end = time.time() + timeout
        n = None
        while time.time() < end:
            n = len(self.workers())
            if pred(n):
                return n
            time.sleep(0.05)
        raise AssertionError("%s never satisfied (last %s)" % (what, n))

    def running(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def stop(self, timeout=30):
        if not self.pid or not self.running():
            return
        os.kill(self.pid, signal.SIGTERM)
        end = time.time() + timeout
        while time.time() < end and self.running():
            if self.proc and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.running():
            raise AssertionError("ppolicyd did not stop within %ss" % timeout)
        if self.proc:
            self.proc.wait(timeout=5)

    def kill(self):
        """Clean-up: whatever state the test left, no process survives."""
        if not self.pid:
            # A daemon-mode start that failed half-way still left a pid file.
            try:
                self.pid = int(open(self.pidfile).read())
            except (OSError, ValueError):
                pass
        pids = ([self.pid] if self.pid else []) + (self.workers() if self.pid else [])
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except Exception:
                pass


def ppolicyd(*args, input=None, timeout=60):
    """Run ppolicyd with arguments (no daemon); returns CompletedProcess."""
    return subprocess.run([PPOLICYD] + list(args), input=input, capture_output=True, text=True,
                          timeout=timeout)


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, msg=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (msg or "value", got, want))


class Skip(Exception):
    """Raised by a test that cannot run here (a missing tool, a module type
    that does not exist yet): reported as SKIP with the reason, never as ok.
    A file whose every test skipped exits 77 (automake: SKIP)."""


def skip(reason):
    raise Skip(reason)


def run_tests(module_globals):
    tests = [(n, f) for n, f in module_globals.items() if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
    only = os.environ.get("ONLY")
    failed = skipped = ran = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        ran += 1
        start = time.time()
        try:
            fn()
            print("ok   %-50s %.2fs" % (name, time.time() - start), flush=True)
        except Skip as e:
            skipped += 1
            print("SKIP %-50s %s" % (name, e), flush=True)
        except Exception:
            failed += 1
            print("FAIL %-50s %.2fs" % (name, time.time() - start), flush=True)
            traceback.print_exc(file=sys.stdout)
        finally:
            while _cleanups:
                try:
                    _cleanups.pop()()
                except Exception:
                    traceback.print_exc(file=sys.stdout)
    print("%d tests, %d failed%s" % (len(tests), failed, ", %d skipped" % skipped if skipped else ""))
    sys.exit(1 if failed else 77 if ran and skipped == ran else 0)
