# SPDX-License-Identifier: GPL-2.0-or-later
"""Verification against real servers on loopback: BIND named (t/dns-zones/
verify.test.zone: every mail host is 127.0.0.1), the scripted SMTP server
(t/lib/smtpserver.py) and, for cacheDB, MariaDB. Every return code of every
vtype (mx 2/-2, connection 3/-3, domain 4/-4, user 5/-5, 1, 0, -1) and the
database-cached ones (12/-12, 13/-13, 14/-14, 15/-15) with no second SMTP
session; temporary failures (4xx, timeouts, refused connections, DNS errors)
are never cached; QUIT ends every session; stalls are bounded by `timeout`
and the request deadline; maxInFlight limits the callouts to one domain
across workers, also after a worker is killed mid-callout; expiry of stored
answers; a database that is down means a live callout. No connection ever
goes anywhere but 127.0.0.1."""

import os
import signal
import threading
import time

import dnsserver
from dbtest import result
from mariadb import MariaDB
from ppolicytest import (TOP_SRCDIR, Client, Daemon, check, encode, eq, free_port, ppolicyd, request, run_tests,
                         workdir)
from smtpserver import SmtpResponder

dns = dnsserver.shared()
_db = None

SCRIPT = {"rcpt": {"ok@ok.w.verify.test": "250 2.1.5 OK",
                   "nouser@ok.w.verify.test": "550 5.1.1 no such user",
                   "later@ok.w.verify.test": "450 4.2.0 greylisted, try again later",
                   "slow@ok.w.verify.test": "hang",
                   "drop@ok.w.verify.test": "close"},
          "rcpt_default": "250 2.1.5 OK"}


def db():
    global _db
    if _db is None:
        _db = MariaDB()
    return _db


def daemon(modules, extra="", overrides=(), database=False, server=""):
    """A ppolicyd with the [module NAME] sections of `modules` ({name: body}); the
    request's helo_name picks the module whose code and info are answered."""
    conf = ("[ppolicyd]\nmin_workers = 3\nrequest_timeout = 8s\n" + server +
            dns.dns_section("500ms") + (db().section() if database else "") + extra)
    for name, body in modules.items():
        # The test mail hosts are on loopback: allowPrivate, unless a test says otherwise.
        conf += "[module %s]\ntype = Verification\n%s\n%s\n" % (
            name, "" if "allowPrivate" in body else "allowPrivate = yes", body)
    conf += "[policy main]\n"
    for name in modules:
        conf += 'rule = helo_name == "%s" -> WARN code=${%s} info=${%s.info}\n' % (name, name, name)
    return Daemon(conf + "default = DUNNO\n", overrides=overrides)


def ask(d, module, value, param="sender", client=None):
    """(code, info, seconds) of `module` for one request."""
    start = time.time()
    attrs = request(helo_name=module, **{param: value})
    reply = client.ask(attrs) if client else d.ask(attrs)
    code, f = result(reply)
    return code, f["info"], time.time() - start


def code(d, module, value, **kw):
    return ask(d, module, value, **kw)[0]


def wait_rcpt(srv, addr, timeout=10):
    """Wait until the server has received RCPT TO for `addr`."""
    end = time.time() + timeout
    while time.time() < end:
        if "RCPT TO:<%s>" % addr in srv.queries():
            return
        time.sleep(0.02)
    raise AssertionError("RCPT TO:<%s> never arrived: %r" % (addr, srv.queries()))


def sessions(srv):
    """The command lines of each SMTP session the server saw."""
    out, cur = [], None
    for q in srv.queries():
        if q == "--":
            cur = []
            out.append(cur)
        elif cur is not None:
            cur.append(q)
    return out


# ---------------------------------------------------------------- vtype mx, format, DNS

