# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by bench.sh and soak.sh (sourced): a work directory, the
# benchmark configuration of ppolicyd, starting and stopping by PID.

BENCH_PIDS=()
BENCH_DIR=

bench_workdir() {
  BENCH_DIR=$(mktemp -d "/tmp/ppolicy-$1.XXXXXX")
  chmod 755 "$BENCH_DIR"  # ppolicyd drops to an unprivileged user
  echo "$BENCH_DIR"
}

bench_pid() { BENCH_PIDS+=("$1"); }

# Stop everything this script started, by PID (ppolicyd stops its workers).
bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  [ -n "$BENCH_DIR" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$BENCH_DIR"
  return 0
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
  local i
  for i in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# The benchmark configuration: the shipped defaults except what a benchmark
# must set (listener, files), plus a cached Dummy module and a few rules
# evaluated for every request.
bench_config() {  # FILE LOG_DECISIONS
  cat >"$1" <<CONF
[ppolicyd]
min_workers = 4
max_workers = 500
log_decisions = $2

[module dummy]
type = Dummy

[policy main]
rule = recipient_local == "postmaster" -> DUNNO
rule = dummy == 1 -> REJECT 5.7.1 dummy said so
rule = client_address in [192.0.2.0/24] && sender_domain == "spam.test" -> REJECT 5.7.1 go away
default = DUNNO
CONF
}

start_ppolicyd() {  # DIR PORT LOG_DECISIONS [extra -o overrides...]
  start_ppolicyd_in "" "$@"
}

# ppolicyd logging to syslog, received by t/bench/logsink on a /dev/log of a
# private mount namespace (root only; see t/bench/syslog-ns.sh).
syslog_possible() { [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -x "${LOGSINK:-}" ]; }
start_ppolicyd_syslog() {  # DIR PORT LOG_DECISIONS [extra -o overrides...]
  local dir=$1
  mkdir -p "$dir"
  start_ppolicyd_in "unshare -m --propagation private $HERE/syslog-ns.sh $LOGSINK $dir" "$@" ppolicyd.log=syslog
}

start_ppolicyd_in() {  # WRAPPER DIR PORT LOG_DECISIONS [extra -o overrides...]
  local wrapper=$1 dir=$2 port=$3 logd=$4
  shift 4
  mkdir -p "$dir"
  bench_config "$dir/ppolicy.conf" "$logd"
  launch_ppolicyd "$wrapper" "$dir" "$port" "$dir/ppolicy.conf" "$@"
}

# ppolicyd with a configuration file as it is (conf/ppolicy.conf as shipped,
# t/bench/realistic.conf): only the listener, pid file, state directory and
# log destination (stderr, into DIR/ppolicyd.log) are set on the command line.
start_ppolicyd_file() {  # DIR PORT CONFIG_FILE [extra -o overrides...]
  launch_ppolicyd "" "$@"
}

launch_ppolicyd() {  # WRAPPER DIR PORT CONFIG_FILE [extra -o overrides...]
  local wrapper=$1 dir=$2 port=$3 conf=$4
  shift 4
  mkdir -p "$dir"
  chmod 755 "$dir"
  local args=(-f -c "$conf" -o "ppolicyd.listen=inet:127.0.0.1:$port"
    -o "ppolicyd.pid_file=$dir/ppolicyd.pid" -o "ppolicyd.state_dir=$dir/state" -o ppolicyd.log=stderr)
  local o
  for o in "$@"; do args+=(-o "$o"); done
  # shellcheck disable=SC2086  # the wrapper is words
  $wrapper "$PPOLICYD" "${args[@]}" >"$dir/ppolicyd.log" 2>&1 &
  echo "$!" >"$dir/master.pid"
  bench_pid "$!"
  wait_port "$port"
}

# Worker PIDs of the ppolicyd started in DIR (children of its master).
pool_pids() {
  local master
  master=$(cat "$1/master.pid")
  ps -o pid= --ppid "$master" -o comm= | awk '$2 == "ppolicyd-worker" {print $1}'
}
pool_size() { pool_pids "$1" | grep -c . || true; }
