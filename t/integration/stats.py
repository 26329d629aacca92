# SPDX-License-Identifier: GPL-2.0-or-later
"""Statistics: the counters served at http://stats_listen/metrics (and logged
on SIGUSR1) equal what a load generator sent: requests, actions, rule
matches, module calls, cache hits and misses, return codes, latency
histogram counts, workers. The text passes a strict exposition-format
parser (t/lib/promparse.py, in place of promtool). Only GET/HEAD on
/metrics; peers outside stats_allow get 403; a non-loopback stats_listen
needs an explicit stats_allow.

The load generator is a small Python client (N requests over C concurrent
connections, each answer checked); the C++ load generator of t/bench can
replace it: the expected counters only depend on the request mix."""

import os
import re
import signal
import threading
import time

import promparse
from ppolicytest import Client, Daemon, check, eq, free_port, ppolicyd, request, run_tests, workdir

CONFIG = """
[ppolicyd]
min_workers = 2
stats_listen = 127.0.0.1:%(stats)d

[module dummy]
type = Dummy

[policy main]
rule = sender_domain == "reject.test" -> REJECT 5.7.1 rejected by test
rule = sender_domain == "defer.test" -> DEFER 4.7.1 deferred by test
rule = sender_domain == "ok.test" -> OK
rule = sender_domain == "dummy.test" && dummy == 0 -> PREPEND X-Dummy: ${dummy.info}
default = DUNNO
"""

# The request mix: sender domain -> (expected action word, rule number).
MIX = [("reject.test", "REJECT", 1), ("defer.test", "DEFER", 2), ("ok.test", "OK", 3),
       ("dummy.test", "PREPEND", 4), ("other.test", "DUNNO", 5)]
CLIENTS = ["198.51.100.%d" % i for i in range(1, 11)]  # Dummy caches per client address


metrics = promparse.fetch
scrape = promparse.scrape
wait_for = promparse.wait_for


def load(port, per_kind, connections):
    """Send per_kind requests of every kind of MIX over `connections`
    concurrent persistent connections; every answer is checked."""
    jobs = [(dom, word, i) for dom, word, _ in MIX for i in range(per_kind)]
    chunks = [jobs[i::connections] for i in range(connections)]
    errors = []
    # Every connection is open (and holds a worker) for the whole run.
    opened, done = threading.Barrier(connections), threading.Barrier(connections)

    def run(chunk):
        c = Client(port)
        try:
            opened.wait(timeout=30)
            for dom, word, i in chunk:
                got = c.ask(sender="user%d@%s" % (i, dom), client_address=CLIENTS[i % len(CLIENTS)])
                if got is None or got.split()[0] != word:
                    errors.append("%s: got %r, want %s" % (dom, got, word))
            done.wait(timeout=30)
        except Exception as e:
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(ch,)) for ch in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "wrong answers: %s" % errors[:5])
    return len(jobs)


