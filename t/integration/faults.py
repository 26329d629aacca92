# SPDX-License-Identifier: GPL-2.0-or-later
"""Fault injection under load (issue 8). The load generator (t/bench/loadgen)
sends a steady RATE requests/s over 32 persistent connections to a ppolicyd
whose policy runs, for every request, DOS (shm counters), Dnsbl (the test
DNS server through t/lib/dnsproxy.py, nothing cached), LookupLDAP (slapd,
nothing cached) and, for a tenth of the recipients, Greylist (store =
mysql, nothing cached); the reply shows every module's code and the DOS
count. While the load runs, one fault per test:

  kill       kill -9 of a random worker every second for 10 s
  mariadb    MariaDB stopped for 20 s, then started again
  db_kills   MariaDB kills every connection of ppolicyd every 50 ms for 10 s
  dns_stop   the DNS server (and the address ppolicyd asks) stopped, restarted
  dns_slow   the DNS server answers only after the module timeout
  slapd      slapd stopped, then started again

and, with the database on a 3-node Galera cluster on loopback (one cluster,
t/lib/galera_cluster.py, started by the first of these tests and shared;
`host` lists the nodes, node 0 first):

  gal_kill   kill -9 of node 0, the preferred one; started again, it rejoins
  gal_ready  node 0 isolated from the group (gmcast.isolate): outside the
             primary component, wsrep_ready OFF; then let back in
  gal_down   every node stopped; the cluster bootstrapped again

A node killed or not ready: the daemon moves to the next node (greylist
answers only -1 from FAILOVER seconds after the node is gone until it is
back) and returns to node 0 within breaker_cooldown (and a margin) of its
rejoining. Every node down: the database module answers 0 (its tempfail
code; the policy decides), every request is answered in time.

For each: every request is answered with a valid reply within
request_timeout (the policy's; the deadline's default_action only for a
rare request on a busy machine) or its connection is closed without a reply
(Postfix retries it: counted; only a kill -9 of the worker serving it may do
that); every module code in a reply is that of its own request (some
clients are listed, some recipients are in the directory: a late answer
taken for another request's shows); the fault really happened (the module
answered 0 during it) and the module recovers by itself; the server catches
up with the offered load within seconds of the fault's end; the pool is
back to one worker per connection and a spare under load, then to
min_workers with no stuck (busy), leaked or zombie process and no fd leaked
by the master; and no greylist row or DOS counter is lost or doubled: each
DOS reply's count is unique per sender and a final count equals the replies
(plus at most the requests whose outcome is unknown: closed without reply),
and each triplet's greylist row has exactly as many tries as requests
answered -1 (plus at most the unknown ones: closed, or code 0 after a
statement may have reached the server). A table with the numbers per
fault ends the log. FAULTS_RATE changes the rate (default 800)."""

import atexit
import collections
import os
import random
import re
import shutil
import time
import urllib.request

import dnsserver
import loadphase
from dnsproxy import DnsProxy
from galera_cluster import Galera
from mariadb import MariaDB
from ppolicytest import Daemon, check, eq, free_port, request, run_tests, workdir
from slapd import Slapd

RATE = int(os.environ.get("FAULTS_RATE", "800"))
CONNS = 32
MIN_WORKERS = 4  # the pool grows to CONNS + 1 (one spare) under load, then shrinks back
DISTINCT = 50  # clients 10.0.0.0-49, senders, recipients rcpt0-49 (loadgen -D)
REQUEST_TIMEOUT = 2.0
DEADLINE = "DUNNO"  # default_action: the answer past request_timeout
DNS_TIMEOUT = 1.0
DNS_LATE = 2.5  # the late DNS server answers after this
COOLDOWN = 2.0
WARM = 3.0  # seconds of load before the fault
AFTER = 7.0  # seconds of load after it
ENV = {"LDAPNOINIT": "1"}
# Clients 10.0.0.N with N % 5 == 0 are listed (t/dns-zones/load.test.zone);
# recipients rcptN@example.org with N % 5 == 0 are in the directory: every
# reply's Dnsbl and LookupLDAP codes must be those of its own request.
DNSBL_DATA = "LOAD  bl.load.test  ip4  127.0.0.2  1\n"
LDIF = "".join("""
dn: uid=rcpt%d,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: rcpt%d
cn: Recipient %d
sn: Recipient
mail: rcpt%d@example.org
""" % (n, n, n, n) for n in range(0, DISTINCT, 5))

