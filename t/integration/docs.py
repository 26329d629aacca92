# SPDX-License-Identifier: GPL-2.0-or-later
"""The manual is complete and renders cleanly; every failure lists exactly
what is missing or wrong, and where to add it:

- every key `ppolicyd -d` prints is an item (.TP/.TQ tag) of its section
  (.SH "... [SECTION]") of man/ppolicy.conf.5, with its default in the tag;
- every module type `ppolicyd -M` prints has a .SH "TYPE" section in
  man/ppolicy-modules.5 (no `.\\" @@ TYPE` anchor left) with every one of its
  parameters as an item, each default given in the tag or its text
  (saveResult/saveResultPrefix may be documented once for all modules),
  and every info field and return code of the type as an item too (this is
  the one documentation-coverage check of the module types);
- every option of `ppolicyd -h` is an item of .SH OPTIONS in man/ppolicyd.8;
- every [ppolicyd] key is in conf/ppolicy.conf as `key = default`;
- groff -ww, man --warnings and lexgrog have nothing to say about any page.
"""

import os
import re
import shutil
import subprocess

from ppolicytest import TOP_SRCDIR, check, ppolicyd, run_tests, skip

MAN = os.path.join(TOP_SRCDIR, "man")
PAGES = ["ppolicyd.8", "ppolicy.conf.5", "ppolicy-modules.5"]


# ------------------------------------------------------------ roff helpers

def unescape(text):
    """Roff text to plain text (enough for names and defaults)."""
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)
    text = re.sub(r"\\\((dq|rq|lq)", '"', text)
    text = re.sub(r"\\\((aq|cq|oq)", "'", text)
    text = re.sub(r"\\\((en|em|mi|hy)", "-", text)
    text = text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\").replace("\\ ", " ")
    text = text.replace("\\|", "").replace("\\^", "").replace("\\c", "")
    return text


def roff_args(line):
    """Arguments of a macro line (double quotes group, "" is a quote)."""
    out, cur, quoted, i = [], "", False, 0
    while i < len(line):
        c = line[i]
        if c == '"':
            if quoted and line[i + 1:i + 2] == '"':
                cur += '"'
                i += 2
                continue
            quoted = not quoted
            if not quoted:
                out.append(cur)
                cur = ""
        elif c in " \t" and not quoted:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur:
        out.append(cur)
    return out


class Page:
    def __init__(self, name):
        self.name = name
        self.path = os.path.join(MAN, name)
        with open(self.path, errors="replace") as f:
            self.lines = f.read().split("\n")

    def sections(self):
        """[(title, first line index, end index)] of the .SH sections."""
        heads = [(i, unescape(" ".join(roff_args(l[3:].strip())))) for i, l in enumerate(self.lines)
                 if l.startswith(".SH")]
        out = []
        for n, (i, title) in enumerate(heads):
            end = heads[n + 1][0] if n + 1 < len(heads) else len(self.lines)
            out.append((title, i, end))
        return out

    def section(self, pred):
        for title, start, end in self.sections():
            if pred(title):
                return start, end
        return None

    def items(self, start=0, end=None):
        """{name: (tag text, body text)} of the .TP/.TQ/.IP items in a range.
        A tag naming several things (`.B a, b, c`) gives each name."""
        end = len(self.lines) if end is None else end
        out = {}
        i = start
        while i < end:
            line = self.lines[i]
            tag = None
            if line.startswith((".TP", ".TQ")) and i + 1 < end:
                tag = self.lines[i + 1]
                i += 2
            elif line.startswith(".IP ") and len(roff_args(line[4:])) >= 1:
                tag = ".B " + line[4:]
                i += 1
            else:
                i += 1
                continue
            body = []
            j = i
            while j < end and not self.lines[j].startswith((".TP", ".TQ", ".SH", ".SS", ".IP", ".PP")):
                body.append(self.lines[j])
                j += 1
            args = roff_args(tag.split(None, 1)[1]) if tag.startswith(".") and " " in tag else [tag]
            # `.BI name " (default)"` names one thing; `.B a, b, c` (an
            # argument ending with a comma continues the list) several.
            names = []
            for a in args:
                a = unescape(a).strip()
                if not a or a.startswith("("):
                    break
                names += [w for w in re.split(r"[,\s]+", a) if w]
                if not a.endswith(","):
                    break
            tag_text = unescape(" ".join(args))
            for n in names:
                out.setdefault(n, (tag_text, unescape("\n".join(body))))
        return out


