# SPDX-License-Identifier: GPL-2.0-or-later
"""End to end with a real Postfix (t/lib/postfix.py: a private instance on a
loopback port, never /etc/postfix) whose smtpd asks ppolicyd through
`check_policy_service inet:127.0.0.1:PORT`, driven by swaks and smtp-source:

- a blacklisted sender is rejected with the policy's text (554 5.7.1 ...),
- a DEFER action gives 450,
- 10,000 recipients through 20 concurrent SMTP sessions: no "problem
  talking to server" in Postfix's log, every message and recipient
  delivered (to the discard transport) and every request counted by
  ppolicyd,
- Greylist (store = shm, delay = 2): 450 first, accepted after the delay,
- DOS (small limitCount): deferred past the limit,
- a pool far smaller than Postfix's smtpd processes (max_workers = 3,
  reclaim_idle = 250ms): idle policy connections are reclaimed all the time,
  yet every mail is accepted, rejected or deferred exactly as the policy
  says, and Postfix (smtpd_policy_service_try_limit = 2, its default)
  never logs "problem talking to server".

Each case is a function with its own
ppolicyd and Postfix, so a new case is one more function."""

import re
import threading
import time

import promparse
from postfix import Postfix
from ppolicytest import Daemon, check, eq, free_port, ppolicyd, run_tests, second_start

BASE = """
[ppolicyd]
min_workers = 2
stats_listen = 127.0.0.1:%(stats)d

[policy main]
rule = sender_domain == "spammer.test" -> REJECT 5.7.1 Sender ${sender} is blacklisted
rule = sender_domain == "later.test" -> DEFER 4.7.1 Try again later
rule = protocol_state == "END-OF-MESSAGE" -> DUNNO
default = DUNNO
"""


def setup(config=BASE, **postfix_args):
    """ppolicyd (started first) and a Postfix asking it."""
    sport = free_port()
    d = Daemon(config % {"stats": sport})
    pf = Postfix(policy="inet:127.0.0.1:%d" % d.port, **postfix_args)
    return d, pf, sport


def require_module(type_name):
    r = ppolicyd("-M", type_name)
    # Every module type exists now: a missing one is a failure, not a skip.
    eq(r.returncode, 0, "ppolicyd -M %s: %s" % (type_name, (r.stderr or r.stdout).strip()))


def transcript(r):
    """swaks output, for messages and the report."""
    return (r.stdout + r.stderr).strip()


def test_blacklisted_sender_rejected_with_text():
    d, pf, _ = setup()
    r = pf.swaks("bad@spammer.test", "user@dest.test", quit_after="RCPT")
    out = transcript(r)
    print(out)
    check(re.search(r"^<\*\* 554 5\.7\.1 <user@dest\.test>: Recipient address rejected: "
                    r"Sender bad@spammer\.test is blacklisted$", out, re.M), out)
    eq(r.returncode, 24, "swaks exit status when RCPT is refused")
    pf.wait_log(r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 554 5\.7\.1 <user@dest\.test>: "
                r"Recipient address rejected: Sender bad@spammer\.test is blacklisted; "
                r"from=<bad@spammer\.test> to=<user@dest\.test>")
    d.wait_log(r"NOQUEUE: RCPT client=\S+\[127\.0\.0\.1\] helo=<client\.policy\.test> from=<bad@spammer\.test> "
               r"to=<user@dest\.test> action=REJECT 5\.7\.1 Sender bad@spammer\.test is blacklisted policy=main rule=1")
    print("maillog:", [l for l in pf.log().splitlines() if "reject:" in l][0])
    # A sender that is not listed goes through to delivery.
    r = pf.swaks("good@sender.test", "user@dest.test")
    eq(r.returncode, 0, transcript(r))
    check(re.search(r"^<-  250 2\.0\.0 Ok: queued as ", transcript(r), re.M), transcript(r))
    pf.wait_log(r"discard\[\d+\]: \w+: to=<user@dest\.test>, .*status=sent")


def test_defer_gives_450():
    d, pf, _ = setup()
    r = pf.swaks("someone@later.test", "user@dest.test", quit_after="RCPT")
    out = transcript(r)
    print(out)
    check(re.search(r"^<\*\* 450 4\.7\.1 <user@dest\.test>: Recipient address rejected: Try again later$",
                    out, re.M), out)
    pf.wait_log(r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 450 4\.7\.1 <user@dest\.test>: "
                r"Recipient address rejected: Try again later; from=<someone@later\.test>")
    print("maillog:", [l for l in pf.log().splitlines() if "reject:" in l][0])
    d.wait_log(r"from=<someone@later\.test> to=<user@dest\.test> action=DEFER 4\.7\.1 Try again later")


