# SPDX-License-Identifier: GPL-2.0-or-later
"""Scale-out on a MariaDB Galera cluster: three nodes on loopback (own
datadirs and ports, the first bootstraps, the others join by SST), two
ppolicyd gateways with `host` listing every node, each preferring another
one. Greylisting through one gateway is seen by the other; the same new
triplets sent at once through both give one row each; a DOS limit holds
exactly over both although the writes meet in certification conflicts;
`kill -9` of a node under steady load leaves every request answered, with
few database answers of 0, and the gateways go back to the node once it
has rejoined (after breaker_cooldown). Prints the figures (FIGURES lines)."""

import threading
import time

from dbtest import parallel, result
from galera_cluster import Galera
from ppolicytest import Client, Daemon, check, encode, eq, request, run_tests

cluster = Galera(3)
COOLDOWN = 3

CONF = """
[ppolicyd]
min_workers = 4
max_workers = 12
breaker_cooldown = %ds

[module greylist]
type = Greylist
delay = 2
cacheNegative = 0
cachePositive = 0

[module dos]
type = DOS
params = sender
limitCount = 100
store = mysql
cacheNegative = 0
cachePositive = 0

[policy dos]
context = dos
rule = true -> WARN code=${dos} count=${dos.count} info=${dos.info}

[policy main]
rule = true -> WARN code=${greylist} info=${greylist.info}
""" % COOLDOWN


def section(first, **extra):
    return cluster.section(first, **extra)


def gateways():
    """Gateway A prefers node 0, gateway B node 1."""
    return Daemon(section(0) + CONF), Daemon(section(1) + CONF)


def triplets(tag, n):
    return [request(sender="s%d@%s.example.test" % (i, tag), recipient="r@example.net",
                    client_address="198.51.100.%d" % (i % 200 + 1)) for i in range(n)]


def codes(replies):
    return [result(r)[0] for r in replies]


def test_greylisted_on_one_gateway_passes_on_the_other():
    a, b = gateways()
    reqs = triplets("roam", 200)
    eq(codes(parallel(a.port, reqs, 8)), [-1] * 200, "gateway A greylists 200 new triplets")
    time.sleep(2.2)
    got = codes(parallel(b.port, reqs, 8))
    print("FIGURES greylist across gateways: %d/200 passed on B" % got.count(1))
    eq(got, [1] * 200, "gateway B passes them after the delay")
    a.stop(), b.stop()