def test_mx_and_address_format():
    d = daemon({"mx": "param = sender\nvtype = mx",
                "mx_public": "param = sender\nvtype = mx\nallowPrivate = no",
                "mx_rcpt": "param = recipient\nvtype = mx"})
    c, info, _ = ask(d, "mx", "alice@ok.w.verify.test")
    eq(c, 2, info)
    check("mx.verify.test" in info, info)
    c, info, _ = ask(d, "mx", "bob@host.nomx.verify.test")
    eq(c, 2, info)
    check("implicit MX" in info, info)
    c, info, _ = ask(d, "mx", "a@nullmx.verify.test")
    eq(c, -2, info)
    check("null MX" in info, info)
    c, info, _ = ask(d, "mx", "a@nx.verify.test")
    eq(c, -2, info)
    check("no such domain" in info, info)
    eq(code(d, "mx", "a@badmx.verify.test"), -2, "exchanger does not exist")
    eq(code(d, "mx", "a@empty.verify.test"), -2, "neither MX nor address")
    # Loopback is not a public address: never contacted without allowPrivate.
    c, info, _ = ask(d, "mx_public", "alice@ok.w.verify.test")
    eq(c, -2, info)
    check("public" in info, info)
    # DNS failures are 0 and never cached: the server is asked every time.
    c, info, _ = ask(d, "mx", "a@x.servfail.test")
    eq(c, 0, info)
    check("DNS error" in info and "SERVFAIL" in info, info)
    c, info, _ = ask(d, "mx", "a@mx.slowmx.timeout.test")
    eq(c, 0, info)
    check("timeout" in info, info)
    before = dns.queries("x.servfail.test")
    eq(code(d, "mx", "a@x.servfail.test"), 0)
    check(dns.queries("x.servfail.test") > before, "a DNS failure was cached")
    # The exchanger's zone does not answer: unknown, not "no mail host".
    eq(code(d, "mx", "a@slowmx.verify.test"), 0, "exchanger lookup times out")
    # RFC exemptions (1) and invalid formats (-1).
    c, info, _ = ask(d, "mx", "")
    eq(c, 1, info)
    check("null sender" in info, info)
    eq(code(d, "mx_rcpt", "Postmaster", param="recipient"), 1, "bare postmaster")
    # Issue 14: a recipient postmaster@domain is accepted without a callout,
    # as ppolicy 2.x did, even for a domain without mail hosts.
    c, info, _ = ask(d, "mx_rcpt", "PostMaster@nomx.nowhere.verify.test", param="recipient")
    eq(c, 1, info)
    check("postmaster" in info, info)
    check(dns.queries("nomx.nowhere.verify.test") == 0, "no lookup for postmaster@")
    eq(code(d, "mx_rcpt", "", param="recipient"), -1, "no recipient")
    for bad in ("alice@", "@ok.w.verify.test", "alice@bad..name", "alice@-x_y z", "a@" + "x" * 64 + ".test"):
        c, info, _ = ask(d, "mx", bad)
        eq(c, -1, "%r: %s" % (bad, info))
        check("format" in info or "local part" in info, info)
    eq(code(d, "mx", "a@[127.0.0.1]"), 0, "address literal")
    eq(code(d, "mx", "j\u00f6rg@ok.w.verify.test"), 0, "SMTPUTF8 address")
    # A domain without '@' is a domain.
    eq(code(d, "mx", "ok.w.verify.test"), 2)


# ---------------------------------------------------------------- vtype connection