db = MariaDB()
dns = dnsserver.shared()
DNSBL_FILE = os.path.join(workdir("faults"), "dnsbl.dat")
with open(DNSBL_FILE, "w") as f:
    f.write(DNSBL_DATA)
atexit.register(shutil.rmtree, os.path.dirname(DNSBL_FILE), True)

CONF = """
[ppolicyd]
min_workers = %(min)d
worker_max_idle = 2s
request_timeout = %(timeout)dms
breaker_failures = 3
breaker_cooldown = %(cooldown)ds
log_decisions = no
stats_listen = 127.0.0.1:%(stats)d

[dns]
nameservers = 127.0.0.1
port = %(dns)d
timeout = %(dns_timeout)dms

[module greylist]
type = Greylist
domainSubject = no
cachePositive = 0
cacheNegative = 0
cacheUnknown = 0

[module dos]
type = DOS
params = sender
limitCount = 1000000

[module bl]
type = Dnsbl
dnsbl = LOAD
dataFile = %(data)s
cachePositive = 0
cacheNegative = 0
cacheUnknown = 0

[module ldap]
type = LookupLDAP
param = recipient
uri = %(ldap)s
base = ou=people,dc=example,dc=org
filter = (mail=%%m)
bind_dn = cn=policyd,ou=services,dc=example,dc=org
bind_pass = policyd-secret
timeout = 1s
network_timeout = 1s
cachePositive = 0
cacheNegative = 0
cacheUnknown = 0

[policy main]
set g = if(recipient =~ /^rcpt[0-9]*0@/, greylist, 9)
rule = true -> WARN g=${g} d=${dos} n=${dos.count} b=${bl} l=${ldap}
    ${if(g == 0, "gi=" + greylist.info, "")}
"""

GREY = re.compile(r"^rcpt[0-9]*0@")
ROWS = []  # the table at the end of the log


class Rig:
    """The servers and the daemon of one fault test."""

    def __init__(self, store=None):
        """store: the database (MariaDB, or a Galera cluster: its [database]
        section then lists every node, node 0 first)."""
        self.db = store = store or db
        self.dns = dnsserver.shared()
        self.proxy = DnsProxy(self.dns.port, delay=DNS_LATE)
        self.ldap = Slapd(extra_ldif=LDIF)
        self.stats = free_port()
        conf = store.section(connect_timeout="1s", read_timeout="1s", write_timeout="1s") + CONF % {
            "min": MIN_WORKERS, "timeout": REQUEST_TIMEOUT * 1000, "cooldown": COOLDOWN, "stats": self.stats,
            "dns": self.proxy.port, "dns_timeout": DNS_TIMEOUT * 1000, "data": DNSBL_FILE, "ldap": self.ldap.uri}
        self.d = Daemon(conf, env=ENV)
        self.d.wait_workers(lambda n: n == MIN_WORKERS, what="min_workers started")
        self.fds0 = self.fds()
        for client, rcpt, want in (("10.0.0.1", "rcpt11@example.org", "g=9 d=-1 n=1 b=-1 l=-1"),
                                   ("10.0.0.5", "rcpt10@example.org", "g=-1 d=-1 n=2 b=1 l=1")):
            eq(self.d.ask(sender="warm@x.test", recipient=rcpt, client_address=client), "WARN " + want,
               "every module works before the fault")
        # Warm up: the workers open their LDAP and database connections on
        # first use (32 at once cost a few hundred ms on 2 cores, which
        # belongs to no fault).
        loadphase.Load(self.d.port, RATE, CONNS, 1.5, "warm", workdir=self.d.dir).wait()

    def metric(self, name):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.stats, timeout=5).read().decode()
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.d.pid))

    def strays(self):
        """Processes of this daemon (its configuration file in their command
        line) that are neither the master nor a live child of it, and zombie
        children."""
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == self.d.pid:
                continue
            try:
                cmd = open("/proc/%s/cmdline" % p, "rb").read().decode(errors="replace")
                st = open("/proc/%s/stat" % p).read()
            except OSError:
                continue
            fields = st[st.rindex(")") + 2:].split()
            if fields[0] == "Z" and int(fields[1]) == self.d.pid:
                out.append("%s zombie" % p)
            elif self.d.conf in cmd and int(fields[1]) != self.d.pid:
                out.append("%s (parent %s)" % (p, fields[1]))
        return out


