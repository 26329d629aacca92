#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The floors of src/ (src/README): every #include "..." of a source file
names a file on the same floor or a lower one. Fails naming each include
that runs back up, and each folder that has no floor yet."""
import os
import re
import sys

from ppolicytest import run_tests

# Bottom to top; folders on one floor may include each other.
FLOORS = [
    ["base"],
    ["proto", "shm"],
    ["conf"],
    ["svc"],
    ["dns", "db", "net"],
    ["modules"],
    ["policy"],
    ["runtime"],
    ["core"],
    ["main.cpp"],
]
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def src_dir():
    return os.path.join(os.environ.get("TOP_SRCDIR", "."), "src")


def room(path):
    """The floor name of a path relative to src/ ("dns/resolver.hpp" -> "dns")."""
    return path.split("/")[0]


def arrows():
    """(file, included file) for every include of a project header."""
    top = src_dir()
    for dirpath, _, files in os.walk(top):
        for f in files:
            if not f.endswith((".cpp", ".hpp")):
                continue
            path = os.path.relpath(os.path.join(dirpath, f), top)
            with open(os.path.join(top, path), encoding="utf-8") as fh:
                for inc in INCLUDE.findall(fh.read()):
                    if os.path.exists(os.path.join(top, inc)):
                        yield path, inc


def test_every_folder_has_a_floor():
    rooms = {room(p) for p, _ in arrows()} | {room(i) for _, i in arrows()}
    missing = sorted(r for r in rooms if r not in FLOOR)
    assert not missing, "folders of src/ without a floor in t/integration/layers.py: %s" % missing


def test_no_include_runs_back_up():
    up = [(p, i) for p, i in arrows()
          if room(p) in FLOOR and room(i) in FLOOR and FLOOR[room(i)] > FLOOR[room(p)]]
    assert not up, "includes that run back up:\n" + "\n".join("  %s -> %s" % a for a in sorted(up))


def test_checker_sees_a_wrong_include():
    # The rule itself: a base file including a module header would be caught.
    assert FLOOR["modules"] > FLOOR["base"] and FLOOR["core"] > FLOOR["runtime"]
    assert sum(1 for _ in arrows()) > 100, "the include scanner read almost nothing"


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
