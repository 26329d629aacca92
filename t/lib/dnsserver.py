# SPDX-License-Identifier: GPL-2.0-or-later
"""A real authoritative DNS server (BIND named) on 127.0.0.1 for tests.

DnsServer() serves every t/dns-zones/NAME.zone as zone NAME, plus fault zones:
  servfail zones  configured with a missing file: every name under them
                  gets SERVFAIL (default: servfail.test, 100.51.198.in-addr.arpa)
  drop zones      answered from data, then dropped by a response-policy zone
                  (RPZ rpz-drop): no answer at all, UDP and TCP
                  (default: timeout.test, 113.0.203.in-addr.arpa)
Recursion is off, so a name outside these zones is REFUSED: no query ever
leaves loopback. The server runs as `named -g` (foreground) with
PR_SET_PDEATHSIG, is stopped by its PID at interpreter exit (atexit) or by
stop() (a test that starts its own server registers ppolicytest.at_exit(
server.stop)), and cannot outlive the test process.

    dns = dnsserver.shared()       # one server per test file, started lazily
    dns.port                       # [dns] nameservers = 127.0.0.1, port = dns.port
    dns.restart(drop=())           # same port, other fault zones
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time

from ppolicytest import TOP_SRCDIR, stop_process, workdir

NAMED = "/usr/sbin/named"
ZONES = os.path.join(TOP_SRCDIR, "t", "dns-zones")
DEFAULT_SERVFAIL = ("servfail.test", "100.51.198.in-addr.arpa")
DEFAULT_DROP = ("timeout.test", "113.0.203.in-addr.arpa")

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _port_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _free_port():
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if _port_free(port):
            return port


def _soa(origin):
    return ("$ORIGIN %s.\n$TTL 60\n@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60\n"
            "@ IN NS ns1.example.test.\n" % origin)


class DnsServer:
    def __init__(self, port=None, drop=DEFAULT_DROP, servfail=DEFAULT_SERVFAIL):
        self.dir = workdir("named")
        self.port = port or _free_port()
        self.proc = None
        atexit.register(self.stop)
        self.start(drop, servfail)

    def _write_config(self, drop, servfail):
        zdir = os.path.join(self.dir, "zones")
        shutil.rmtree(zdir, ignore_errors=True)
        os.makedirs(zdir)
        zones = []
        for f in sorted(os.listdir(ZONES)):
            if f.endswith(".zone"):
                shutil.copy(os.path.join(ZONES, f), zdir)
                zones.append(f[:-5])
        # Drop zones exist even when not dropped (restart(drop=()) brings
        # them back): their data is a wildcard.
        for z in tuple(DEFAULT_DROP) + tuple(drop):
            if z in zones:
                continue
            # Data that would be answered, were it not dropped by the RPZ.
            with open(os.path.join(zdir, z + ".zone"), "w") as f:
                f.write(_soa(z))
                f.write("* IN A 127.0.0.2\n* IN PTR dropped.example.test.\n"
                        "* IN TXT \"v=spf1 -all\"\n@ IN TXT \"v=spf1 -all\"\n@ IN A 127.0.0.2\n")
            zones.append(z)
        with open(os.path.join(zdir, "rpz.db"), "w") as f:
            f.write("$TTL 60\n@ IN SOA localhost. root.localhost. 1 3600 600 86400 60\n@ IN NS localhost.\n")
            for z in drop:
                f.write("%s CNAME rpz-drop.\n*.%s CNAME rpz-drop.\n" % (z, z))
        conf = ["options {",
                '  directory "%s";' % self.dir,
                '  pid-file "%s/named.pid";' % self.dir,
                '  session-keyfile "%s/session.key";' % self.dir,
                '  managed-keys-directory "%s";' % self.dir,
                "  listen-on port %d { 127.0.0.1; };" % self.port,
                "  listen-on-v6 { none; };",
                "  reuseport no;",
                "  recursion no;",
                "  dnssec-validation no;",
                "  notify no;",
                "  minimal-responses no;",
                "  max-udp-size 4096;",
                "  version none;",
                '  response-policy { zone "rpz" recursive-only no; } qname-wait-recurse no;',
                "};",
                "controls { };",
                "logging { channel out { stderr; severity info; print-time yes; };",
                "  category default { out; }; category queries { out; }; };",
                'zone "rpz" { type primary; file "zones/rpz.db"; allow-query { none; }; };']
        for z in servfail:
            conf.append('zone "%s" { type primary; file "zones/%s.missing"; };' % (z, z))
        for z in zones:
            if z not in servfail:
                conf.append('zone "%s" { type primary; file "zones/%s.zone"; };' % (z, z))
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self, drop=DEFAULT_DROP, servfail=DEFAULT_SERVFAIL):
        self._write_config(drop, servfail)
        self.logfile = os.path.join(self.dir, "named.log")
        log = open(self.logfile, "w")
        # -g foreground (log to stderr), -4 IPv4 only, one worker thread, one UDP listener
        self.proc = subprocess.Popen([NAMED, "-g", "-4", "-n", "1", "-U", "1", "-c", self.conf],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        log.close()
        end = time.time() + 15
        while time.time() < end:
            text = self.log()
            if "could not listen" in text or "address in use" in text:
                self.stop()
                raise AssertionError("named could not listen on 127.0.0.1:%d:\n%s" % (self.port, text[-2000:]))
            if " running\n" in text:
                return
            if self.proc.poll() is not None:
                raise AssertionError("named exited %s:\n%s" % (self.proc.returncode, text[-3000:]))
            time.sleep(0.02)
        self.stop()
        raise AssertionError("named not ready after 15 s:\n" + self.log()[-2000:])

    def restart(self, drop=DEFAULT_DROP, servfail=DEFAULT_SERVFAIL):
        self.stop()
        self.start(drop, servfail)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queries(self, name):
        """How many queries for `name` the server has logged."""
        return sum(1 for line in self.log().splitlines() if "query: %s IN" % name in line)

    def stop(self):
        stop_process(self.proc, timeout=5)
        self.proc = None

    def dns_section(self, timeout="2s"):
        return "[dns]\nnameservers = 127.0.0.1\nport = %d\ntimeout = %s\n" % (self.port, timeout)


_shared = None


def shared():
    """The test file's server (started on first use, stopped at exit)."""
    global _shared
    if _shared is None or _shared.proc is None or _shared.proc.poll() is not None:
        _shared = DnsServer()
    return _shared