def test_counters_equal_the_load():
    sport = free_port()
    d = Daemon(CONFIG % {"stats": sport})
    d.wait_log(r"statistics served at http://127\.0\.0\.1:%d/metrics" % sport)
    # Phase 1, one connection: the first request of each client address
    # fills Dummy's cache entry (exactly one miss per address).
    c = d.client()
    for ip in CLIENTS:
        check(c.ask(sender="first@dummy.test", client_address=ip).startswith("PREPEND"))
    c.close()
    # Phase 2: the mix over 8 concurrent connections; Dummy only hits.
    per_kind, conns = 120, 8
    n = load(d.port, per_kind, conns)
    total = n + len(CLIENTS)
    s = wait_for(sport, "ppolicy_requests_total", total)
    v = lambda name, **kw: promparse.value(s, name, **kw)
    for dom, word, rule in MIX:
        extra = len(CLIENTS) if word == "PREPEND" else 0
        eq(v("ppolicy_actions_total", action=word), per_kind + extra, "actions %s" % word)
        eq(v("ppolicy_rule_matches_total", policy="main", rule=str(rule), line=str(9 + rule)),
           per_kind + extra, "rule %d matches" % rule)
    eq(promparse.total(s, "ppolicy_actions_total"), total, "sum of actions")
    dummy_calls = per_kind + len(CLIENTS)
    eq(v("ppolicy_module_calls_total", module="dummy"), dummy_calls, "dummy calls")
    eq(v("ppolicy_module_cache_misses_total", module="dummy"), len(CLIENTS), "dummy cache misses")
    eq(v("ppolicy_module_cache_hits_total", module="dummy"), per_kind, "dummy cache hits")
    eq(v("ppolicy_module_results_total", module="dummy", code="0"), dummy_calls, "dummy code 0")
    eq(promparse.total(s, "ppolicy_module_results_total", module="dummy"), dummy_calls, "dummy codes")
    eq(v("ppolicy_module_failures_total", module="dummy"), 0, "dummy failures")
    eq(v("ppolicy_request_duration_seconds_count"), total, "latency histogram count")
    eq(v("ppolicy_request_duration_seconds_bucket", le="+Inf"), total, "latency +Inf bucket")
    check(0 < v("ppolicy_request_duration_seconds_sum") < total * 0.1, "latency sum")
    eq(v("ppolicy_module_duration_seconds_count", module="dummy"), dummy_calls, "module latency count")
    eq(v("ppolicy_request_timeouts_total"), 0)
    eq(v("ppolicy_requests_without_policy_total"), 0)
    # The pool: 8 connections held 8 workers at once; all idle again now.
    check(v("ppolicy_workers_started_total") >= conns, "workers started")
    eq(v("ppolicy_workers", state="busy"), 0, "busy workers")
    eq(v("ppolicy_workers", state="busy") + v("ppolicy_workers", state="idle"), len(d.workers()), "pool size")
    eq(v("ppolicy_workers_max"), 1000)
    eq(v("ppolicy_config_generation"), 1)
    eq(v("ppolicy_breakers_open"), 0)
    check(v("ppolicy_shm_hits_total", table="cache") >= per_kind, "shm cache hits")

    # SIGUSR1 logs the same numbers.
    d.signal(signal.SIGUSR1)
    d.wait_log(r"statistics: ppolicy_requests_total %d\n" % total)
    d.wait_log(r"statistics: ppolicy_actions_total .*\{action=\"REJECT\"\}=%d" % per_kind)
    d.wait_log(r"statistics: ppolicy_module_cache_hits_total \{module=\"dummy\"\}=%d" % per_kind)
    d.wait_log(r"statistics: circuit breakers: every backend healthy")

    # A reload keeps the counters (shared memory) and counts the generation.
    d.signal(signal.SIGHUP)
    d.wait_log(r"configuration reloaded \(generation 2\)")
    s, _ = scrape(sport)
    eq(promparse.value(s, "ppolicy_requests_total"), total, "requests after reload")
    eq(promparse.value(s, "ppolicy_config_generation"), 2)


def test_exposition_is_strictly_valid():
    sport = free_port()
    d = Daemon(CONFIG % {"stats": sport})
    d.wait_log(r"statistics served at")
    load(d.port, 5, 2)
    wait_for(sport, "ppolicy_requests_total", 25)
    _, body = scrape(sport)
    # One TYPE line per family, histograms as _bucket/_sum/_count.
    types = re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M)
    eq(len(types), len(set(t[0] for t in types)), "TYPE lines per family")
    check(("ppolicy_request_duration_seconds", "histogram") in types, "request latency histogram")
    check(("ppolicy_module_duration_seconds", "histogram") in types, "module latency histogram")
    check("_microseconds" not in body, "sums must be in seconds")
    status, headers, text = metrics(sport, method="HEAD")
    eq(status, 200, "HEAD")
    eq(text, "", "HEAD body")
    eq(metrics(sport, path="/nothing")[0], 404, "unknown path")
    check(metrics(sport, method="POST")[0] in (405, 501), "POST must be refused")