def test_10000_recipients_20_sessions():
    messages, rcpts, sessions = 1000, 10, 20
    d, pf, sport = setup()
    start = time.time()
    r = pf.smtp_source(sessions=sessions, messages=messages, recipients=rcpts)
    took = time.time() - start
    eq(r.returncode, 0, "smtp-source: " + transcript(r))
    # Every recipient delivered (discard transport), every message removed.
    pf.wait_log(r"discard\[\d+\]: \w+: to=<\d*rcpt@load\.test>, .*status=sent", count=messages * rcpts,
                timeout=300)
    pf.wait_log(r"qmgr\[\d+\]: \w+: removed$", count=messages, timeout=60)
    log = pf.log()
    eq(len(re.findall(r"status=sent", log)), messages * rcpts, "recipients delivered")
    eq(log.count("problem talking to server"), 0, "policy service problems in the maillog")
    eq(len(re.findall(r"reject:|warning:|fatal:|panic:", log)), 0,
       "rejects or warnings: %s" % re.findall(r".*(?:reject:|warning:|fatal:|panic:).*", log)[:5])
    # ppolicyd saw exactly one request per RCPT and one per end of DATA.
    requests = messages * rcpts + messages
    s = promparse.wait_for(sport, "ppolicy_requests_total", requests)
    eq(promparse.value(s, "ppolicy_actions_total", action="DUNNO"), requests, "DUNNO answers")
    eq(promparse.value(s, "ppolicy_rule_matches_total", policy="main", rule="3", line="9"), messages,
       "END-OF-MESSAGE requests")
    eq(promparse.value(s, "ppolicy_rule_matches_total", policy="main", rule="4", line="10"), messages * rcpts,
       "RCPT requests")
    eq(promparse.value(s, "ppolicy_request_timeouts_total"), 0)
    print("%d messages x %d recipients over %d sessions: smtp-source %.1fs, %d policy requests, %d workers"
          % (messages, rcpts, sessions, took, requests, promparse.value(s, "ppolicy_workers_started_total")))


GREYLIST = BASE.replace("[policy main]", """[module grey]
type = Greylist
domainSubject = no
store = shm
delay = 2
cacheNegative = 0

[policy main]
rule = protocol_state == "RCPT" && grey == -1 -> DEFER 4.7.1 Greylisted, try again later""")


def test_greylisted_triplet_deferred_then_accepted():
    require_module("Greylist")
    d, pf, _ = setup(GREYLIST)
    second_start()  # greylisting counts whole seconds: the early retry stays early
    r = pf.swaks("sender@grey.test", "user@dest.test", quit_after="RCPT")
    out = transcript(r)
    print(out)
    check(re.search(r"^<\*\* 450 4\.7\.1 <user@dest\.test>: Recipient address rejected: "
                    r"Greylisted, try again later$", out, re.M), out)
    # Too early: still greylisted.
    r = pf.swaks("sender@grey.test", "user@dest.test", quit_after="RCPT")
    check(re.search(r"^<\*\* 450 4\.7\.1 ", transcript(r), re.M), transcript(r))
    # After the delay the same triplet passes and the message is delivered.
    time.sleep(2.5)
    r = pf.swaks("sender@grey.test", "user@dest.test")
    print(transcript(r))
    eq(r.returncode, 0, transcript(r))
    check(re.search(r"^<-  250 2\.0\.0 Ok: queued as ", transcript(r), re.M), transcript(r))
    pf.wait_log(r"discard\[\d+\]: \w+: to=<user@dest\.test>, .*status=sent")
    # Another triplet is greylisted on its own.
    r = pf.swaks("sender@grey.test", "other@dest.test", quit_after="RCPT")
    check(re.search(r"^<\*\* 450 4\.7\.1 ", transcript(r), re.M), transcript(r))


DOS_LIMIT = 3
DOS = BASE.replace("[policy main]", """[module dos]
type = DOS
params = sender
limitCount = %d
limitTime = 600

[policy main]
rule = protocol_state == "RCPT" && dos == 1 -> DEFER 4.7.1 Too many messages from ${sender}""" % DOS_LIMIT)


