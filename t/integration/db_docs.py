# SPDX-License-Identifier: GPL-2.0-or-later
"""Documentation of the database and shared-state modules: every parameter
(as `ppolicyd -M TYPE` lists it) is in the module's section of
ppolicy-modules(5), and every example there and in `ppolicyd -M` is a valid
configuration (ppolicyd -t)."""

import os
import re

from ppolicytest import TOP_SRCDIR, check, eq, ppolicyd, run_tests, workdir

TYPES = ["DOS", "DumpDataDB", "Greylist", "List", "ListBW", "ListDyn", "ListMailDomain", "LookupDB", "Trap"]
BASE = {"cachePositive", "cacheUnknown", "cacheNegative", "saveResult", "saveResultPrefix"}


def man_sections():
    text = open(os.path.join(TOP_SRCDIR, "man", "ppolicy-modules.5")).read()
    out = {}
    for sec in re.split(r"\n\.SH ", text):
        out[sec.split("\n")[0].strip('"')] = sec
    return out


def params_of(mtype):
    r = ppolicyd("-M", mtype)
    eq(r.returncode, 0, r.stderr)
    body = r.stdout.split("Parameters:\n")[1].split("\n\n")[0]
    return [m.group(1) for m in re.finditer(r"^    (\w+) \(", body, re.M)]


def valid(conf):
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write("[database]\n" + conf + ("" if "[policy" in conf else "\n[policy main]\ndefault = DUNNO\n"))
    r = ppolicyd("-c", path, "-t")
    return r.returncode == 0, r.stderr


def test_every_parameter_is_in_the_man_page():
    sections = man_sections()
    for t in TYPES:
        check(t in sections, "no section for %s" % t)
        for p in params_of(t):
            if p in BASE:
                continue
            check(re.search(r"\b%s\b" % p, sections[t]), "%s: parameter %s not documented" % (t, p))


def test_man_examples_are_valid():
    sections = man_sections()
    for t in TYPES:
        for ex in re.findall(r"\.SS Example\n\.nf\n(.*?)\n\.fi", sections[t], re.S):
            conf = ex.replace("\\-", "-").replace("\\&...", "").replace("\\&", "")
            ok, err = valid(conf)
            check(ok, "%s example: %s" % (t, err))


def test_module_doc_examples_are_valid():
    for t in TYPES:
        text = ppolicyd("-M", t).stdout
        ex = text.split("Examples:\n")[1]
        conf = "\n".join(line[4:] for line in ex.split("\n"))
        ok, err = valid(conf)
        check(ok, "%s -M example: %s" % (t, err))


run_tests(globals())
