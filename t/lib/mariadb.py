# SPDX-License-Identifier: GPL-2.0-or-later
"""A throwaway MariaDB server for tests (adapted from the start-mariadb.sh
recipe): loopback TCP on a free port plus a unix socket, datadir and logs in
a short /tmp directory, no /etc config (--no-defaults), a database and a
password user with real grants. Start it once per test file:

    db = MariaDB()                      # started; stopped at interpreter exit
    db.sql("SELECT 1")                  # as root over the socket -> rows
    conf = db.section()                 # a [database] section for ppolicy.conf
    db.kill(); db.start()               # crash and restart (same data)

The server runs in its own session and is stopped by its PID (SIGTERM, then
SIGKILL), also when the test fails; if the test process itself dies, the
kernel sends the server SIGTERM (PR_SET_PDEATHSIG). Stdlib only."""

import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

from ppolicytest import free_port, stop_process

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
CLIENT = "/usr/bin/mariadb"

DATABASE = "ppolicy_test"
USER = "ppolicy"
PASSWORD = "test-secret"


def _child_setup():
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class MariaDB:
    def __init__(self, port=None, extra_args=(), max_connections=700):
        self.dir = tempfile.mkdtemp(prefix="mdb.", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.port = port or free_port()
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pidfile = os.path.join(self.dir, "mysqld.pid")
        self.errlog = os.path.join(self.dir, "mysqld.err")
        self.extra_args = list(extra_args)
        self.max_connections = max_connections
        self.proc = None
        self.host = "127.0.0.1"
        self.database, self.user, self.password = DATABASE, USER, PASSWORD
        atexit.register(self.destroy)
        self._install()
        self.start()
        self._grants()

    def _common(self):
        args = ["--no-defaults", "--datadir=" + self.data,
                "--innodb-log-file-size=16M", "--innodb-buffer-pool-size=64M",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"]
        if os.geteuid() == 0:
            args.insert(2, "--user=root")
        return args

    def _install(self):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        with open(os.path.join(self.dir, "install-db.log"), "wb") as log:
            rc = subprocess.call([INSTALL_DB] + self._common() +
                                 ["--auth-root-authentication-method=normal", "--skip-test-db",
                                  "--skip-name-resolve",
                                  # Its own temporary directory: a server starting
                                  # removes the #sql* files of its tmpdir, and
                                  # tests run in parallel (the default /tmp is shared).
                                  "--tmpdir=" + os.path.join(self.dir, "tmp")],
                                 stdout=log, stderr=log)
        if rc != 0:
            raise AssertionError("mariadb-install-db failed:\n" +
                                 open(os.path.join(self.dir, "install-db.log")).read()[-3000:])

    def start(self, timeout=60):
        """Start (or restart after stop/kill) the server on the same port and data."""
        if self.running():
            return
        for p in (self.pidfile, self.socket):
            try:
                os.unlink(p)
            except OSError:
                pass
        out = open(os.path.join(self.dir, "mysqld.out"), "ab")
        self.proc = subprocess.Popen(
            [MARIADBD] + self._common() +
            ["--socket=" + self.socket, "--port=%d" % self.port, "--bind-address=127.0.0.1",
             "--pid-file=" + self.pidfile, "--log-error=" + self.errlog,
             "--tmpdir=" + os.path.join(self.dir, "tmp"), "--skip-name-resolve", "--skip-log-bin",
             "--max-connections=%d" % self.max_connections] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, preexec_fn=_child_setup)
        out.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            r = subprocess.run([CLIENT, "--no-defaults", "--socket=" + self.socket, "-uroot",
                                "--connect-timeout=2", "-e", "SELECT 1"], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        log = open(self.errlog, errors="replace").read()[-3000:] if os.path.exists(self.errlog) else ""
        self.kill()
        raise AssertionError("mariadbd did not come up:\n" + log)

    def _grants(self):
        self.sql("""
            CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
            CREATE USER IF NOT EXISTS '{u}'@'127.0.0.1' IDENTIFIED BY '{p}';
            CREATE USER IF NOT EXISTS '{u}'@'localhost' IDENTIFIED BY '{p}';
            GRANT ALL PRIVILEGES ON `{db}`.* TO '{u}'@'127.0.0.1';
            GRANT ALL PRIVILEGES ON `{db}`.* TO '{u}'@'localhost';
            FLUSH PRIVILEGES;""".format(db=self.database, u=self.user, p=self.password), db=None)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def sql(self, query, db=DATABASE):
        """Run statements as root over the socket; rows of the last result as lists of strings."""
        cmd = [CLIENT, "--no-defaults", "--socket=" + self.socket, "-uroot", "-N", "-B", "-e", query]
        if db:
            cmd.append(db)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("SQL failed: %s\n%s" % (query, r.stderr))
        return [line.split("\t") for line in r.stdout.splitlines()]

    def value(self, query):
        rows = self.sql(query)
        return rows[0][0] if rows else None

    def section(self, **extra):
        """A [database] section pointing at this server."""
        keys = {"host": self.host, "port": self.port, "user": self.user, "password": self.password,
                "database": self.database, "connect_timeout": "2s", "read_timeout": "3s",
                "write_timeout": "3s"}
        keys.update(extra)
        return "[database]\n" + "".join("%s = %s\n" % (k, v) for k, v in keys.items())

    def stop(self, timeout=30):
        """Clean shutdown (SIGTERM by PID)."""
        if self.running():
            stop_process(self.proc, timeout=timeout)

    def kill(self):
        """Crash: SIGKILL by PID."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