def default_shown(default, tag, body):
    """Is a default value stated in the item's tag (or its text)?"""
    # The package data directory depends on the prefix; the pages name the
    # packaged one.
    default = re.sub(r"^/\S*/share/ppolicy/", "/usr/share/ppolicy/", default)
    if default in ("", "None", "empty"):
        return re.search(r"\b(empty|none|unset|not set)\b", tag, re.I) is not None
    if default == "required":
        return "required" in tag.lower()
    pat = r"(?<![\w.])%s(?![\w])" % re.escape(default)
    return re.search(pat, tag) is not None or re.search(pat, body) is not None


# ------------------------------------------------------------ what the code says

def server_keys():
    """{section: [(key, default)]} from ppolicyd -d."""
    r = ppolicyd("-d")
    check(r.returncode == 0, "ppolicyd -d failed: " + r.stderr)
    out, sec = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            sec = m.group(1)
            out[sec] = []
            continue
        m = re.match(r"^(\w+) = ?(.*)$", line)
        if m and sec:
            out[sec].append((m.group(1), m.group(2)))
    check(out.get("ppolicyd"), "ppolicyd -d printed no [ppolicyd] keys")
    return out


def module_docs():
    """{type: {"params": [(param, default)], "fields": [name], "codes": [code]}}
    from ppolicyd -M."""
    r = ppolicyd("-M")
    check(r.returncode == 0, "ppolicyd -M failed: " + r.stderr)
    out, typ, part = {}, None, None
    for line in r.stdout.splitlines():
        m = re.match(r"^Module (\S+)$", line)
        if m:
            typ, part = m.group(1), None
            out[typ] = {"params": [], "fields": [], "codes": []}
            continue
        if not line.startswith(" "):
            part = {"Parameters:": "params", "Check returns:": "codes"}.get(line)
            if line.startswith("Info fields"):
                part = "fields"
            continue
        if part == "params":
            m = re.match(r"^    (\w+) \((.*)\)$", line)
            if m:
                out[typ]["params"].append((m.group(1), m.group(2)))
        elif part == "fields":
            # The first line lists the fields every module has (code, info, ...).
            m = re.match(r"^    (\w+) \((?:string|number)\)$", line)
            if m:
                out[typ]["fields"].append(m.group(1))
        elif part == "codes":
            m = re.match(r"^ +(-?\d+)\b.*\.\.\.\.", line)
            if m:
                out[typ]["codes"].append(m.group(1))
    check(len(out) >= 3, "ppolicyd -M listed %d module types" % len(out))
    return out


def module_texts():
    """{type: text} from ppolicyd -M: a type's description and its return
    codes, whitespace collapsed."""
    r = ppolicyd("-M")
    check(r.returncode == 0, "ppolicyd -M failed: " + r.stderr)
    out, typ, keep = {}, None, False
    for line in r.stdout.splitlines():
        m = re.match(r"^Module (\S+)$", line)
        if m:
            typ, keep = m.group(1), True
            out[typ] = []
            continue
        if typ is None or line.startswith("---"):
            continue
        if re.match(r"^(Parameters|Info fields.*|Call arguments.*|Examples|Blacklists .*):$", line):
            keep = False
            continue
        if line == "Check returns:":
            keep = True
            continue
        if keep:
            out[typ].append(line)
    return {t: " ".join(" ".join(lines).split()) for t, lines in out.items()}


def page_text(lines):
    """Plain text of roff lines: font macros joined as roff does (the
    alternating ones, .BI .IB .BR ..., without spaces), other requests dropped."""
    out = []
    for line in lines:
        if line.startswith("."):
            m = re.match(r"^\.(B|I|R|SM|BI|IB|BR|RB|IR|RI)\s+(.*)$", line)
            if not m:
                continue
            args = roff_args(m.group(2))
            line = ("" if len(m.group(1)) == 2 and m.group(1) != "SM" else " ").join(args)
        out.append(unescape(line))
    return " ".join(" ".join(out).split())


