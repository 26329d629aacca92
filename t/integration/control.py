# SPDX-License-Identifier: GPL-2.0-or-later
"""Live state commands (ppolicyd -C, [ppolicyd] control_socket, by default
"control" next to the pid file) against a running daemon under load (four
connections asking all the time), for store = shm and store = mysql:
status (text and -j JSON), show a greylisted triplet and its client,
release it (the next retry passes), show and reset a DOS counter and a
client's trap hits, show and flush a client's cached results (a whole word:
192.0.2.1 is not 192.0.2.10), flush the result cache, close an open
database breaker; every change is logged with the uid and pid of who made
it. A silent or flooding control client never blocks the master (cut after
5 s / 4096 bytes; a fifth at once is refused). Only root, the daemon's user
and members of the daemon's group are served (socket 0660 root:ppolicy; an
unprivileged uid is refused by the mode, and by SO_PEERCRED when the mode
would let it in). Each run leaves its transcript in
build/t/integration/control-{shm,mysql}.transcript."""

import grp
import json
import os
import re
import socket
import subprocess
import threading
import time

from ppolicytest import (IS_ROOT, PPOLICYD, TOP_BUILDDIR, Daemon, check, eq, free_port, request,
                        run_tests, skip)

CONF = """
[module greylist]
type = Greylist
domainSubject = no
store = %s
delay = 3600
%s
[module dos]
type = DOS
params = sender
limitCount = 3
limitTime = 3600
store = %s
%s
[module trap]
type = Trap
traps = trap@example.org
treshold = 1
store = %s
%s
[module dummy]
type = Dummy
test1 = x
[policy main]
rule = dummy == 1 -> REJECT 5.7.1 never
rule = trap == -2 -> DISCARD trap
rule = trap > 0 -> REJECT 5.7.1 trap client
rule = dos > 0 -> REJECT 5.7.1 too many
rule = greylist < 0 -> DEFER_IF_PERMIT 4.7.1 greylisted ${greylist.wait}
default = DUNNO
"""


class Live:
    """A daemon with a control socket, and its client."""

    def __init__(self, store="shm", db_section="", table_suffix="", overrides=()):
        tables = ["table = %s%s\n" % (t, table_suffix) if store == "mysql" else ""
                  for t in ("greylist", "dos", "trap")]
        conf = db_section + CONF % (store, tables[0], store, tables[1], store, tables[2])
        # control_socket is left at its default: "control" next to the pid file.
        self.d = Daemon(conf, overrides=overrides)
        self.path = os.path.join(os.path.dirname(self.d.pidfile), "control")
        self.transcript = []  # what ctl() ran and printed

    def ctl(self, *args, user=None):
        # The client finds the socket as the daemon did: from the
        # configuration and the same -o (pid_file).
        cmd = [PPOLICYD, "-c", self.d.conf]
        for o in self.d.overrides:
            cmd += ["-o", o]
        cmd.append("-C")
        r = subprocess.run((user or []) + cmd + list(args), capture_output=True, text=True,
                           timeout=30)
        who = "" if not user else "(as %s) " % " ".join(user)
        self.transcript.append("%s$ ppolicyd -C %s\n%s%s[exit %d]\n" % (
            who, " ".join(args), r.stdout, r.stderr, r.returncode))
        return r

    def save_transcript(self, name):
        path = os.path.join(TOP_BUILDDIR, "t", "integration", name)
        with open(path, "w") as f:
            f.write("\n".join(self.transcript))
        with open(path + ".log", "w") as f:
            f.write("".join(l for l in self.d.log().splitlines(True) if "control:" in l))

    def ok(self, *args):
        r = self.ctl(*args)
        eq(r.returncode, 0, "ppolicyd -C %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def ask(self, **kw):
        return self.d.ask(request(**kw))


class Load:
    """Four connections asking with senders of their own until stopped."""

    def __init__(self, d):
        self.stop = threading.Event()
        self.answers = 0
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(d, i)) for i in range(4)]
        for t in self.threads:
            t.start()

    def run(self, d, i):
        c = d.client()
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                a = c.ask(request(sender="load%d-%d@example.net" % (i, n % 50),
                                  client_address="203.0.113.%d" % (i + 1)))
                if a is None:
                    self.errors.append("no answer")
                self.answers += 1
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return
        c.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        eq(self.errors, [], "load errors")
        check(self.answers > 20, "load ran (%d answers)" % self.answers)