def phase(rig, name, fault, fault_seconds):
    """Run the load, inject `fault` after WARM seconds, account for every
    request. `fault` returns (start, in_place, lifting, end, details):
    wall-clock times of its start, of the moment it is complete (e.g. the
    server has exited), of the start of its end (e.g. the server starts) and
    of its end (the server is back)."""
    load = loadphase.Load(rig.d.port, RATE, CONNS, WARM + fault_seconds + AFTER, name, workdir=rig.d.dir)
    time.sleep(WARM)
    times = fault()
    # The pool under load: one worker per connection and one spare, again.
    rig.d.wait_workers(lambda n: n == CONNS + 1, timeout=AFTER - 2,
                       what="%s: pool of %d workers under load after the fault" % (name, CONNS + 1))
    recs = load.wait()
    # Without load: back to min_workers, nobody left busy, nothing leaked.
    rig.d.wait_workers(lambda n: n == MIN_WORKERS, timeout=15, what="%s: pool back to %d" % (name, MIN_WORKERS))
    deadline = time.time() + 10
    while time.time() < deadline and rig.metric('ppolicy_workers{state="busy"}') != 0:
        time.sleep(0.1)
    eq(rig.metric('ppolicy_workers{state="busy"}'), 0, "%s: busy workers after the load" % name)
    eq(rig.strays(), [], "%s: stray processes" % name)
    deadline = time.time() + 5  # (the statistics connections just closed)
    while time.time() < deadline and rig.fds() > rig.fds0:
        time.sleep(0.1)
    check(rig.fds() <= rig.fds0, "%s: the master's fds grew from %d to %d" % (name, rig.fds0, rig.fds()))
    return recs, times[:4], times[4]


def dos_check(rig, recs):
    """(counted, lost, doubled): every reply's count is unique per sender and
    the final count (asked now) equals the replies plus at most the requests
    without a known outcome."""
    seen = collections.defaultdict(list)
    unknown = collections.Counter()
    for r in recs:
        f = loadphase.fields(r.reply) if r.status == "ok" else {}
        if f.get("d") == "-1":
            seen[r.sender].append(float(f["n"]))
        else:
            unknown[r.sender] += 1
    lost = doubled = counted = 0
    c = rig.d.client(timeout=10)
    try:
        for sender in sorted(set(r.sender for r in recs)):
            f = loadphase.fields(c.ask(request(sender=sender, recipient="probe@example.org",
                                               client_address="10.0.0.1")))
            final = float(f["n"]) - 1  # the probe counted itself
            counts = seen[sender]
            counted += len(counts)
            dups = len(counts) - len(set(counts))
            lost += dups + sum(1 for n in counts if n > final)  # an increment overwritten / undone
            doubled += max(0, final - len(counts) - unknown[sender])
    finally:
        c.close()
    return counted, lost, int(doubled)


# Errors after which no greylist statement can have reached the server (any
# other error, e.g. "Can't connect" after a retry, may follow a statement that
# the server executed before the connection was lost).
NOT_RUN = re.compile(r"circuit breaker open|no time left")


def greylist_check(store, tag, recs):
    """(triplets, lost, doubled): tries of each triplet's row against the
    requests answered -1, plus at most the ones without a known outcome."""
    want = collections.Counter()
    unknown = collections.Counter()
    zero = 0
    for r in recs:
        if not GREY.match(r.recipient):
            continue
        key = (r.sender, r.recipient)
        f = loadphase.fields(r.reply) if r.status == "ok" else {}
        g = f.get("g")
        if g == "-1":
            want[key] += 1
        elif g == "0":
            zero += 1
            if not NOT_RUN.search(f.get("gi", "")):
                unknown[key] += 1
        elif g is None:  # no reply, or the deadline's: the module may have run
            unknown[key] += 1
        else:
            raise AssertionError("greylist answered %r" % r.reply)
    rows = store.sql("SELECT sender, recipient, client, tries, passes FROM greylist WHERE sender LIKE '%%.%s.test'"
                     % tag)
    have = {}
    for sender, recipient, client, tries, passes in rows:
        eq(client, "10.0.0.0/24", "greylist client network")
        eq(passes, "0", "no triplet passed (delay 600)")
        have[(sender, recipient)] = int(tries)
    lost = doubled = 0
    for key in set(want) | set(have) | set(unknown):
        tries = have.get(key, 0)
        lost += max(0, want[key] - tries)
        doubled += max(0, tries - want[key] - unknown[key])
    return len(have), lost, doubled, zero, sum(unknown.values())