def module_params():
    """{type: [(param, default)]} from ppolicyd -M."""
    return {t: d["params"] for t, d in module_docs().items()}


def options():
    r = ppolicyd("-h")
    check(r.returncode == 0, "ppolicyd -h failed")
    found = set(re.findall(r"(?<![\w-])(-[A-Za-z])\b", r.stdout))
    return sorted(found | {"-h"})


def report(problems, page):
    if problems:
        raise AssertionError("%s: %d problem(s):\n  %s" % (page, len(problems), "\n  ".join(problems)))


# ------------------------------------------------------------ tests

def test_configuration_keys_in_ppolicy_conf_5():
    page = Page("ppolicy.conf.5")
    problems = []
    for sec, keys in server_keys().items():
        rng = page.section(lambda t: "[%s]" % sec in t)
        if not rng:
            problems.append("no .SH section whose title names [%s] (e.g. .SH \"SECTION [%s]\"); "
                            "it must document: %s" % (sec, sec, ", ".join(k for k, _ in keys)))
            continue
        items = page.items(*rng)
        missing = [k for k, _ in keys if k not in items]
        if missing:
            problems.append("[%s] keys without an item (.TP tag) in their section: %s" % (sec, ", ".join(missing)))
        for k, d in keys:
            if k in items and not default_shown(d, *items[k]):
                problems.append("[%s] %s: default %r not stated in its tag %r" %
                                (sec, k, d or "empty", items[k][0]))
    report(problems, "man/ppolicy.conf.5")


def test_module_parameters_in_ppolicy_modules_5():
    page = Page("ppolicy-modules.5")
    common = page.items()
    problems = []
    for typ, doc in sorted(module_docs().items()):
        params = doc["params"]
        if any(l.strip() == ".\\\" @@ %s" % typ for l in page.lines):
            problems.append("%s: the anchor line '.\\\" @@ %s' is still there: replace it with the module's "
                            "section" % (typ, typ))
        rng = page.section(lambda t: t == typ)
        if not rng:
            problems.append("%s: no section .SH \"%s\"; parameters to document: %s" %
                            (typ, typ, ", ".join(p for p, _ in params)))
            continue
        items = page.items(*rng)
        for p, d in params:
            if p in items:
                if not default_shown(d, *items[p]):
                    problems.append("%s: %s: default %r (ppolicyd -M) not stated in %r" % (typ, p, d, items[p][0]))
            elif p in ("saveResult", "saveResultPrefix") and p in common:
                continue
            else:
                problems.append("%s: parameter %s (default %s) has no item in the section" % (typ, p, d))
        for f in doc["fields"]:
            if f not in items:
                problems.append("%s: info field %s has no item in the section" % (typ, f))
        for c in doc["codes"]:
            if c not in items:
                problems.append("%s: return code %s has no item in the section" % (typ, c))
    report(problems, "man/ppolicy-modules.5")


def test_module_reference_agrees_with_ppolicy_modules_5():
    """What `ppolicyd -M TYPE` says in its description and return codes in so
    many words (quoted literals, KEY=VALUE forms such as date=SECONDS) is what
    the type's section of the man page says (issue 14: DumpDataFile's -M said
    date=SECONDS, the page and the file date=SECONDS.MICROSECONDS)."""
    page = Page("ppolicy-modules.5")
    problems = []
    texts = module_texts()
    check(len(texts) >= 20, "ppolicyd -M listed %d module types" % len(texts))
    for typ, text in sorted(texts.items()):
        rng = page.section(lambda t: t == typ)
        if not rng:
            problems.append("%s: no section .SH \"%s\"" % (typ, typ))
            continue
        man = page_text(page.lines[rng[0]:rng[1]])
        literals = re.findall(r'"([^"]+)"', text) + re.findall(r"\b[\w.]+=[A-Z][\w.]*\b", text)
        for lit in sorted(set(literals)):
            if not re.search(r"(?<![\w.])%s(?![\w.])" % re.escape(lit), man):
                problems.append("%s: ppolicyd -M says %r, the man page does not" % (typ, lit))
    report(problems, "man/ppolicy-modules.5 and ppolicyd -M")


