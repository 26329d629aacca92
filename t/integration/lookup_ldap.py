# SPDX-License-Identifier: GPL-2.0-or-later
"""LookupLDAP against a real slapd on loopback (t/lib/slapd.py): found (1),
not found (-1), errors (0); RFC 4515 escaping (an injection attempt finds
nothing, a value with * ( ) is found only by itself); attributes as info and
fields; anonymous and simple bind; scopes; failover over several URIs; one
lazily opened connection per worker; a slapd restart (requests answer 0
quickly while it is down, the module recovers without restarting ppolicyd)
and a hung slapd (the circuit breaker makes it cost one timeout, not one per
request)."""

import os
import socket
import time

from ppolicytest import Daemon, check, eq, ppolicyd, request, run_tests, workdir
from slapd import Slapd

ENV = {"LDAPNOINIT": "1"}  # no /etc/ldap/ldap.conf, no ~/.ldaprc

POLICY = """
[policy main]
rule = ldap == 1 -> OK found ${ldap.dn} cn=${ldap.cn} mail=${ldap.mail} count=${ldap.count}
rule = ldap == -1 -> REJECT 5.1.1 not found
default = DEFER 4.3.0 ldap ${ldap} ${ldap.info}
"""


def config(ldap_uri, extra="", server="min_workers = 1\n", policy=POLICY, bind=True, **params):
    p = {"param": "recipient", "uri": ldap_uri, "base": "ou=people,dc=example,dc=org", "filter": "(mail=%m)",
         "attributes": "cn, mail", "timeout": "2s", "network_timeout": "2s", "cacheUnknown": "0"}
    if bind:
        p.update(bind_dn="cn=policyd,ou=services,dc=example,dc=org", bind_pass="policyd-secret")
    p.update(params)
    body = "".join("%s = %s\n" % (k, v) for k, v in p.items() if v is not None)
    if "request_timeout" not in server:
        server += "request_timeout = 4s\n"
    return "[ppolicyd]\n%s\n[module ldap]\ntype = LookupLDAP\n%s%s\n%s" % (server, body, extra, policy)


def ask(d, value, **kw):
    return d.ask(recipient=value, **kw)


def dead_port():
    """A loopback port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_connections(port):
    """Established TCP connections from a client to 127.0.0.1:port (from /proc/net/tcp)."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            rport = int(fields[2].split(":")[1], 16)
            if rport == port and fields[3] == "01":
                n += 1
    return n


slapd = None


def server():
    """The shared slapd (the harness stops it after each test: start it again)."""
    global slapd
    if slapd is None or not slapd.running():
        slapd = Slapd()
    return slapd


def test_found_not_found_and_fields():
    s = server()
    d = Daemon(config(s.uri), env=ENV)
    eq(ask(d, "alice@example.org"),
       "OK found uid=alice,ou=people,dc=example,dc=org cn=Alice Example "
       "mail=alice@example.org, a.example@example.org count=1")
    eq(ask(d, "a.example@example.org")[:31], "OK found uid=alice,ou=people,dc")  # second mail value
    eq(ask(d, "nobody@example.org"), "REJECT 5.1.1 not found")
    d.wait_log(r"to=<alice@example\.org> action=OK.* modules=ldap:1 ")
    d.wait_log(r"to=<nobody@example\.org> action=REJECT.* modules=ldap:-1 ")


def test_injection_attempt_finds_nothing():
    s = server()
    d = Daemon(config(s.uri), env=ENV)
    # Unescaped, "(mail=*)(uid=*)" would match every entry (or fail as a bad filter: 0).
    eq(ask(d, "*)(uid=*"), "REJECT 5.1.1 not found")
    eq(ask(d, "*"), "REJECT 5.1.1 not found")
    eq(ask(d, "alice@example.org)(|(mail=*"), "REJECT 5.1.1 not found")
    eq(ask(d, "\\2a"), "REJECT 5.1.1 not found")


def test_value_with_special_characters_found_only_by_itself():
    s = server()
    d = Daemon(config(s.uri), env=ENV)
    eq(ask(d, "carol*(x)@example.org"),
       "OK found uid=carol,ou=people,dc=example,dc=org cn=Carol Example mail=carol*(x)@example.org count=1")
    eq(ask(d, "carol*"), "REJECT 5.1.1 not found")
    eq(ask(d, "carol*(x)@example.or"), "REJECT 5.1.1 not found")


