# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian package: `make deb` (debian/, dpkg-buildpackage -b -us -uc from
a copy of the distribution) builds one .deb that lintian passes without
errors; it holds the stripped daemon, the man pages, the configuration and
init script as conffiles, the unit, the data files and debian/copyright.
Installed on this machine (apt-get install ./ppolicy_*.deb) it creates the
system user ppolicy, gives the configuration to root:ppolicy 0640 and the
state directory to ppolicy 0750 (dpkg-statoverride), enables the unit and
the init script as Debian does; the installed init script starts the
installed daemon, which answers a request as user ppolicy; purge stops it
and removes the state and the owner records (the user stays, as Debian
does).

Runs only as root on a machine without a ppolicy package or an installed
/usr/sbin/ppolicyd (it would replace them). The build uses
DEB_BUILD_OPTIONS="noopt nocheck" to stay short. The daemon listens on a free
port through /etc/default/ppolicyd, a file the package does not ship."""

import glob
import os
import pwd
import re
import shutil
import subprocess
import time

from ppolicytest import IS_ROOT, TOP_BUILDDIR, Client, at_exit, check, eq, free_port, request, run_tests, skip

DEFAULTS = "/etc/default/ppolicyd"


def clean_env(**extra):
    """The environment without the flags of the `make check` running us (its
    jobserver is not ours)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env.update(extra)
    return env