def test_connection():
    srv = SmtpResponder(SCRIPT)
    closed = free_port()  # nothing listens here (yet)
    d = daemon({"conn": "param = sender\nvtype = connection\ntimeout = 1\nport = %d" % srv.port,
                "conn_closed": "param = sender\nvtype = connection\ntimeout = 1\nport = %d" % closed})
    c, info, _ = ask(d, "conn", "alice@c1.w.verify.test")
    eq(c, 3, info)
    check("220 mx.test" in info, info)
    # Banner only, then QUIT (waiting for the 221).
    eq(sessions(srv), [["QUIT"]])
    # Cached per domain (cachePositive): another sender, no new session.
    eq(code(d, "conn", "bob@c1.w.verify.test"), 3)
    eq(srv.connections(), 1, "cached answer")
    # A 5xx greeting: no SMTP service (definitive, cached); QUIT still sent.
    srv.set_table(dict(SCRIPT, greeting="554 5.7.1 no SMTP service here"))
    c, info, _ = ask(d, "conn", "alice@c2.w.verify.test")
    eq(c, -3, info)
    check("554 5.7.1" in info, info)
    eq(sessions(srv)[-1], ["QUIT"])
    eq(code(d, "conn", "alice@c2.w.verify.test"), -3)
    eq(srv.connections(), 2, "a 5xx greeting is cached")
    # A 4xx greeting: busy, unknown (0), not cached.
    srv.set_table(dict(SCRIPT, greeting="421 4.3.2 too busy"))
    for i in range(2):
        c, info, _ = ask(d, "conn", "alice@c3.w.verify.test")
        eq(c, 0, info)
        check("421" in info, info)
    eq(srv.connections(), 4, "a 4xx greeting is not cached")
    # A host that greets nobody: -3 after `timeout`, never cached.
    srv.set_table(dict(SCRIPT, greeting="hang"))
    c, info, t = ask(d, "conn", "alice@c4.w.verify.test")
    eq(c, -3, info)
    check("timed out" in info and 0.9 < t < 2.5, "%s after %.2f s" % (info, t))
    # Connection refused: -3, never cached: the same domain verifies once a
    # server listens on the port.
    c, info, t = ask(d, "conn_closed", "alice@c5.w.verify.test")
    eq(c, -3, info)
    check("refused" in info and t < 2, "%s after %.2f s" % (info, t))
    srv2 = SmtpResponder(SCRIPT, port=closed)
    eq(code(d, "conn_closed", "alice@c5.w.verify.test"), 3, "refusal was cached")
    eq(sessions(srv2), [["QUIT"]])


# ---------------------------------------------------------------- vtype domain

def test_domain():
    srv = SmtpResponder(dict(SCRIPT, helo="250-mx.test\n250 PIPELINING"))
    d = daemon({"dom": "param = sender\nvtype = domain\ntimeout = 2\nport = %d\nheloName = callout.ppolicy.test"
                % srv.port})
    c, info, _ = ask(d, "dom", "alice@d1.w.verify.test")
    eq(c, 4, info)
    eq(sessions(srv), [["EHLO callout.ppolicy.test", "MAIL FROM:<>", "RCPT TO:<postmaster@d1.w.verify.test>",
                        "QUIT"]])
    # Per domain: another user of the domain is the same answer (cached).
    eq(code(d, "dom", "bob@d1.w.verify.test"), 4)
    eq(srv.connections(), 1)
    # The postmaster is rejected: -4.
    srv.set_table(dict(SCRIPT, rcpt={"postmaster@d2.w.verify.test": "550 5.1.1 no postmaster"}))
    c, info, _ = ask(d, "dom", "alice@d2.w.verify.test")
    eq(c, -4, info)
    check("550 5.1.1 no postmaster" in info, info)
    # The null sender is refused (no bounces): -4.
    srv.set_table(dict(SCRIPT, mail="550 5.7.1 we do not take bounces"))
    c, info, _ = ask(d, "dom", "alice@d3.w.verify.test")
    eq(c, -4, info)
    check("refuses mail from <>" in info, info)
    eq(sessions(srv)[-1], ["EHLO callout.ppolicy.test", "MAIL FROM:<>", "QUIT"])
    # No EHLO: HELO.
    srv.set_table(dict(SCRIPT, ehlo="502 5.5.2 what?"))
    eq(code(d, "dom", "alice@d4.w.verify.test"), 4)
    eq(sessions(srv)[-1], ["EHLO callout.ppolicy.test", "HELO callout.ppolicy.test", "MAIL FROM:<>",
                           "RCPT TO:<postmaster@d4.w.verify.test>", "QUIT"])
    # The host refuses us (HELO 5xx) or answers 4xx: unknown, not cached.
    srv.set_table(dict(SCRIPT, helo="554 5.7.1 go away"))
    c, info, _ = ask(d, "dom", "alice@d5.w.verify.test")
    eq(c, 0, info)
    check("HELO with 554 5.7.1 go away" in info, info)
    srv.set_table(dict(SCRIPT, mail="451 4.3.0 local problem"))
    c, info, _ = ask(d, "dom", "alice@d5.w.verify.test")
    eq(c, 0, info)
    check("451 4.3.0" in info, info)
    srv.set_table(SCRIPT)
    eq(code(d, "dom", "alice@d5.w.verify.test"), 4, "temporary failures were cached")