def test_build_start_and_reload_gauges():
    """ppolicy_build_info carries the version; process_start_time_seconds is
    the master's start; a reload that fails sets
    ppolicy_config_last_reload_successful to 0 and keeps the success time, a
    good one sets 1 and a new time. Return codes that never occurred have no
    ppolicy_module_results_total series."""
    sport = free_port()
    t0 = int(time.time())
    d = Daemon(CONFIG % {"stats": sport})
    d.wait_log(r"statistics served at")
    load(d.port, 2, 1)
    s = wait_for(sport, "ppolicy_requests_total", 10)
    version = ppolicyd("-V").stdout.split()[1]
    v = lambda name, **labels: promparse.value(s, name, **labels)
    eq(v("ppolicy_build_info", version=version), 1, "build info")
    start = v("process_start_time_seconds")
    check(t0 - 1 <= start <= time.time() + 1, "start time %s" % start)
    eq(v("ppolicy_config_last_reload_successful"), 1, "after the start")
    first = v("ppolicy_config_last_reload_success_timestamp_seconds")
    check(t0 - 1 <= first <= time.time() + 1, "load time %s" % first)
    codes = [dict(ls).get("code") for (n, ls) in s if n == "ppolicy_module_results_total"]
    eq(codes, ["0"], "only the return codes that occurred")
    good = open(d.conf).read()
    d.write_config(good + "[policy broken]\nrule = nosuch == 1 -> OK\n")
    os.kill(d.pid, signal.SIGHUP)
    d.wait_log(r"reload failed")
    s = wait_for(sport, "ppolicy_config_last_reload_successful", 0)
    eq(v("ppolicy_config_last_reload_success_timestamp_seconds"), first, "failed reload keeps the time")
    time.sleep(1.1)
    d.write_config(good)
    os.kill(d.pid, signal.SIGHUP)
    s = wait_for(sport, "ppolicy_config_last_reload_successful", 1)
    check(v("ppolicy_config_last_reload_success_timestamp_seconds") > first, "a good reload sets the time")
    eq(v("process_start_time_seconds"), start, "the start time stays")


def test_records_table_counts_dos_and_greylist():
    """DOS and Greylist (store = shm) read-modify-write the shared-memory
    records table: each is a lookup of it (a hit when the key was there),
    so ppolicy_shm_lookups_total{table="records"} grows with their traffic
    (hits stayed 0)."""
    sport = free_port()
    d = Daemon("""
[ppolicyd]
min_workers = 1
stats_listen = 127.0.0.1:%d

[module dos]
type = DOS
params = sender
limitCount = 1000

[module greylist]
type = Greylist
store = shm
cacheNegative = 0
cachePositive = 0

[policy main]
rule = true -> WARN d=${dos} g=${greylist}
""" % sport)
    d.wait_log(r"statistics served at")
    s, _ = scrape(sport)
    before = (promparse.value(s, "ppolicy_shm_lookups_total", table="records"),
              promparse.value(s, "ppolicy_shm_hits_total", table="records"))
    c = d.client()
    senders, tries = 5, 4
    for i in range(tries):
        for n in range(senders):
            eq(c.ask(sender="s%d@flood.test" % n, recipient="r@example.net", client_address="192.0.2.9"),
               "WARN d=-1 g=-1", "DOS under its limit, greylisted")
    c.close()
    s = wait_for(sport, "ppolicy_requests_total", senders * tries)
    # One update of each module per request (besides the circuit breakers'
    # use of the table: lookups, no hits while every backend is healthy);
    # all but a key's first find it.
    lookups = promparse.value(s, "ppolicy_shm_lookups_total", table="records") - before[0]
    check(lookups >= 2 * senders * tries, "records lookups: %d for %d DOS and Greylist requests"
          % (lookups, senders * tries))
    eq(promparse.value(s, "ppolicy_shm_hits_total", table="records") - before[1], 2 * senders * (tries - 1),
       "records hits: every update after a key's first")


