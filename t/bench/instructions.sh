#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Instructions per request (part of make bench): user-space instructions a
# server process executes for one request, counted by valgrind's callgrind.
# Unlike req/s, the count does not move with the load of a shared machine,
# so a change of the request path shows as it is (req/s on these machines
# moves by 10-20% from run to run).
#
# Each server gets one connection from t/bench/loadgen (1000 distinct
# requests, repeated; clients 198.x.y.z), twice in separate instances:
# N1 and N2 requests. The busy process is the one that executed the most;
# (its count at N2 - at N1) / (N2 - N1) cancels start-up, configuration
# and first-time costs. Greylisting answers at once (delay 0): triplets are
# new in the first 1000 requests and known after.
# Reference: t/bench/nullpolicy -m fork, which answers without parsing.
#
#   t/bench/instructions.sh BUILD_DIR   environment: BENCH_IR_N1 (2000), BENCH_IR_N2 (10000)
set -euo pipefail
BUILD=$(cd "${1:?usage: instructions.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PPOLICYD=$BUILD/src/ppolicyd
LOADGEN=$BUILD/t/bench/loadgen
NULLPOLICY=$BUILD/t/bench/nullpolicy
N1=${BENCH_IR_N1:-2000}
N2=${BENCH_IR_N2:-10000}
# shellcheck source=t/bench/common.sh
. "$HERE/common.sh"
if ! command -v valgrind >/dev/null; then
  echo "instructions per request: valgrind is not installed (make deps-bench installs it)"
  exit 0
fi
W=$(bench_workdir instr)
trap bench_cleanup EXIT

# The largest instruction count among the callgrind files in DIR.
busy_ir() {
  local f n max=0
  for f in "$1"/cg.*; do
    n=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -1)
    [ -n "$n" ] && [ "$n" -gt "$max" ] && max=$n
  done
  echo "$max"
}

# run NAME N COMMAND...: start COMMAND (its port is $PORT) under callgrind,
# send N requests on one connection, stop it; prints the busy count.
run() {
  local name=$1 n=$2 dir="$W/$1.$2" pid
  shift 2
  mkdir -p "$dir"
  chmod 777 "$dir"  # the workers write their callgrind files as the ppolicy user
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "$@" >"$dir/log" 2>&1 &
  pid=$!
  bench_pid "$pid"
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  "$LOADGEN" -p "$PORT" -c 1 -n "$n" -D 1000 -R 1000 -A 198 -e '*' -q >"$dir/loadgen" ||
    {
      echo "instructions.sh: $name: loadgen failed: $(cat "$dir/loadgen")" >&2
      kill -TERM "$pid"
      wait "$pid" 2>/dev/null
      return 1
    }
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  # Workers end after the master (they finish their connection first).
  for _ in $(seq 100); do pgrep -f "$dir/cg" >/dev/null || break; sleep 0.1; done
  busy_ir "$dir"
}

per_request() {  # NAME COMMAND... (uses $PORT)
  local a b
  a=$(run "$1" "$N1" "${@:2}")
  b=$(run "$1" "$N2" "${@:2}")
  echo $(((b - a) / (N2 - N1)))
}

ppolicyd_cmd() {  # CONFIG [overrides]
  local conf=$1 o
  shift
  CMD=("$PPOLICYD" -f -c "$conf" -o "ppolicyd.listen=inet:127.0.0.1:$PORT"
    -o "ppolicyd.pid_file=$W/pid.$PORT" -o "ppolicyd.state_dir=$W/state.$PORT"
    -o ppolicyd.log=stderr -o ppolicyd.min_workers=2 -o ppolicyd.request_timeout=30s)
  for o in "$@"; do CMD+=(-o "$o"); done
}

bench_config "$W/dummy.conf" no
printf '%-28s %12s %10s\n' "server" "instr/req" "x fork"
PORT=$(free_port)
ref=$(per_request null "$NULLPOLICY" -p "$PORT" -m fork)
printf '%-28s %12d %10s\n' "nullpolicy fork" "$ref" "1.0"
row() {  # LABEL NAME CONFIG [overrides]
  local label=$1 name=$2 ir
  shift 2
  PORT=$(free_port)
  ppolicyd_cmd "$@"
  ir=$(per_request "$name" "${CMD[@]}")
  printf '%-28s %12d %10.1f\n' "$label" "$ir" "$(echo "$ir / $ref" | bc -l)"
}
row "ppolicyd Dummy, no log" nolog "$W/dummy.conf"
row "ppolicyd Dummy, log file" log "$W/dummy.conf" ppolicyd.log_decisions=yes
row "ppolicyd shipped conf" shipped "$SRC/conf/ppolicy.conf"
row "ppolicyd realistic policy" realistic "$HERE/realistic.conf" "module greylist.delay=0"
echo "  user-space instructions of the busy process per request (valgrind --tool=callgrind), one"
echo "  connection, ($N2 - $N1 requests); kernel time (system calls, TCP, scheduling) is not counted"
