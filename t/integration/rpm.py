# SPDX-License-Identifier: GPL-2.0-or-later
"""The source tarball and the RPM: `make dist` ships every file of the
repository that a build or the tests need; rpm/ppolicy.spec (same version as
configure.ac) builds with rpmbuild from that tarball (%configure, make,
make install DESTDIR=%{buildroot}: every installed file is packaged, or
rpmbuild fails), and `rpm -qlp` lists the daemon, the man pages, the
configuration as %config(noreplace) readable by group ppolicy, the unit,
the init script, the data directory and the state directory owned by user
ppolicy, COPYING as %license, README and SECURITY.md as %doc, a stripped
daemon; %pre creates that user; with systemd's macros defined the
scriptlets use them.

rpmbuild runs with --nodeps (Debian has no RPM database of the build
dependencies), a private _topdir, and -O0 instead of the distribution's
optimisation flags to keep the test short."""

import os
import re
import shutil
import subprocess
import tarfile

from ppolicytest import PPOLICYD, TOP_BUILDDIR, TOP_SRCDIR, at_exit, check, eq, run_tests, skip, workdir

SPEC = os.path.join(TOP_SRCDIR, "rpm", "ppolicy.spec")
# Tracked files that are not part of a source release: the developer
# driver (the tarball's Makefile is automake's), git and CI plumbing.
NOT_SHIPPED = {"Makefile", ".gitignore", ".ci/run"}