def module_codes(recs, field, t0, t1):
    """Codes of `field` in the replies ending between t0 and t1."""
    out = []
    for r in recs:
        if t0 <= r.end < t1 and r.status == "ok":
            v = loadphase.fields(r.reply).get(field)
            if v is not None and v != "9":
                out.append(v)
    return out


def module_recovery(recs, field, fault_end):
    """Seconds after fault_end until the first reply with a non-zero code
    (None: none came)."""
    for r in sorted(recs, key=lambda r: r.end):
        if r.status == "ok" and r.end >= fault_end and loadphase.fields(r.reply).get(field) not in (None, "0", "9"):
            return r.end - fault_end
    return None


def zeros(codes):
    return sum(1 for c in codes if c == "0")


def latency_recovery(recs, fault_end, limit=0.1):
    """Seconds after fault_end until no request waits longer than `limit`
    after its due time (reported, not asserted: any stall of a busy machine
    would count)."""
    late = [r.end for r in recs if r.end >= fault_end and r.status == "ok" and r.end - r.due > limit]
    return max(late) - fault_end if late else 0.0


def wrong_answers(recs):
    """Replies whose codes are not those of their own request (0 is allowed:
    a module failing is the fault's business, answering another request's
    question is not)."""
    out = []
    for r in recs:
        if r.status != "ok" or r.reply == DEADLINE:
            continue
        f = loadphase.fields(r.reply)
        listed = int(r.client.rsplit(".", 1)[1]) % 5 == 0
        found = int(r.recipient[4:r.recipient.index("@")]) % 5 == 0
        want = {"g": ("-1", "0") if GREY.match(r.recipient) else ("9",), "d": ("-1",),
                "b": ("0", "1" if listed else "-1"), "l": ("0", "1" if found else "-1")}
        if any(f.get(k) not in v for k, v in want.items()):
            out.append(r)
    return out


