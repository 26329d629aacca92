# SPDX-License-Identifier: GPL-2.0-or-later
"""The scripted SMTP server of t/lib/smtpserver.py (for the Verification
tests) does what its script says: accepts, rejects at RCPT, tempfails,
stalls, drops the connection, answers slowly, and logs every command."""

import smtplib
import socket
import time

from ppolicytest import check, eq, run_tests
from smtpserver import SmtpResponder

SCRIPT = {"rcpt": {"ok@example.test": "250 2.1.5 OK",
                   "nouser@example.test": "550 5.1.1 no such user",
                   "later@example.test": "450 4.2.0 try again later",
                   "slow@example.test": "hang",
                   "drop@example.test": "close"},
          "rcpt_default": "550 5.1.1 unknown",
          "helo": "250-mx.test\n250 PIPELINING"}


def session(srv, rcpt, timeout=5):
    s = smtplib.SMTP(timeout=timeout)
    s.connect("127.0.0.1", srv.port)
    s.ehlo("ppolicy.test")
    s.mail("")
    try:
        return s.rcpt(rcpt)
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


def test_accept_reject_tempfail():
    srv = SmtpResponder(SCRIPT)
    eq(session(srv, "ok@example.test"), (250, b"2.1.5 OK"))
    eq(session(srv, "NoUser@example.test"), (550, b"5.1.1 no such user"))
    eq(session(srv, "later@example.test"), (450, b"4.2.0 try again later"))
    eq(session(srv, "other@example.test"), (550, b"5.1.1 unknown"))
    eq(srv.connections(), 4)
    eq(srv.commands()[:4], ["ehlo ppolicy.test", "mail FROM:<>", "rcpt TO:<ok@example.test>", "quit"])


def test_stall_drop_and_delay():
    srv = SmtpResponder(SCRIPT)
    t = time.time()
    try:
        session(srv, "slow@example.test", timeout=0.5)
        raise AssertionError("no timeout")
    except (socket.timeout, smtplib.SMTPServerDisconnected):
        pass
    check(0.4 < time.time() - t < 2, "stalled for %.2f s" % (time.time() - t))
    try:
        session(srv, "drop@example.test")
        raise AssertionError("not dropped")
    except smtplib.SMTPServerDisconnected:
        pass
    srv.set_table({"greeting": "554 5.7.1 go away"})
    s = smtplib.SMTP(timeout=5)
    eq(s.connect("127.0.0.1", srv.port), (554, b"5.7.1 go away"))
    s.close()
    srv.set_table(dict(SCRIPT, delay_ms=300))
    t = time.time()
    eq(session(srv, "ok@example.test")[0], 250)
    check(time.time() - t > 1.2, "5 delayed replies took %.2f s" % (time.time() - t))


run_tests(globals())
