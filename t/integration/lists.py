# SPDX-License-Identifier: GPL-2.0-or-later
"""List, LookupDB, ListBW, ListMailDomain, ListDyn and DumpDataDB against a
real MariaDB (started once for this file): every return code, retcols in
info and fields, case handling, cartesian products, the tables the master
creates, cacheAll snapshots (answering with the database stopped, refreshed
by the maintenance process), ListDyn's add/remove/check with soft and hard
expiry, DumpDataDB's ids and splits, and SQL-looking data stored verbatim."""

import os
import time

from dbtest import result, show
from mariadb import MariaDB
from ppolicytest import TOP_SRCDIR, Daemon, check, eq, request, run_tests, second_start

db = MariaDB()


def daemon(modules, rules, overrides=()):
    d = Daemon(db.section() + modules + rules, overrides=overrides)
    # The listener is bound before the master creates the tables; the
    # workers are forked after it (requests would simply wait; SQL from the
    # test must not start earlier).
    d.wait_workers(lambda n: n >= 1, what="first worker")
    return d


def columns(table):
    return [r[0] for r in db.sql("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                                 "DATABASE() AND TABLE_NAME = '%s' ORDER BY ORDINAL_POSITION" % table)]


# ---------------------------------------------------------------- List

def test_list_codes_retcols_case():
    d = daemon("[module list]\ntype = List\nparam = sender\ntable = l1\ncolumn = mail\nretcols = score, cnt\n",
               show("list", "score", "cnt"))
    eq(columns("l1"), ["mail", "score", "cnt"], "table made by the master")
    db.sql("INSERT INTO l1 VALUES ('alice@example.test', '5', '2')")
    c = d.client()
    code, f = result(c.ask(sender="ALICE@Example.TEST"))
    eq((code, f["score"], f["cnt"], f["info"]), (1, "5", "2", "5, 2"), "found, case-insensitive")
    code, f = result(c.ask(sender="bob@example.test"))
    eq((code, f["info"]), (-1, "not found"))
    db.sql("DROP TABLE l1")
    code, f = result(c.ask(sender="carol@example.test"))
    eq(code, 0, "database error")
    check("doesn't exist" in f["info"], f["info"])


def test_list_without_retcols_is_not_found_for_everything():
    d = daemon("[module list]\ntype = List\nparam = sender\ntable = l2\n", show("list"))
    db.sql("INSERT INTO l2 VALUES ('in@example.test')")
    eq(result(d.ask(sender="in@example.test"))[0], 1)
    eq(result(d.ask(sender="out@example.test"))[0], -1, "absent value (the original said found)")
    d2 = daemon("[module list]\ntype = List\nparam = no_such_attribute\ntable = l2b\n", show("list"))
    eq(result(d2.ask())[0], 0, "request without the param")


def test_list_tuple_and_cartesian_values():
    d = daemon("[module list]\ntype = List\nparam = sender, recipient\ntable = l3\ncolumn = s, r\n"
               "cacheCaseSensitive = yes\n",
               show("list", context="plain") +
               show("list", call='(values = ["sender=x@a.test", "sender=y@a.test", "recipient=r@b.test"])'))
    db.sql("INSERT INTO l3 VALUES ('y@a.test', 'r@b.test'), ('alice@example.test', 'bob@example.org')")
    code, f = result(d.ask())
    eq((code, f["info"]), (1, "found sender=y@a.test, recipient=r@b.test"), "second combination found")
    eq(result(d.ask(policy_context="plain"))[0], 1, "request values as a tuple")
    eq(result(d.ask(policy_context="plain", recipient="carol@example.org"))[0], -1)


def test_list_cache_all_snapshot():
    db.sql("CREATE TABLE l4 (mail VARCHAR(255) NOT NULL PRIMARY KEY, note VARCHAR(50))")
    db.sql("INSERT INTO l4 VALUES ('Alice@Example.test', 'old')")
    d = daemon("[module list]\ntype = List\nparam = sender\ntable = l4\ncolumn = mail\nretcols = note\n"
               "cacheAll = yes\ncacheAllRefresh = 1\n", show("list", "note"),
               overrides=["ppolicyd.maintenance_interval=10s"])
    d.wait_log(r"cacheAll snapshot of table l4: 1 rows")
    check(os.path.exists(os.path.join(d.dir, "state", "cacheall-list.snap")), "snapshot file")
    # Served from the snapshot: works with the database stopped.
    db.stop()
    try:
        c = d.client()
        code, f = result(c.ask(sender="alice@example.test"))
        eq((code, f["note"]), (1, "old"), "from the snapshot")
        eq(result(c.ask(sender="nobody@example.test"))[0], -1)
    finally:
        db.start()
    # The maintenance process refreshes it; workers pick the new file up.
    db.sql("UPDATE l4 SET note = 'new'")
    db.sql("INSERT INTO l4 VALUES ('bob@example.test', 'added')")
    d.wait_log(r"cacheAll snapshot of table l4: 2 rows", timeout=40)
    time.sleep(1.1)
    c = d.client()
    eq(result(c.ask(sender="alice@example.test"))[1]["note"], "new")
    eq(result(c.ask(sender="BOB@example.test"))[0], 1)


# ---------------------------------------------------------------- LookupDB

def test_lookup_db():
    d = daemon("[module lookup]\ntype = LookupDB\nparam = sender\ntable = lk\n"
               "mapping = sender:mail VARCHAR(50), level:lvl INT, name:full_name\nretcols = level, name\n",
               "[policy num]\ncontext = num\nrule = lookup.level > 2 -> WARN high\ndefault = DUNNO\n" +
               show("lookup", "level", "name"))
    eq(columns("lk"), ["mail", "lvl", "full_name"])
    db.sql("INSERT INTO lk VALUES ('alice@example.test', 3, 'Alice'), ('alice@example.test', 1, 'dup')")
    code, f = result(d.ask(sender="alice@example.test"))
    eq((code, f["level"], f["name"]), (1, "3", "Alice"))
    eq(d.ask(sender="alice@example.test", policy_context="num"), "WARN high", "numeric retcol field")
    eq(result(d.ask(sender="zed@example.test"))[0], -1)
    d2 = daemon("[module lookup]\ntype = LookupDB\nparam = sender\ntable = lk\nmapping = sender:mail\n"
                "retcols = *\n", show("lookup"), overrides=["database.port=1"])
    eq(result(d2.ask())[0], 0, "database down")


# ---------------------------------------------------------------- ListBW

def test_list_bw():
    d = daemon("[module bw]\ntype = ListBW\nparam = client_address\ntableWhitelist = bw_w\n"
               "tableBlacklist = bw_b\nmappingWhitelist = client_address:ip VARCHAR(45), why:reason\n"
               "mappingBlacklist = client_address:ip VARCHAR(45), why:reason\nretcolsWhitelist = why\n"
               "retcolsBlacklist = why\n", show("bw", "list", "why"))
    eq(columns("bw_w"), ["ip", "reason"])
    db.sql("INSERT INTO bw_w VALUES ('192.0.2.1', 'partner'), ('192.0.2.3', 'both')")
    db.sql("INSERT INTO bw_b VALUES ('192.0.2.2', 'spam'), ('192.0.2.3', 'both-black')")
    c = d.client()
    code, f = result(c.ask(client_address="192.0.2.1"))
    eq((code, f["list"], f["why"]), (1, "whitelist", "partner"))
    code, f = result(c.ask(client_address="192.0.2.2"))
    eq((code, f["list"], f["why"]), (-1, "blacklist", "spam"))
    eq(result(c.ask(client_address="192.0.2.3"))[0], -1, "blacklist wins")
    code, f = result(c.ask(client_address="192.0.2.4"))
    eq((code, f["info"]), (0, "not listed"))
    db.sql("DROP TABLE bw_b")
    code, f = result(c.ask(client_address="192.0.2.5"))
    eq(code, 0)
    check("doesn't exist" in f["info"], f["info"])


# ---------------------------------------------------------------- ListMailDomain

def test_list_mail_domain_search_order():
    db.sql("CREATE TABLE md_w (sender VARCHAR(255) NOT NULL PRIMARY KEY)")
    db.sql("CREATE TABLE md_b (sender VARCHAR(255) NOT NULL PRIMARY KEY)")
    db.sql("INSERT INTO md_w VALUES ('@.example.com'), ('boss'), ('friend@spam.test')")
    db.sql("INSERT INTO md_b VALUES ('spammer@example.com'), ('@spam.test'), ('@.')")
    for cache_all in ("yes", "no"):
        d = daemon("[module md]\ntype = ListMailDomain\nparam = sender\ntableWhitelist = md_w\n"
                   "tableBlacklist = md_b\ncacheAll = %s\n" % cache_all, show("md", "list", "match"))
        c = d.client()
        cases = [("spammer@example.com", -1, "spammer@example.com"),
                 ("Spammer+x@Example.com", -1, "spammer@example.com"),
                 ("other@example.com", 1, "@.example.com"),
                 ("x@deep.sub.example.com", 1, "@.example.com"),
                 ("boss@anywhere.test", 1, "boss"),
                 ("friend@spam.test", 1, "friend@spam.test"),
                 ("foe@spam.test", -1, "@spam.test"),
                 ("x@elsewhere.org", -1, "@.")]
        for sender, code, match in cases:
            got, f = result(c.ask(sender=sender))
            eq((got, f["match"]), (code, match), "%s (cacheAll = %s)" % (sender, cache_all))
        d.kill()
    db.sql("DELETE FROM md_b WHERE sender = '@.'")
    d = daemon("[module md]\ntype = ListMailDomain\nparam = client_name\ntableWhitelist = md_w\n"
               "tableBlacklist = md_b\nmappingWhitelist = client_name:sender\n"
               "mappingBlacklist = client_name:sender\n", show("md", "list", "match"))
    eq(result(d.ask(client_name="mx.example.com"))[0], 1, "host name: @.example.com")
    code, f = result(d.ask(client_name="mx.other.org"))
    eq((code, f["info"]), (0, "not listed"))
    d = daemon("[module md]\ntype = ListMailDomain\nparam = sender\ntableWhitelist = md_w\ncacheAll = no\n",
               show("md", "list"), overrides=["database.port=1"])
    code, f = result(d.ask())
    eq(code, 0, "database down")
    check(f["info"].startswith("database"), f["info"])


# ---------------------------------------------------------------- ListDyn

def test_list_dyn_add_check_remove_expiry():
    mod = ("[module dyn]\ntype = ListDyn\ntable = dyn\nparam = sender\nretcols = reason\n"
           "mapping = sender:mail VARCHAR(100)\nsoftExpire = 1\nhardExpire = 3\n")
    rules = (show("dyn", "reason", call='(operation = "add", value = ["reason=x\');DROP/**/TABLE/**/dyn;--"])',
                  context="add") +
             show("dyn", call='(operation = "remove")', context="remove") +
             show("dyn", call='(operation = "add", softExpire = 0, hardExpire = 0)', context="forever") +
             show("dyn", "reason"))
    d = daemon(mod, rules, overrides=["ppolicyd.maintenance_interval=10s"])
    eq(columns("dyn"), ["mail", "soft_expire", "hard_expire", "reason"])
    c = d.client()
    eq(result(c.ask(sender="a@example.test"))[0], -1, "not in list")
    second_start()
    eq(result(c.ask(sender="a@example.test", policy_context="add"))[0], 1, "added")
    eq(result(c.ask(sender="a@example.test", policy_context="add"))[0], 1, "added again (refresh)")
    eq(db.value("SELECT COUNT(*) FROM dyn"), "1", "one row per key")
    code, f = result(c.ask(sender="a@example.test"))
    eq((code, f["reason"]), (1, "x');DROP/**/TABLE/**/dyn;--"), "in list, value stored verbatim")
    time.sleep(1.2)
    eq(result(c.ask(sender="a@example.test"))[0], 2, "soft expired")
    time.sleep(2)
    eq(result(c.ask(sender="a@example.test"))[0], -1, "hard expired")
    eq(result(c.ask(sender="b@example.test", policy_context="forever"))[0], 1)
    eq(result(c.ask(sender="b@example.test", policy_context="remove"))[0], 1, "removed")
    eq(result(c.ask(sender="b@example.test"))[0], -1)
    d.wait_log(r"expired 1 rows of table dyn", timeout=30)
    eq(db.value("SELECT COUNT(*) FROM dyn"), "0", "hard-expired row deleted by maintenance")
    rules_down = (show("dyn", call='(operation = "add")', context="add") +
                  show("dyn", call='(operation = "remove")', context="remove") + show("dyn"))
    d2 = daemon(mod, rules_down, overrides=["database.port=1"])
    eq(result(d2.ask())[0], 0, "database down")
    eq(result(d2.ask(policy_context="add"))[0], 0, "database down: add")
    eq(result(d2.ask(policy_context="remove"))[0], 0, "database down: remove")


# ---------------------------------------------------------------- look-alikes
# The tables' collation (utf8mb4_general_ci) ignores accents as well as case:
# "trüsted" = "trusted". Keys must compare exactly after lower-casing, in SQL
# and in the cacheAll snapshot alike, or a look-alike sender is whitelisted.

def test_list_look_alike_is_not_a_match():
    db.sql("CREATE TABLE la_l (mail VARCHAR(255) NOT NULL PRIMARY KEY)")
    db.sql("INSERT INTO la_l VALUES ('alice@example.org')")
    for cache_all in ("no", "yes"):
        d = daemon("[module list]\ntype = List\nparam = sender\ntable = la_l\ncolumn = mail\n"
                   "cacheAll = %s\n" % cache_all, show("list"))
        c = d.client()
        eq(result(c.ask(sender="ALICE@Example.org"))[0], 1, "case (cacheAll = %s)" % cache_all)
        eq(result(c.ask(sender="al\u00edce@example.org"))[0], -1, "accent (cacheAll = %s)" % cache_all)
        d.kill()


def test_lookup_db_look_alike_is_not_a_match():
    d = daemon("[module lookup]\ntype = LookupDB\nparam = sender\ntable = la_lk\n"
               "mapping = sender:mail VARCHAR(50), level:lvl INT\nretcols = level\n", show("lookup", "level"))
    db.sql("INSERT INTO la_lk VALUES ('alice@example.org', 3)")
    c = d.client()
    eq(result(c.ask(sender="Alice@example.org"))[:1], (1,))
    eq(result(c.ask(sender="\u00e0lice@example.org"))[0], -1, "accent")
    eq(result(c.ask(sender="alic\u00e9@example.org"))[0], -1, "accent")


def test_list_bw_look_alike_is_not_a_match():
    d = daemon("[module bw]\ntype = ListBW\nparam = sender\ntableWhitelist = la_bw_w\ntableBlacklist = la_bw_b\n",
               show("bw", "list"))
    db.sql("INSERT INTO la_bw_w VALUES ('boss@example.org')")
    db.sql("INSERT INTO la_bw_b VALUES ('spam@example.org')")
    c = d.client()
    eq(result(c.ask(sender="BOSS@example.org"))[0], 1)
    code, f = result(c.ask(sender="b\u00f6ss@example.org"))
    eq((code, f["info"]), (0, "not listed"), "whitelist look-alike")
    eq(result(c.ask(sender="sp\u00e4m@example.org"))[0], 0, "blacklist look-alike")


def test_list_mail_domain_look_alike_is_not_a_match():
    db.sql("CREATE TABLE la_md (sender VARCHAR(255) NOT NULL PRIMARY KEY)")
    db.sql("INSERT INTO la_md VALUES ('@.trusted.org')")
    for cache_all in ("no", "yes"):
        d = daemon("[module md]\ntype = ListMailDomain\nparam = sender\ntableWhitelist = la_md\n"
                   "cacheAll = %s\n" % cache_all, show("md", "list"))
        c = d.client()
        eq(result(c.ask(sender="a@mx.TRUSTED.org"))[0], 1, "case (cacheAll = %s)" % cache_all)
        code, f = result(c.ask(sender="a@tr\u00fcsted.org"))
        eq((code, f["info"]), (0, "not listed"), "accent (cacheAll = %s)" % cache_all)
        d.kill()


def test_list_dyn_look_alike_is_not_a_match():
    mod = "[module dyn]\ntype = ListDyn\ntable = la_dyn\nparam = sender\nmapping = sender:mail VARCHAR(100)\n"
    rules = (show("dyn", call='(operation = "add")', context="add") +
             show("dyn", call='(operation = "remove")', context="remove") + show("dyn"))
    d = daemon(mod, rules)
    c = d.client()
    eq(result(c.ask(sender="alice@example.org", policy_context="add"))[0], 1)
    eq(result(c.ask(sender="Alice@Example.org"))[0], 1, "case")
    eq(result(c.ask(sender="al\u00efce@example.org"))[0], -1, "accent")
    code, f = result(c.ask(sender="al\u00efce@example.org", policy_context="remove"))
    eq((code, f["info"]), (1, "removed 0 rows"), "a look-alike removes nothing")
    eq(result(c.ask(sender="alice@example.org"))[0], 1, "still listed")


# ---------------------------------------------------------------- DumpDataDB

def test_dump_data_db_verbatim_and_ids():
    evil = "a');DROP TABLE x;--"
    mod = "[module dump]\ntype = DumpDataDB\n[module dummy]\ntype = Dummy\n"
    rules = "[policy main]\nrule = dummy == 0 && dump > 0 -> WARN id=${dump.id} table=${dump.table}\n"
    d1 = daemon(mod, rules)
    d2 = daemon(mod, rules)
    req = request()
    req[evil] = "value with 'quotes' and \\ backslash; DROP TABLE dump;"
    ids = []
    for d in (d1, d2, d1, d2):
        reply = d.ask(req)
        check(reply.startswith("WARN id=") and reply.endswith(" table=dump"), reply)
        ids.append(int(reply.split()[1].split("=")[1]))
    eq(len(set(ids)), 4, "ids from two hosts never collide: %s" % ids)
    rows = dict(db.sql("SELECT `key`, value FROM dump WHERE id = %d" % ids[0]))
    eq(rows[evil], "value with 'quotes' and \\\\ backslash; DROP TABLE dump;", "stored verbatim")
    eq(rows["sender"], "alice@example.test")
    eq(rows["result_dummy_code"], "0", "results of earlier modules")
    check("date" in rows, rows)
    d3 = daemon(mod, rules + "rule = true -> WARN code=${dump} info=${dump.info}\n",
                overrides=["database.port=1"])
    code, f = result(d3.ask(req))
    eq(code, 0, "database down: code 0")
    check(f["info"].startswith("database"), f["info"])


def test_dump_data_db_split_by_date_and_records():
    d = daemon("[module dump]\ntype = DumpDataDB\ntable = dd\nsplit = date\ninterval = day\n",
               show("dump", "table"))
    code, f = result(d.ask())
    eq((code, f["table"]), (1, "dd" + time.strftime("%Y%m%d", time.gmtime())))
    d2 = daemon("[module dump]\ntype = DumpDataDB\ntable = dr\nsplit = records\ninterval = 3\n",
                show("dump", "id"), overrides=["ppolicyd.maintenance_interval=10s"])
    ids = [int(result(d2.ask())[1]["id"]) for _ in range(4)]
    d2.wait_log(r"table dr renamed to dr\d{14} after 3 requests", timeout=30)
    old = db.value("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                   "TABLE_NAME LIKE 'dr2%'")
    eq(db.value("SELECT COUNT(DISTINCT id) FROM %s" % old), "4")
    eq(db.value("SELECT COUNT(*) FROM dr"), "0", "new table")
    code, f = result(d2.ask())
    eq(int(f["id"]), ids[-1] + 1, "ids continue")


# ---------------------------------------------------------------- sql/ppolicy.sql

def test_schema_file_matches_the_modules():
    """sql/ppolicy.sql loads, and the daemon uses its tables as they are
    (creates none) over the unix socket."""
    with open(os.path.join(TOP_SRCDIR, "sql", "ppolicy.sql")) as f:
        db.sql(f.read(), db=None)
    conf = db.section(socket=db.socket, database="ppolicy") + """
[module greylist]
type = Greylist
domainSubject = no
[module dos]
type = DOS
params = sender
store = mysql
[module trap]
type = Trap
traps = trap@example.org
store = mysql
[module dump]
type = DumpDataDB
[module list_sender]
type = List
param = sender
table = list
column = mail
retcols = note
[module bw_sender]
type = ListMailDomain
param = sender
tableWhitelist = whitelist_sender
tableBlacklist = blacklist_sender
[module lookup_user]
type = LookupDB
param = recipient
table = users
mapping = recipient:mail VARCHAR(100), quota:quota_mb INT
retcols = quota
[module seen]
type = ListDyn
table = seen_clients
param = client_address
mapping = client_address:ip VARCHAR(45)
retcols = reason
hardExpire = 7d
[policy main]
rule = true -> WARN g=${greylist} d=${dos} t=${trap} u=${dump} l=${list_sender} b=${bw_sender}
    k=${lookup_user} s=${seen}
"""
    db.sql("INSERT INTO ppolicy.list VALUES ('alice@example.test', 'hi')", db=None)
    db.sql("INSERT INTO ppolicy.whitelist_sender VALUES ('@.example.test')", db=None)
    db.sql("INSERT INTO ppolicy.users VALUES ('bob@example.org', 100)", db=None)
    d = Daemon(conf)
    eq(d.ask(), "WARN g=-1 d=-1 t=-1 u=1 l=1 b=1 k=1 s=-1")
    check("created table" not in d.log(), d.log())


run_tests(globals())
