#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make soak: a long benchmark that watches ppolicyd's resources. Load: 32
# busy persistent connections at a steady rate plus 100 mostly idle ones
# (a request every ~50 s each, like quiet smtpd processes), more distinct
# clients than the (deliberately small) result cache holds, so it both hits
# and evicts. Samples
# every worker's RSS and Private_Dirty (/proc/PID/smaps_rollup), the open
# file descriptors, and the shared-memory statistics (SIGUSR1 report in the
# log); prints them after warm-up and at the end, and whether the growth
# after warm-up is flat. Workers are not recycled (max_requests = 0), so a
# leak shows as growth instead of being hidden by replacement.
#
#   t/bench/soak.sh BUILD_DIR [MINUTES]     (default 30)
#   environment: SOAK_RATE (3000 req/s), SOAK_CONNS (32), SOAK_IDLE (100),
#   SOAK_DISTINCT (10000), SOAK_CACHE (2M), SOAK_LOG_DECISIONS (yes)
set -euo pipefail
BUILD=${1:?usage: soak.sh BUILD_DIR [MINUTES]}
BUILD=$(cd "$BUILD" && pwd)
MINUTES=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=$BUILD/t/bench/loadgen
PPOLICYD=$BUILD/src/ppolicyd
RATE=${SOAK_RATE:-3000}
CONNS=${SOAK_CONNS:-32}
IDLE=${SOAK_IDLE:-100}
DISTINCT=${SOAK_DISTINCT:-10000}
CACHE=${SOAK_CACHE:-2M}
LOGD=${SOAK_LOG_DECISIONS:-yes}
for p in "$LOADGEN" "$PPOLICYD"; do
  [ -x "$p" ] || { echo "soak.sh: $p missing (make bench-programs)" >&2; exit 1; }
done
. "$HERE/common.sh"
W=$(bench_workdir soak)
trap 'bench_cleanup' EXIT

SECS=$(python3 -c "print(int(float('$MINUTES') * 60))")
PORT=$(free_port)
start_ppolicyd "$W/d" "$PORT" "$LOGD" ppolicyd.max_requests=0 "ppolicyd.cache_size=$CACHE" ppolicyd.log_level=info
echo "soak: ${MINUTES} min; $CONNS busy connections at $RATE req/s, $IDLE idle ones; $DISTINCT distinct clients;"
echo "      cache_size $CACHE, log_decisions $LOGD, max_requests 0; work dir $W"
IDLE_RATE=$(python3 -c "print(max($IDLE / 50.0, 0.1))")
T0=$(date +%s.%N)
"$LOADGEN" -p "$PORT" -c "$CONNS" -r "$RATE" -d "$SECS" -D "$DISTINCT" -e DUNNO -T 5000 -l busy -q >"$W/busy.out" 2>&1 &
BUSY=$!
bench_pid "$BUSY"
# Each idle connection gets a request every ~50 s: under idle_timeout, as a
# quiet Postfix smtpd process keeps its connection.
"$LOADGEN" -p "$PORT" -c "$IDLE" -r "$IDLE_RATE" -d "$SECS" -D 1000 -e DUNNO -T 5000 -l idle -q >"$W/idle.out" 2>&1 &
IDLEG=$!
bench_pid "$IDLEG"

rc=0
python3 - "$W/d" "$SECS" "$BUSY" "$IDLEG" "$T0" <<'PY' || rc=$?
import os, re, signal, sys, time

