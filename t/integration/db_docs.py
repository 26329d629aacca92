# SPDX-License-Identifier: GPL-2.0-or-later
"""Documentation of the database and shared-state modules: every example in
their sections of ppolicy-modules(5) and in `ppolicyd -M` is a valid
configuration (ppolicyd -t). That the man page documents every parameter,
field and code of every module is t/integration/docs.py's check."""

import os
import re

from ppolicytest import TOP_SRCDIR, check, ppolicyd, run_tests, workdir

TYPES = ["DOS", "DumpDataDB", "Greylist", "List", "ListBW", "ListDyn", "ListMailDomain", "LookupDB", "Trap"]


def man_sections():
    text = open(os.path.join(TOP_SRCDIR, "man", "ppolicy-modules.5")).read()
    out = {}
    for sec in re.split(r"\n\.SH ", text):
        out[sec.split("\n")[0].strip('"')] = sec
    return out


def valid(conf):
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write("[database]\n" + conf + ("" if "[policy" in conf else "\n[policy main]\ndefault = DUNNO\n"))
    r = ppolicyd("-c", path, "-t")
    return r.returncode == 0, r.stderr


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
