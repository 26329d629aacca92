#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench (issue 17, point 3): every figure beside its reference measured
# in the same run.
#
# 1. Hot path: t/bench/loadgen at 1, 8, 32 and 100 persistent connections
#    (100,000 distinct requests, repeated: clients 198.x.y.z, senders,
#    recipients) against
#    - the do-nothing reference servers t/bench/nullpolicy: epoll (the
#      machine's ceiling) and -m fork (one process per connection, blocking
#      I/O: ppolicyd's process model and nothing else);
#    - ppolicyd with a small Dummy configuration (bench_config in common.sh),
#      decisions logged to a file, not at all, or to syslog (root only);
#    - ppolicyd with conf/ppolicy.conf as shipped and with the realistic
#      policy of the issue (t/bench/realistic.conf: whitelists, DOS per
#      client and per sender, greylisting, a cached Dummy, every decision
#      logged), only listener, pid file, state directory and log file set.
#    The table gives req/s, p50/p99/max latency and each ppolicyd row as %
#    of both references; at 32 connections the issue's targets (shipped
#    >= 90% of fork, realistic >= 85%, p99 < 1.5 ms) are shown as met or
#    missed (not a failure). Greylisting: the warm-up sends every request
#    once (first attempts, greylisted), waits out a delay lowered to
#    BENCH_GREY_DELAY seconds, and sends them again (passes), so the runs
#    measure known triplets, the common case of a greylisting server.
# 2. Cold path: t/bench/cold_dns.py, 1, 2 and 4 DNS modules with every DNS
#    answer 50 ms late, [dns] prefetch = yes beside prefetch = no, as
#    multiples of one DNS round trip (test BIND + t/lib/dnsproxy.py).
# 3. Memory: t/bench/idle_memory.py holds BENCH_IDLE idle connections to the
#    shipped-configuration ppolicyd and prints private dirty memory per
#    worker (average, maximum) and of the master.
# 4. Instructions per request: t/bench/instructions.sh (valgrind callgrind,
#    one connection) for nullpolicy fork and the four ppolicyd
#    configurations: the user-space cost of a request, which unlike req/s
#    does not move with the machine's load (BENCH_IR=no skips it).
#
#   t/bench/bench.sh BUILD_DIR        environment: BENCH_SECONDS (5 per cell),
#     BENCH_CONNS ("1 8 32 100"), BENCH_DISTINCT (100000), BENCH_IDLE (100),
#     BENCH_GREY_DELAY (2), BENCH_SYSLOG (yes), BENCH_DNS (yes: cold-DNS
#     table), BENCH_DNS_REQUESTS (9), BENCH_KEEP (keep the work directory)
set -euo pipefail
BUILD=${1:?usage: bench.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
LOADGEN=$BUILD/t/bench/loadgen
NULLPOLICY=$BUILD/t/bench/nullpolicy
LOGSINK=$BUILD/t/bench/logsink
PPOLICYD=$BUILD/src/ppolicyd
SECONDS_PER=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-1 8 32 100}
DISTINCT=${BENCH_DISTINCT:-100000}
IDLE=${BENCH_IDLE:-100}
GREY_DELAY=${BENCH_GREY_DELAY:-2}
SHIPPED=$SRC/conf/ppolicy.conf
REALISTIC=$HERE/realistic.conf
for p in "$LOADGEN" "$NULLPOLICY" "$PPOLICYD"; do
  [ -x "$p" ] || { echo "bench.sh: $p missing (make bench-programs)" >&2; exit 1; }
done
for c in "$SHIPPED" "$REALISTIC"; do
  "$PPOLICYD" -c "$c" -t >/dev/null || { echo "bench.sh: $c is not valid" >&2; exit 1; }
done
# The same requests for every server: DISTINCT of each key, repeated every
# DISTINCT requests; clients outside the private networks realistic.conf
# whitelists.
LG=(-D "$DISTINCT" -R "$DISTINCT" -A 198)

