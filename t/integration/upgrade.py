# SPDX-License-Identifier: GPL-2.0-or-later
"""Upgrading from ppolicy 2.x: tools/ppolicy-migrate.py turns the original's
sample configuration (t/data/ppolicy2-sample.conf, vokac/ppolicy's
ppolicy.conf) into a draft that ppolicyd reads: the policy port 10031 the
2.x code really listened on, the database, every module of `modules` as a
[module NAME] section of the same type, the check() function kept as
comments in [policy main]. `ppolicyd -t` on the draft reports one error
only, the GeoLite2 database that replaces the legacy GeoIP.dat (when it is
not installed). UPGRADING names every server key of 2.x."""

import ast
import os
import re
import subprocess
import sys

from ppolicytest import PPOLICYD, TOP_SRCDIR, check, eq, run_tests, workdir

HELPER = os.path.join(TOP_SRCDIR, "tools", "ppolicy-migrate.py")
SAMPLE = os.path.join(TOP_SRCDIR, "t", "data", "ppolicy2-sample.conf")
GEOIP = "/usr/share/GeoIP/GeoLite2-Country.mmdb"


def sample_modules():
    """name -> type of the sample's `modules`, read without running it."""
    tree = ast.parse(open(SAMPLE).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "modules":
            return {k.value: v.elts[0].value for k, v in zip(node.value.keys, node.value.values)}
    raise AssertionError("no modules in " + SAMPLE)


def migrate():
    r = subprocess.run([sys.executable, HELPER, "--ppolicyd", PPOLICYD, SAMPLE], capture_output=True, text=True,
                       timeout=60)
    eq(r.returncode, 0, r.stderr)
    path = os.path.join(workdir("upgrade"), "ppolicy.conf")
    with open(path, "w") as f:
        f.write(r.stdout)
    return path, r.stdout


def test_sample_configuration_converts():
    path, text = migrate()
    print(text[:1500])
    check(re.search(r"^listen = inet:127\.0\.0\.1:10031$", text, re.M), "listen from ppolicyPort 10031")
    for line in ("host = localhost", "user = ppolicy", "password = secret", "database = ppolicy"):
        check(re.search("^%s$" % re.escape(line), text, re.M), "[database] " + line)
    mods = sample_modules()
    check(len(mods) > 40, "modules of the sample: %d" % len(mods))
    for name, mtype in mods.items():
        check(re.search(r"^\[module %s\]\ntype = %s$" % (re.escape(name), mtype), text, re.M),
              "module %s (%s) not converted" % (name, mtype))
    check("mappingWhitelist = recipient:key" in text, "mapping dict")
    check("mapping = sender:key VARCHAR(50)" in text, "mapping with a column type")
    check("cacheAll = yes" in text, "booleans")
    check(re.search(r"^#\s+factory\.check\('dumpdb', data\)$", text, re.M), "check() body kept as comments")
    check("TODO" in text and "GeoIP.dat" in text, "the legacy GeoIP.dat is flagged")
    for key in ("commandPort", "cacheEngine", "stateFile", "connLimit", "returnOnConnLimit"):
        check(re.search(r"^# %s = " % key, text, re.M), "old key %s not explained" % key)
    check(all(len(line) < 198 for line in text.splitlines()), "a line too long for ppolicyd")
    r = subprocess.run([PPOLICYD, "-c", path, "-t"], capture_output=True, text=True, timeout=60)
    errors = [line for line in r.stderr.splitlines() if line.startswith(path + ":")]
    if os.path.exists(GEOIP):
        eq(r.returncode, 0, r.stderr)
    else:
        eq(len(errors), 1, "ppolicyd -t on the draft:\n" + r.stderr)
        check("[module country] \"dataPath\"" in errors[0], errors[0])


def test_upgrading_names_every_old_key():
    text = open(os.path.join(TOP_SRCDIR, "UPGRADING")).read()
    for key in ("ppolicyPort", "commandPort", "connLimit", "returnOnConnLimit", "returnOnFatalError",
                "cacheEngine", "cacheSize", "cacheServers", "stateFile", "logLevel", "database", "databaseAPI",
                "usePsyco", "basePath", "admin", "domain", "modules", "check", "10031", "GeoIP.dat",
                "ppolicy-migrate"):
        check(key in text, "UPGRADING does not mention %s" % key)
    for ex in sorted(os.listdir(os.path.join(TOP_SRCDIR, "conf", "examples"))):
        if ex.endswith(".conf"):
            check(ex in text, "UPGRADING does not point to conf/examples/" + ex)


run_tests(globals())