def test_parser_rejects_invalid_text():
    # The checker itself must fail on what the old output looked like.
    bad = [
        "# TYPE a_total counter\na_total{m=\"x\"} 1\n# TYPE b_total counter\nb_total 1\n"
        "# TYPE a_total counter\na_total{m=\"y\"} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum_microseconds 5\nh_count 1\n",
        "# TYPE g gauge\ng{a=\"x\\q\"} 1\n",
        "x 1\n",
        "# TYPE c_total counter\nc_total 1",
        "# TYPE c_total counter\nc_total 1\nc_total 2\n",
    ]
    for text in bad:
        try:
            promparse.parse(text)
        except promparse.FormatError:
            continue
        raise AssertionError("accepted invalid text:\n" + text)
    good = ("# HELP h A histogram.\n# TYPE h histogram\nh_bucket{m=\"a\",le=\"0.5\"} 1\n"
            "h_bucket{m=\"a\",le=\"+Inf\"} 2\nh_sum{m=\"a\"} 1.5\nh_count{m=\"a\"} 2\n"
            "# TYPE g gauge\ng{b=\"q\\\"\\\\\\n\"} -1\n")
    s = promparse.parse(good)
    eq(promparse.value(s, "g", b="q\"\\\n"), -1.0)


def test_allow_list_and_loopback_rule():
    sport = free_port()
    # 127.0.0.1 is not in the allow list: 403, and a warning in the log.
    d = Daemon(CONFIG % {"stats": sport} + "\n", overrides=["ppolicyd.stats_allow=10.0.0.0/8"])
    d.wait_log(r"statistics served at")
    eq(metrics(sport)[0], 403, "peer outside stats_allow")
    d.wait_log(r"stats_listen 127\.0\.0\.1:%d: refused 127\.0\.0\.1 \(not in stats_allow\)" % sport)
    # A listener beyond loopback needs a deliberate allow list (checked with
    # -t only: tests never listen outside loopback).
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write(CONFIG % {"stats": 9100})
    r = ppolicyd("-c", path, "-o", "ppolicyd.stats_listen=0.0.0.0:9100", "-t")
    eq(r.returncode, 1, r.stdout + r.stderr)
    check("\"stats_listen\": 0.0.0.0 is not a loopback address" in r.stderr, r.stderr)
    r = ppolicyd("-c", path, "-o", "ppolicyd.stats_listen=[::]:9100", "-o",
                 "ppolicyd.stats_allow=127.0.0.1, 2001:db8::/32", "-t")
    eq(r.returncode, 0, r.stderr)
    r = ppolicyd("-c", path, "-o", "ppolicyd.stats_allow=not-a-net", "-t")
    eq(r.returncode, 1)
    check("\"stats_allow\": \"not-a-net\" is not an address or network" in r.stderr, r.stderr)
    r = ppolicyd("-c", path, "-o", "ppolicyd.stats_listen=127.0.0.1", "-t")
    eq(r.returncode, 1)
    check("\"stats_listen\"" in r.stderr, r.stderr)


def test_busy_stats_port_fails_the_start():
    import socket
    import subprocess
    from ppolicytest import PPOLICYD
    sport = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", sport))
    blocker.listen(1)
    d = workdir()
    path = os.path.join(d, "ppolicy.conf")
    with open(path, "w") as f:
        f.write(CONFIG % {"stats": sport})
    try:
        r = subprocess.run([PPOLICYD, "-c", path, "-f", "-o", "ppolicyd.listen=inet:127.0.0.1:%d" % free_port(),
                            "-o", "ppolicyd.pid_file=", "-o", "ppolicyd.state_file=", "-o", "ppolicyd.log=stderr"],
                           capture_output=True, text=True, timeout=30)
    finally:
        blocker.close()
    eq(r.returncode, 1, r.stderr)
    check("stats_listen inet:127.0.0.1:%d: cannot listen: Address already in use" % sport in r.stderr, r.stderr)


run_tests(globals())
