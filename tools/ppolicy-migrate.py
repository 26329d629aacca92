# SPDX-License-Identifier: GPL-2.0-or-later
"""ppolicy-migrate: turn a ppolicy 2.x ppolicy.conf (Python) into a draft
ppolicyd configuration.

    python3 ppolicy-migrate.py /etc/postfix/ppolicy.conf > ppolicy.conf
    ppolicyd -c ppolicy.conf -t

What it converts: the server keys it has an equivalent for ([ppolicyd]
listen from ppolicyPort, [database] from database, log_level, max_workers,
default_action, cache_size), and every entry of `modules` into a
[module NAME] section with its parameters (lists comma-separated, booleans
yes/no, mapping dicts as "param:column TYPE"). With ppolicyd on the PATH (or
--ppolicyd PATH) it checks each type and parameter against `ppolicyd -M`:
unknown ones are kept as comments marked "TODO". The check() function
cannot be converted: its body is kept as comments in [policy main], to be
rewritten as rules by hand (UPGRADING shows how for each common pattern).

The old file is Python: it is executed (without its check() function), as
ppolicy 2.x itself did. Run it only on a file you trust."""

import argparse
import re
import shutil
import subprocess
import sys
import types

OLD_KEYS_GONE = {
    "commandPort": "the Python console is gone (no replacement; see stats_listen for statistics)",
    "usePsyco": "no replacement",
    "basePath": "no replacement",
    "admin": "was not used",
    "databaseAPI": "MySQL/MariaDB only",
    "cacheEngine": "the result cache is shared memory of all workers (cache_size); "
                   "share state between gateways with Greylist store = db and the database",
    "cacheServers": "memcache is not supported (see cacheEngine)",
    "stateFile": "state_dir and state_file (the shared memory is saved there)",
    "connLimit": "max_workers (one connection per worker)",
    "returnOnConnLimit": "no replacement: a connection waits for a free worker",
    "domain": "Verification's mailFrom parameter",
}
LOG_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "error"}


def load_old(path):
    """The old configuration as a namespace, and the text of check()."""
    with open(path) as f:
        lines = f.read().splitlines()
    body, rest, inside = [], [], False
    for line in lines:
        if re.match(r"^def\s+check\s*\(", line):
            inside = True
        elif inside and line.strip() and not line[0].isspace() and not line.startswith("#"):
            inside = False
        (body if inside else rest).append(line)
    ns = {"__name__": "ppolicy_conf", "__builtins__": __builtins__}
    real_import = __builtins__.__import__ if hasattr(__builtins__, "__import__") else __import__

    def lenient_import(name, *args, **kw):
        try:
            return real_import(name, *args, **kw)
        except ImportError:  # ppolicy 2.x's own modules, Python 2 only ones
            return types.ModuleType(name)
    ns["__builtins__"] = dict(vars(__builtins__) if not isinstance(__builtins__, dict) else __builtins__,
                              __import__=lenient_import)
    exec(compile("\n".join(rest) + "\n", path, "exec"), ns)
    return ns, body