def lines_of(out, kind):
    return [l for l in out.splitlines() if l.split(" ", 1)[0] == kind]


def live_commands(live, mysql=False):
    load = Load(live.d)
    try:
        # status: text and JSON.
        out = live.ok("status")
        check(lines_of(out, "workers") and "busy=" in lines_of(out, "workers")[0], out)
        check(any("name=cache" in l for l in lines_of(out, "table")), out)
        check(any("name=records" in l for l in lines_of(out, "table")), out)
        if not mysql:
            check(lines_of(out, "breakers") == ["breakers open=0"], out)
        recs = json.loads(live.ok("-j", "status"))
        kinds = [r["kind"] for r in recs]
        for k in ("daemon", "workers", "pool", "table", "breakers"):
            check(k in kinds, "%s in %s" % (k, kinds))
        w = [r for r in recs if r["kind"] == "workers"][0]
        check(isinstance(w["busy"], int) and w["busy"] + w["holding"] + w["idle"] >= 1, w)

        # A greylisted triplet: shown with its wait, released, the retry passes.
        a = live.ask(sender="alice@example.test")
        check(a.startswith("DEFER_IF_PERMIT"), a)
        out = live.ok("show", "triplet", "192.0.2.10", "alice@example.test", "bob@example.org")
        g = lines_of(out, "greylist")
        eq(len(g), 1, out)
        check("module=greylist triplet=alice@example.test,bob@example.org,192.0.2.0/24 "
              "state=waiting" in g[0], g[0])
        wait = int(g[0].split("wait=")[1].split()[0])
        check(3500 < wait <= 3600, g[0])
        if mysql:  # the result cache keeps the greylisted answer too
            check(any(l.startswith("cached module=greylist code=-1 ")
                      for l in lines_of(out, "cached")), out)
        recs = json.loads(live.ok("-j", "show", "client", "192.0.2.10"))
        grey = [r for r in recs if r["kind"] == "greylist"]
        check(any(r["triplet"] == "alice@example.test,bob@example.org,192.0.2.0/24" and
                  r["state"] == "waiting" for r in grey), grey)
        out = live.ok("release", "192.0.2.10", "alice@example.test", "bob@example.org")
        check(out.startswith("done what="), out)
        eq(live.ask(sender="alice@example.test"), "DUNNO", "the retry after release")
        out = live.ok("show", "triplet", "192.0.2.10", "alice@example.test", "bob@example.org")
        check("state=passed" in out, out)
        live.d.wait_log(r"control: uid=0 pid=\d+: release greylist "
                        r"alice@example.test,bob@example.org,192.0.2.0/24")
        # A domain subject (domainSubject) is released as "@domain", also
        # ahead of its first mail.
        out = live.ok("release", "@Example.test", "erin@example.test", "bob@example.org")
        check("release greylist erin@example.test,bob@example.org,@example.test" in out, out)
        out = live.ok("show", "triplet", "@example.test", "erin@example.test", "bob@example.org")
        check("triplet=erin@example.test,bob@example.org,@example.test state=passed" in out, out)
        # Another triplet is still greylisted.
        check(live.ask(sender="carol@example.test").startswith("DEFER_IF_PERMIT"), "other")

        # A DOS counter over its limit, shown, reset.
        for _ in range(3):
            live.ask(sender="flood@example.test")
        check(live.ask(sender="flood@example.test").startswith("REJECT"), "over the limit")
        out = live.ok("show", "sender", "Flood@example.test")
        dos = lines_of(out, "dos")
        eq(len(dos), 1, out)
        check("key=flood@example.test count=4 limit=3" in dos[0] and "over=yes" in dos[0], dos[0])
        live.ok("reset", "dos", "dos", "flood@example.test")
        live.d.wait_log(r"control: uid=0 pid=\d+: reset dos counter flood@example.test")
        check(not live.ask(sender="flood@example.test").startswith("REJECT"), "after the reset")
        check("count=1 " in live.ok("show", "sender", "flood@example.test"), "counted anew")

        # Trap hits of a client, reset.
        eq(live.ask(recipient="trap@example.org", client_address="198.51.100.7"), "DISCARD trap")
        check(live.ask(client_address="198.51.100.7").startswith("REJECT"), "trapped client")
        out = live.ok("show", "client", "198.51.100.7")
        check("trap module=trap client=198.51.100.7 hits=1" in out, out)
        live.ok("reset", "trap", "trap", "198.51.100.7")
        live.d.wait_log(r"control: uid=0 pid=\d+: reset trap trap hits of client 198.51.100.7")
        check(not live.ask(client_address="198.51.100.7").startswith("REJECT"), "trap reset")

        # Cached results of a client (Dummy caches by client address): shown
        # and dropped; 192.0.2.1 is not a part of 192.0.2.10.
        out = live.ok("show", "client", "192.0.2.10")
        check(any(l.startswith("cached module=dummy code=0 info=dummy expires_in=")
                  for l in lines_of(out, "cached")), out)
        check(not any("module=dummy" in l for l in
                      lines_of(live.ok("show", "client", "192.0.2.1"), "cached")), "192.0.2.1")
        out = live.ok("flush", "client", "192.0.2.10")
        check(lines_of(out, "done") and "cached results dropped" in out and
              "flush client 192.0.2.10: 0 " not in out, out)
        live.d.wait_log(r"control: uid=0 pid=\d+: flush client 192.0.2.10: \d+ cached")
        out = live.ok("show", "client", "192.0.2.10")
        check(not any("module=dummy" in l for l in lines_of(out, "cached")), out)

        # Refusals and mistakes: exit status 1 and a reason, nothing changed.
        r = live.ctl("reset", "dos", "dos", "nobody-counted@example.test")
        check(r.returncode == 1 and "no counter" in r.stderr, r)
        r = live.ctl("reset", "dos", "greylist", "x")
        check(r.returncode == 1 and "no DOS module named greylist" in r.stderr, r)
        r = live.ctl("close", "breaker", "nosuch")
        check(r.returncode == 1 and "no breaker record" in r.stderr, r)
        r = live.ctl("eval", "1+1")
        check(r.returncode == 1 and "commands:" in r.stderr, r)
        out = live.ok("flush", "cache", "dummy")
        check("flush cache dummy" in out, out)
        out = live.ok("flush", "cache")
        check("flush cache (all)" in out, out)
        live.d.wait_log(r"control: uid=0 pid=\d+: flush cache \(all\)")
    finally:
        load.finish()


