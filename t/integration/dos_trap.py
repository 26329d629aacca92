# SPDX-License-Identifier: GPL-2.0-or-later
"""DOS and Trap with store = shm and store = mysql (a real MariaDB started
once for this file): every return code, the sliding window (no early
reopening), countOver, perRecipient, caseSensitive, cartesian products of
call values, exact counts under 16 concurrent workers, trap thresholds
(negative fraction and positive), per-call trap lists, release after
`expire`, expiry of database rows by the maintenance process."""

import time

from dbtest import parallel, result, show
from mariadb import MariaDB
from ppolicytest import Daemon, check, eq, request, run_tests

db = MariaDB()


def daemon(module, params, rules=None, overrides=(), with_db=True):
    conf = (db.section() if with_db else "") + "[module %s]\n%s\n" % (module, params)
    return Daemon(conf + (rules or show(module, "count")), overrides=overrides)


def wait_for_bucket(width):
    """Sleep until just after a bucket boundary, so a test's timing is deterministic."""
    now = time.time()
    time.sleep(width - now % width + 0.05)


def window_and_codes(store):
    # 3 per 6 s, buckets of 2 s.
    d = daemon("dos", "type = DOS\nparams = sender\nlimitCount = 3\nlimitTime = 6\nlimitGran = 3\n"
               "store = %s\ntable = dos_%s" % (store, store))
    c = d.client()
    wait_for_bucket(2)
    got = [result(c.ask(sender="s@example.test")) for _ in range(5)]
    eq([g[0] for g in got], [-1, -1, -1, 1, 1], "codes")
    eq([g[1]["count"] for g in got], ["1", "2", "3", "4", "4"], "requests over the limit are not counted")
    check("limit reached for sender=s@example.test" in got[3][1]["info"], got[3][1]["info"])
    eq(result(c.ask(sender="other@example.test"))[0], -1, "other key")
    # Still inside the window 3 s later: still blocked (the original reopened).
    time.sleep(3)
    eq(result(c.ask(sender="s@example.test"))[0], 1, "no early reopening")
    # Once the first bucket has left the window (6 s after it began): open again.
    time.sleep(3.1)
    code, f = result(c.ask(sender="S@Example.TEST"))
    eq((code, f["count"]), (-1, "1"), "window slid (and caseSensitive = no)")
    c.close()


def test_dos_window_shm():
    window_and_codes("shm")


def test_dos_window_mysql():
    window_and_codes("mysql")
    eq(db.value("SELECT COUNT(*) FROM dos_mysql WHERE name = 'dos'"), "2", "one row per key")


def test_dos_options():
    d = daemon("dos", "type = DOS\nparams = sender, client_address\nlimitCount = 2\ncountOver = yes\n"
               "caseSensitive = yes\nperRecipient = no")
    c = d.client()
    codes = [result(c.ask(sender="a@example.test"))[0] for _ in range(4)]
    eq(codes, [-1, -1, 1, 1])
    eq(result(c.ask(sender="a@example.test"))[1]["count"], "5", "countOver counts blocked requests")
    eq(result(c.ask(sender="A@example.test"))[0], -1, "caseSensitive: another key")
    # perRecipient = no: a request for 4 recipients counts 1/4.
    counts = [result(c.ask(sender="m@example.test", recipient_count="4"))[1]["count"] for _ in range(3)]
    eq(counts, ["0.25", "0.5", "0.75"])


def test_dos_cartesian_values():
    d = daemon("dos", "type = DOS\nparams = sender, recipient\nlimitCount = 1",
               rules=show("dos", "count", call='(values = ["sender=x@a.test", "sender=y@a.test", '
                                                '"recipient=r1@b.test", "recipient=r2@b.test"])'))
    c = d.client()
    code, f = result(c.ask())
    eq(code, -1, "four fresh keys")
    code, f = result(c.ask())
    eq(code, 1, "all four over")
    check("limit reached for sender=x@a.test, recipient=r1@b.test" in f["info"], f["info"])