def evaluate(rig, name, recs, times, details, field=None, closed_max=0):
    """Assert the per-fault properties; add the line of the table first."""
    start, in_place, lifting, end = times
    stop = max(r.end for r in recs)
    replies = [r for r in recs if r.status in ("ok", "invalid", "unexpected")]
    invalid = [r for r in replies if r.status != "ok" or not (r.reply.startswith("WARN g=") or r.reply == DEADLINE)]
    deadline = [r for r in replies if r.status == "ok" and r.reply == DEADLINE]
    wrong = wrong_answers(recs)
    closed = [r for r in recs if r.status == "closed"]
    timeouts = [r for r in recs if r.status == "timeout"]
    service = [r.end - r.sent for r in replies]
    due = [r.end - r.due for r in replies]
    rec_s = loadphase.recovery(recs, end, RATE)
    lat_s = latency_recovery(recs, end)
    during = [n for _, n in loadphase.per_second(recs, start, end)]
    mod_rec = module_recovery(recs, field, end) if field else None
    counted, dos_lost, dos_doubled = dos_check(rig, recs)
    triplets, grey_lost, grey_doubled, grey_zero, grey_unknown = greylist_check(rig.db, name, recs)
    ROWS.append((name, len(recs), len(replies), len(invalid), len(wrong), len(deadline), len(closed) + len(timeouts),
                 percentile_ms(service, 99), max(service) * 1000, percentile_ms(due, 99), max(due) * 1000,
                 min(during or [0]),
                 rec_s, lat_s, mod_rec, "%d/%d/%d" % (triplets, grey_lost, grey_doubled),
                 "%d/%d/%d" % (counted, dos_lost, dos_doubled), details))
    print("    %s: %s; greylist code 0: %d (outcome unknown: %d)" % (name, details, grey_zero, grey_unknown))
    eq(len(invalid), 0, "%s: invalid replies (first: %r)" % (name, invalid[:1]))
    eq(len(wrong), 0, "%s: replies with another request's answer (first: %r)" % (name, wrong[:1]))
    eq(len(timeouts), 0, "%s: requests without a reply within 10 s" % name)
    check(len(closed) <= closed_max, "%s: %d connections closed without a reply (at most %d)" %
          (name, len(closed), closed_max))
    check(max(service) <= REQUEST_TIMEOUT + 0.5, "%s: slowest reply %.3fs (request_timeout %.1fs)" %
          (name, max(service), REQUEST_TIMEOUT))
    # A request past request_timeout gets default_action: valid, but a stall
    # of ppolicyd if more than a rare one (a busy machine) does.
    check(len(deadline) <= len(recs) // 200, "%s: %d answers of the deadline (default_action)" %
          (name, len(deadline)))
    check(rec_s is not None and rec_s <= 5, "%s: the %d req/s not caught up within 5 s of the fault's end: %s"
          % (name, RATE, loadphase.per_second(recs, end, stop)))
    eq((dos_lost, dos_doubled), (0, 0), "%s: DOS counts lost, doubled" % name)
    eq((grey_lost, grey_doubled), (0, 0), "%s: greylist tries lost, doubled" % name)
    check(triplets > 0, "%s: greylist rows written" % name)
    # The modules work before the fault (a rare 0: a DNS answer later than
    # its timeout on a busy machine), the fault shows (0 from all of them),
    # and the module answers again soon after the fault and from then on.
    for f in ("g", "b", "l"):
        before = module_codes(recs, f, 0, start)
        check(before and zeros(before) <= len(before) // 100, "%s: module %s answered 0 before the fault: %s" %
              (name, f, collections.Counter(before)))
    if field:
        codes = module_codes(recs, field, in_place + 1.0, lifting)
        check(codes and zeros(codes) == len(codes), "%s: the fault did not show: %s" %
              (name, collections.Counter(codes)))
        check(mod_rec is not None and mod_rec <= COOLDOWN + 4, "%s: module answered 0 until %s s after the fault"
              % (name, mod_rec))
        after = module_codes(recs, field, end + mod_rec + 1.0, stop + 1)
        t0 = min(r.due for r in recs)
        check(zeros(after) <= len(after) // 100, "%s: module %s after its recovery: %s (load from 0 to %.2fs; fault"
              " %.2f, in place %.2f, lifting %.2f, over %.2f; answers again at %.2f; zeros at %s)" %
              (name, field, collections.Counter(after), stop - t0, start - t0, in_place - t0, lifting - t0, end - t0,
               end + mod_rec - t0, ["%.2f %s" % (r.end - t0, r.reply) for r in recs if r.end >= end + mod_rec + 1.0
                                    and loadphase.fields(r.reply).get(field) == "0"][:3]))


def percentile_ms(values, p):
    return loadphase.percentile(values, p) * 1000


def test_kill_random_workers():
    rig = Rig()

    def fault():
        start = time.time()
        kills = 0
        for _ in range(10):
            os.kill(random.choice(rig.d.workers()), 9)
            kills += 1
            time.sleep(1)
        end = time.time()
        return start, start, end, end, "%d workers killed, 1/s" % kills

    recs, times, details = phase(rig, "kill", fault, 10)
    rig.d.wait_log(r"died by signal 9", count=10)
    # A killed worker closes its connection; a request it was serving is lost
    # (Postfix retries it): at most one per kill.
    evaluate(rig, "kill", recs, times, details, closed_max=10)


def outage(stop, start, seconds, what):
    """A fault function: stop(), wait, start() (also when the wait fails)."""

    def fault():
        t0 = time.time()
        stop()
        down = time.time()
        try:
            time.sleep(max(0.0, seconds - (down - t0)))
        finally:
            lifting = time.time()
            start()
        return t0, down, lifting, time.time(), "%s down %.1fs" % (what, time.time() - t0)

    return fault


def test_mariadb_stopped():
    rig = Rig()
    evaluate(rig, "mariadb", *phase(rig, "mariadb", outage(db.stop, db.start, 20, "MariaDB"), 20), field="g")