d, secs, busy, idleg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
master = int(open(os.path.join(d, "master.pid")).read())
log = os.path.join(d, "ppolicyd.log")
warm = min(60, max(15, secs // 6))
interval = min(60, max(10, secs // 12))

def kids():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        if int(f[1]) == master and st[st.index("(") + 1:st.rindex(")")] == "ppolicyd-worker":
            out.append(int(p))
    return sorted(out)

def proc(pid):
    try:
        st = open("/proc/%d/stat" % pid).read()
        f = st[st.rindex(")") + 2:].split()
        rss = priv = 0
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Private_Dirty:"):
                priv = int(line.split()[1])
        return {"cpu": int(f[11]) + int(f[12]), "rss": rss, "priv": priv,
                "fds": len(os.listdir("/proc/%d/fd" % pid))}
    except (OSError, ValueError):
        return None

def shm_stats():
    """Ask for the SIGUSR1 report and return its shm lines."""
    size = os.path.getsize(log)
    os.kill(master, signal.SIGUSR1)
    end = time.time() + 5
    while time.time() < end:
        with open(log, errors="replace") as f:
            f.seek(size)
            text = f.read()
        got = re.findall(r"statistics: shm (\w+): (\d+) of (\d+) entries, (\d+) lookups, (\d+) hits, (\d+) evictions", text)
        if len(got) >= 2:
            reqs = re.findall(r"statistics: ppolicy_requests_total (\d+)", text)
            return {g[0]: dict(used=int(g[1]), cap=int(g[2]), lookups=int(g[3]), hits=int(g[4]), evictions=int(g[5]))
                    for g in got}, (int(reqs[-1]) if reqs else 0)
        time.sleep(0.1)
    return {}, 0

def socket_ports(pid):
    """Local ports of the TCP sockets PID holds (via /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes

def tcp_table():
    """socket inode -> (local port, remote port)"""
    out = {}
    for line in open("/proc/net/tcp").readlines()[1:]:
        f = line.split()
        out[f[9]] = (int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16))
    return out

def sample(prev):
    ws = {p: proc(p) for p in kids()}
    ws = {p: v for p, v in ws.items() if v}
    m = proc(master)
    shm, reqs = shm_stats()
    # Which client holds each worker: the busy load generator, the idle one,
    # or none (a pool worker waiting for a connection).
    tcp = tcp_table()
    ports = {}
    for who, pid in (("busy", busy), ("idle", idleg)):
        for ino in socket_ports(pid):
            if ino in tcp:
                ports[tcp[ino][0]] = who
    for p, v in ws.items():
        v["class"] = "pool"
        for ino in socket_ports(p):
            if ino in tcp and tcp[ino][1] in ports:
                v["class"] = ports[tcp[ino][1]]
    return {"t": time.time(), "workers": ws, "master": m, "shm": shm, "requests": reqs}

def show(title, s):
    ws = s["workers"]
    classes = [("busy", "busy connections"), ("idle", "idle connections"), ("pool", "no connection")]
    tot_rss = s["master"]["rss"] + sum(v["rss"] for v in ws.values())
    tot_priv = s["master"]["priv"] + sum(v["priv"] for v in ws.values())
    fds = s["master"]["fds"] + sum(v["fds"] for v in ws.values())
    avg = lambda xs, k: sum(x[k] for x in xs) / len(xs) if xs else 0
    mx = lambda xs, k: max((x[k] for x in xs), default=0)
    print("%s (t=%.0fs, %d requests served):" % (title, s["t"] - t0, s["requests"]))
    print("  master: RSS %d kB, Private_Dirty %d kB, %d fds" % (s["master"]["rss"], s["master"]["priv"], s["master"]["fds"]))
    print("  workers: %d" % len(ws))
    for key, title in classes:
        xs = [v for v in ws.values() if v["class"] == key]
        print("    %-17s %3d: RSS avg %.0f kB max %d kB; Private_Dirty avg %.0f kB max %d kB; fds max %d"
              % (title, len(xs), avg(xs, "rss"), mx(xs, "rss"), avg(xs, "priv"), mx(xs, "priv"), mx(xs, "fds")))
    print("  total: RSS %d kB (shared pages counted in every process), Private_Dirty %d kB, %d fds" % (tot_rss, tot_priv, fds))
    for name, v in sorted(s["shm"].items()):
        print("  shm %s: %d of %d entries (%.0f%%), %d lookups, %d hits, %d evictions"
              % (name, v["used"], v["cap"], 100.0 * v["used"] / max(v["cap"], 1), v["lookups"], v["hits"], v["evictions"]))
    return tot_priv, fds

t0 = float(sys.argv[5])  # when the load started (python may start slowly)
# Warm-up: pools grow, caches fill, allocators reach their working size. A
# sample 5 s before the first one tells busy workers from idle ones.
time.sleep(max(0, t0 + warm - 5 - time.time()))
prev = sample(None)
time.sleep(5)
first = sample(prev)
first_priv, first_fds = show("after warm-up", first)
print("  time        workers  Private_Dirty total kB  fds  cache used  evictions", flush=True)
last = first
# Samples until 5 s before the load stops: the last one is the end state.
stop_at = t0 + secs - 5
while time.time() < stop_at:
    time.sleep(max(0, min(interval, stop_at - time.time())))
    if not all(os.path.exists("/proc/%d" % p) for p in (busy, idleg)):
        print("  a load generator ended early (t=%.1fs: %s)" % (time.time() - t0, [os.path.exists("/proc/%d" % p) for p in (busy, idleg)]))
        break
    s = sample(last)
    tp = s["master"]["priv"] + sum(v["priv"] for v in s["workers"].values())
    fd = s["master"]["fds"] + sum(v["fds"] for v in s["workers"].values())
    c = s["shm"].get("cache", {})
    print("  %6.0fs  %7d  %22d  %4d  %10s  %9s" % (s["t"] - t0, len(s["workers"]), tp, fd, c.get("used", "?"),
          c.get("evictions", "?")), flush=True)
    last = s
end_priv, end_fds = show("at the end", last)
# Flat: growth after warm-up within noise (1 MB or 5% of the total), fds
# unchanged, and no surviving worker grew by more than 512 kB.
growth = end_priv - first_priv
per = [last["workers"][p]["priv"] - first["workers"][p]["priv"] for p in first["workers"] if p in last["workers"]]
worst = max(per, default=0)
flat = growth <= max(1024, 0.05 * first_priv) and end_fds <= first_fds and worst <= 512
print("growth after warm-up: total Private_Dirty %+d kB (%+.1f%%), fds %+d, largest per-worker growth %+d kB "
      "(%d workers alive throughout): %s" % (growth, 100.0 * growth / max(first_priv, 1), end_fds - first_fds, worst,
                                              len(per), "FLAT" if flat else "GROWING"))
sys.exit(0 if flat else 3)
PY
wait "$BUSY" || true
wait "$IDLEG" || true
echo "load generators:"
cat "$W/busy.out" "$W/idle.out"
errs=$(cat "$W/busy.out" "$W/idle.out" | sed -n 's/.* closed=\([0-9]*\) invalid=\([0-9]*\) unexpected=\([0-9]*\) timeouts=\([0-9]*\).*/\1 \2 \3 \4/p' | awk '{s += $1 + $2 + $3 + $4} END {print s + 0}')
echo "reply errors: $errs; warnings in the ppolicyd log: $(grep -c 'warning:' "$W/d/ppolicyd.log" || true)"
grep 'warning:' "$W/d/ppolicyd.log" | head -5 || true
[ "$rc" = 0 ] && [ "$errs" = 0 ]