# ---------------------------------------------------------------- vtype user

def test_user():
    srv = SmtpResponder(SCRIPT)
    d = daemon({"user": "param = sender\nvtype = user\ntimeout = 1\nport = %d\nmailFrom = verify@ppolicy.test"
                % srv.port,
                "rcpt": "param = recipient\nvtype = user\ntimeout = 1\nport = %d" % srv.port})
    c, info, _ = ask(d, "user", "ok@ok.w.verify.test")
    eq(c, 5, info)
    check("250 2.1.5 OK" in info, info)
    s = sessions(srv)[0]
    eq(s[1:], ["MAIL FROM:<verify@ppolicy.test>", "RCPT TO:<ok@ok.w.verify.test>", "QUIT"])
    check(s[0].startswith("EHLO "), s[0])
    c, info, _ = ask(d, "user", "nouser@ok.w.verify.test")
    eq(c, -5, info)
    check("550 5.1.1 no such user" in info, info)
    # Cached (cachePositive / cacheNegative): no new session.
    eq(code(d, "user", "ok@ok.w.verify.test"), 5)
    eq(code(d, "user", "nouser@ok.w.verify.test"), -5)
    eq(srv.connections(), 2, "cached answers")
    # 450 (greylisting the callout) and a dropped connection: 0, not cached.
    for addr, what in (("later@ok.w.verify.test", "450 4.2.0"), ("drop@ok.w.verify.test", "closed")):
        for i in range(2):
            c, info, _ = ask(d, "user", addr)
            eq(c, 0, info)
            check(what in info, info)
    eq(srv.connections(), 6, "temporary failures are not cached")
    # Recipient verification; a local part that needs quoting.
    eq(code(d, "rcpt", "someone@ok.w.verify.test", param="recipient"), 5)
    eq(sessions(srv)[-1][1:], ["MAIL FROM:<>", "RCPT TO:<someone@ok.w.verify.test>", "QUIT"])
    eq(code(d, "rcpt", "john doe@ok.w.verify.test", param="recipient"), 5)
    eq(sessions(srv)[-1][2], 'RCPT TO:<"john doe"@ok.w.verify.test>')
    # Every session that was opened ended with QUIT (except the dropped ones).
    for s in sessions(srv):
        check(s[-1] == "QUIT" or s[-1] == "RCPT TO:<drop@ok.w.verify.test>", s)


def test_stall_is_bounded():
    srv = SmtpResponder(SCRIPT)
    d = daemon({"user": "param = sender\nvtype = user\ntimeout = 1\nport = %d" % srv.port,
                "patient": "param = sender\nvtype = user\ntimeout = 30\nport = %d" % srv.port},
               server="")
    c, info, t = ask(d, "user", "slow@ok.w.verify.test")
    eq(c, 0, info)
    check("timed out" in info and "RCPT TO" in info, info)
    check(0.9 < t < 3.0, "stalled RCPT answered after %.2f s (timeout 1 s)" % t)
    # A step timeout beyond the request deadline: the deadline (8 s, minus a
    # reserve) bounds it, and the policy still gets the module's answer.
    c, info, t = ask(d, "patient", "slow@ok.w.verify.test")
    eq(c, 0, info)
    check(7.0 < t < 8.5, "answered after %.2f s (request_timeout 8 s)" % t)
    print("    stalled RCPT: timeout 1 s -> answered after ~1 s; timeout 30 s -> %.2f s" % t)


# ---------------------------------------------------------------- politeness

