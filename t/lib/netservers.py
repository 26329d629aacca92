# SPDX-License-Identifier: GPL-2.0-or-later
"""Scripted network responders for the network-module tests, each a separate
Python process (this file run as a script) on loopback or a unix socket,
stopped by its PID (also when the test fails: the harness's at_exit).
stdlib only.

  P0fResponder(table, version=3)   p0f 3 API (21-byte query, 232-byte reply)
                                   or p0f 2 (24/20-byte query, 144-byte reply)
  WhoisResponder(table, host, port) whois (RFC 3912): one query line, answer, close

Tables map an address (p0f) or query line (whois) to an answer; special
answers: "hang" (accept, read, never answer), "close" (close without an
answer), for p0f also "badquery" (status bad query) and "badmagic". Every
query is appended to DIR/queries.log, so tests can count what reached the
server."""

import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import time

try:
    import ppolicytest
except ImportError:  # running as the responder process
    ppolicytest = None

P0F3_QUERY = "=IB16s"
P0F3_REPLY = "=IIIIIIIIIhBB32s32s32s32s32s32s"
P0F2_QUERY_TYPED = "=IBxxxIIIHH"   # native struct p0f_query (2.0.8): 24 bytes
P0F2_QUERY_OLD = "=IIIIHH"         # before 2.0.8: 20 bytes
P0F2_REPLY = "=IIB20s40sb30s30sBBBxhHxxi"  # native struct p0f_response: 144 bytes


class _Process:
    """Runs `python3 SCRIPT KIND DIR ARGS...` (SCRIPT: this file, or another
    responder module such as smtpserver.py) and waits until it is ready."""

    def __init__(self, kind, table, args, ready, script=__file__):
        self.dir = ppolicytest.workdir(kind)
        self.table_file = os.path.join(self.dir, "table.json")
        self.log_file = os.path.join(self.dir, "queries.log")
        self.set_table(table)
        open(self.log_file, "w").close()
        err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(script), kind, self.dir] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
        err.close()
        ppolicytest.at_exit(self.stop)
        end = time.time() + 10
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError("%s responder exited: %s" % (kind, self.stderr()))
            if ready():
                return
            time.sleep(0.02)
        raise AssertionError("%s responder not ready" % kind)

    def set_table(self, table):
        """Replace the answers (the responder rereads the file for every query)."""
        tmp = self.table_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(table, f)
        os.rename(tmp, self.table_file)

    def queries(self):
        with open(self.log_file) as f:
            return [line.rstrip("\n") for line in f]

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        ppolicytest.stop_process(self.proc)
        self.proc = None


class P0fResponder(_Process):
    """table: {"192.0.2.10": {"os": "Linux", "flavor": "3.x", "distance": 2, "uptime_min": 125,
    "up_mod_days": 49, ...} or "hang" / "close" / "badquery" / "badmagic"}; unknown: no match."""

    def __init__(self, table, version=3):
        self.version = version
        # A short path (unix sockets: 108 bytes) in a directory the daemon's user can traverse.
        self.socket = os.path.join(ppolicytest.workdir("p0fsock"), "p0f.sock")
        super().__init__("p0f%d" % version, table, [self.socket], lambda: os.path.exists(self.socket))


class WhoisResponder(_Process):
    """table: {"192.0.2.10": "netname: X\\n...", "hang": ...}; the key is the query line
    without a leading "-r "; unknown queries get "%% No entries found"."""

    def __init__(self, table, host="127.0.0.1", port=None):
        self.host = host
        self.port = port or ppolicytest.free_port()

        def ready():
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return True
            except OSError:
                return False
        super().__init__("whois", table, [host, str(self.port)], ready)
        # The readiness probe connected once without a query: forget it.
        time.sleep(0.05)
        open(self.log_file, "w").close()