. "$HERE/common.sh"
W=$(bench_workdir bench)
trap 'bench_cleanup' EXIT

NULL_PORT=$(free_port)
"$NULLPOLICY" -p "$NULL_PORT" >"$W/nullpolicy.log" 2>&1 &
bench_pid "$!"
FORK_PORT=$(free_port)
"$NULLPOLICY" -p "$FORK_PORT" -m fork >"$W/nullpolicy-fork.log" 2>&1 &
bench_pid "$!"
LOG_PORT=$(free_port)
start_ppolicyd "$W/log" "$LOG_PORT" yes
NOLOG_PORT=$(free_port)
start_ppolicyd "$W/nolog" "$NOLOG_PORT" no
SYSLOG_PORT=
if [ "${BENCH_SYSLOG:-yes}" != no ] && syslog_possible; then
  SYSLOG_PORT=$(free_port)
  start_ppolicyd_syslog "$W/syslog" "$SYSLOG_PORT" yes
fi
SHIPPED_PORT=$(free_port)
start_ppolicyd_file "$W/shipped" "$SHIPPED_PORT" "$SHIPPED"
REAL_PORT=$(free_port)
start_ppolicyd_file "$W/realistic" "$REAL_PORT" "$REALISTIC" "module greylist.delay=$GREY_DELAY"
wait_port "$NULL_PORT"
wait_port "$FORK_PORT"

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $SECONDS_PER s per cell, $DISTINCT distinct requests (clients, senders, recipients), repeated"
echo "nullpolicy: answers DUNNO without parsing; epoll: prefork $(nproc) processes x epoll (the machine's"
echo "  ceiling); fork: one process per connection, blocking I/O (ppolicyd's process model, nothing else)"
echo "ppolicyd Dummy: Dummy module (cached per client address) + 3 rules, max_workers 500; decisions logged"
echo "  to a file (stderr), or not at all, or to syslog (t/bench/logsink on /dev/log of a private mount namespace)"
echo "ppolicyd shipped: conf/ppolicy.conf; realistic: t/bench/realistic.conf (issue 17's policy); both log every"
echo "  decision to a file (stderr); greylist triplets made known in the warm-up (delay ${GREY_DELAY} s instead of 5m)"
echo
# Warm-up: let the pools grow to the largest connection count, fill the
# caches, and send every request of the set once (twice for greylisting).
MAXC=$(for c in $CONNS; do echo "$c"; done | sort -n | tail -1)
"$LOADGEN" -p "$REAL_PORT" -c "$MAXC" -n "$DISTINCT" "${LG[@]}" -q >/dev/null || true
GREY_FIRST=$(date +%s)
for port in "$LOG_PORT" "$NOLOG_PORT" $SYSLOG_PORT "$SHIPPED_PORT"; do
  "$LOADGEN" -p "$port" -c "$MAXC" -n "$DISTINCT" "${LG[@]}" -e DUNNO -q >/dev/null || true
done
for port in "$NULL_PORT" "$FORK_PORT"; do
  "$LOADGEN" -p "$port" -c "$MAXC" -d 1 "${LG[@]}" -e DUNNO -q >/dev/null || true
done
sleep $((GREY_FIRST + GREY_DELAY + 1 - $(date +%s))) 2>/dev/null || true
if ! out=$("$LOADGEN" -p "$REAL_PORT" -c "$MAXC" -n "$DISTINCT" "${LG[@]}" -e DUNNO -l grey-pass -q); then
  echo "bench.sh: realistic warm-up: not every greylist triplet passed: $out" >&2
fi

results=$W/results
: >"$results"
run() {  # LABEL PORT CONNS
  local out
  if ! out=$("$LOADGEN" -p "$2" -c "$3" -d "$SECONDS_PER" "${LG[@]}" -e DUNNO -l "$1" -q); then
    echo "bench.sh: errors in run $1 at $3 connections: $out" >&2
    FAILED=1
  fi
  echo "$out" >>"$results"
}
FAILED=0
for c in $CONNS; do
  run null "$NULL_PORT" "$c"
  run fork "$FORK_PORT" "$c"
  run nolog "$NOLOG_PORT" "$c"
  run log "$LOG_PORT" "$c"
  [ -z "$SYSLOG_PORT" ] || run syslog "$SYSLOG_PORT" "$c"
  run shipped "$SHIPPED_PORT" "$c"
  run realistic "$REAL_PORT" "$c"
