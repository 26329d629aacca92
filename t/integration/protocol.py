# SPDX-License-Identifier: GPL-2.0-or-later
"""The policy protocol against a running ppolicyd: split, pipelined and CRLF
requests; oversized, garbage and hostile input closed without a reply; the
request timeout answering default_action."""

import socket
import time

from ppolicytest import Daemon, check, eq, encode, request, run_tests

CONFIG = """
[ppolicyd]
min_workers = 2
max_line_length = 1k
max_request_size = 4k
max_attributes = 64
request_timeout = 500ms
default_action = DEFER_IF_PERMIT Service temporarily unavailable

[module slow]
type = Sleep
sleep = 3

[policy main]
rule = sender == "slow@example.test" && slow == 0 -> OK
rule = sender == "reject@example.test" -> REJECT 5.7.1 rejected ${sender}
rule = recipient_domain == "example.org" -> DUNNO
default = OK
"""

d = None


def daemon():
    global d
    if d is None or not d.running():
        d = Daemon(CONFIG)
    return d


def test_one_request():
    eq(daemon().ask(sender="reject@example.test"), "REJECT 5.7.1 rejected reject@example.test")


def test_split_one_byte_at_a_time():
    c = daemon().client()
    data = encode(request(sender="reject@example.test"))
    for i in range(len(data)):
        c.send_raw(data[i:i + 1])
        time.sleep(0.0005)
    eq(c.read_reply(), "REJECT 5.7.1 rejected reject@example.test")


def test_pipelined_requests_in_one_write():
    c = daemon().client()
    senders = ["reject@example.test", "x@example.test", "reject@example.test"]
    c.send_raw(b"".join(encode(request(sender=s, recipient="a@other.test")) for s in senders))
    eq(c.read_reply(), "REJECT 5.7.1 rejected reject@example.test")
    eq(c.read_reply(), "OK")
    eq(c.read_reply(), "REJECT 5.7.1 rejected reject@example.test")


def test_crlf_tolerated():
    c = daemon().client()
    data = encode(request(sender="reject@example.test")).replace(b"\n", b"\r\n")
    c.send_raw(data)
    eq(c.read_reply(), "REJECT 5.7.1 rejected reject@example.test")


def test_many_requests_one_connection():
    c = daemon().client()
    for i in range(500):
        eq(c.ask(sender="s%d@example.test" % i, recipient="r@other.test"), "OK")


def test_unknown_attributes_ignored():
    eq(daemon().ask(request(sender="reject@example.test", future_attribute="x", another_new="y=z")),
       "REJECT 5.7.1 rejected reject@example.test")


def hostile(data, reason):
    dm = daemon()
    c = dm.client()
    c.send_raw(data)
    check(c.closed(timeout=5), "connection not closed for %s" % reason)
    dm.wait_log(reason)
    # The server still serves everybody else.
    eq(dm.ask(sender="reject@example.test"), "REJECT 5.7.1 rejected reject@example.test")


def test_line_too_long():
    hostile(b"request=smtpd_access_policy\nsender=" + b"a" * 2000 + b"\n\n", "line longer than 1024 bytes")


def test_line_too_long_without_newline():
    hostile(b"request=smtpd_access_policy\nsender=" + b"a" * 5000, "line longer than 1024 bytes")


def test_request_too_large():
    body = b"request=smtpd_access_policy\n" + b"".join(b"a%02d=%s\n" % (i, b"x" * 200) for i in range(40))
    hostile(body + b"\n", "request larger than 4096 bytes")


def test_too_many_attributes():
    body = b"request=smtpd_access_policy\n" + b"".join(b"a%d=1\n" % i for i in range(100))
    hostile(body + b"\n", "more than 64 attributes")


def test_garbage_line():
    hostile(b"request=smtpd_access_policy\nthis is not an attribute\n\n", "malformed line")


def test_nul_byte():
    hostile(b"request=smtpd_access_policy\nsender=a\x00b\n\n", "NUL byte")


def test_invalid_utf8():
    hostile(b"request=smtpd_access_policy\nhelo_name=\xff\xfe\n\n", "invalid UTF-8")


