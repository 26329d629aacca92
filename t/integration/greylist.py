# SPDX-License-Identifier: GPL-2.0-or-later
"""Greylist against a real MariaDB (started once for this file) and with
store = shm: every return code (2, 1, 0, -1, -2), the state machine (delay,
mustRetry, expiration), its own state-aware caching, sender normalisation
and client networks, the null sender, 500 concurrent identical first
requests creating exactly one row, SQL-looking senders stored verbatim,
create_tables = no, and expiry by the maintenance process."""

import signal
import time

import dnsserver
from dbtest import burst, result, show
from mariadb import MariaDB
from ppolicytest import Daemon, check, eq, request, run_tests, second_start

db = MariaDB()


def daemon(params, store="mysql", table="greylist", extra="", overrides=(), domain_subject="no",
           **kw):
    conf = db.section() + extra + """
[module greylist]
type = Greylist
domainSubject = %s
store = %s
table = %s
%s
""" % (domain_subject, store, table, params) + show("greylist", "wait", "triplet")
    return Daemon(conf, overrides=overrides, **kw)


def rows(table, where="1"):
    return db.sql("SELECT sender, recipient, client, state, tries, passes FROM %s WHERE %s "
                  "ORDER BY sender, recipient" % (table, where))


def state_machine(store, table):
    d = daemon("delay = 2\nmustRetry = 6\nexpiration = 4", store=store, table=table)
    c = d.client()
    ask = lambda **kw: result(c.ask(**kw))
    second_start()
    # First sight: greylisted for the whole delay.
    code, f = ask(sender="alice@example.test")
    eq(code, -1, "first request")
    eq(f["wait"], "2")
    eq(f["triplet"], "alice@example.test,bob@example.org,192.0.2.0/24")
    # An early retry is still greylisted, with the remaining wait (never a
    # stale cached one), and does not restart the delay.
    time.sleep(1.1)
    code, f = ask(sender="alice@example.test")
    eq(code, -1, "early retry")
    check(f["wait"] in ("1", "0"), "remaining wait %r" % f["wait"])
    time.sleep(1.2)
    code, f = ask(sender="alice@example.test")
    eq((code, f["wait"]), (1, "0"), "retry after the delay passes")
    eq(ask(sender="alice@example.test")[0], 1, "passed triplet")
    # Postmaster, invalid sender, no client address.
    eq(ask(recipient="Postmaster@example.org")[0], 2, "postmaster")
    eq(ask(recipient="postmaster")[0], 2, "bare postmaster")
    code, f = ask(sender="no-at-sign")
    eq(code, -2, "invalid sender")
    check("no-at-sign" in f["info"], f["info"])
    code, f = ask(client_address="unknown")
    eq(code, 0, "no client address")
    # The pass slides (expiration 4 s after each pass): still passing after
    # 3 + 3 s, then expired after more than 4 s without mail: starts over.
    time.sleep(3)
    eq(ask(sender="alice@example.test")[0], 1, "pass slid")
    time.sleep(3)
    eq(ask(sender="alice@example.test")[0], 1, "pass slid again")
    time.sleep(4.5)
    code, f = ask(sender="alice@example.test")
    eq((code, f["wait"]), (-1, "2"), "expired pass starts over")
    # mustRetry: a retry later than 6 s after the first attempt starts over.
    eq(ask(sender="late@example.test")[0], -1)
    time.sleep(6.5)
    code, f = ask(sender="late@example.test")
    eq((code, f["wait"]), (-1, "2"), "too-late retry starts over")
    time.sleep(2.2)
    eq(ask(sender="late@example.test")[0], 1, "retry of the new period passes")
    c.close()
    return d


def test_state_machine_mysql():
    state_machine("mysql", "grey_sm")
    r = rows("grey_sm", "sender = 'late@example.test'")
    eq(len(r), 1, "one row per triplet")
    eq(r[0][3], "1", "state passed")


def test_state_machine_shm():
    d = state_machine("shm", "unused")
    eq(db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'unused'"), "0",
       "store = shm touches no database")
    d.stop()