def raw(path, data=b""):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(path)
    if data:
        s.sendall(data)
    return s


def reply(s):
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            return out.decode()
        out += b


def hostile_clients(live):
    """A silent or flooding control client never blocks the master: requests
    and other commands are answered meanwhile; the child gives up on it."""
    silent = raw(live.path)
    start = time.time()
    a = live.ask(client_address="203.0.113.77", sender="hostile@example.test")
    check(a.startswith("DEFER_IF_PERMIT 4.7.1 greylisted"), "policy answered: %r" % a)
    check("workers" in live.ok("status"), "status beside a silent client")
    check(time.time() - start < 2, "not blocked by the silent client")
    eq(reply(silent), "error\nno command within 5 s\n", "silent client")
    live.d.wait_log(r"control: uid=0 pid=\d+: no command within 5 s: dropped")
    big = raw(live.path, b"x" * 5000)
    eq(reply(big), "error\ncommand longer than 4096 bytes\n", "flooding client")
    # At most four at once: a fifth is told so at once, not queued.
    held = [raw(live.path) for _ in range(4)]
    time.sleep(0.5)
    r = live.ctl("status")
    check(r.returncode == 1 and "busy: too many control commands" in r.stderr, r)
    for s in held:
        s.close()
    end = time.time() + 5
    while live.ctl("status").returncode != 0:
        check(time.time() < end, "control socket served again")
        time.sleep(0.1)