def test_in_flight_limit():
    srv = SmtpResponder(SCRIPT)
    d = daemon({"one": "param = sender\nvtype = user\ntimeout = 3\nport = %d\nmaxInFlight = 1" % srv.port,
                "two": "param = sender\nvtype = user\ntimeout = 3\nport = %d\nmaxInFlight = 2" % srv.port})
    out = {}

    def slow(name, key):
        out[key] = ask(d, name, "slow@ok.w.verify.test")

    a = threading.Thread(target=slow, args=("one", "a"))
    a.start()
    wait_rcpt(srv, "slow@ok.w.verify.test")
    c, info, t = ask(d, "one", "other@ok.w.verify.test")
    eq(c, 0, info)
    check("maxInFlight" in info and t < 1.5, "%s after %.2f s" % (info, t))
    # Another domain is not limited.
    eq(code(d, "one", "x@other.w.verify.test"), 5)
    a.join()
    eq(out["a"][0], 0, out["a"][1])
    eq(srv.connections(), 2, "the limited request opened no session")
    # The slot was released: the domain can be verified again.
    eq(code(d, "one", "ok@ok.w.verify.test"), 5)
    # Two in flight are allowed with maxInFlight = 2.
    b = [threading.Thread(target=slow, args=("two", k)) for k in ("b1", "b2")]
    for t in b:
        t.start()
        time.sleep(0.3)
    for t in b:
        t.join()
    eq([out[k][0] for k in ("b1", "b2")], [0, 0])
    check(all("timed out" in out[k][1] for k in ("b1", "b2")), repr(out))
    eq(srv.connections(), 5, "both callouts ran")


def test_killed_worker_leaks_no_slot():
    srv = SmtpResponder(SCRIPT)
    d = daemon({"one": "param = sender\nvtype = user\ntimeout = 20\nport = %d\nmaxInFlight = 1" % srv.port},
               extra="", overrides=["ppolicyd.request_timeout=30s"])
    c = Client(d.port, timeout=60)
    c.send_raw(encode(request(helo_name="one", sender="slow@ok.w.verify.test")))
    wait_rcpt(srv, "slow@ok.w.verify.test")
    # Meanwhile the domain is busy ...
    c2, info, _ = ask(d, "one", "other@ok.w.verify.test")
    eq(c2, 0, info)
    check("maxInFlight" in info, info)
    # ... until the worker holding the slot dies in the middle of its callout.
    for pid in d.workers():
        os.kill(pid, signal.SIGKILL)
    c.close()
    d.wait_workers(lambda n: n >= 3)
    c2, info, t = ask(d, "one", "ok@ok.w.verify.test")
    eq(c2, 5, info)
    check(t < 2, "after %.2f s" % t)


# ---------------------------------------------------------------- the database cache

