# SPDX-License-Identifier: GPL-2.0-or-later
"""`make install` in the build directory: DESTDIR, prefix, sysconfdir and
localstatedir are honoured; the daemon goes to sbin, the man pages to
man8/man5, the sample configuration to $(sysconfdir)/ppolicy/ppolicy.conf
(running as user ppolicy, never overwriting an existing file) and to
$(pkgdatadir)/ppolicy.conf.sample, COPYING, README, SECURITY.md and UPGRADING to
$(docdir), conf/examples/, sql/*.sql and conf/*.dat
to $(pkgdatadir), the init script and the systemd unit naming this
install's paths, the state directory (given to the user when installing as
root without DESTDIR); `make uninstall` removes it all again but a
configuration that was edited."""

import os
import pwd
import re
import subprocess

from ppolicytest import IS_ROOT, TOP_BUILDDIR, TOP_SRCDIR, check, eq, run_tests, skip, workdir


def clean_env():
    """The environment without the flags of the `make check` running us (its
    jobserver is not ours)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


def make(*args):
    r = subprocess.run(["make", "-C", TOP_BUILDDIR, "--no-print-directory"] + list(args),
                       capture_output=True, text=True, timeout=600, env=clean_env())
    if r.returncode != 0:
        raise AssertionError("make %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def dirs(*overrides):
    out = {}
    for line in make("-s", "ops-print-dirs", *overrides).splitlines():
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    check(len(out) == 8, "make ops-print-dirs: %s" % out)
    return out


def files_under(root):
    out = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def shipped(pattern_dir, suffix=""):
    """Files of the source tree that must be installed (may be none yet)."""
    d = os.path.join(TOP_SRCDIR, pattern_dir)
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)) and f.endswith(suffix))


def check_tree(root, dd):
    """The installed tree under DESTDIR `root` for the directories `dd`."""
    p = lambda *parts: os.path.join(root, *[x.lstrip("/") for x in parts])
    daemon = p(dd["sbindir"], "ppolicyd")
    check(os.access(daemon, os.X_OK), "daemon not installed at %s" % daemon)
    r = subprocess.run([daemon, "-V"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("ppolicyd "), "installed ppolicyd -V: %r" % r.stdout)
    for page in ("man8/ppolicyd.8", "man5/ppolicy.conf.5", "man5/ppolicy-modules.5"):
        check(os.path.isfile(p(dd["mandir"], page)), "man page %s missing" % page)
    conf = p(dd["sysconfdir"], "ppolicy", "ppolicy.conf")
    sample = p(dd["pkgdatadir"], "ppolicy.conf.sample")
    for f in (conf, sample):
        with open(f) as fh:
            text = fh.read()
        check(re.search(r"^user = ppolicy$", text, re.M), "%s does not run as user ppolicy" % f)
        check(re.search(r"^state_dir = %s$" % re.escape(dd["ppolicy_statedir"]), text, re.M),
              "%s: state_dir is not %s" % (f, dd["ppolicy_statedir"]))
    # The installed file is a valid configuration (as another user: ppolicy
    # need not exist here).
    r = subprocess.run([daemon, "-c", conf, "-o", "ppolicyd.user=nobody", "-t"], capture_output=True, text=True)
    eq(r.returncode, 0, "installed configuration: " + r.stderr)
    for f in shipped("conf/examples"):
        check(os.path.isfile(p(dd["pkgdatadir"], "examples", f)), "example %s not installed" % f)
    # Each example goes with its policy tests, found next to it once installed.
    for f in shipped("conf/examples", ".conf"):
        tests = f[:-len(".conf")] + ".tests"
        check(os.path.isfile(p(dd["pkgdatadir"], "examples", tests)), "example %s installed without %s" % (f, tests))
    example = p(dd["pkgdatadir"], "examples", "no-ptr.conf")
    r = subprocess.run([daemon, "-c", example, "-o", "ppolicyd.user=nobody", "-t"], capture_output=True, text=True)
    eq(r.returncode, 0, "installed no-ptr.conf: " + r.stdout + r.stderr)
    check(re.search(r", [1-9][0-9]* policy tests\)$", r.stdout, re.M),
          "installed no-ptr.conf ran no tests: " + r.stdout)
    for f in shipped("conf", ".dat") + shipped("sql", ".sql"):
        check(os.path.isfile(p(dd["pkgdatadir"], f)), "%s not installed in pkgdatadir" % f)
    check(os.path.isdir(p(dd["pkgdatadir"], "examples")), "examples directory")
    for f in ("COPYING", "README", "SECURITY.md", "UPGRADING"):
        check(os.path.isfile(p(dd["docdir"], f)), "%s not installed in docdir" % f)
    check(os.path.isdir(p(dd["ppolicy_statedir"])), "state directory")
    init = p(dd["initddir"], "ppolicyd")
    unit = p(dd["systemdsystemunitdir"], "ppolicyd.service")
    check(os.access(init, os.X_OK), "init script not installed (executable) at %s" % init)
    with open(init) as f:
        text = f.read()
    check("PPOLICYD=${PPOLICYD:-%s/ppolicyd}" % dd["sbindir"] in text, "init script: daemon path")
    check("PPOLICYD_CONFIG=${PPOLICYD_CONFIG:-%s/ppolicy/ppolicy.conf}" % dd["sysconfdir"] in text,
          "init script: configuration path")
    with open(unit) as f:
        text = f.read()
    check("ExecStart=%s/ppolicyd -c ${PPOLICYD_CONFIG}" % dd["sbindir"] in text, "unit: ExecStart")
    check("Environment=PPOLICYD_CONFIG=%s/ppolicy/ppolicy.conf" % dd["sysconfdir"] in text, "unit: config")
    check("ReadWritePaths=-%s " % dd["ppolicy_statedir"] in text, "unit: state directory")


def test_install_destdir():
    root = workdir("install")
    dd = dirs()
    out = make("install", "DESTDIR=" + root)
    check_tree(root, dd)
    conf = os.path.join(root, dd["sysconfdir"].lstrip("/"), "ppolicy", "ppolicy.conf")
    # Reinstalling keeps an edited configuration.
    with open(conf, "a") as f:
        f.write("# edited by the administrator\n")
    out = make("install", "DESTDIR=" + root)
    check("keeping %s" % conf in out, out)
    with open(conf) as f:
        check(f.read().endswith("# edited by the administrator\n"), "the edited configuration was replaced")
    # Uninstalling removes everything but the edited configuration.
    make("uninstall", "DESTDIR=" + root)
    left = files_under(root)
    eq(left, {os.path.relpath(conf, root)}, "files left after uninstall")


def test_install_other_prefix():
    root = workdir("install")
    over = ["prefix=/opt/ppolicy", "sysconfdir=/opt/ppolicy/etc", "localstatedir=/opt/ppolicy/var"]
    dd = dirs(*over)
    for k, v in dd.items():
        check(v.startswith("/opt/ppolicy/"), "%s=%s does not follow prefix" % (k, v))
    make("install", "DESTDIR=" + root, *over)
    check_tree(root, dd)
    check(set(os.listdir(root)) == {"opt"}, "installed outside the prefix: %s" % os.listdir(root))
    make("uninstall", "DESTDIR=" + root, *over)
    eq(files_under(root), set(), "files left after uninstall")


def test_state_dir_owner_as_root_without_destdir():
    if not IS_ROOT:
        skip("needs root")
    # No DESTDIR, but every directory inside a temporary prefix (never the
    # system's): the state directory is given to the run-time user.
    root = workdir("install")
    over = ["prefix=" + root, "sysconfdir=%s/etc" % root, "localstatedir=%s/var" % root,
            "ppolicy_user=nobody"]
    dd = dirs(*over)
    for k, v in dd.items():
        check(v.startswith(root + "/"), "%s=%s is outside %s: refusing to install" % (k, v, root))
    make("install", *over)
    st = os.stat(dd["ppolicy_statedir"])
    eq(st.st_uid, pwd.getpwnam("nobody").pw_uid, "owner of the state directory")
    eq(st.st_mode & 0o777, 0o750, "mode of the state directory")
    # A user that does not exist yet: installing creates it as a system
    # account (its own group, no login) and gives it the state directory.
    name = "pptest-%d" % os.getpid()
    over[-1] = "ppolicy_user=" + name
    try:
        make("install", *over)
        pw = pwd.getpwnam(name)
        check(pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin"), str(pw))
        eq(os.stat(dd["ppolicy_statedir"]).st_uid, pw.pw_uid, "owner of the state directory")
    finally:
        subprocess.run(["userdel", name], capture_output=True)
    make("uninstall", *over)


run_tests(globals())