def module_params(ppolicyd):
    """{type: set of parameter names} from `ppolicyd -M`, or None."""
    if not ppolicyd:
        return None
    r = subprocess.run([ppolicyd, "-M"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    out, current, in_params = {}, None, False
    for line in r.stdout.splitlines():
        m = re.match(r"^Module (\w+)$", line)
        if m:
            current, in_params = m.group(1), False
            out[current] = set()
        elif line.startswith("Parameters:"):
            in_params = True
        elif in_params and re.match(r"^    \w+ \(", line) and current:
            out[current].add(line.split()[0])
        elif line and not line[0].isspace():
            in_params = False
    return out


def value_text(key, v):
    """A parameter value in ppolicy.conf syntax, or None when it has none."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float, str)):
        return str(v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str)) for x in v):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict) and key.startswith("mapping"):
        parts = []
        for param, col in v.items():
            if isinstance(col, (list, tuple)):
                parts.append("%s:%s" % (param, " ".join(str(c) for c in col)))
            else:
                parts.append("%s:%s" % (param, col))
        return ", ".join(parts)
    return None


def convert(ns, body, known):
    out = ["# Converted from ppolicy 2.x by ppolicy-migrate: a draft. Check it with",
           "# `ppolicyd -c FILE -t`, resolve every TODO, and write the rules of",
           "# [policy main] from the check() function kept at its end (UPGRADING).", ""]
    out.append("[ppolicyd]")
    ports = ns.get("ppolicyPort", 10031)
    ports = ports if isinstance(ports, (list, tuple)) else [ports]
    out.append("# ppolicyPort %s (2.x listened on every address; keep Postfix's main.cf" % ", ".join(map(str, ports)))
    out.append("# pointing here, or move both to 10030, the new default)")
    out.append("listen = " + ", ".join("inet:127.0.0.1:%s" % p for p in ports))
    if "logLevel" in ns and isinstance(ns["logLevel"], int):
        out.append("log_level = %s" % LOG_LEVELS.get(ns["logLevel"], "info"))
    if "connLimit" in ns:
        out.append("# connLimit %s: one connection per worker" % ns["connLimit"])
        out.append("max_workers = %s" % ns["connLimit"])
    if "returnOnFatalError" in ns:
        act = ns["returnOnFatalError"]
        text = " ".join(str(x) for x in act if x) if isinstance(act, (list, tuple)) else str(act)
        out.append("# returnOnFatalError: also the answer when request_timeout is over")
        out.append("default_action = %s" % text.upper() if re.match(r"^[a-z_]+$", text) else
                   "default_action = %s" % text)
    if "cacheSize" in ns:
        out.append("# cacheSize %s records: cache_size is bytes of shared memory (default 32M)" % ns["cacheSize"])
    for k in sorted(OLD_KEYS_GONE):
        if k in ns:
            out.append("# %s = %r: %s" % (k, ns[k], OLD_KEYS_GONE[k]))
    db = ns.get("database")
    if isinstance(db, dict):
        out += ["", "[database]"]
        for old, new in (("host", "host"), ("port", "port"), ("user", "user"), ("passwd", "password"),
                         ("db", "database"), ("unix_socket", "socket")):
            if old in db:
                out.append("%s = %s" % (new, db[old]))
        for k in sorted(set(db) - {"host", "port", "user", "passwd", "db", "unix_socket"}):
            out.append("# %s = %r: no equivalent" % (k, db[k]))
    for name, spec in (ns.get("modules") or {}).items():
        out.append("")
        mtype, params = spec[0], (spec[1] if len(spec) > 1 else {})
        if known is not None and mtype not in known:
            out.append("# TODO: module type %s does not exist in ppolicyd (ppolicyd -M lists them)" % mtype)
            out.append("# [module %s]" % name)
            out.append("# type = %s" % mtype)
            for k, v in params.items():
                out.append("# %s = %r" % (k, v))
            continue
        out.append("[module %s]" % name)
        out.append("type = %s" % mtype)
        for k, v in params.items():
            text = value_text(k, v)
            if known is not None and k not in known[mtype]:
                out.append("# TODO: %s has no parameter %s: %s = %r" % (mtype, k, k, v))
            elif text is None:
                out.append("# TODO: cannot convert %s = %r" % (k, v))
            elif mtype == "Country" and k == "dataPath" and text.endswith(".dat"):
                out.append("# TODO: %s is the legacy GeoIP format; ppolicyd reads GeoLite2 .mmdb" % text)
                out.append("dataPath = /usr/share/GeoIP/GeoLite2-Country.mmdb")
            else:
                out.append("%s = %s" % (k, text))
    out += ["", "[policy main]",
            "# TODO: the 2.x check() function, to rewrite as rules (UPGRADING):"]
    out += ["#   " + line if line.strip() else "#" for line in body]
    out.append("default = DUNNO")
    return "\n".join(wrapped for line in out for wrapped in wrap(line)) + "\n"


def wrap(line, width=96):
    """ppolicyd reads lines of at most 197 bytes: long comments go on to more
    comment lines, long values on indented continuation lines."""
    if len(line) <= width:
        return [line]
    if line.startswith("#"):
        head, rest, out = line[:width], line[width:], []
        out.append(head)
        while rest:
            out.append("#     " + rest[:width - 6])
            rest = rest[width - 6:]
        return out
    out, cur = [], ""
    for part in line.split(", "):
        piece = part if not cur else ", " + part
        if cur and len(cur) + len(piece) > width:
            out.append(cur + ",")
            cur = "    " + part
        else:
            cur += piece
    return out + [cur]


def main():
    ap = argparse.ArgumentParser(description="ppolicy 2.x ppolicy.conf -> ppolicyd ppolicy.conf draft")
    ap.add_argument("old", help="the 2.x configuration (Python)")
    ap.add_argument("--ppolicyd", default=shutil.which("ppolicyd"),
                    help="ppolicyd to ask for module types and parameters (default: from PATH)")
    a = ap.parse_args()
    try:
        ns, body = load_old(a.old)
    except Exception as e:  # the old file is arbitrary Python
        sys.exit("%s: cannot load: %s: %s" % (a.old, type(e).__name__, e))
    sys.stdout.write(convert(ns, body, module_params(a.ppolicyd)))


if __name__ == "__main__":
    main()