def test_info_lists_every_entry_and_caches_by_value():
    s = server()
    policy = "[policy main]\nrule = ldap == 1 -> OK ${ldap.count} ${ldap.info}\ndefault = DUNNO\n"
    d = Daemon(config(s.uri, filter="(|(mail=%m)(sn=%m))", attributes="uid", policy=policy), env=ENV)
    got = ask(d, "Example")
    check(got.startswith("OK 3 "), got)
    for uid in ("alice", "bob", "carol"):
        check("uid=%s,ou=people,dc=example,dc=org; uid=%s" % (uid, uid) in got, got)
    eq(ask(d, "Example"), got)
    d.wait_log(r"modules=ldap:1\(cached\)")


def test_anonymous_bind():
    s = server()
    # Anonymous users may read ou=public only (see t/lib/slapd.py).
    d = Daemon(config(s.uri, bind=False, base="ou=public,dc=example,dc=org"), env=ENV)
    eq(ask(d, "dave@example.org"),
       "OK found uid=dave,ou=public,dc=example,dc=org cn=Dave Public mail=dave@example.org count=1")
    # ou=people is invisible to anonymous users: the server says so (code 0), so
    # the module really did not bind as cn=policyd.
    d2 = Daemon(config(s.uri, bind=False), env=ENV)
    eq(ask(d2, "alice@example.org"), "DEFER 4.3.0 ldap 0 LDAP error: No such object")


def test_errors_answer_zero():
    s = server()
    d = Daemon(config(s.uri, bind_pass="wrong"), env=ENV)
    got = ask(d, "alice@example.org")
    check(got.startswith("DEFER 4.3.0 ldap 0 LDAP unavailable:") and "Invalid credentials" in got, got)
    d2 = Daemon(config(s.uri, base="ou=nowhere,dc=example,dc=org"), env=ENV)
    got = ask(d2, "alice@example.org")
    check(got.startswith("DEFER 4.3.0 ldap 0 LDAP error: No such object"), got)


def test_scopes_numbers_and_words():
    s = server()
    for scope, base, want in (("0", "uid=alice,ou=people,dc=example,dc=org", "OK"),
                              ("base", "ou=people,dc=example,dc=org", "REJECT"),
                              ("1", "dc=example,dc=org", "REJECT"),
                              ("one", "ou=people,dc=example,dc=org", "OK"),
                              ("2", "dc=example,dc=org", "OK"),
                              ("sub", "dc=example,dc=org", "OK")):
        r = ppolicyd("-c", conf_file(config(s.uri, scope=scope, base=base)), "-e",
                     input="request=smtpd_access_policy\nrecipient=alice@example.org\n\n")
        check(("action=" + want) in r.stdout, "scope %s base %s: %s%s" % (scope, base, r.stdout, r.stderr))


def conf_file(text):
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_failover_to_second_uri():
    s = server()
    uri = "ldap://127.0.0.1:%d/ %s" % (dead_port(), s.uri)
    d = Daemon(config(uri), env=ENV)
    eq(ask(d, "bob@example.org")[:8], "OK found")
    d.wait_log(r"modules=ldap:1 ")


def test_one_lazy_connection_per_worker():
    s = server()
    d = Daemon(config(s.uri, server="min_workers = 3\n", cacheNegative="0"), env=ENV)
    d.wait_workers(lambda n: n == 3)
    eq(client_connections(s.port), 0, "connections before the first request")
    c = d.client()
    for i in range(30):
        eq(c.ask(request(recipient="bob@example.org" if i % 2 else "u%d@example.org" % i))[:2],
           "OK" if i % 2 else "RE")
    eq(client_connections(s.port), 1, "connections after 30 requests on one policy connection")
    c.close()


def test_configuration_errors():
    s = server()
    bad = [({"uri": "http://127.0.0.1/"}, "\"uri\": \"http://127.0.0.1/\" is not an LDAP URI"),
           ({"filter": "(mail=alice)"}, "\"filter\": has no %m"),
           ({"filter": "(mail=%m"}, "\"filter\": has unbalanced parentheses"),
           ({"bind_pass": None}, "\"bind_pass\": is required with bind_dn"),
           ({"scope": "3"}, "\"scope\": invalid value \"3\""),
           ({"bind_method": "sasl"}, "\"bind_method\": invalid value \"sasl\""),
           ({"base": None}, "\"base\""),
           ({"attributes": "cn, ma(il"}, "\"ma(il\" is not an attribute name")]
    for params, msg in bad:
        r = ppolicyd("-c", conf_file(config(s.uri, **params)), "-t")
        eq(r.returncode, 1, "%s: %s" % (params, r.stderr))
        check(msg in r.stderr, "%s: want %r in %s" % (params, msg, r.stderr))
    r = ppolicyd("-c", conf_file(config(s.uri, policy="[policy main]\nrule = ldap.sn == \"x\" -> OK\n")), "-t")
    eq(r.returncode, 1)
    check("has no field \"sn\" (fields: code, info, cached, time, dn, count, cn, mail)" in r.stderr, r.stderr)
    r = ppolicyd("-c", conf_file(config(s.uri, bind_method="simple", scope="subtree")), "-t")
    eq(r.returncode, 0, r.stderr)


