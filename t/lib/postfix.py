# SPDX-License-Identifier: GPL-2.0-or-later
"""A private Postfix instance for tests (Python port of the verified recipe
notes/recipes/start-postfix.sh): its own configuration directory, queue,
data directory and log file under a temporary directory; smtpd on a
loopback port asking a policy service at RCPT TO and at end of DATA;
accepted mail is discarded; no DNS. Nothing under /etc/postfix or
/var/spool/postfix is read or changed. Needs root (Postfix's master) and
Debian's postfix package (main_mailer_type "No configuration").

    pf = Postfix(policy="inet:127.0.0.1:%d" % port)   # started, stopped at exit
    r = pf.swaks(sender="a@b.test", to="c@d.test")   # CompletedProcess
    pf.smtp_source(sessions=20, messages=1000, recipients=10)
    pf.log(), pf.wait_log(pattern, count=N)
"""

import os
import re
import shutil
import socket
import subprocess
import time

from ppolicytest import at_exit, free_port, skip, stop_pid, workdir

POSTFIX = "/usr/sbin/postfix"
SWAKS = "/usr/bin/swaks"
SMTP_SOURCE = "/usr/sbin/smtp-source"

MAIN_CF = """compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.policy.test
mydomain = policy.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP policy-test
biff = no
append_dot_mydomain = no
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
default_transport = discard:policy-test
relay_transport = discard:policy-test
local_transport = discard:policy-test
virtual_transport = discard:policy-test
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_authorized_xclient_hosts = 127.0.0.0/8
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_policy_service {policy}, permit
smtpd_end_of_data_restrictions = check_policy_service {policy}
smtpd_policy_service_timeout = {timeout}
smtpd_policy_service_try_limit = {try_limit}
"""

MASTER_CF = """127.0.0.1:{port} inet n - n - {smtpd_limit} smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def available():
    """None when a private Postfix can run here, else why not."""
    if os.geteuid() != 0:
        return "Postfix's master must run as root"
    for tool in (POSTFIX, SWAKS, SMTP_SOURCE):
        if not os.access(tool, os.X_OK):
            return "%s is not installed" % tool
    try:
        import pwd
        pwd.getpwnam("postfix")
    except KeyError:
        return "user postfix missing"
    return None


class Postfix:
    def __init__(self, policy, port=None, timeout="10s", smtpd_limit="-", extra_main_cf="", start=True,
                 try_limit=1):
        why = available()
        if why:
            skip(why)
        self.dir = workdir("postfix")
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "etc")
        self.maillog = os.path.join(self.dir, "maillog")
        self.pidfile = os.path.join(self.dir, "queue", "pid", "master.pid")
        os.makedirs(self.conf)
        os.makedirs(os.path.join(self.dir, "queue"))
        os.makedirs(os.path.join(self.dir, "data"))
        shutil.chown(os.path.join(self.dir, "data"), "postfix", "postfix")
        for d in (self.dir, self.conf, os.path.join(self.dir, "queue")):
            os.chmod(d, 0o755)
        open(self.maillog, "w").close()
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, policy=policy, timeout=timeout, try_limit=try_limit) + extra_main_cf)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port, smtpd_limit=smtpd_limit))
        self.pid = None
        at_exit(self.stop)
        if start:
            self.start()

    def _backdate(self):
        # Postfix waits ~2s before reading a main.cf/master.cf modified within
        # the last second; back-dating makes every start/reload immediate.
        past = time.time() - 10
        for f in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.conf, f), (past, past))

    def postconf(self, *settings):
        """Change main.cf settings ("key = value") and reload."""
        for s in settings:
            subprocess.run(["/usr/sbin/postconf", "-c", self.conf, "-e", s], check=True)
        self._backdate()
        subprocess.run([POSTFIX, "-c", self.conf, "reload"], check=True, capture_output=True)

    def start(self):
        self._backdate()
        r = subprocess.run([POSTFIX, "-c", self.conf, "start"], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("postfix start failed:\n%s%s\n%s" % (r.stdout, r.stderr, self.log()))
        end = time.time() + 15
        while time.time() < end:
            try:
                with open(self.pidfile) as f:
                    self.pid = int(f.read().strip())
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("smtpd not listening on 127.0.0.1:%d:\n%s" % (self.port, self.log()))

    def stop(self):
        """TERM to the master (what `postfix stop` does without its 1s
        polling); the master stops its children. KILL after 10s."""
        if self.pid:
            pid, self.pid = self.pid, None
            stop_pid(pid, timeout=10)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, count=1, timeout=30):
        end = time.time() + timeout
        n = 0
        while time.time() < end:
            n = len(re.findall(pattern, self.log(), re.M))
            if n >= count:
                return n
            time.sleep(0.1)
        raise AssertionError("maillog has %d of %d lines matching %r:\n%s" %
                             (n, count, pattern, self.log()[-3000:]))

    def swaks(self, sender, to, *args, quit_after=None, timeout=60):
        """Run swaks against the instance; returns the CompletedProcess (its
        exit status is 0 on success, 24 when RCPT was refused, ...)."""
        cmd = [SWAKS, "--server", "127.0.0.1:%d" % self.port, "--from", sender, "--to", to,
               "--helo", "client.policy.test", "--timeout", "30"]
        if quit_after:
            cmd += ["--quit-after", quit_after]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)

    def smtp_source(self, sessions, messages, recipients, sender="load@sender.test", to="rcpt@load.test",
                    timeout=600):
        """smtp-source: `messages` messages with `recipients` recipients each
        over `sessions` concurrent SMTP sessions."""
        cmd = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-r", str(recipients),
               "-f", sender, "-t", to, "127.0.0.1:%d" % self.port]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