done

python3 - "$results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    rows[(f["label"], int(f["conns"]))] = f
conns = sorted({c for _, c in rows})
names = [("null", "nullpolicy epoll"), ("fork", "nullpolicy fork"), ("nolog", "ppolicyd Dummy, no log"),
         ("log", "ppolicyd Dummy, log file"), ("syslog", "ppolicyd Dummy, syslog"),
         ("shipped", "ppolicyd shipped conf"), ("realistic", "ppolicyd realistic policy")]
# Issue 17's targets, at 32 connections: share of nullpolicy fork, p99.
targets = {"shipped": 0.90, "realistic": 0.85}
P99_MAX = 1.5
print("%-26s %5s %9s %8s %8s %8s %7s %7s %6s  %s" % ("server", "conns", "req/s", "p50 ms", "p99 ms",
      "max ms", "%epoll", "%fork", "errors", "target (32 connections)"))
for c in conns:
    ref = {k: float(rows[(k, c)]["rps"]) for k in ("null", "fork") if (k, c) in rows}
    for key, title in names:
        f = rows.get((key, c))
        if not f:
            continue
        errs = sum(int(f[k]) for k in ("closed", "invalid", "unexpected", "timeouts"))
        pct = lambda k: "%.0f%%" % (100 * float(f["rps"]) / ref[k]) if key not in ("null", "fork") and ref.get(k) else "-"
        target = ""
        if key in targets and c == 32 and ref.get("fork"):
            met = float(f["rps"]) >= targets[key] * ref["fork"] and float(f["p99_ms"]) < P99_MAX
            target = ">=%.0f%% fork, p99<%.1f: %s" % (100 * targets[key], P99_MAX, "met" if met else "missed")
        print("%-26s %5d %9.0f %8.3f %8.3f %8.3f %7s %7s %6d  %s" % (title, c, float(f["rps"]), float(f["p50_ms"]),
              float(f["p99_ms"]), float(f["max_ms"]), pct("null"), pct("fork"), errs, target))
    print()
print("targets (issue 17), not enforced: at 32 connections the realistic policy >= 85% and the shipped")
print("configuration >= 90%% of nullpolicy fork, p99 < %.1f ms, decisions logged" % P99_MAX)
PY
echo
echo "raw results:"
cat "$results"
for d in log nolog syslog shipped realistic; do
  [ -d "$W/$d" ] || continue
  n=$(cat "$W/$d/ppolicyd.log" "$W/$d/syslog" 2>/dev/null | grep -c . || true)
  echo "ppolicyd ($d): $n log lines, workers now: $(pool_size "$W/$d")"
done
echo

if [ "${BENCH_DNS:-yes}" != no ]; then
  # In the background so that the cleanup trap can stop it (it stops its
  # daemons, DNS server and proxy on SIGTERM).
  "$HERE/cold_dns.py" "$BUILD" &
  bench_pid "$!"
  wait "$!" || { echo "bench.sh: cold-DNS table failed" >&2; FAILED=1; }
  echo
fi

echo "ppolicyd shipped conf, after the runs above:"
"$HERE/idle_memory.py" "$SHIPPED_PORT" "$(cat "$W/shipped/master.pid")" "$IDLE" ||
  { echo "bench.sh: not every idle connection was answered" >&2; FAILED=1; }

if [ "${BENCH_IR:-yes}" != no ]; then
  echo
  echo "instructions per request:"
  "$HERE/instructions.sh" "$BUILD" || { echo "bench.sh: instructions table failed" >&2; FAILED=1; }
fi
exit $FAILED