def test_missing_request_attribute():
    hostile(b"sender=a@b\n\n", "without request=smtpd_access_policy")


def test_wrong_request_type():
    hostile(b"request=something_else\n\n", "unsupported request type")


def test_reply_before_garbage_is_sent():
    # A good request followed by garbage: the good one is answered first.
    dm = daemon()
    c = dm.client()
    c.send_raw(encode(request(sender="reject@example.test")) + b"garbage\n\n")
    eq(c.read_reply(), "REJECT 5.7.1 rejected reject@example.test")
    check(c.closed(), "not closed after garbage")


def test_request_timeout_answers_default_action():
    dm = daemon()
    c = dm.client()
    start = time.time()
    eq(c.ask(sender="slow@example.test"), "DEFER_IF_PERMIT Service temporarily unavailable")
    took = time.time() - start
    check(0.4 < took < 1.5, "timeout answer after %.2fs, expected about 0.5s" % took)
    # The connection stays usable.
    eq(c.ask(sender="reject@example.test"), "REJECT 5.7.1 rejected reject@example.test")
    dm.wait_log(r"action=DEFER_IF_PERMIT Service temporarily unavailable.*note=\"request_timeout reached\"")


WATCHDOG_CONFIG = """
[ppolicyd]
min_workers = 1
request_timeout = 500ms
default_action = DEFER_IF_PERMIT Service temporarily unavailable

[module count]
type = DOS
params = sender

[policy main]
rule = sender == "" -> OK
rule = count > 0 -> REJECT 5.7.1 too many
default = OK
"""


def test_watchdog_answers_for_a_module_that_ignores_the_deadline():
    # PPOLICY_TEST_SHM_PAUSE_US makes the DOS update sleep 4 s inside the
    # shared table, deaf to the 500 ms deadline. The master sees the
    # request's deadline (request_timeout + 2 s) pass on the worker board
    # and signals the worker, which answers default_action and exits; a
    # new worker serves the next connection.
    dm = Daemon(WATCHDOG_CONFIG, env={"PPOLICY_TEST_SHM_PAUSE_US": "4000000"})
    c = dm.client()
    eq(c.ask(sender=""), "OK")  # the DOS module does not run: no pause
    start = time.time()
    eq(c.ask(sender="a@example.test"), "DEFER_IF_PERMIT Service temporarily unavailable")
    took = time.time() - start
    check(2.4 < took < 3.4, "watchdog answer after %.2fs, expected 2.5-2.75s" % took)
    check(c.closed(timeout=2), "the worker ended by the watchdog left its connection open")
    dm.wait_log(r"worker \d+: a request exceeded request_timeout by more than 2s; the watchdog")
    # The decision of the first request, held by the worker, was written
    # before it exited.
    dm.wait_log(r"RCPT client=.* from=<> .*action=OK", timeout=1)
    eq(dm.ask(sender=""), "OK")


def test_client_closing_mid_request():
    dm = daemon()
    c = dm.client()
    c.send_raw(b"request=smtpd_access_policy\nsender=half")
    c.close()
    eq(dm.ask(sender="reject@example.test"), "REJECT 5.7.1 rejected reject@example.test")


def test_idle_connection_closed_after_idle_timeout():
    dm = Daemon(CONFIG, overrides=["ppolicyd.idle_timeout=1"])
    c = dm.client()
    eq(c.ask(sender="x@example.test", recipient="a@other.test"), "OK")
    check(c.closed(timeout=5), "idle connection not closed")


def test_one_decision_log_line_per_request():
    dm = Daemon(CONFIG)
    c = dm.client()
    for i in range(5):
        c.ask(sender="reject@example.test", queue_id="QID%d" % i)
    dm.wait_log(r"QID\d: RCPT client=mail.example.test\[192.0.2.10\] helo=<mail.example.test> "
                r"from=<reject@example.test> to=<bob@example.org> action=REJECT 5.7.1 rejected "
                r"reject@example.test policy=main rule=2 line=\d+ time=", count=5)


run_tests(globals())