def test_database_cache():
    srv = SmtpResponder(SCRIPT)
    base = ("cacheDB = yes\ntable = vcache\ncachePositive = 0\ncacheNegative = 0\ntimeout = 2\nport = %d\n"
            % srv.port)
    d = daemon({"mx": base + "param = sender\nvtype = mx",
                "conn": base + "param = sender\nvtype = connection",
                "dom": base + "param = sender\nvtype = domain",
                "user": base + "param = sender\nvtype = user\ndbExpirePositive = 3\ndbExpireNegative = 3"},
               database=True)
    # Each definitive answer once live, then from the database (code +-10),
    # without another SMTP session.
    cases = [("mx", "a@db1.w.verify.test", 2), ("mx", "a@nx.verify.test", -2),
             ("conn", "a@db2.w.verify.test", 3), ("dom", "a@db3.w.verify.test", 4),
             ("user", "ok@ok.w.verify.test", 5), ("user", "nouser@ok.w.verify.test", -5)]
    for module, addr, want in cases:
        n = srv.connections()
        c, info, _ = ask(d, module, addr)
        eq(c, want, "%s %s live: %s" % (module, addr, info))
        c, info, _ = ask(d, module, addr)
        eq(c, want + (10 if want > 0 else -10), "%s %s cached: %s" % (module, addr, info))
        check("database cache" in info, info)
        eq(srv.connections(), n + (0 if module == "mx" else 1), "%s %s: sessions" % (module, addr))
    eq(db().value("SELECT code FROM vcache WHERE vtype = 'user' AND target = 'nouser@ok.w.verify.test'"), "-5")
    # Negative connection and domain answers.
    srv.set_table(dict(SCRIPT, greeting="554 5.7.1 no service"))
    eq([code(d, "conn", "a@db4.w.verify.test") for i in range(2)], [-3, -13])
    srv.set_table(dict(SCRIPT, rcpt={"postmaster@db5.w.verify.test": "550 5.1.1 nobody"}))
    eq([code(d, "dom", "a@db5.w.verify.test") for i in range(2)], [-4, -14])
    # Types never share a row: the domain db3 is unknown to vtype connection.
    srv.set_table(SCRIPT)
    eq(code(d, "conn", "a@db3.w.verify.test"), 3)
    # Temporary failures are never stored.
    eq([code(d, "user", "later@ok.w.verify.test") for i in range(2)], [0, 0])
    eq(db().value("SELECT COUNT(*) FROM vcache WHERE target LIKE 'later@%'"), "0")
    # Stored answers expire (dbExpirePositive = 3 s): verified live again.
    time.sleep(3.5)
    n = srv.connections()
    eq(code(d, "user", "ok@ok.w.verify.test"), 5, "expired row")
    eq(srv.connections(), n + 1)
    # Database down: live callouts (no verdict lost), no error code.
    db().kill()
    try:
        for addr in ("ok@ok.w.verify.test", "nouser@ok.w.verify.test"):
            c, info, _ = ask(d, "user", addr)
            check(c in (5, -5), "%s with the database down: %d %s" % (addr, c, info))
    finally:
        db().start()
    eq(srv.connections(), n + 3, "live callouts while the database is down")


def test_database_expiry_by_maintenance():
    d = daemon({"mx": "cacheDB = yes\ntable = vexpire\nparam = sender"}, database=True,
               overrides=["ppolicyd.maintenance_interval=10s"])
    eq(code(d, "mx", "a@keep.w.verify.test"), 2)
    db().sql("INSERT INTO vexpire VALUES ('mx', 'old.test', 2, 'x', UNIX_TIMESTAMP() - 100, UNIX_TIMESTAMP() - 10)")
    d.wait_log(r"expired 1 rows of table vexpire", timeout=30)
    eq(db().sql("SELECT target FROM vexpire"), [["keep.w.verify.test"]])


def test_schema_file_has_the_table():
    """sql/ppolicy.sql creates the table as the daemon would (it creates none)."""
    with open(os.path.join(TOP_SRCDIR, "sql", "ppolicy.sql")) as f:
        db().sql(f.read(), db=None)
    conf = ("[ppolicyd]\n" + dns.dns_section() + db().section(socket=db().socket, database="ppolicy") +
            "[module v]\ntype = Verification\nparam = sender\ncacheDB = yes\nallowPrivate = yes\n"
            "[policy main]\nrule = true -> WARN code=${v} info=${v.info}\n")
    d = Daemon(conf)
    eq([result(d.ask(sender="a@schema.w.verify.test"))[0] for i in range(2)], [2, 2])
    eq(db().sql("SELECT vtype, target, code FROM ppolicy.verification", ), [["mx", "schema.w.verify.test", "2"]])
    check("created table" not in d.log(), d.log())


def test_man_page_example_is_valid():
    with open(os.path.join(TOP_SRCDIR, "man", "ppolicy-modules.5")) as f:
        sec = f.read().split('.SH "Verification"\n', 1)[1].split("\n.SH ", 1)[0]
    ex = sec.split(".SS Example\n.nf\n", 1)[1].split("\n.fi", 1)[0]
    ex = ex.replace("\\-", "-").replace("\\e", "\\")
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write("[ppolicyd]\n[database]\n" + ex + "\n")
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 0, ex + r.stderr)


run_tests(globals())
