#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: ppolicyd against the do-nothing reference server (nullpolicy)
# at 1, 8, 32 and 100 persistent connections, with the load generator
# t/bench/loadgen; prints a table (req/s, p50, p99, max latency, ppolicyd as
# % of nullpolicy in the same run).
#
# ppolicyd runs the configuration below (a Dummy module whose result is
# cached by client address, and a few rules), once as shipped (one log line
# per decision, to stderr redirected into a file) and once with
# log_decisions = no.
#
#   t/bench/bench.sh BUILD_DIR        environment: BENCH_SECONDS (5 per cell),
#                                     BENCH_CONNS ("1 8 32 100"), BENCH_DISTINCT (1000)
set -euo pipefail
BUILD=${1:?usage: bench.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=$BUILD/t/bench/loadgen
NULLPOLICY=$BUILD/t/bench/nullpolicy
LOGSINK=$BUILD/t/bench/logsink
PPOLICYD=$BUILD/src/ppolicyd
SECONDS_PER=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-1 8 32 100}
DISTINCT=${BENCH_DISTINCT:-1000}
for p in "$LOADGEN" "$NULLPOLICY" "$PPOLICYD"; do
  [ -x "$p" ] || { echo "bench.sh: $p missing (make bench-programs)" >&2; exit 1; }
done

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
wait_port "$NULL_PORT"
wait_port "$FORK_PORT"

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $SECONDS_PER s per cell, $DISTINCT distinct clients/senders/recipients"
echo "ppolicyd: Dummy module (cached per client address) + 3 rules, max_workers 500; decisions logged to a file"
echo "  (stderr), or not at all, or to syslog (t/bench/logsink on /dev/log of a private mount namespace)"
echo "nullpolicy: answers DUNNO without parsing; epoll: prefork $(nproc) processes x epoll (the machine's"
echo "  ceiling); fork: one process per connection, blocking I/O (ppolicyd's process model, nothing else)"
echo
# Warm-up: let the pools grow to the largest connection count and fill the cache.
MAXC=$(for c in $CONNS; do echo "$c"; done | sort -n | tail -1)
for port in "$LOG_PORT" "$NOLOG_PORT" $SYSLOG_PORT "$NULL_PORT" "$FORK_PORT"; do
  "$LOADGEN" -p "$port" -c "$MAXC" -d 2 -D "$DISTINCT" -e DUNNO -q >/dev/null || true
done

results=$W/results
: >"$results"
run() {  # LABEL PORT CONNS
  local out
  if ! out=$("$LOADGEN" -p "$2" -c "$3" -d "$SECONDS_PER" -D "$DISTINCT" -e DUNNO -l "$1" -q); then
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
done

python3 - "$results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    rows[(f["label"], int(f["conns"]))] = f
conns = sorted({c for _, c in rows})
names = [("null", "nullpolicy epoll"), ("fork", "nullpolicy fork"), ("nolog", "ppolicyd log_decisions=no"),
         ("log", "ppolicyd log_decisions=yes"), ("syslog", "ppolicyd ... =yes, syslog")]
print("%-27s %5s %9s %8s %8s %8s %7s %7s %6s" % ("server", "conns", "req/s", "p50 ms", "p99 ms", "max ms",
      "%epoll", "%fork", "errors"))
for c in conns:
    ref = {k: float(rows[(k, c)]["rps"]) for k in ("null", "fork") if (k, c) in rows}
    for key, title in names:
        f = rows.get((key, c))
        if not f:
            continue
        errs = sum(int(f[k]) for k in ("closed", "invalid", "unexpected", "timeouts"))
        pct = lambda k: "%.0f%%" % (100 * float(f["rps"]) / ref[k]) if key not in ("null", "fork") and ref.get(k) else "-"
        print("%-27s %5d %9.0f %8.3f %8.3f %8.3f %7s %7s %6d" % (title, c, float(f["rps"]), float(f["p50_ms"]),
              float(f["p99_ms"]), float(f["max_ms"]), pct("null"), pct("fork"), errs))
    print()
PY
echo "raw results:"
cat "$results"
for d in log nolog syslog; do
  [ -d "$W/$d" ] || continue
  n=$(cat "$W/$d/ppolicyd.log" "$W/$d/syslog" 2>/dev/null | grep -c . || true)
  echo "ppolicyd ($d): $n log lines, workers now: $(pool_size "$W/$d")"
done
exit $FAILED