def test_mariadb_kills_connections():
    """Every connection of ppolicyd killed by the server (KILL CONNECTION, as
    by a DBA, a proxy or a failover) every 50 ms for 10 s: a request whose
    greylist statement already ran must not run it again on a new
    connection (the tries would be doubled)."""
    rig = Rig()

    def fault():
        start = time.time()
        kills = 0
        while time.time() < start + 10:
            ids = [r[0] for r in db.sql("SELECT id FROM information_schema.processlist WHERE user = '%s'" % db.user)]
            if ids:
                try:
                    db.sql(";".join("KILL CONNECTION %s" % i for i in ids))
                except AssertionError:  # a connection ended meanwhile: the others were killed
                    pass
                kills += len(ids)
            time.sleep(0.05)
        end = time.time()
        return start, start, end, end, "%d database connections killed in 10s" % kills

    recs, times, details = phase(rig, "db_kills", fault, 10)
    evaluate(rig, "db_kills", recs, times, details)
    check(int(details.split()[0]) >= 100, "connections killed: " + details)


def test_dns_stopped():
    """named and the address ppolicyd asks (the proxy) both stop answering."""
    rig = Rig()

    def stop():
        rig.proxy.stop()
        dns.stop()

    def start():
        dns.start()
        rig.proxy.start()

    evaluate(rig, "dns_stop", *phase(rig, "dns_stop", outage(stop, start, 5, "DNS"), 5), field="b")


def test_dns_answers_late():
    rig = Rig()

    def fault():
        start = time.time()
        rig.proxy.slow(True)
        try:
            time.sleep(5)
        finally:
            rig.proxy.slow(False)
        end = time.time()
        return start, start, end, end, "DNS answers %.1fs late (timeout %.1fs) for %.1fs" % (
            DNS_LATE, DNS_TIMEOUT, time.time() - start)

    evaluate(rig, "dns_slow", *phase(rig, "dns_slow", fault, 5), field="b")


def test_slapd_stopped():
    rig = Rig()
    evaluate(rig, "slapd", *phase(rig, "slapd", outage(rig.ldap.stop, rig.ldap.start, 5, "slapd"), 5), field="l")


# The Galera rows: one cluster for all of them (its start is their cost).
FAILOVER = 4.0  # s after a node is gone until every greylist answer comes from another node
_cluster = []


def cluster():
    if not _cluster:
        _cluster.append(Galera(3))
    return _cluster[0]


def back_on(c, node, since, seconds):
    """Seconds after `since` until the daemon has a connection to `node`
    again (None: not within `seconds`)."""
    end = since + seconds
    while time.time() < end:
        if c.connections(node) > 0:
            return time.time() - since
        time.sleep(0.2)
    return None


def cluster_phase(name, fault, fault_seconds, field=None):
    """One Galera row: the shared cluster, a daemon listing its nodes, the
    load and `fault` (returns start, in_place, lifting, end, details and the
    seconds until the daemon was back on node 0); the usual accounting, then
    the failover: between in_place + FAILOVER and lifting the greylist
    answers are those of another node (no 0), unless `field` says the
    fault must show (every node down), and the daemon returns to node 0."""
    c = cluster()
    rig = Rig(c)
    check(c.connections(c.nodes[0]) > 0, "%s: the daemon works on node 0 (the first host)" % name)
    out = {}

    def timed():
        t = fault()
        out["back"] = t[5]
        check(time.time() <= t[0] + fault_seconds, "%s: the fault took %.1fs, more than the %ds planned"
              % (name, time.time() - t[0], fault_seconds))
        return t[:5]

    recs, times, details = phase(rig, name, timed, fault_seconds)
    start, in_place, lifting, end = times
    codes = module_codes(recs, "g", in_place + FAILOVER, lifting)
    zero_times = [r.end for r in recs
                  if start <= r.end and r.status == "ok" and loadphase.fields(r.reply).get("g") == "0"]
    if zero_times:
        details += "; g=0 %d times over %.1fs" % (len(zero_times), max(zero_times) - min(zero_times))
    back = out["back"]
    details += "; back on node 0 %ss after it was" % ("-" if back is None else "%.1f" % back)
    evaluate(rig, name, recs, times, details, field=field)
    if not field:
        check(codes and zeros(codes) == 0, "%s: greylist answered 0 on the other nodes (%s from %.1fs after the"
              " node was gone)" % (name, collections.Counter(codes), FAILOVER))
    check(back is not None, "%s: the daemon not back on node 0 within %ds of its return" % (name, COOLDOWN + 5))
    rig.d.stop()