def test_dos_limit_defers_past_the_limit():
    require_module("DOS")
    d, pf, _ = setup(DOS)
    results = []
    for i in range(DOS_LIMIT + 3):
        r = pf.swaks("busy@dos.test", "user%d@dest.test" % i)
        deferred = re.search(r"^<\*\* 450 4\.7\.1 <user%d@dest\.test>: Recipient address rejected: "
                             r"Too many messages from busy@dos\.test$" % i, transcript(r), re.M)
        accepted = re.search(r"^<-  250 2\.0\.0 Ok: queued as ", transcript(r), re.M)
        check(bool(deferred) != bool(accepted), "neither accepted nor deferred:\n" + transcript(r))
        results.append("deferred" if deferred else "accepted")
    print("DOS limitCount=%d: %s" % (DOS_LIMIT, results))
    eq(results[0], "accepted", "the first message")
    first = results.index("deferred") if "deferred" in results else None
    check(first is not None and first <= DOS_LIMIT, "no deferral past the limit: %s" % results)
    eq(results[first:], ["deferred"] * (len(results) - first), "every message past the limit")
    # Another sender is not limited.
    r = pf.swaks("quiet@dos.test", "user@dest.test")
    eq(r.returncode, 0, transcript(r))


RECLAIM = BASE.replace("min_workers = 2", "min_workers = 2\nmax_workers = 3\nreclaim_idle = 250ms")


def test_reclaimed_connections_cost_no_mail():
    messages, rcpts, sessions = 40, 2, 6
    d, pf, sport = setup(RECLAIM, try_limit=2)
    verdicts = []
    # Three idle policy connections (smtpd processes between sessions) hold
    # the whole pool before the mail starts: every new smtpd connection then
    # needs a reclaim, whatever the machine's speed (Postfix alone reuses
    # its connections too well on a fast run to force one).
    idle = [d.client() for _ in range(3)]
    for c in idle:
        check(c.ask(sender="idle@example.org", recipient="user@dest.test") is not None, "idle ask")
    time.sleep(0.5)  # quiet longer than reclaim_idle

    def judged():
        # New SMTP sessions (new smtpd policy connections) meanwhile.
        for i in range(4):
            for sender, code in (("bad%d@spammer.test" % i, "554 5.7.1"), ("x%d@later.test" % i, "450 4.7.1")):
                r = pf.swaks(sender, "user@dest.test", quit_after="RCPT")
                verdicts.append((sender, code, bool(re.search(r"^<\*\* %s " % re.escape(code), transcript(r), re.M))))

    t = threading.Thread(target=judged)
    t.start()
    r = pf.smtp_source(sessions=sessions, messages=messages, recipients=rcpts)
    t.join()
    eq(r.returncode, 0, "smtp-source: " + transcript(r))
    eq([v for v in verdicts if not v[2]], [], "mails not rejected/deferred as the policy says")
    pf.wait_log(r"discard\[\d+\]: \w+: to=<\d*rcpt@load\.test>, .*status=sent", count=messages * rcpts,
                timeout=120)
    log = pf.log()
    eq(len(re.findall(r"status=sent", log)), messages * rcpts, "recipients delivered")
    eq(log.count("problem talking to server"), 0, "policy service problems in the maillog")
    # (A loaded machine's clock skew warnings from cleanup are not ours.)
    bad = [l for l in re.findall(r".*(?:warning:|fatal:|panic:).*", log)
           if "file system clock" not in l and "resetting file time stamps" not in l]
    eq(bad[:5], [], "warnings in Postfix's log")
    # Every request answered once: a reclaim never loses or repeats one.
    requests = messages * (rcpts + 1) + len(verdicts) + len(idle)
    s = promparse.wait_for(sport, "ppolicy_requests_total", requests)
    reclaimed = promparse.value(s, "ppolicy_connections_reclaimed_total")
    check(reclaimed > 0, "no connection was reclaimed: the test forced nothing")
    # The longest idle go first: the test's own idle connections.
    closed = sum(1 for c in idle if c.closed(timeout=1))
    for c in idle:
        c.close()
    check(closed >= 1, "none of the idle connections was reclaimed")
    print("%d messages over %d sessions + %d judged sessions with max_workers = 3: %d connections "
          "reclaimed, no warning in Postfix's log" % (messages, sessions, len(verdicts), reclaimed))


run_tests(globals())