def sh(cmd, timeout=600, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if ok:
        eq(r.returncode, 0, "%s:\n%s%s" % (" ".join(cmd), r.stdout[-4000:], r.stderr[-4000:]))
    return r


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def build():
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        if not shutil.which(tool):
            skip("%s is not installed (make deps-test installs dpkg-dev, debhelper, lintian)" % tool)
    t0 = time.time()
    sh(["make", "-C", TOP_BUILDDIR, "--no-print-directory", "deb"], timeout=2400,
       env=clean_env(DEB_BUILD_OPTIONS="noopt nocheck parallel=2"))
    print("make deb: %.0f s" % (time.time() - t0))
    debs = [d for d in glob.glob(os.path.join(TOP_BUILDDIR, "deb", "*.deb")) if "-dbgsym" not in d]
    eq(len(debs), 1, "packages: %s" % debs)
    return debs[0]


def check_contents(deb):
    r = sh(["lintian", "--fail-on", "error", "--display-level", ">=info", deb], ok=False)
    print("$ lintian %s\n%s%s(exit %d)" % (os.path.basename(deb), r.stdout, r.stderr, r.returncode))
    eq(r.returncode, 0, "lintian reports errors")
    check(not re.search(r"^E: ", r.stdout, re.M), "lintian errors:\n" + r.stdout)
    # Misspelt text in the binary (the -M help): only "treshold", the
    # parameter name of ppolicy 2.x that configurations still use.
    typos = re.findall(r"^I: \S+ spelling-error-in-binary (\S+) ", r.stdout, re.M)
    eq(sorted(set(typos) - {"treshold"}), [], "spelling errors in the binary")
    listing = sh(["dpkg-deb", "-c", deb]).stdout
    print("$ dpkg-deb -c %s\n%s" % (os.path.basename(deb), listing))
    entries = {}
    for line in listing.splitlines():
        f = line.split()
        entries[f[5][1:].rstrip("/") or "/"] = f[:2]
    for path in ("/usr/sbin/ppolicyd", "/usr/share/man/man8/ppolicyd.8.gz", "/usr/share/man/man5/ppolicy.conf.5.gz",
                 "/usr/share/man/man5/ppolicy-modules.5.gz", "/etc/ppolicy/ppolicy.conf", "/etc/init.d/ppolicyd",
                 "/lib/systemd/system/ppolicyd.service", "/usr/share/ppolicy/dnsbl.dat",
                 "/usr/share/ppolicy/ppolicy.conf.sample", "/usr/share/ppolicy/ppolicy.sql",
                 "/usr/share/doc/ppolicy/copyright", "/usr/share/doc/ppolicy/SECURITY.md", "/var/lib/ppolicy"):
        # debhelper compresses larger documents
        check(path in entries or path + ".gz" in entries, "%s not in the package" % path)
    eq(entries["/etc/ppolicy/ppolicy.conf"][0], "-rw-r-----", "configuration mode")
    conffiles = sh(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
    for f in ("/etc/ppolicy/ppolicy.conf", "/etc/init.d/ppolicyd"):
        check(f in conffiles, "%s is not a conffile: %s" % (f, conffiles))
    ex = os.path.join(os.path.dirname(deb), "x")
    sh(["dpkg-deb", "-x", deb, ex])
    sections = sh(["readelf", "-S", os.path.join(ex, "usr/sbin/ppolicyd")]).stdout
    check(".debug_info" not in sections and ".symtab" not in sections, "the packaged daemon is not stripped")
    with open(os.path.join(ex, "etc/ppolicy/ppolicy.conf")) as f:
        check(re.search(r"^user = ppolicy$", f.read(), re.M), "packaged configuration runs as ppolicy")


def purge():
    sh(["apt-get", "-o", "DPkg::Lock::Timeout=600", "purge", "-y", "-qq", "ppolicy"], timeout=900,
       env=clean_env(DEBIAN_FRONTEND="noninteractive"))


def master_pid():
    try:
        with open("/run/ppolicyd/ppolicyd.pid") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def test_build_install_answer_purge():
    if not IS_ROOT:
        skip("installs a package: needs root")
    if installed("ppolicy") or os.path.exists("/usr/sbin/ppolicyd") or os.path.exists(DEFAULTS):
        skip("a ppolicy package, /usr/sbin/ppolicyd or %s exists: not replacing it" % DEFAULTS)
    deb = build()
    check_contents(deb)
    port = free_port()
    with open(DEFAULTS, "w") as f:
        f.write('PPOLICYD_OPTS="-o ppolicyd.listen=inet:127.0.0.1:%d"\n' % port)
    at_exit(lambda: os.path.exists(DEFAULTS) and os.unlink(DEFAULTS))
    at_exit(lambda: installed("ppolicy") and purge())
    t0 = time.time()
    sh(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq", "--no-install-recommends", deb],
       timeout=900, env=clean_env(DEBIAN_FRONTEND="noninteractive"))
    print("install: %.1f s" % (time.time() - t0))
    user = pwd.getpwnam("ppolicy")
    check(user.pw_uid < 1000, "ppolicy is not a system user: uid %d" % user.pw_uid)
    st = os.stat("/etc/ppolicy/ppolicy.conf")
    eq((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, user.pw_gid, 0o640), "configuration owner and mode")
    st = os.stat("/var/lib/ppolicy")
    eq((st.st_uid, st.st_mode & 0o777), (user.pw_uid, 0o750), "state directory owner and mode")
    # Enabled as Debian enables daemons: the unit for systemd, rc links for sysvinit.
    check(os.path.islink("/etc/systemd/system/multi-user.target.wants/ppolicyd.service"), "unit not enabled")
    check(glob.glob("/etc/rc2.d/S*ppolicyd"), "init script not enabled (update-rc.d)")
    # The installed init script starts the installed daemon (invoke-rc.d may
    # be forbidden here by policy-rc.d, as in containers).
    sh(["/etc/init.d/ppolicyd", "start"], timeout=60)
    pid = master_pid()
    check(pid, "no pid file after start")
    c = Client(port)
    eq(c.ask(request(client_name="mail.example.org", helo_name="mail.example.org")), "DUNNO", "installed daemon")
    c.close()
    with open("/proc/%d/status" % pid) as f:
        uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
    eq(int(uid), user.pw_uid, "the master runs as ppolicy")
    # Purge stops the daemon (invoke-rc.d; where policy-rc.d forbids it, as
    # it forbade the start, the init script stops it) and removes the state.
    if os.path.exists("/usr/sbin/policy-rc.d"):
        sh(["/etc/init.d/ppolicyd", "stop"], timeout=60)
    purge()
    deadline = time.time() + 15
    while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
        time.sleep(0.1)
    check(not os.path.exists("/proc/%d" % pid), "daemon still running after purge")
    for path in ("/usr/sbin/ppolicyd", "/etc/ppolicy/ppolicy.conf", "/var/lib/ppolicy", "/etc/init.d/ppolicyd"):
        check(not os.path.exists(path), "%s left after purge" % path)
    r = sh(["dpkg-statoverride", "--list"])
    check("ppolicy" not in r.stdout, "statoverrides left: " + r.stdout)


run_tests(globals())