def test_normalised_sender_and_client_network():
    d = daemon("delay = 1\nipv6Prefix = 64", table="grey_norm")
    c = d.client()
    first = [
        ("prvs=0123456789=Carol@Example.TEST", "192.0.2.10"),
        ("list-bounces-4711@lists.example.test", "192.0.2.10"),
        ("SRS0=HHH=TT=orig.example=dave@forwarder.example", "2001:db8:1:2::25"),
        ("erin+tag1@example.test", "192.0.2.10"),
        ("news-bob=example.org@mailer.example", "192.0.2.10"),
    ]
    again = [
        ("prvs=9876543210=carol@example.test", "192.0.2.77"),   # other BATV tag, same /24
        ("list-bounces-4712@lists.example.test", "192.0.2.200"),  # other message number
        ("SRS0=XYZ=AB=orig.example=dave@other-forwarder.example", "2001:db8:1:2:ffff::1"),  # same /64
        ("erin+tag2@example.test", "192.0.2.11"),
        ("news-carol=example.net@mailer.example", "192.0.2.12"),  # VERP tail
    ]
    triplets = []
    for sender, client in first:
        code, f = result(c.ask(sender=sender, client_address=client))
        eq(code, -1, sender)
        triplets.append(f["triplet"])
    eq(triplets, ["carol@example.test,bob@example.org,192.0.2.0/24",
                  "list-bounces-#@lists.example.test,bob@example.org,192.0.2.0/24",
                  "dave@orig.example,bob@example.org,2001:db8:1:2::/64",
                  "erin@example.test,bob@example.org,192.0.2.0/24",
                  "news@mailer.example,bob@example.org,192.0.2.0/24"])
    time.sleep(1.2)
    for sender, client in again:
        eq(result(c.ask(sender=sender, client_address=client))[0], 1, "variant of " + sender)
    # Another network is another triplet.
    eq(result(c.ask(sender="erin@example.test", client_address="198.51.100.1"))[0], -1, "other network")
    eq(result(c.ask(sender="erin@example.test", client_address="2001:db8:1:3::25"))[0], -1, "other /64")


def test_domain_subject_spf_pass_or_mail_host():
    """Issue 14: as ppolicy 2.x, the sender's domain is the subject when SPF
    passes for the client or the client is one of the domain's mail hosts,
    so a provider's servers in several networks pass once; domainSubject = no
    turns it off. Zones: t/dns-zones/example.test.zone."""
    dns = dnsserver.shared()
    for store in ("mysql", "shm"):
        d = daemon("delay = 1", store=store, table="grey_dom", extra=dns.dns_section("1s"),
                   domain_subject="yes")
        c = d.client()
        ask = lambda sender, client: result(c.ask(sender=sender, client_address=client))
        second_start()
        # longspf.example.test allows 192.0.2.0/24 and 198.18.0.0/15: one subject.
        code, f = ask("a@longspf.example.test", "192.0.2.10")
        eq((code, f["triplet"]), (-1, "a@longspf.example.test,bob@example.org,@longspf.example.test"))
        time.sleep(1.2)
        code, f = ask("a@longspf.example.test", "198.18.0.5")
        eq(code, 1, "another server of the domain, another network: " + f["info"])
        # No SPF pass, but the client is the domain's mail host (its MX,
        # IPv6); any other client of the domain keeps its network.
        code, f = ask("a@v6mx.example.test", "2001:db8::25")
        eq(f["triplet"], "a@v6mx.example.test,bob@example.org,@v6mx.example.test")
        code, f = ask("a@v6mx.example.test", "2001:db8:5::1")
        eq(f["triplet"], "a@v6mx.example.test,bob@example.org,2001:db8:5::/64")
        # SPF fail: the client network.
        code, f = ask("a@example.test", "198.51.100.1")
        eq(f["triplet"], "a@example.test,bob@example.org,198.51.100.0/24")
        d.kill()
        db.sql("DROP TABLE IF EXISTS grey_dom")
    # Turned off: the network, so the pool's second network waits again.
    d = daemon("delay = 1", store="shm", extra=dns.dns_section("1s"), domain_subject="no")
    c = d.client()
    code, f = result(c.ask(sender="a@longspf.example.test", client_address="192.0.2.10"))
    eq(f["triplet"], "a@longspf.example.test,bob@example.org,192.0.2.0/24")
    time.sleep(1.2)
    eq(result(c.ask(sender="a@longspf.example.test", client_address="198.18.0.5"))[0], -1)


def test_null_sender_greylisted_on_client_only():
    d = daemon("delay = 1", table="grey_null")
    c = d.client()
    code, f = result(c.ask(sender="", recipient="a@example.org"))
    eq(code, -1, "first bounce")
    eq(f["triplet"], "<>,,192.0.2.0/24")
    time.sleep(1.2)
    eq(result(c.ask(sender="", recipient="other@example.org"))[0], 1, "bounce to another recipient")
    eq(len(rows("grey_null")), 1)