def test_galera_node_killed():
    c = cluster()
    node = c.nodes[0]

    def fault():
        start = time.time()
        node.kill()
        down = time.time()
        time.sleep(5)
        lifting = time.time()
        node.start()  # rejoins: Synced
        c.wait_size(3)
        end = time.time()
        back = back_on(c, node, end, COOLDOWN + 5)
        return start, down, lifting, end, "node 0 killed -9, down %.1fs, rejoined in %.1fs" % (
            lifting - start, end - lifting), back

    cluster_phase("gal_kill", fault, 25)


def test_galera_node_not_ready():
    c = cluster()
    node = c.nodes[0]

    def isolate(on):
        node.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=%d'" % on, db=None)

    def fault():
        start = time.time()
        isolate(1)
        try:
            while node.status("wsrep_ready") != "OFF":
                check(time.time() < start + 15, "node 0 still ready 15s after its isolation")
                time.sleep(0.1)
            in_place = time.time()
            time.sleep(5)
        finally:
            lifting = time.time()
            isolate(0)
        c.wait_size(3)
        end = time.time()
        back = back_on(c, node, end, COOLDOWN + 5)
        return start, in_place, lifting, end, "node 0 isolated, not ready after %.1fs for %.1fs, Synced again " \
            "in %.1fs" % (in_place - start, lifting - in_place, end - lifting), back

    cluster_phase("gal_ready", fault, 22)


def test_galera_all_nodes_down():
    c = cluster()

    def fault():
        start = time.time()
        for i in (2, 1, 0):  # node 0 last: it may bootstrap the cluster again
            c.nodes[i].stop()
        down = time.time()
        try:
            time.sleep(5)
        finally:
            lifting = time.time()
            c.nodes[0].bootstrap = True
            for n in c.nodes:
                n.start()
        c.wait_size(3)
        end = time.time()
        back = back_on(c, c.nodes[0], end, COOLDOWN + 5)
        return start, down, lifting, end, "every node stopped in %.1fs, down %.1fs, cluster back in %.1fs" % (
            down - start, lifting - down, end - lifting), back

    cluster_phase("gal_down", fault, 30, field="g")


def test_table():
    """The numbers per fault (one line each), for the record."""
    print("    %d req/s over %d connections; request_timeout %.1fs; latency: service = sent to reply, due = from"
          " the request's scheduled time;" % (RATE, CONNS, REQUEST_TIMEOUT))
    print("    wrong: a module code not of its own request; dl: answers of the deadline (default_action); min/s:"
          " fewest replies in a second of the fault; rec: s after the fault until the backlog is gone, lat: until"
          " every due latency < 100ms, mod: until the module answers again; grey: rows/lost/doubled tries,"
          " dos: counted/lost/doubled")
    print("    %-9s %6s %6s %5s %5s %3s %6s %6s %6s %6s %6s %5s %4s %4s %4s %-10s %-13s %s" % (
        "fault", "sent", "answd", "inval", "wrong", "dl", "closed", "p99svc", "maxsvc", "p99due", "maxdue", "min/s",
        "rec", "lat", "mod", "grey", "dos", "fault"))
    for row in ROWS:
        (name, sent, answered, invalid, wrong, dl, closed, p99, mx, p99due, mxdue, mn, rec, lat, mod, grey, dos_,
         details) = row
        print("    %-9s %6d %6d %5d %5d %3d %6d %6.0f %6.0f %6.0f %6.0f %5d %4s %4.1f %4s %-10s %-13s %s" % (
            name, sent, answered, invalid, wrong, dl, closed, p99, mx, p99due, mxdue, mn,
            "-" if rec is None else "%.1f" % rec, lat, "-" if mod is None else "%.1f" % mod, grey, dos_, details))
    check(ROWS, "no fault test produced numbers")


run_tests(globals())
