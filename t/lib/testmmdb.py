# SPDX-License-Identifier: GPL-2.0-or-later
"""A GeoIP2-Country test database written by the tests themselves
(t/lib/make-test-mmdb.pl, Debian's libmaxmind-db-writer-perl): documentation
networks only, so the tests own their data. Networks:
192.0.2.0/25 US, 192.0.2.128/25 DE, 198.51.100.0/24 CN, 203.0.113.0/24 RU,
2001:db8::/48 FR, 2001:db8:1::/48 BR (IPv4-mapped IPv6 aliased to IPv4)."""

import os
import subprocess

from ppolicytest import TOP_SRCDIR, workdir


def make(path=None):
    path = path or os.path.join(workdir("mmdb"), "test-country.mmdb")
    script = os.path.join(TOP_SRCDIR, "t", "lib", "make-test-mmdb.pl")
    r = subprocess.run(["perl", script, path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("make-test-mmdb.pl failed: %s" % r.stderr)
    return path
