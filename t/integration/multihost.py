# SPDX-License-Identifier: GPL-2.0-or-later
"""Several hosts on one database: two ppolicyd instances share one MariaDB.
A triplet greylisted through the first passes through the second after the
delay; a DOS limit with store = mysql counts the requests of both; a trap
hit on one host blocks the client on the other."""

import time

from dbtest import result
from mariadb import MariaDB
from ppolicytest import Daemon, eq, run_tests

db = MariaDB()

CONF = """
[module greylist]
type = Greylist
domainSubject = no
delay = 2
cacheNegative = 0

[module dos]
type = DOS
params = sender
limitCount = 5
store = mysql

[module trap]
type = Trap
traps = trap@example.org
store = mysql

[policy grey]
context = grey
rule = true -> WARN code=${greylist} info=${greylist.info}

[policy dos]
context = dos
rule = true -> WARN code=${dos} count=${dos.count} info=${dos.info}

[policy main]
rule = true -> WARN code=${trap} info=${trap.info}
"""


def hosts():
    a = Daemon(db.section() + CONF)
    b = Daemon(db.section() + CONF)
    return a, b


def test_greylisted_on_one_host_passes_on_the_other():
    a, b = hosts()
    eq(result(a.ask(policy_context="grey", sender="roam@example.test"))[0], -1, "host A: first sight")
    eq(result(b.ask(policy_context="grey", sender="roam@example.test"))[0], -1, "host B: same triplet, waiting")
    time.sleep(2.2)
    eq(result(b.ask(policy_context="grey", sender="roam@example.test"))[0], 1, "host B passes it")
    eq(result(a.ask(policy_context="grey", sender="roam@example.test"))[0], 1, "and host A too")
    eq(db.value("SELECT COUNT(*) FROM greylist WHERE sender = 'roam@example.test'"), "1")


def test_dos_counts_across_hosts():
    a, b = hosts()
    ca, cb = a.client(), b.client()
    got = []
    for i in range(7):
        c = ca if i % 2 == 0 else cb
        got.append(result(c.ask(policy_context="dos", sender="shared@example.test")))
    eq([g[0] for g in got], [-1, -1, -1, -1, -1, 1, 1], "limit 5 over both hosts")
    eq([g[1]["count"] for g in got], ["1", "2", "3", "4", "5", "6", "6"])


def test_trap_hit_on_one_host_blocks_on_the_other():
    a, b = hosts()
    eq(result(b.ask(client_address="198.51.100.50"))[0], -1)
    eq(result(a.ask(client_address="198.51.100.50", recipient="trap@example.org"))[0], -2)
    eq(result(b.ask(client_address="198.51.100.50"))[0], 1, "blocked on the other host")


run_tests(globals())
