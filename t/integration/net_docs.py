# SPDX-License-Identifier: GPL-2.0-or-later
"""Documentation of the network-service modules (LookupLDAP, P0f, Whois,
Verification):
`ppolicyd -M TYPE` shows the MODULES parameter names, defaults and return
codes, its examples are valid configurations, and conf/ppolicy.conf's
commented examples load when uncommented. That the man page documents every
parameter, field and code is t/integration/docs.py's check."""

import os
import re
import textwrap

from ppolicytest import TOP_SRCDIR, check, eq, ppolicyd, run_tests, workdir

TYPES = {
    # type: (MODULES parameters with their defaults, return codes)
    "LookupLDAP": ({"attributes": "None", "base": "required", "bind_dn": "None", "bind_method": "128",
                    "bind_pass": "None", "cacheNegative": "900", "cachePositive": "900", "cacheUnknown": "900",
                    "filter": "required", "param": "required", "saveResult": "yes", "saveResultPrefix": "result_",
                    "scope": "2", "uri": "required"}, ("1", "0", "-1")),
    "P0f": ({"cacheNegative": "3600", "cachePositive": "3600", "cacheUnknown": "900", "ip": "None", "port": "25",
             "socket": "/var/run/p0f.socket", "version": "3"}, ("1", "0", "-1")),
    "Whois": ({"cacheNegative": "3600", "cachePositive": "3600", "cacheUnknown": "900",
               "test1": "client_address", "param": "client_address"}, ("1", "0", "-1")),
    "Verification": ({"cacheDB": "no", "cacheNegative": "3600", "cachePositive": "86400", "cacheUnknown": "900",
                      "dbExpireNegative": "10800", "dbExpirePositive": "2419200", "param": "required",
                      "saveResult": "yes", "saveResultPrefix": "result_", "table": "verification",
                      "timeout": "20", "vtype": "mx"},
                     ("5 (15)", "4 (14)", "3 (13)", "2 (12)", "1", "0", "-1", "-2 (-12)", "-3 (-13)", "-4 (-14)",
                      "-5 (-15)")),
}


def module_doc(t):
    r = ppolicyd("-M", t)
    eq(r.returncode, 0, r.stderr)
    return r.stdout


def params_of(doc):
    block = doc.split("Parameters:\n", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^    (\w+) \((.*)\)$", block, re.M))


def test_module_docs_keep_modules_names_defaults_and_codes():
    for t, (want, codes) in TYPES.items():
        doc = module_doc(t)
        check(doc.startswith("Module %s\n" % t), doc[:100])
        got = params_of(doc)
        for name, default in want.items():
            eq(got.get(name), default, "%s parameter %s" % (t, name))
        returns = doc.split("Check returns:\n", 1)[1].split("\n\n", 1)[0]
        for c in codes:
            check(re.search(r"^ +%s \.\.\.\." % re.escape(c), returns, re.M), "%s: code %s in %r" % (t, c, returns))


def test_examples_are_valid_configurations():
    for t in TYPES:
        doc = module_doc(t)
        examples = textwrap.dedent(doc.split("Examples:\n", 1)[1])
        path = os.path.join(workdir(), "ppolicy.conf")
        with open(path, "w") as f:
            f.write("[ppolicyd]\n" + examples + "\n[policy main]\ndefault = DUNNO\n")
        r = ppolicyd("-c", path, "-t")
        eq(r.returncode, 0, "%s examples:\n%s\n%s" % (t, examples, r.stderr))


def test_sample_configuration_examples_load():
    with open(os.path.join(TOP_SRCDIR, "conf", "ppolicy.conf")) as f:
        text = f.read()
    block = text.split("# -- network-service modules --\n", 1)[1].split("\n# A tarpit", 1)[0]
    lines = [l[1:] for l in block.splitlines() if re.match(r"^#(\[|[a-z_]+ = )", l)]
    check(len(lines) > 20, "examples missing: %r" % block)
    path = os.path.join(workdir(), "ppolicy.conf")
    with open(path, "w") as f:
        f.write("[ppolicyd]\n" + "\n".join(lines) +
                "\n[policy main]\nrule = lookup_ldap == -1 && p0f.os == \"Linux\" && whois.country == \"NL\""
                " && lookup_ldap.mailHost == \"x\" -> REJECT 5.1.1 unknown user\n"
                "rule = sender != \"\" && verify_sender < 0 -> 450 4.1.8 no mail server\ndefault = DUNNO\n")
    r = ppolicyd("-c", path, "-t")
    eq(r.returncode, 0, r.stderr)


run_tests(globals())
