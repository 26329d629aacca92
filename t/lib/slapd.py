# SPDX-License-Identifier: GPL-2.0-or-later
"""A throwaway OpenLDAP slapd for tests, on ldap://127.0.0.1:PORT/ (adapted
from the verified recipe start-slapd.sh): cn=config and an mdb database for
dc=example,dc=org built offline with slapadd under a temporary directory,
slapd in the foreground (-d) so its PID is known, stopped by that PID (also
when the test fails: the harness's at_exit). stdlib only.

Directory: ou=people with uid=alice (alice@example.org, a.example@example.org),
uid=bob (bob@example.org), uid=carol (carol*(x)@example.org, to test filter
escaping); the bind user cn=policyd,ou=services (password policyd-secret),
which may read everything; anonymous users may read nothing but ou=public.
Extra LDIF entries may be passed to the constructor."""

import os
import signal
import subprocess
import time

import ppolicytest

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=example,dc=org"
BIND_DN = "cn=policyd,ou=services," + SUFFIX
BIND_PW = "policyd-secret"
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PW = "admin-secret"

CONFIG_LDIF = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid
olcArgsFile: {dir}/slapd.args
olcToolThreads: 1

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcDbDirectory: {dir}/data
olcDbMaxSize: 67108864
olcRootDN: {admin_dn}
olcRootPW: {admin_hash}
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: mail eq,sub
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to dn.subtree="ou=public,{suffix}" by * read
olcAccess: {{2}}to * by dn.exact="{bind_dn}" read by users read by * none
"""

DATA_LDIF = """dn: {suffix}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example Org
dc: example

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people

dn: ou=services,{suffix}
objectClass: organizationalUnit
ou: services

dn: ou=public,{suffix}
objectClass: organizationalUnit
ou: public

dn: uid=dave,ou=public,{suffix}
objectClass: inetOrgPerson
uid: dave
cn: Dave Public
sn: Public
mail: dave@example.org

dn: {bind_dn}
objectClass: simpleSecurityObject
objectClass: organizationalRole
cn: policyd
description: bind account of the policy server
userPassword: {bind_hash}

dn: uid=alice,ou=people,{suffix}
objectClass: inetOrgPerson
uid: alice
cn: Alice Example
sn: Example
mail: alice@example.org
mail: a.example@example.org
employeeType: staff

dn: uid=bob,ou=people,{suffix}
objectClass: inetOrgPerson
uid: bob
cn: Bob Example
sn: Example
mail: bob@example.org

dn: uid=carol,ou=people,{suffix}
objectClass: inetOrgPerson
uid: carol
cn: Carol Example
sn: Example
mail: carol*(x)@example.org
"""


def _slappasswd(pw):
    return subprocess.run(["/usr/sbin/slappasswd", "-h", "{SSHA}", "-s", pw], check=True, capture_output=True,
                          text=True).stdout.strip()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class Slapd:
    """slapd on 127.0.0.1:port; start() again after stop() restarts it on the
    same port and data (as a server restart looks to clients)."""

    def __init__(self, port=None, extra_ldif=""):
        self.dir = ppolicytest.workdir("slapd")
        self.port = port or ppolicytest.free_port()
        self.uri = "ldap://127.0.0.1:%d/" % self.port
        self.suffix = SUFFIX
        self.bind_dn = BIND_DN
        self.bind_pw = BIND_PW
        self.proc = None
        self.env = dict(os.environ, LDAPNOINIT="1")
        self._build(extra_ldif)
        ppolicytest.at_exit(self.stop)
        self.start()

    def _build(self, extra_ldif):
        for d in ("slapd.d", "data"):
            os.makedirs(os.path.join(self.dir, d), mode=0o700)
        v = dict(dir=self.dir, suffix=SUFFIX, admin_dn=ADMIN_DN, bind_dn=BIND_DN,
                 admin_hash=_slappasswd(ADMIN_PW), bind_hash=_slappasswd(BIND_PW))
        with open(os.path.join(self.dir, "config.ldif"), "w") as f:
            f.write(CONFIG_LDIF.format(**v))
        with open(os.path.join(self.dir, "data.ldif"), "w") as f:
            f.write(DATA_LDIF.format(**v))
            if extra_ldif:
                f.write("\n" + extra_ldif)
        for n, ldif in (("0", "config.ldif"), ("1", "data.ldif")):
            r = subprocess.run(["/usr/sbin/slapadd", "-n", n, "-F", os.path.join(self.dir, "slapd.d"), "-l",
                                os.path.join(self.dir, ldif)], capture_output=True, text=True, env=self.env)
            if r.returncode != 0:
                raise AssertionError("slapadd %s failed:\n%s%s" % (ldif, r.stdout, r.stderr))

    def start(self, timeout=30):
        log = open(os.path.join(self.dir, "slapd.log"), "ab")
        self.proc = subprocess.Popen([SLAPD, "-F", os.path.join(self.dir, "slapd.d"), "-h", self.uri, "-d", "0"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
                                     start_new_session=True)
        log.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError("slapd exited %d:\n%s" % (self.proc.returncode, self.log()))
            if self.search("(objectClass=organization)", base=SUFFIX, scope="base").returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError("slapd not ready after %ss:\n%s" % (timeout, self.log()))

    def search(self, filt, base=None, scope="sub", attrs=()):
        return subprocess.run(["/usr/bin/ldapsearch", "-x", "-LLL", "-H", self.uri, "-o", "nettimeout=2",
                               "-D", BIND_DN, "-w", BIND_PW, "-b", base or SUFFIX, "-s", scope, filt] + list(attrs),
                              capture_output=True, text=True, env=self.env)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        # (A paused slapd is continued first: it handles TERM only when running.)
        ppolicytest.stop_process(self.proc, timeout=timeout)
        self.proc = None

    def pause(self):
        """SIGSTOP: the server keeps its socket but answers nothing (a hung server)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def log(self):
        try:
            with open(os.path.join(self.dir, "slapd.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""