class RealP0f:
    """The real p0f 3 (/usr/sbin/p0f, root only) watching `lo` for `bpf_filter`,
    with its API socket; stopped by its PID."""

    BINARY = "/usr/sbin/p0f"

    @staticmethod
    def usable():
        return os.geteuid() == 0 and os.access(RealP0f.BINARY, os.X_OK)

    def __init__(self, bpf_filter):
        self.dir = ppolicytest.workdir("p0f")
        self.socket = os.path.join(self.dir, "p0f.sock")
        self.out = os.path.join(self.dir, "p0f.out")
        self.log_file = os.path.join(self.dir, "p0f.log")
        out = open(self.out, "wb")
        self.proc = subprocess.Popen([self.BINARY, "-i", "lo", "-s", self.socket, "-o", self.log_file, bpf_filter],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        out.close()
        ppolicytest.at_exit(self.stop)
        end = time.time() + 10
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError("p0f exited %d: %s" % (self.proc.returncode, self.output()))
            if "Entered main event loop" in self.output():
                return
            time.sleep(0.05)
        raise AssertionError("p0f not ready: " + self.output())

    def output(self):
        with open(self.out, errors="replace") as f:
            return f.read()

    def log(self):
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        ppolicytest.stop_process(self.proc)
        self.proc = None


# ------------------------------------------------------------------ responder process

def _table(d):
    with open(os.path.join(d, "table.json")) as f:
        return json.load(f)


def _log(d, line):
    with open(os.path.join(d, "queries.log"), "a") as f:
        f.write(line + "\n")


def _fixed(s, n):
    return s.encode()[:n - 1].ljust(n, b"\0")


def _p0f3_reply(entry):
    if entry is None:
        return struct.pack(P0F3_REPLY, 0x50304602, 0x20, *([0] * 7), 0, 0, 0, *([b""] * 6))
    if entry == "badquery":
        return struct.pack(P0F3_REPLY, 0x50304602, 0x00, *([0] * 7), 0, 0, 0, *([b""] * 6))
    e = entry
    q = (1 if e.get("fuzzy") else 0) | (2 if e.get("generic") else 0)
    return struct.pack(P0F3_REPLY, 0xDEADBEEF if entry.get("badmagic") else 0x50304602, 0x10,
                       e.get("first_seen", 1700000000), e.get("last_seen", 1700000100), e.get("total_conn", 1),
                       e.get("uptime_min", 0), e.get("up_mod_days", 0), e.get("last_nat", 0), e.get("last_chg", 0),
                       e.get("distance", -1), e.get("bad_sw", 0), q,
                       _fixed(e.get("os", ""), 32), _fixed(e.get("flavor", ""), 32),
                       _fixed(e.get("http_name", ""), 32), _fixed(e.get("http_flavor", ""), 32),
                       _fixed(e.get("link", ""), 32), _fixed(e.get("language", ""), 32))


def _p0f2_reply(entry, qid):
    if entry is None or entry == "badquery":
        return struct.pack(P0F2_REPLY, 0x0DEFACED, qid, 2 if entry is None else 1, b"", b"", 0, b"", b"", 0, 0, 0,
                           0, 0, 0)
    e = entry
    return struct.pack(P0F2_REPLY, 0xDEADBEEF if e.get("badmagic") else 0x0DEFACED, qid, 0,
                       _fixed(e.get("os", ""), 20), _fixed(e.get("flavor", ""), 40), e.get("distance", -1),
                       _fixed(e.get("link", ""), 30), _fixed(e.get("tos", ""), 30), 0, 1 if e.get("nat") else 0, 1,
                       0, 0, e.get("uptime_hours", -1))


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _special(entry, sock):
    """Handle "hang" and "close"; True when the connection is done."""
    if entry == "hang":
        time.sleep(3600)
        return True
    if entry == "close":
        return True
    return False


def _serve_p0f(d, version, path):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                if version == 3:
                    q = _recv_exact(self.request, 21)
                    if q is None:
                        return
                    magic, atype, addr = struct.unpack(P0F3_QUERY, q)
                    ip = socket.inet_ntop(socket.AF_INET if atype == 4 else socket.AF_INET6,
                                          addr[:4] if atype == 4 else addr)
                    _log(d, "magic=%08x type=%d addr=%s" % (magic, atype, ip))
                    entry = _table(d).get(ip)
                    if _special(entry, self.request):
                        return
                    if magic != 0x50304601:
                        entry = "badquery"
                    if entry == "badmagic":
                        entry = {"badmagic": True}
                    self.request.sendall(_p0f3_reply(entry))
                else:
                    # p0f 2: one query per connection; its size (24 bytes, or 20
                    # before 2.0.8: nothing more arrives) tells the version.
                    self.request.settimeout(5)
                    q = b""
                    try:
                        while len(q) < 24:
                            chunk = self.request.recv(24 - len(q))
                            if not chunk:
                                break
                            q += chunk
                            if len(q) == 20:
                                self.request.settimeout(0.15)
                    except socket.timeout:
                        pass
                    if len(q) == 24:
                        magic, qtype, qid, src, dst, sport, dport = struct.unpack(P0F2_QUERY_TYPED, q)
                    elif len(q) == 20:
                        magic, qid, src, dst, sport, dport = struct.unpack(P0F2_QUERY_OLD, q)
                        qtype = -1
                    else:
                        return
                    ip = socket.inet_ntop(socket.AF_INET, struct.pack("=I", src))
                    dip = socket.inet_ntop(socket.AF_INET, struct.pack("=I", dst))
                    _log(d, "magic=%08x size=%d type=%d id=%08x src=%s dst=%s sport=%d dport=%d" %
                         (magic, len(q), qtype, qid, ip, dip, sport, dport))
                    entry = _table(d).get(ip)
                    if _special(entry, self.request):
                        return
                    if entry == "badmagic":
                        entry = {"badmagic": True}
                    self.request.sendall(_p0f2_reply(entry, qid))
                    return

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    srv = Server(path, Handler)
    os.chmod(path, 0o666)  # the daemon's workers run as an unprivileged user
    srv.serve_forever()


def _serve_whois(d, host, port):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(10)
            line = b""
            while b"\n" not in line:
                chunk = self.request.recv(1024)
                if not chunk:
                    break
                line += chunk
            q = line.decode(errors="replace").strip()
            _log(d, q)
            key = q[3:] if q.startswith("-r ") else q
            table = _table(d)
            entry = table.get(key, table.get("*", "% No entries found for " + key + "\n"))
            if _special(entry, self.request):
                return
            self.request.sendall(entry.encode())

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server((host, port), Handler).serve_forever()


def main():
    kind, d = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    if kind in ("p0f3", "p0f2"):
        _serve_p0f(d, int(kind[3]), sys.argv[3])
    elif kind == "whois":
        _serve_whois(d, sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("unknown responder " + kind)


if __name__ == "__main__":
    main()
