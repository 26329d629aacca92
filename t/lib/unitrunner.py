# SPDX-License-Identifier: GPL-2.0-or-later
"""A tiny runner for one systemd service unit, for machines without systemd
as PID 1 (like these test machines). It parses the unit file and runs its
ExecStartPre=/ExecStart=/ExecReload=/ExecStop= commands with systemd's
documented semantics (systemd.service(5), systemd.exec(5)):

- unit file syntax: [Section] headers, `#`/`;` comments, backslash line
  continuation, repeated keys append, an empty assignment resets a list;
- Environment= (quoted assignments) and EnvironmentFile= (`-` = optional),
  later assignments win; commands start with a clean environment;
- command lines: prefixes `-` (failure ignored), `@`, `+`, `!`, `:`;
  quoting; `${VAR}` expands to exactly one word, `$VAR` as a word of its
  own to the value split at white space (zero or more words), `$$` is `$`;
  `%%` is `%` (other specifiers are refused: the unit does not use them);
  $MAINPID in ExecReload=/ExecStop=;
- Type=forking: ExecStartPre= in order (a failure without `-` aborts the
  start), ExecStart= must exit 0, then the main PID is read from PIDFile=;
  Type=simple/exec: ExecStart= is the main process;
- RuntimeDirectory= is created (mode RuntimeDirectoryMode=, 0755) before
  the start and removed after the stop;
- stop: ExecStop= if any, else KillSignal= (SIGTERM) to the main process
  (KillMode=mixed/process) or to every process of the service
  (control-group: its descendants), then SIGKILL after TimeoutStopSec=.

Paths can be mapped (`path_map`: prefix -> replacement, applied to every
command word, PIDFile=, EnvironmentFile= and RuntimeDirectory= roots) so
the unit runs against a build tree and temporary directories. Sandboxing
directives (ProtectSystem=, CapabilityBoundingSet=, ...) cannot be
emulated without systemd and are only collected in `ignored`; check them
with `systemd-analyze verify`."""

import os
import re
import shlex
import signal
import subprocess
import time

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?")


def parse_unit(text):
    """{section: [(key, value), ...]} in file order."""
    sections = {}
    current = None
    pending = None  # a line continued with a backslash
    for raw in text.split("\n"):
        if pending is not None:
            line, pending = pending + raw.strip(), None
        else:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        if current is None or "=" not in line:
            raise ValueError("unit file: bad line %r" % raw)
        key, value = line.split("=", 1)
        sections[current].append((key.strip(), value.strip()))
    return sections


def parse_duration(text, default):
    text = text.strip()
    if not text:
        return default
    if text == "infinity":
        return None
    total = 0.0
    for num, unit in DURATION.findall(text):
        total += float(num) * {"ms": 0.001, "m": 60, "min": 60, "h": 3600}.get(unit, 1)
    return total


def parse_env_assignments(text):
    """Environment=: white-space separated VAR=VALUE words, quotes allowed."""
    out = {}
    for word in shlex.split(text):
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = v
    return out


def parse_env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            out[k.strip()] = v
    return out


def expand_command(line, env):
    """(flags, argv) of one Exec*= line."""
    flags = ""
    while line and line[0] in "-@+!:":
        flags += line[0]
        line = line[1:]
    if re.search(r"%[^%]", line.replace("%%", "")):
        raise ValueError("unit specifier in %r is not supported by this runner" % line)
    line = line.replace("%%", "%")
    argv = []
    for word in shlex.split(line):
        if word.startswith("$") and not word.startswith("${") and not word.startswith("$$") \
                and re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            argv.extend(env.get(word[1:], "").split())
            continue
        word = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word)
        argv.append(word.replace("$$", "$"))
    return flags, argv


class UnitError(AssertionError):
    pass