def breaker(live):
    """The dead first database host's breaker is open; closing it is logged."""
    recs = json.loads(live.ok("-j", "status"))
    open_ = [r for r in recs if r["kind"] == "breaker" and r["state"] == "open"]
    check(open_, recs)
    backend = open_[0]["backend"]
    out = live.ok("close", "breaker", backend)
    check(out.startswith("done what=\"close breaker %s\"" % backend), out)
    live.d.wait_log(r"control: uid=0 pid=\d+: close breaker " + re.escape(backend))


def permissions(live):
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    # The socket's mode (0660, the daemon's group) keeps others out ...
    st = os.stat(live.path)
    eq(oct(st.st_mode & 0o777), "0o660", "socket mode")
    eq((st.st_uid, st.st_gid), (0, grp.getgrnam("ppolicy").gr_gid), "socket owner")
    r = live.ctl("status", user=nobody)
    check(r.returncode == 1 and "Permission denied" in r.stderr, r)
    # ... and were it opened up, the daemon itself refuses the peer.
    os.chmod(live.path, 0o666)
    r = live.ctl("release", "192.0.2.10", "dave@example.test", "bob@example.org", user=nobody)
    check(r.returncode == 1 and "permission denied" in r.stderr, r)
    live.d.wait_log(r"control: refused uid=65534 pid=\d+")
    # A member of the daemon's group is served.
    gid = subprocess.run(["getent", "group", "ppolicy"], capture_output=True,
                         text=True).stdout.split(":")[2]
    member = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=" + gid]
    r = live.ctl("status", user=member)
    check(r.returncode == 0 and "workers" in r.stdout, r)


def test_live_commands_shm():
    live = Live()
    live_commands(live)
    hostile_clients(live)
    if IS_ROOT:
        permissions(live)
    live.save_transcript("control-shm.transcript")
    live.d.stop()
    check(not os.path.exists(live.path), "socket removed on stop")


def test_no_control_socket():
    off = "ppolicyd.control_socket="
    d = Daemon(CONF % ("shm", "", "shm", "", "shm", ""), overrides=[off])
    check(not os.path.exists(os.path.join(os.path.dirname(d.pidfile), "control")), "no socket")
    r = subprocess.run([PPOLICYD, "-c", d.conf, "-o", off, "-C", "status"], capture_output=True,
                       text=True)
    check(r.returncode == 1 and "control_socket is empty" in r.stderr, r)
    d.stop()


def test_live_commands_mysql():
    try:
        from mariadb import MariaDB
    except ImportError:
        skip("no MariaDB helper")
    db = MariaDB()
    # The first host is dead: its breaker opens (breaker_failures = 1).
    hosts = "127.0.0.1:%d, %s:%d" % (free_port(), db.host, db.port)
    live = Live("mysql", db.section(host=hosts), "_ctl", ["ppolicyd.breaker_failures=1"])
    live_commands(live, mysql=True)
    eq(db.value("SELECT state FROM greylist_ctl WHERE sender = 'alice@example.test'"), "1",
       "released row")
    breaker(live)
    live.save_transcript("control-mysql.transcript")
    live.d.stop()


if __name__ == "__main__":
    run_tests(globals())