def test_500_concurrent_first_requests_make_one_row():
    # cacheNegative = 0: every request goes to the database.
    d = daemon("delay = 600\ncacheNegative = 0", table="grey_race",
               overrides=["ppolicyd.min_workers=200", "ppolicyd.max_workers=600"])
    d.wait_workers(lambda n: n >= 200, timeout=60, what="200 workers")
    replies = burst(d.port, request(sender="race@example.test", recipient="target@example.org",
                                    client_address="203.0.113.9"), 500)
    codes = [result(r)[0] for r in replies]
    eq(codes.count(-1), 500, "every request greylisted (no error): %s" %
       {c: codes.count(c) for c in set(codes)})
    r = rows("grey_race")
    eq(len(r), 1, "exactly one row")
    eq(r[0][4], "500", "tries counted exactly")


def test_sql_in_sender_is_data():
    d = daemon("delay = 600", table="grey_inject")
    evil = "x');DROP TABLE grey_inject;--@example.test"
    evil_rcpt = "a' OR '1'='1@example.org"
    eq(result(d.ask(sender=evil, recipient=evil_rcpt))[0], -1)
    eq(result(d.ask(sender=evil, recipient=evil_rcpt))[0], -1, "found again (cached or row)")
    r = rows("grey_inject")
    eq(len(r), 1)
    eq(r[0][0], "x');drop table grey_inject;--@example.test", "stored verbatim (lower-cased)")
    eq(r[0][1], "a' or '1'='1@example.org")


def test_create_tables_no_and_missing_table():
    d = daemon("delay = 1", table="grey_missing", overrides=["database.create_tables=no"])
    d.wait_log(r"table grey_missing is missing in database .* create_tables = no")
    code, f = result(d.ask())
    eq(code, 0, "missing table answers 0")
    check("doesn't exist" in f["info"], f["info"])


def test_database_down_answers_0_and_breaker_skips():
    d = daemon("delay = 1\ncacheUnknown = 0", table="grey_down",
               overrides=["database.port=1", "ppolicyd.breaker_failures=2", "ppolicyd.breaker_cooldown=60s"])
    d.wait_log(r"cannot connect to database 127.0.0.1:1/")
    c = d.client()
    answers = [result(c.ask(sender="s%d@example.test" % i)) for i in range(5)]
    eq([code for code, _ in answers], [0] * 5, "database down: code 0")
    infos = [f["info"] for _, f in answers]
    for i in infos:
        check(i.startswith("database "), i)
    check("circuit breaker open" in infos[-1], infos)
    d.wait_log(r"circuit breaker for mysql 127.0.0.1:1/\S+ opened after 2 failures")


def test_reload_creates_the_table_of_a_new_instance():
    # A Greylist instance added by a reload gets its table at once (the
    # maintenance process runs right after the reload), not after
    # maintenance_interval, and answers -1 instead of "table missing".
    d = Daemon(db.section() + "[policy main]\nrule = true -> DUNNO\n",
               overrides=["ppolicyd.maintenance_interval=1h"])
    eq(db.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'grey_reload'"), "0")
    d.write_config(db.section() + """
[module greylist]
type = Greylist
domainSubject = no
table = grey_reload
delay = 60
""" + show("greylist", "wait"))
    d.signal(signal.SIGHUP)
    d.wait_log(r"configuration reloaded")
    d.wait_log(r"created table grey_reload in database", timeout=15)
    deadline = time.time() + 10
    while time.time() < deadline:
        code, f = result(d.ask(sender="new@example.test"))
        if code == -1:
            break
        time.sleep(0.2)
    eq(code, -1, "greylisted by the new instance (%s)" % f.get("info"))
    eq(len(rows("grey_reload")), 1)


def test_maintenance_expires_rows():
    d = daemon("delay = 1", table="grey_expire", overrides=["ppolicyd.maintenance_interval=10s"])
    eq(result(d.ask(sender="keep@example.test"))[0], -1)
    db.sql("INSERT INTO grey_expire VALUES ('old@example.test', 'x@y', '192.0.2.0/24', 1, 1, "
           "UNIX_TIMESTAMP() - 10, 0, -2, 1, 0)")
    d.wait_log(r"expired 1 rows of table grey_expire", timeout=30)
    eq([r[0] for r in rows("grey_expire")], ["keep@example.test"])


run_tests(globals())
