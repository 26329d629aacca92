# SPDX-License-Identifier: GPL-2.0-or-later
"""Command-line modes: -t (configuration check), -e (evaluate requests from
stdin with a trace), -M (module documentation), -d (defaults), -o, -V and
usage errors."""

import os

from ppolicytest import TOP_SRCDIR, check, encode, eq, ppolicyd, request, run_tests, workdir

GOOD = """
[ppolicyd]
listen = inet:127.0.0.1:10030
[module dummy]
type = Dummy
[policy main]
rule = sender_domain == "spam.test" -> REJECT 5.7.1 no mail from ${sender_domain}
rule = dummy == 0 && client_address in 192.0.2.0/24 -> DEFER_IF_PERMIT greylisted ${client_address}
default = DUNNO
"""


def conf(text):
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_check_good_config():
    r = ppolicyd("-c", conf(GOOD), "-t")
    eq(r.returncode, 0, "exit status: " + r.stderr)
    check("configuration" in r.stdout and "OK" in r.stdout, r.stdout)


def test_check_bad_config_lists_every_error():
    path = conf(GOOD.replace("dummy == 0", "dumy == 0").replace("[ppolicyd]", "[ppolicyd]\nbogus = 1"))
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 1, "exit status")
    check("%s:3: [ppolicyd]: unknown key \"bogus\"" % path in r.stderr, r.stderr)
    check("%s:9: [policy main] rule: unknown name \"dumy\"" % path in r.stderr, r.stderr)
    check("    ^^^^ column 1\n" in r.stderr, "no caret and column under the error:\n" + r.stderr)


def test_errors_in_line_order_with_their_values():
    """Issue 15 §6: every error comes in the order of its line (a policy
    error is found after the settings, yet printed first when it is above
    them), names the bad value (syslog_facility = local9), and a bad
    max_workers gives no follow-on "min_workers is larger" without a line."""
    text = ("[policy main]\nrule = nosuch == 1 -> OK\n"
            "[ppolicyd]\nlisten = inet:127.0.0.1:10030\nmax_workers = lots\nsyslog_facility = local9\nbogus = 1\n")
    path = conf(text)
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 1, "exit status")
    lines = [int(m.split(":")[1]) for m in r.stderr.splitlines() if m.startswith(path + ":")]
    eq(lines, [2, 5, 6, 7], "errors by line:\n" + r.stderr)
    check("%s:6: [ppolicyd] \"syslog_facility\": unknown facility \"local9\"" % path in r.stderr, r.stderr)
    check("%s:5: [ppolicyd] \"max_workers\": invalid integer \"lots\"" % path in r.stderr, r.stderr)
    check("min_workers is larger" not in r.stderr, "a follow-on error of max_workers:\n" + r.stderr)


def test_non_defaults():
    """-n: the server keys whose value differs from the default, as values
    ("10s" is the default 10s; "10" seconds too), with -o; nothing else."""
    text = GOOD.replace("listen = inet:127.0.0.1:10030",
                        "listen = inet:127.0.0.1:10031\nrequest_timeout = 10\nmin_workers = 4\n"
                        "max_workers = 20\n[dns]\ntimeout = 2s")
    r = ppolicyd("-c", conf(text), "-o", "ppolicyd.log_level=debug", "-n")
    eq(r.returncode, 0, r.stderr)
    eq(r.stdout, "[ppolicyd]\nlisten = inet:127.0.0.1:10031\nmax_workers = 20\nlog_level = debug\n\n")
    r = ppolicyd("-c", conf(text.replace("max_workers = 20", "max_workers = lots")), "-n")
    eq(r.returncode, 1)
    check("max_workers" in r.stderr and r.stdout == "", r.stderr)


def test_check_missing_file():
    r = ppolicyd("-c", "/nonexistent/ppolicy.conf", "-t")
    eq(r.returncode, 1)
    check("/nonexistent/ppolicy.conf: cannot open: No such file or directory" in r.stderr, r.stderr)


def test_override_on_command_line():
    r = ppolicyd("-c", conf(GOOD), "-o", "ppolicyd.min_workers=0", "-t")
    eq(r.returncode, 1)
    check("\"min_workers\": value 0 is outside 1..10000" in r.stderr, r.stderr)
    check("ppolicyd -o: [ppolicyd] \"min_workers\"" in r.stderr, "an -o error is the command line's: " + r.stderr)
    r = ppolicyd("-c", conf(GOOD), "-o", "ppolicyd.nokey=1", "-t")
    eq(r.returncode, 1)
    check("ppolicyd -o: [ppolicyd]: unknown key \"nokey\"" in r.stderr, r.stderr)
    r = ppolicyd("-c", conf(GOOD), "-o", "nonsense", "-t")
    eq(r.returncode, 2)
    check("expected SECTION.KEY=VALUE" in r.stderr, r.stderr)


def test_evaluate_prints_trace():
    data = encode(request(sender="x@spam.test")) + encode(request(client_address="192.0.2.55")) + \
        encode(request(client_address="192.0.2.55")) + encode(request(client_address="198.51.100.1"))
    r = ppolicyd("-c", conf(GOOD), "-e", input=data.decode())
    eq(r.returncode, 0, r.stderr)
    out = r.stdout
    check("request 1: action=REJECT 5.7.1 no mail from spam.test\n"
          "  decided by [policy main] rule 1 (line 7): sender_domain == \"spam.test\" -> REJECT" in out, out)
    check("request 2: action=DEFER_IF_PERMIT greylisted 192.0.2.55" in out, out)
    check("module dummy (Dummy): code 0, info \"dummy\", cache miss" in out, out)
    check("request 3: action=DEFER_IF_PERMIT greylisted 192.0.2.55" in out, out)
    check("module dummy (Dummy): code 0, info \"dummy\", cache hit" in out, out)
    check("request 4: action=DUNNO\n  decided by [policy main] default 3 (line 9): DUNNO" in out, out)


def test_evaluate_rejects_garbage():
    r = ppolicyd("-c", conf(GOOD), "-e", input="garbage\n\n")
    eq(r.returncode, 1)
    check("malformed line" in r.stderr, r.stderr)


def test_module_docs():
    r = ppolicyd("-M")
    eq(r.returncode, 0)
    for name in ("Module Dummy", "Module DumpDataFile", "Module Sleep"):
        check(name in r.stdout, name + " missing from -M")
    r = ppolicyd("-M", "sleep")
    check("Module Sleep\n------------" in r.stdout and "    sleep (1)\n" in r.stdout, r.stdout)
    r = ppolicyd("-M", "Nope")
    eq(r.returncode, 1)


def test_defaults():
    r = ppolicyd("-d")
    eq(r.returncode, 0)
    check("[ppolicyd]\n" in r.stdout and "\nlisten = inet:127.0.0.1:10030\n" in r.stdout, r.stdout)
    check("[database]\n" in r.stdout and "[dns]\n" in r.stdout, r.stdout)


def test_version_and_usage():
    r = ppolicyd("-V")
    eq(r.returncode, 0)
    check(r.stdout.startswith("ppolicyd "), r.stdout)
    r = ppolicyd("-x")
    eq(r.returncode, 2)
    check("unknown option -x" in r.stderr and "usage:" in r.stderr, r.stderr)


def test_sample_configuration_checks():
    r = ppolicyd("-c", os.path.join(TOP_SRCDIR, "conf", "ppolicy.conf"), "-t")
    eq(r.returncode, 0, r.stderr)


run_tests(globals())