def through_both(a, b, reqs):
    """The same requests through both gateways at once (8 connections each);
    the codes of A's answers, then B's."""
    out = {}
    threads = [threading.Thread(target=lambda g=g: out.__setitem__(g.port, parallel(g.port, reqs, 8)))
               for g in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes(out[a.port]) + codes(out[b.port])


def test_same_triplets_through_both_at_once():
    a, b = gateways()
    got = through_both(a, b, triplets("race", 160))
    zeros = got.count(0)
    rows = cluster.nodes[2].value(
        "SELECT COUNT(*) FROM greylist WHERE sender LIKE '%@race.example.test'")
    print("FIGURES concurrent triplets: %d answers, %d of 0, %s rows for 160 triplets"
          % (len(got), zeros, rows))
    eq(zeros, 0, "no answer of 0 (certification conflicts are retried)")
    eq(rows, "160", "one row per triplet")
    dup = cluster.nodes[1].value(
        "SELECT COUNT(*) FROM (SELECT sender FROM greylist WHERE sender LIKE '%@race.example.test'"
        " GROUP BY sender, recipient, client HAVING COUNT(*) > 1) d")
    eq(dup, "0")
    a.stop(), b.stop()


def test_dos_limit_exact_over_both():
    a, b = gateways()
    req = request(policy_context="dos", sender="flood@example.test")
    got = through_both(a, b, [req] * 75)
    print("FIGURES DOS limit 100 over both gateways, 150 requests: %d accepted, %d over, %d failed"
          % (got.count(-1), got.count(1), got.count(0)))
    eq((got.count(-1), got.count(1), got.count(0)), (100, 50, 0))
    a.stop(), b.stop()


def test_sync_wait_cost():
    """What wsrep_sync_wait = 1 costs a Greylist request (an upsert and a
    read in one transaction) on one connection, against sync_wait = no."""
    ms = {}
    for flag in ("no", "yes"):
        d = Daemon(section(1, sync_wait=flag) + CONF)
        c = d.client()
        reqs = triplets("sw" + flag, 300)
        c.ask(reqs[0])
        t0 = time.time()
        got = [result(c.ask(r))[0] for r in reqs[1:]]
        ms[flag] = (time.time() - t0) * 1000.0 / len(got)
        eq(got, [-1] * len(got))
        c.close()
        d.stop()
    print("FIGURES sync_wait: %.2f ms per greylist request with it, %.2f ms without (+%.2f ms)"
          % (ms["yes"], ms["no"], ms["yes"] - ms["no"]))


def test_expiry_only_where_the_lease_is():
    """Another gateway holds the greylist table's expiry lease: this one's
    maintenance leaves the expired rows to it; once the lease has run out
    it takes the lease and expires them."""
    n1, n2 = cluster.nodes[1], cluster.nodes[2]
    n1.sql("CREATE TABLE IF NOT EXISTS ppolicy_lease (name VARCHAR(64) NOT NULL, holder "
           "VARCHAR(255) NOT NULL, expire INT UNSIGNED NOT NULL, PRIMARY KEY (name)) ENGINE=InnoDB;"
           "REPLACE INTO ppolicy_lease VALUES ('expire greylist', 'mx2.example', UNIX_TIMESTAMP() + 3600);"
           "INSERT INTO greylist (sender, recipient, client, first_seen, last_seen, expire) VALUES "
           "('old@lease.example.test', 'r@example.net', '192.0.2.0/24', 1, 1, 2)")
    gone = "SELECT COUNT(*) FROM greylist WHERE sender = 'old@lease.example.test'"
    d = Daemon(section(1) + CONF, overrides=["ppolicyd.maintenance_interval=10s"])
    d.ask(sender="x@lease.example.test")
    time.sleep(11)
    eq(n2.value(gone), "1", "the lease holder's job: not expired here")
    eq(n2.value("SELECT holder FROM ppolicy_lease WHERE name = 'expire greylist'"), "mx2.example")
    n1.sql("UPDATE ppolicy_lease SET expire = UNIX_TIMESTAMP() - 1 WHERE name = 'expire greylist'")
    end = time.time() + 15
    while time.time() < end and n2.value(gone) != "0":
        time.sleep(0.5)
    eq(n2.value(gone), "0", "expired once the lease was free")
    check(n2.value("SELECT holder FROM ppolicy_lease WHERE name = 'expire greylist'") != "mx2.example",
          "the lease taken over")
    d.stop()


class Load:
    """Steady load through one gateway: new triplets on 3 connections, each
    request answered or counted as lost; (time, code) of every answer."""

    def __init__(self, gateway, tag, conns=3, interval=0.01):
        self.recs, self.unanswered, self.stop = [], 0, False
        self.threads = [threading.Thread(target=self.run, args=(gateway.port, "%s%d" % (tag, i), interval))
                        for i in range(conns)]
        for t in self.threads:
            t.start()

    def run(self, port, tag, interval):
        c, i = Client(port, timeout=30), 0
        while not self.stop:
            i += 1
            try:
                c.send_raw(encode(request(sender="l%d@%s.example.test" % (i, tag),
                                          recipient="r@example.net", client_address="192.0.2.1")))
                self.recs.append((time.time(), result(c.read_reply())[0]))
            except (OSError, AssertionError):
                self.unanswered += 1
                c = Client(port, timeout=30)
            time.sleep(interval)

    def finish(self):
        self.stop = True
        for t in self.threads:
            t.join()
        return self.recs


def connections(node):
    return cluster.connections(node)


def test_node_killed_under_load():
    a, b = gateways()
    node0 = cluster.nodes[0]
    la, lb = Load(a, "ka"), Load(b, "kb")
    time.sleep(3)
    check(connections(node0) > 0, "gateway A works on node 0")
    killed = time.time()
    node0.kill()
    time.sleep(8)
    recs_a, recs_b = la.finish(), lb.finish()
    zeros = [t for t, c in recs_a + recs_b if c == 0]
    after = [c for t, c in recs_a if t > killed]
    span = (max(zeros) - min(zeros)) if zeros else 0.0
    # Until every answer after the kill is one of the database again.
    last_bad = max([t for t, c in recs_a + recs_b if c == 0] + [killed])
    print("FIGURES kill -9 of node 0: %d answers (%d after the kill on A), %d unanswered, %d of 0 "
          "over %.2f s; database answers again %.2f s after the kill; %d/%d on B"
          % (len(recs_a) + len(recs_b), len(after), la.unanswered + lb.unanswered, len(zeros), span,
             last_bad - killed, len(recs_b), sum(1 for t, c in recs_b if c == -1)))
    eq(la.unanswered + lb.unanswered, 0, "every request answered")
    # Answers on A until the end of the load (a count would measure the
    # machine's speed, 80 ms a request under make check's parallel load).
    check(after and max(t for t, c in recs_a) > killed + 6, "gateway A went on answering after the kill")
    check(span < 3.0, "answers of 0 only for a moment")
    check(all(c == -1 for t, c in recs_a if t > killed + 3), "A greylists on another node")

    started = time.time()
    node0.start()
    cluster.wait_size(3)
    rejoined = time.time()
    # Gateway A returns to its preferred node within a cool-down of its
    # move (its workers each try it again then).
    la = Load(a, "ba", interval=0.05)
    back = None
    while time.time() < rejoined + COOLDOWN + 10:
        if connections(node0) > 0:
            back = time.time()
            break
        time.sleep(0.2)
    recs = la.finish()
    print("FIGURES node 0 rejoined %.1f s after its start; gateway A back on it %.1f s after that; "
          "%d of 0 meanwhile" % (rejoined - started, (back or time.time()) - rejoined,
                                  sum(1 for t, c in recs if c == 0)))
    check(back is not None, "gateway A back on node 0")
    eq([c for t, c in recs if c == 0], [], "no answer of 0 while returning")


run_tests(globals())
