#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench, memory per idle worker (issue 17): hold IDLE connections to a
running ppolicyd (each asks once, then stays open, as Postfix's smtpd
processes keep theirs), then read Private_Dirty (memory only this process
has written: what each worker really costs) and Rss from
/proc/PID/smaps_rollup of the master and of every child, as soak.sh does.
Prints one line per kind of process: count, private dirty average and
maximum, RSS average. Closes its connections and exits; it starts no process.

  t/bench/idle_memory.py PORT MASTER_PID [IDLE]     (IDLE: 100)
"""

import selectors
import socket
import sys
import time

PORT, MASTER = int(sys.argv[1]), int(sys.argv[2])
IDLE = int(sys.argv[3]) if len(sys.argv) > 3 else 100
REQ = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
       "client_address=198.51.%d.%d\nclient_name=mx%d.idle.test\nhelo_name=mx%d.idle.test\n"
       "sender=idle%d@idle.test\nrecipient=rcpt%d@example.org\n\n")


def rollup(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Private_Dirty"):
                    out[key] = int(rest.split()[0])
    except (OSError, ValueError):
        return None
    return out


def children(pid):
    """(pid, comm) of the live children of pid."""
    out = []
    try:
        tids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        tids = []
    for c in tids:
        try:
            st = open("/proc/%s/stat" % c).read()
        except OSError:
            continue
        if st[st.rindex(")") + 2:].split()[0] != "Z":
            out.append((int(c), st[st.index("(") + 1:st.rindex(")")]))
    return out


def hold(n, timeout=60):
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        s.sendall((REQ % (i // 250, i % 250 + 1, i, i, i, i)).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [b""])
        socks.append(s)
    answered = 0
    end = time.time() + timeout
    while answered < n and time.time() < end:
        for key, _ in sel.select(0.5):
            try:
                chunk = key.fileobj.recv(4096)
            except OSError:
                chunk = b""
            key.data[0] += chunk
            if b"\n\n" in key.data[0] or not chunk:
                sel.unregister(key.fileobj)
                answered += b"\n\n" in key.data[0]
    sel.close()
    return socks, answered


def main():
    socks, answered = hold(IDLE)
    time.sleep(1)  # let the pool settle
    groups = {"master": [rollup(MASTER)]}
    for pid, comm in children(MASTER):
        r = rollup(pid)
        if r:
            groups.setdefault(comm, []).append(r)
    print("memory with %d idle connections (%d answered): private dirty (written by the process "
          "itself), /proc/PID/smaps_rollup" % (IDLE, answered))
    print("%-22s %5s %13s %13s %13s %12s" % ("process", "count", "priv avg kB", "priv max kB",
                                             "priv sum kB", "rss avg kB"))
    for name, rs in groups.items():
        rs = [r for r in rs if r]
        if not rs:
            continue
        priv = [r.get("Private_Dirty", 0) for r in rs]
        rss = [r.get("Rss", 0) for r in rs]
        print("%-22s %5d %13.0f %13d %13d %12.0f" % (name, len(rs), sum(priv) / len(rs), max(priv),
                                                     sum(priv), sum(rss) / len(rs)))
    for s in socks:
        s.close()
    return 0 if answered == IDLE else 1


sys.exit(main())
