# SPDX-License-Identifier: GPL-2.0-or-later
"""A scripted SMTP server on loopback for the Verification tests (sender and
recipient callouts): a separate Python process (this file run as a script),
stopped by its PID also when the test fails (the harness's at_exit). stdlib
only.

    srv = SmtpResponder({"rcpt": {"ok@example.test": "250 2.1.5 OK",
                                  "nouser@example.test": "550 5.1.1 no such user",
                                  "later@example.test": "450 4.2.0 try again later",
                                  "slow@example.test": "hang"},
                         "rcpt_default": "550 5.1.1 unknown"})
    ... srv.port ...; srv.commands() -> ["EHLO ...", "MAIL FROM:<>", "RCPT TO:<...>", "QUIT"]

Script keys (every reply is "CODE text", multi-line "250-a\\n250 b", or a
special word: "hang" = read, then never answer; "close" = drop the connection):
  greeting      the banner (default "220 mx.test ESMTP scripted")
  helo          reply to HELO, and to EHLO unless "ehlo" is given (default "250 mx.test")
  ehlo          reply to EHLO (default: the "helo" reply)
  mail          reply to MAIL FROM (default "250 2.1.0 OK")
  rcpt          {address (lower case, without <>): reply}
  rcpt_default  reply for other recipients (default "250 2.1.5 OK")
  delay_ms      wait before every reply (default 0)
The table may be replaced while the server runs (set_table()); every command
line the server receives is logged, in order, per connection ("--" starts a
new connection)."""

import os
import socket
import socketserver
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netservers  # noqa: E402


class SmtpResponder(netservers._Process):
    def __init__(self, script, host="127.0.0.1", port=None):
        self.host = host
        self.port = port or netservers.ppolicytest.free_port()

        def ready():
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return True
            except OSError:
                return False
        super().__init__("smtp", script, [host, str(self.port)], ready, script=__file__)
        time.sleep(0.05)
        open(self.log_file, "w").close()  # forget the readiness probe

    def commands(self):
        """Command lines received, without the connection separators."""
        return [q for q in self.queries() if q != "--"]

    def connections(self):
        return self.queries().count("--")


def _reply(sock, text, delay_ms):
    """Send a reply ("250 OK", or multi-line "250-first\n250 last"); False: stop."""
    if delay_ms:
        time.sleep(delay_ms / 1000.0)
    if text == "hang":
        time.sleep(3600)
        return False
    if text == "close":
        return False
    sock.sendall(("\r\n".join(text.split("\n")) + "\r\n").encode())
    return True


def _address(arg):
    a = arg.split(":", 1)[1].strip() if ":" in arg else arg
    a = a.split()[0] if a.split() else ""
    return a.strip("<>").lower()


def _serve(d, host, port):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            t = netservers._table(d)
            delay = t.get("delay_ms", 0)
            netservers._log(d, "--")
            if not _reply(self.request, t.get("greeting", "220 mx.test ESMTP scripted"), delay):
                return
            data = False
            for raw in self.rfile:
                line = raw.decode(errors="replace").rstrip("\r\n")
                netservers._log(d, line)
                t = netservers._table(d)
                delay = t.get("delay_ms", 0)
                if data:
                    if line == ".":
                        data = False
                        if not _reply(self.request, t.get("data_end", "250 2.0.0 queued"), delay):
                            return
                    continue
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    r = t.get("ehlo", t.get("helo", "250 mx.test"))
                elif verb == "HELO":
                    r = t.get("helo", "250 mx.test")
                elif verb == "MAIL":
                    r = t.get("mail", "250 2.1.0 OK")
                elif verb == "RCPT":
                    r = t.get("rcpt", {}).get(_address(line), t.get("rcpt_default", "250 2.1.5 OK"))
                elif verb == "DATA":
                    r = t.get("data", "354 go ahead")
                    data = r.startswith("354")
                elif verb in ("RSET", "NOOP"):
                    r = "250 2.0.0 OK"
                elif verb == "QUIT":
                    _reply(self.request, "221 2.0.0 bye", 0)
                    return
                else:
                    r = "502 5.5.2 command not recognized"
                if not _reply(self.request, r, delay):
                    return

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server((host, port), Handler).serve_forever()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
