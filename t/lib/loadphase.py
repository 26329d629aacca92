# SPDX-License-Identifier: GPL-2.0-or-later
"""Steady load from the C++ load generator (t/bench/loadgen) for fault
injection tests, with every request accounted for: loadgen -L writes one
line per request (due, sent and end time on the wall clock, outcome, client,
sender, recipient, reply), which this module reads back.

    load = Load(port, rate=800, conns=32, seconds=20, tag="kill")
    time.sleep(3); ...inject a fault...
    recs = load.wait()                      # [Rec], in completion order
    per_second(recs, t0, t1)                # replies per 1 s window
    recovery(recs, t_end, rate)             # seconds until the backlog is gone

loadgen is built on demand (make -C TOP_BUILDDIR t/bench/loadgen) when a
test runs outside `make check`, which builds it. The generator is stopped by
its PID if the test fails while it runs, and its request log removed after
the test unless LOAD_KEEP_LOGS is set (ppolicytest.at_exit)."""

import bisect
import collections
import json
import os
import signal
import subprocess

import ppolicytest

LOADGEN = os.environ.get("LOADGEN") or os.path.join(ppolicytest.TOP_BUILDDIR, "t", "bench", "loadgen")

# One request: times in wall-clock seconds; status ok|invalid|unexpected|closed|timeout;
# reply is the action value ("-" when there was none).
Rec = collections.namedtuple("Rec", "due sent end status client sender recipient reply")


def loadgen():
    if not os.access(LOADGEN, os.X_OK):
        r = subprocess.run(["make", "-C", ppolicytest.TOP_BUILDDIR, "t/bench/loadgen"], capture_output=True,
                           text=True)
        if r.returncode != 0 or not os.access(LOADGEN, os.X_OK):
            raise AssertionError("cannot build %s:\n%s%s" % (LOADGEN, r.stdout[-2000:], r.stderr[-2000:]))
    return LOADGEN


class Load:
    """loadgen in the background: `conns` persistent connections at `rate`
    requests/s in total for `seconds`, `distinct` clients/senders/recipients,
    sender domains tagged with `tag` (keys distinct per phase)."""

    def __init__(self, port, rate, conns, seconds, tag, distinct=50, reply_timeout_ms=10000, workdir=None):
        self.dir = workdir or ppolicytest.workdir("load")
        self.log = os.path.join(self.dir, "requests-%s.tsv" % tag)
        self.cmd = [loadgen(), "-p", str(port), "-c", str(conns), "-r", str(rate), "-d", str(seconds),
                    "-D", str(distinct), "-K", tag, "-T", str(reply_timeout_ms), "-q", "-j", "-l", tag,
                    "-L", self.log]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL)
        ppolicytest.at_exit(self.kill)
        self.summary = None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if not os.environ.get("LOAD_KEEP_LOGS"):
            try:
                os.unlink(self.log)
            except OSError:
                pass

    def wait(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if self.proc.returncode not in (0, 1) or not lines:
            raise AssertionError("loadgen failed (%s): %s %s" % (self.proc.returncode, out[-1000:], err[-1000:]))
        self.summary = json.loads(lines[-1])
        recs = []
        with open(self.log) as f:
            for line in f:
                p = line.rstrip("\n").split("\t", 7)
                recs.append(Rec(float(p[0]), float(p[1]), float(p[2]), p[3], p[4], p[5], p[6], p[7]))
        if len(recs) != int(self.summary["sent"]):
            raise AssertionError("loadgen logged %d requests, sent %s" % (len(recs), self.summary["sent"]))
        return recs


def per_second(recs, t0, t1, step=1.0):
    """Replies (any status but closed/timeout) ending in each window [t, t + 1 s) from t0 to t1."""
    ends = sorted(r.end for r in recs if r.status not in ("closed", "timeout"))
    out = []
    t = t0
    while t + 1.0 <= t1:
        out.append((t, bisect.bisect_left(ends, t + 1.0) - bisect.bisect_left(ends, t)))
        t += step
    return out


def recovery(recs, fault_end, rate, limit_s=0.1, step=0.1):
    """Seconds after fault_end until the server has caught up with the
    offered load: the backlog is below limit_s seconds of requests (or one
    per connection, whichever is more: the requests in flight). None: not
    caught up before the load ended."""
    dues = sorted(r.due for r in recs)
    ends = sorted(r.end for r in recs)
    stop = ends[-1] if ends else fault_end
    limit = max(rate * limit_s, 32)
    t = fault_end
    while t <= stop:
        if bisect.bisect_right(dues, t) - bisect.bisect_right(ends, t) < limit:
            return t - fault_end
        t += step
    return None


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def fields(reply):
    """{"g": "-1", ...} from a reply "WORD k=v k=v ..." (the value of the last
    key may contain spaces: it runs to the end)."""
    out = {}
    parts = reply.split(" ")
    key = None
    for part in parts[1:]:
        if "=" in part and part.split("=", 1)[0].isalnum() and key != "gi":
            key, value = part.split("=", 1)
            out[key] = value
        elif key:
            out[key] += " " + part
    return out