def clean_env():
    """The environment without the flags of the `make check` running us (its
    jobserver is not ours)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


def version():
    r = subprocess.run([PPOLICYD, "-V"], capture_output=True, text=True)
    return r.stdout.split()[1]


def make_dist(dest):
    """`make dist` in the build directory; the tarball is moved to `dest`."""
    ver = version()
    name = "ppolicy-%s.tar.gz" % ver
    built = os.path.join(TOP_BUILDDIR, name)
    at_exit(lambda: os.path.exists(built) and os.unlink(built))
    r = subprocess.run(["make", "-C", TOP_BUILDDIR, "--no-print-directory", "dist"], capture_output=True,
                       text=True, timeout=600, env=clean_env())
    eq(r.returncode, 0, "make dist:\n" + r.stdout[-3000:] + r.stderr[-3000:])
    out = os.path.join(dest, name)
    shutil.move(built, out)
    return out


_tarball = {}


def tarball():
    if "path" not in _tarball:
        _tarball["path"] = make_dist(workdir("dist"))
    return _tarball["path"]


def test_spec_version_matches_configure():
    with open(SPEC) as f:
        m = re.search(r"^Version:\s*(\S+)$", f.read(), re.M)
    check(m, "no Version: in the spec")
    eq(m.group(1), version(), "rpm/ppolicy.spec Version vs configure.ac AC_INIT")


def test_dist_tarball_is_complete():
    path = tarball()
    ver = version()
    with tarfile.open(path) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for need in ("configure", "Makefile.in", "Makefile.am", "configure.ac", "rpm/ppolicy.spec",
                 "conf/ppolicy.conf", "conf/ppolicyd.init", "conf/ppolicyd.service", "man/ppolicyd.8",
                 "man/ppolicy.conf.5", "man/ppolicy-modules.5", "t/lib/ppolicytest.py", "t/summary", "m4"):
        check(need in names, "%s missing from ppolicy-%s.tar.gz" % (need, ver))
    check(not any("__pycache__" in n for n in names), "Python caches in the tarball")
    if not os.path.isdir(os.path.join(TOP_SRCDIR, ".git")) and not os.path.isfile(os.path.join(TOP_SRCDIR, ".git")):
        return  # an unpacked tarball (make distcheck): nothing to compare with
    r = subprocess.run(["git", "-C", TOP_SRCDIR, "ls-files"], capture_output=True, text=True)
    if r.returncode != 0:
        return
    tracked = set(r.stdout.split())
    missing = sorted(f for f in tracked - names - NOT_SHIPPED if os.path.exists(os.path.join(TOP_SRCDIR, f)))
    eq(missing, [], "repository files missing from the tarball (add them to EXTRA_DIST or a *_SOURCES list)")


def test_rpmbuild_and_file_list():
    rpmbuild = shutil.which("rpmbuild")
    if not rpmbuild:
        skip("rpmbuild is not installed (Debian package rpm)")
    top = workdir("rpm")
    for d in ("SOURCES", "SPECS", "tmp"):
        os.makedirs(os.path.join(top, d))
    shutil.copy(tarball(), os.path.join(top, "SOURCES"))
    shutil.copy(SPEC, os.path.join(top, "SPECS"))
    cmd = [rpmbuild, "-ba", "--nodeps", "--define", "_topdir " + top, "--define", "_tmppath %s/tmp" % top,
           "--define", "optflags -O0", "--define", "debug_package %{nil}",
           os.path.join(top, "SPECS", "ppolicy.spec")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=clean_env())
    eq(r.returncode, 0, "rpmbuild:\n" + (r.stdout + r.stderr)[-6000:])
    ver = version()
    rpms = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(top, "RPMS")) for f in fs]
    eq(len(rpms), 1, "binary packages: %s" % rpms)
    check(os.path.isfile(os.path.join(top, "SRPMS", "ppolicy-%s-1.src.rpm" % ver)), "source package")
    pkg = rpms[0]
    files = subprocess.run(["rpm", "-qlp", pkg], capture_output=True, text=True).stdout.split()
    print("$ rpm -qlp %s\n%s" % (os.path.basename(pkg), "\n".join(files)))
    for path in ("/usr/sbin/ppolicyd", "/usr/share/man/man8/ppolicyd.8", "/usr/share/man/man5/ppolicy.conf.5",
                 "/usr/share/man/man5/ppolicy-modules.5", "/etc/ppolicy/ppolicy.conf",
                 "/usr/lib/systemd/system/ppolicyd.service", "/usr/share/ppolicy/ppolicy.conf.sample",
                 "/usr/share/ppolicy/examples", "/var/lib/ppolicy"):
        check(any(f == path or f.startswith(path + ".") for f in files), "%s not in the package" % path)
    licdir = subprocess.run(["rpm", "--eval", "%{_defaultlicensedir}"], capture_output=True, text=True).stdout.strip()
    # The directories are NAME-VERSION with older rpm (and Debian's), NAME with newer.
    check(any(re.fullmatch(r"%s/ppolicy(-[\d.]+)?/COPYING" % re.escape(licdir), f) for f in files),
          "%license COPYING not in the package")
    for doc in ("README", "SECURITY.md", "UPGRADING"):
        check(any(re.fullmatch(r"/usr/share/doc/ppolicy(-[\d.]+)?/" + re.escape(doc), f) for f in files),
              "%%doc %s not in the package" % doc)
    initd = subprocess.run(["rpm", "--eval", "%{_initddir}"], capture_output=True, text=True).stdout.strip()
    check(initd + "/ppolicyd" in files, "init script %s/ppolicyd not in the package" % initd)
    for sub, suffix in (("sql", ".sql"), ("conf", ".dat")):
        d = os.path.join(TOP_SRCDIR, sub)
        for f in (sorted(os.listdir(d)) if os.path.isdir(d) else []):
            if f.endswith(suffix):
                check("/usr/share/ppolicy/" + f in files, "%s/%s not in the package" % (sub, f))
    # The examples, each with its policy tests (NAME.tests).
    for f in sorted(os.listdir(os.path.join(TOP_SRCDIR, "conf", "examples"))):
        check("/usr/share/ppolicy/examples/" + f in files, "conf/examples/%s not in the package" % f)
    # Modes, owners and flags.
    q = subprocess.run(["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} "
                        "%{FILEFLAGS:fflags} %{FILENAMES}\n]", pkg], capture_output=True, text=True).stdout
    print(q)
    attrs = {line.split()[-1]: line.split()[:-1] for line in q.splitlines()}
    conf = attrs["/etc/ppolicy/ppolicy.conf"]
    eq(conf[:2], ["-rw-r-----", "root:ppolicy"], "configuration mode and owner")
    check(len(conf) == 3 and "c" in conf[2] and "n" in conf[2], "configuration is not %%config(noreplace): %s" % conf)
    eq(attrs["/var/lib/ppolicy"][:2], ["drwxr-x---", "ppolicy:ppolicy"], "state directory")
    check(attrs["/usr/sbin/ppolicyd"][0] == "-rwxr-xr-x", "daemon mode")
    check(attrs[initd + "/ppolicyd"][0] == "-rwxr-xr-x", "init script mode")
    scripts = subprocess.run(["rpm", "-qp", "--scripts", pkg], capture_output=True, text=True).stdout
    check(re.search(r"preinstall scriptlet.*\n.*getent group ppolicy.*groupadd -r ppolicy", scripts), scripts)
    check("useradd -r -g ppolicy" in scripts, scripts)
    # The packaged unit and init script name the packaged paths.
    ex = workdir("rpmx")
    subprocess.run("rpm2cpio %s | cpio -idm --quiet" % pkg, shell=True, cwd=ex, check=True)
    with open(os.path.join(ex, "usr/lib/systemd/system/ppolicyd.service")) as f:
        check("ExecStart=/usr/sbin/ppolicyd -c ${PPOLICYD_CONFIG}" in f.read(), "unit ExecStart")
    with open(os.path.join(ex, "etc/ppolicy/ppolicy.conf")) as f:
        check(re.search(r"^user = ppolicy$", f.read(), re.M), "packaged configuration runs as ppolicy")
    # Debug information belongs in a -debuginfo package, not in the daemon.
    sections = subprocess.run(["readelf", "-S", os.path.join(ex, "usr/sbin/ppolicyd")], capture_output=True,
                              text=True).stdout
    check(".debug_info" not in sections and ".symtab" not in sections, "the packaged daemon is not stripped")


def test_spec_uses_systemd_macros_when_defined():
    rpmspec = shutil.which("rpmspec")
    if not rpmspec:
        skip("rpmspec is not installed")
    fake = ["--define", "systemd_post() SYSTEMD_POST %*", "--define", "systemd_preun() SYSTEMD_PREUN %*",
            "--define", "systemd_postun_with_restart() SYSTEMD_POSTUN %*", "--define", "_unitdir /usr/lib/systemd/system"]
    r = subprocess.run([rpmspec, "-P"] + fake + [SPEC], capture_output=True, text=True)
    eq(r.returncode, 0, r.stderr)
    for want in ("SYSTEMD_POST ppolicyd.service", "SYSTEMD_PREUN ppolicyd.service", "SYSTEMD_POSTUN ppolicyd.service"):
        check(want in r.stdout, "%s not in the parsed spec" % want)
    check("chkconfig" not in r.stdout, "the SysV fallback is used although systemd's macros exist")
    r = subprocess.run([rpmspec, "-P", SPEC], capture_output=True, text=True)
    eq(r.returncode, 0, r.stderr)
    check("chkconfig --add ppolicyd" in r.stdout and "SYSTEMD" not in r.stdout, "fallback without systemd macros")


run_tests(globals())