def test_options_in_ppolicyd_8():
    page = Page("ppolicyd.8")
    rng = page.section(lambda t: t == "OPTIONS")
    if not rng:
        report(["no .SH OPTIONS section; options to document: %s" % ", ".join(options())], "man/ppolicyd.8")
    items = page.items(*rng)
    missing = [o for o in options() if o not in items]
    report(["option %s (ppolicyd -h) has no item in OPTIONS" % o for o in missing], "man/ppolicyd.8")


def test_server_keys_in_sample_configuration():
    path = os.path.join(TOP_SRCDIR, "conf", "ppolicy.conf")
    with open(path) as f:
        text = f.read()
    m = re.search(r"^\[ppolicyd\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    check(m, "conf/ppolicy.conf has no [ppolicyd] section")
    have = {}
    for line in m.group(1).splitlines():
        mm = re.match(r"^(\w+)\s*=\s*(.*?)\s*$", line)
        if mm:
            have[mm.group(1)] = mm.group(2)
    problems = []
    # Keys the sample sets on purpose: it carries its own policy tests.
    deliberate = {"policy_tests": "ppolicy.tests"}
    for k, d in server_keys()["ppolicyd"]:
        if k in deliberate:
            if have.get(k) != deliberate[k]:
                problems.append("[ppolicyd] %s should be %s" % (k, deliberate[k]))
        elif k not in have:
            problems.append("[ppolicyd] %s missing (add: %s = %s)" % (k, k, d))
        elif have[k] != d.strip():
            problems.append("[ppolicyd] %s = %s, but the default is %r" % (k, have[k], d))
    report(problems, "conf/ppolicy.conf")


def test_pages_render_without_warnings():
    problems = []
    groff = shutil.which("groff")
    man = shutil.which("man")
    lexgrog = shutil.which("lexgrog")
    if not groff and not man:
        skip("neither groff nor man is installed")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANROFFSEQ="")
    for name in PAGES:
        path = os.path.join(MAN, name)
        if groff:
            r = subprocess.run([groff, "-ww", "-man", "-Tutf8", path], capture_output=True, text=True, env=env)
            if r.returncode != 0 or r.stderr.strip():
                problems.append("groff -ww %s: %s" % (name, r.stderr.strip() or "status %d" % r.returncode))
        if man:
            r = subprocess.run([man, "--warnings", "-l", path], capture_output=True, text=True, env=env)
            if r.returncode != 0 or r.stderr.strip():
                problems.append("man --warnings -l %s: %s" % (name, r.stderr.strip() or "status %d" % r.returncode))
            if len(r.stdout) < 200:
                problems.append("man -l %s: rendered only %d bytes" % (name, len(r.stdout)))
        if lexgrog:
            r = subprocess.run([lexgrog, path], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append("lexgrog %s: the NAME section cannot be parsed for whatis: %s" %
                                (name, (r.stdout + r.stderr).strip()))
    report(problems, "man/")


def test_checkers_catch_mistakes():
    # The helpers above must find what is wrong, or every test here passes
    # for nothing.
    import tempfile
    d = tempfile.mkdtemp()
    bad = os.path.join(d, "bad.5")
    with open(bad, "w") as f:
        f.write('.TH BAD 5\n.SH NAME\nbad \\- bad\n.SH "SECTION [x]"\n.TP\n.BI alpha " (5)"\ntext\n'
                '.TQ\n.BI beta " (empty)"\n.TP\n.B gamma, delta\n900 seconds each.\n.BOGUS\n')
    global MAN
    saved, MAN = MAN, d
    try:
        p = Page("bad.5")
        items = p.items(*p.section(lambda t: "[x]" in t))
        check(set(items) == {"alpha", "beta", "gamma", "delta"}, "items: %s" % sorted(items))
        check(default_shown("5", *items["alpha"]) and not default_shown("6", *items["alpha"]), "default 5")
        check(default_shown("", *items["beta"]), "empty default")
        check(default_shown("900", *items["delta"]) and not default_shown("90", *items["delta"]), "900")
    finally:
        MAN = saved
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-ww", "-man", "-Tutf8", bad], capture_output=True, text=True)
        check("BOGUS" in r.stderr, "groff -ww did not warn about an undefined macro: %r" % r.stderr)


run_tests(globals())