def timed(d, value):
    t = time.time()
    got = ask(d, value)
    return got, time.time() - t


def test_server_restart_recovers_without_restarting_ppolicyd():
    s = Slapd()  # its own server: this test stops it
    d = Daemon(config(s.uri, server="breaker_failures = 2\nbreaker_cooldown = 2s\n", cachePositive="0"), env=ENV)
    eq(ask(d, "alice@example.org")[:8], "OK found")
    s.stop()
    times = []
    for i in range(6):
        got, t = timed(d, "down%d@example.org" % i)
        check(got.startswith("DEFER 4.3.0 ldap 0 LDAP unavailable"), got)
        times.append(t)
    check(max(times) < 0.5, "answers while slapd is down took %s" % times)
    d.wait_log(r"circuit breaker for ldap %s opened" % s.uri)
    d.wait_log(r"skipped \(circuit breaker open\)")
    t0 = time.time()
    s.start()
    started = time.time() - t0
    # Until the cool-down ends the server is skipped; then one trial reconnects.
    t0 = time.time()
    while True:
        got = ask(d, "alice@example.org")
        if got.startswith("OK"):
            break
        check(time.time() - t0 < 10, "no recovery within 10 s: %s" % got)
        time.sleep(0.1)
    recovered = time.time() - t0
    d.wait_log(r"circuit breaker for ldap %s closed" % s.uri)
    eq(ask(d, "bob@example.org")[:8], "OK found")
    print("    restart: answers while down %s s; slapd start %.2f s; recovered %.2f s after start" %
          (", ".join("%.3f" % t for t in times), started, recovered))


def test_quick_restart_is_invisible():
    # The worker's connection goes stale; the next search reconnects and
    # retries once, so no request sees the restart.
    s = Slapd()
    d = Daemon(config(s.uri, cachePositive="0"), env=ENV)
    c = d.client()
    eq(c.ask(request(recipient="alice@example.org"))[:8], "OK found")
    s.stop()
    s.start()
    eq(c.ask(request(recipient="alice@example.org"))[:8], "OK found")
    d.wait_log(r"Can't contact LDAP server; reconnecting")
    check("circuit breaker" not in d.log(), d.log())


def test_timeout_never_beyond_request_deadline():
    s = Slapd()
    d = Daemon(config(s.uri, timeout="10s", server="request_timeout = 600ms\ndefault_action = DEFER_IF_PERMIT late\n"
                      "min_workers = 1\n"), env=ENV)
    eq(ask(d, "alice@example.org")[:8], "OK found")
    workers = d.workers()
    s.pause()
    try:
        got, t = timed(d, "bob@example.org")
        eq(got, "DEFER_IF_PERMIT late")
        check(0.5 < t < 1.2, "answered after %.3f s" % t)
        time.sleep(0.2)
        check(set(workers) <= set(d.workers()), "a worker died: %s -> %s" % (workers, d.workers()))
        check("watchdog" not in d.log(), d.log())
    finally:
        s.resume()


def test_hung_server_costs_one_timeout():
    s = Slapd()
    d = Daemon(config(s.uri, timeout="700ms", server="breaker_failures = 2\nbreaker_cooldown = 30s\n"), env=ENV)
    eq(ask(d, "alice@example.org")[:8], "OK found")
    s.pause()
    try:
        times, answers = [], []
        for i in range(6):
            got, t = timed(d, "hung%d@example.org" % i)
            check(got.startswith("DEFER 4.3.0 ldap 0 LDAP unavailable"), got)
            times.append(t)
            answers.append(got)
        check("no answer within 700 ms" in answers[0], answers[0])
        check(answers[-1].endswith("%s: skipped (circuit breaker open)" % s.uri), answers[-1])
        # Two requests wait for the timeout (breaker_failures = 2); the rest are skipped at once.
        check(all(0.6 < t < 1.6 for t in times[:2]), "first answers %s" % times)
        check(all(t < 0.2 for t in times[2:]), "answers after the breaker opened %s" % times)
        d.wait_log(r"circuit breaker for ldap %s opened" % s.uri)
        print("    hung slapd (timeout 700ms): %s s" % ", ".join("%.3f" % t for t in times))
    finally:
        s.resume()


run_tests(globals())
