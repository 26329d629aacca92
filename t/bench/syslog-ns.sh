#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs ppolicyd logging to syslog on a machine that may have no syslog
# daemon: in a private mount namespace (run as `unshare -m syslog-ns.sh`),
# /dev is replaced by a tmpfs holding the usual device nodes and a /dev/log
# served by t/bench/logsink, which appends to DIR/syslog. Nothing outside
# the namespace sees this /dev/log. Ends by exec-ing ppolicyd, so the PID of
# this script is the master's.
#
#   unshare -m --propagation private syslog-ns.sh LOGSINK DIR PPOLICYD ARGS...
set -euo pipefail
LOGSINK=$1 DIR=$2
shift 2
OLD=$DIR/olddev
mkdir -p "$OLD"
mount --rbind /dev "$OLD"
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty; do
  [ -e "$OLD/$n" ] || continue
  touch "/dev/$n"
  mount --bind "$OLD/$n" "/dev/$n"
done
mkdir /dev/shm /dev/pts
mount --rbind "$OLD/shm" /dev/shm
ln -s /proc/self/fd /dev/fd
"$LOGSINK" /dev/log "$DIR/syslog" &
for _ in $(seq 100); do [ -S /dev/log ] && break; sleep 0.02; done
# Writable by all, as syslog daemons make it: the workers (run as the
# unprivileged user) connect to it themselves.
chmod 666 /dev/log
exec "$@"