class Unit:
    EMULATED = {"Type", "PIDFile", "Environment", "EnvironmentFile", "ExecStartPre", "ExecStart",
                "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost", "KillMode", "KillSignal",
                "TimeoutStopSec", "TimeoutStartSec", "RuntimeDirectory", "RuntimeDirectoryMode"}

    def __init__(self, path, path_map=None, log=print):
        with open(path) as f:
            self.sections = parse_unit(f.read())
        self.path_map = dict(path_map or {})
        self.log = log
        self.main_pid = None
        self.ignored = []
        svc = {}
        for key, value in self.sections.get("Service", []):
            if key not in self.EMULATED:
                self.ignored.append(key)
                continue
            lst = svc.setdefault(key, [])
            if value == "":
                lst.clear()  # an empty assignment resets the list
            else:
                lst.append(value)
        self.svc = svc

    def one(self, key, default=""):
        v = self.svc.get(key)
        return v[-1] if v else default

    def map_path(self, text):
        for src, dst in sorted(self.path_map.items(), key=lambda kv: -len(kv[0])):
            if src in text:
                return text.replace(src, dst)
        return text

    def environment(self):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        for a in self.svc.get("Environment", []):
            env.update(parse_env_assignments(a))
        for f in self.svc.get("EnvironmentFile", []):
            optional = f.startswith("-")
            path = self.map_path(f.lstrip("-"))
            if not os.path.exists(path):
                if optional:
                    continue
                raise UnitError("EnvironmentFile %s is missing" % path)
            env.update(parse_env_file(path))
        if self.main_pid:
            env["MAINPID"] = str(self.main_pid)
        return env

    def run(self, key, wait=True):
        """Run the commands of `key` in order; returns the list of results
        (flags, argv, returncode, output). Raises UnitError on a failure that
        is not ignored."""
        results = []
        for line in self.svc.get(key, []):
            env = self.environment()
            flags, argv = expand_command(line, env)
            argv = [self.map_path(a) for a in argv]
            self.log("%s: %s" % (key, " ".join(shlex.quote(a) for a in argv)))
            p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=parse_duration(self.one("TimeoutStartSec"), 90) or None)
            out = (p.stdout + p.stderr).strip()
            if out:
                self.log("  " + out.replace("\n", "\n  "))
            results.append((flags, argv, p.returncode, out))
            if p.returncode != 0 and "-" not in flags:
                raise UnitError("%s failed with status %d: %s\n%s" % (key, p.returncode, " ".join(argv), out))
        return results

    def runtime_dirs(self):
        out = []
        for v in self.svc.get("RuntimeDirectory", []):
            for d in v.split():
                out.append(self.map_path("/run/" + d))
        return out

    def start(self):
        for d in self.runtime_dirs():
            os.makedirs(d, exist_ok=True)
            os.chmod(d, int(self.one("RuntimeDirectoryMode", "0755"), 8))
        self.run("ExecStartPre")
        kind = self.one("Type", "simple")
        if kind == "forking":
            self.run("ExecStart")
            pidfile = self.map_path(self.one("PIDFile"))
            if not pidfile:
                raise UnitError("Type=forking without PIDFile= is not supported by this runner")
            end = time.time() + 5
            while time.time() < end:
                try:
                    with open(pidfile) as f:
                        self.main_pid = int(f.read().strip())
                    break
                except (OSError, ValueError):
                    time.sleep(0.05)
            else:
                raise UnitError("PIDFile %s not written after ExecStart" % pidfile)
            if not self.alive(self.main_pid):
                raise UnitError("main PID %d from %s is not running" % (self.main_pid, pidfile))
        elif kind in ("simple", "exec"):
            env = self.environment()
            _, argv = expand_command(self.svc["ExecStart"][-1], env)
            self.proc = subprocess.Popen([self.map_path(a) for a in argv], env=env,
                                         stdin=subprocess.DEVNULL)
            self.main_pid = self.proc.pid
        else:
            raise UnitError("Type=%s is not supported by this runner" % kind)
        self.run("ExecStartPost")
        return self.main_pid

    def reload(self):
        if not self.svc.get("ExecReload"):
            raise UnitError("the unit has no ExecReload=")
        return self.run("ExecReload")

    @staticmethod
    def alive(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    @staticmethod
    def descendants(pid):
        children = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    children.setdefault(ppid, []).append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        out, todo = [], [pid]
        while todo:
            for c in children.get(todo.pop(), []):
                out.append(c)
                todo.append(c)
        return out

    def stop(self):
        """Returns the seconds the stop took; raises when SIGKILL was needed."""
        if not self.main_pid:
            return 0.0
        start = time.time()
        pid = self.main_pid
        family = [pid] + self.descendants(pid)
        if self.svc.get("ExecStop"):
            self.run("ExecStop")
        else:
            sig = getattr(signal, self.one("KillSignal", "SIGTERM"))
            mode = self.one("KillMode", "control-group")
            targets = [pid] if mode in ("mixed", "process") else family
            for p in targets:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
        timeout = parse_duration(self.one("TimeoutStopSec"), 90) or 90
        killed = False
        while any(self.alive(p) for p in family):
            if time.time() - start > timeout:
                for p in family:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                killed = True
                break
            time.sleep(0.05)
        if getattr(self, "proc", None):
            self.proc.wait(timeout=5)
        self.run("ExecStopPost")
        for d in self.runtime_dirs():
            subprocess.run(["rm", "-rf", d])
        self.main_pid = None
        if killed:
            raise UnitError("the service did not stop within TimeoutStopSec=%s: killed" % timeout)
        return time.time() - start