def exact_counts(store):
    d = daemon("dos", "type = DOS\nparams = sender\nlimitCount = 100\nlimitTime = 1h\nstore = %s\n"
               "table = dos_exact" % store, overrides=["ppolicyd.min_workers=16"])
    d.wait_workers(lambda n: n >= 16, what="16 workers")
    replies = parallel(d.port, [request(sender="flood-%s@example.test" % store)] * 400, 16)
    codes = [result(r)[0] for r in replies]
    eq((codes.count(-1), codes.count(1), codes.count(0)), (100, 300, 0), "exact under 16 workers")
    eq(result(d.ask(sender="flood-%s@example.test" % store))[1]["count"], "101")


def test_dos_exact_under_16_workers_shm():
    exact_counts("shm")


def test_dos_exact_under_16_workers_mysql():
    exact_counts("mysql")


def test_dos_database_down_answers_0():
    d = daemon("dos", "type = DOS\nparams = sender\nstore = mysql", overrides=["database.port=1"])
    code, f = result(d.ask())
    eq(code, 0, "database down")
    check(f["info"].startswith("database"), f["info"])
    d2 = daemon("dos", "type = DOS\nparams = sender, no_such_attribute", with_db=False)
    code, f = result(d2.ask())
    eq((code, f["info"]), (0, "request has no attribute no_such_attribute"))


def test_dos_mysql_rows_expire():
    d = daemon("dos", "type = DOS\nparams = sender\nlimitTime = 2\nlimitGran = 2\nstore = mysql\n"
               "table = dos_expire", overrides=["ppolicyd.maintenance_interval=10s"])
    for i in range(5):
        eq(result(d.ask(sender="x%d@example.test" % i))[0], -1)
    eq(db.value("SELECT COUNT(*) FROM dos_expire"), "5")
    d.wait_log(r"expired 5 rows of table dos_expire", timeout=30)
    eq(db.value("SELECT COUNT(*) FROM dos_expire"), "0", "expired keys freed")


TRAPS = "traps = Trap1@Example.org, trap2@example.org\n"


def trap_codes(store):
    d = daemon("trap", "type = Trap\n" + TRAPS + "expire = 2\nstore = %s\ntable = trap_%s" % (store, store),
               rules=show("trap", "hits", "threshold"))
    c = d.client()
    code, f = result(c.ask(client_address="198.51.100.7"))
    eq((code, f["threshold"]), (-1, "1"), "clean client; treshold -2 of 2 traps = 1")
    eq(result(c.ask(sender="", client_address="198.51.100.7"))[0], 0, "null sender")
    eq(result(c.ask(recipient="postmaster@example.org", client_address="198.51.100.7"))[0], 0, "postmaster")
    code, f = result(c.ask(recipient="TRAP1@example.org", client_address="198.51.100.7"))
    eq((code, f["hits"]), (-2, "1"), "trap hit")
    code, f = result(c.ask(client_address="198.51.100.7"))
    eq((code, f["hits"]), (1, "1"), "blocked")
    eq(result(c.ask(client_address="198.51.100.8"))[0], -1, "other client")
    time.sleep(2.2)
    eq(result(c.ask(client_address="198.51.100.7"))[0], -1, "released after expire")
    c.close()


def test_trap_shm():
    trap_codes("shm")


def test_trap_mysql():
    trap_codes("mysql")
    eq(db.value("SELECT COUNT(*) FROM trap_mysql"), "1", "only trapped clients are stored")


def test_trap_threshold_and_call_list():
    d = daemon("trap", "type = Trap\ntreshold = 2\nexpire = 60",
               rules=show("trap", "hits", "threshold", call='(traps = ["Spam@Trap.test", "x@trap.test"])'))
    c = d.client()
    eq(result(c.ask(recipient="spam@trap.test"))[0], -2, "per-call list, case-insensitive")
    eq(result(c.ask())[0], -1, "one hit of two")
    eq(result(c.ask(recipient="x@trap.test"))[0], -2)
    code, f = result(c.ask())
    eq((code, f["hits"], f["threshold"]), (1, "2", "2"), "two hits block")
    d2 = daemon("trap", "type = Trap", rules=show("trap"))
    code, f = result(d2.ask())
    eq(code, 0, "no trap list")


def test_trap_database_down_answers_0():
    d = daemon("trap", "type = Trap\n" + TRAPS + "store = mysql", overrides=["database.port=1"],
               rules=show("trap"))
    eq(result(d.ask())[0], 0)


run_tests(globals())
