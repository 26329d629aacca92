# SPDX-License-Identifier: GPL-2.0-or-later
"""A throwaway MariaDB Galera cluster on loopback for tests: N MariaDB
servers (t/lib/mariadb.py, own datadirs, TCP ports and sockets) with the
galera-4 provider, each with its own group-communication, IST and SST port.
The first node bootstraps the cluster (--wsrep-new-cluster), the others
join it and receive its data by rsync SST; a node killed (SIGKILL) and
started again rejoins the same way. Failure detection is tuned as
ppolicy.conf(5) recommends, so survivors go on after about 2 s.

    cluster = Galera(3)                 # (galera_cluster.py) started and Synced; stopped at exit
    cluster.nodes[0].sql("...")         # as root on node 0 (see MariaDB.sql)
    cluster.hosts()                     # "127.0.0.1:P1, 127.0.0.1:P2, ..."
    cluster.section(1)                  # [database] listing every node, node 1 first
    cluster.sql("...")                  # as root on a running node
    cluster.connections(node)           # the test user's connections to a node
    cluster.nodes[1].kill(); cluster.nodes[1].start(); cluster.wait_synced()

Every process is stopped by its PID (MariaDB.destroy). Stdlib only."""

import os
import pwd
import time

from mariadb import MariaDB
from ppolicytest import free_port

PROVIDER = "/usr/lib/galera/libgalera_smm.so"

# Failure detection in about 2 s instead of the defaults' 5-15 s: the
# values ppolicy.conf(5) recommends for a cluster on one site.
PROVIDER_TUNING = ("evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;"
                   "evs.suspect_timeout=PT1.5S;evs.inactive_timeout=PT3S;evs.install_timeout=PT3S;"
                   "gmcast.peer_timeout=PT2S;pc.wait_prim_timeout=PT10S;gcache.size=32M")


class GaleraNode(MariaDB):
    def __init__(self, cluster, index):
        self.cluster, self.index = cluster, index
        self.gport, self.ist, self.sst = free_port(), free_port(), free_port()
        self.bootstrap = index == 0
        MariaDB.__init__(self, max_connections=300)

    def start(self, timeout=90):
        c = self.cluster
        self.extra_args = [
            "--wsrep-on=ON", "--wsrep-provider=" + PROVIDER,
            "--wsrep-cluster-name=pptest", "--wsrep-node-name=node%d" % self.index,
            "--wsrep-cluster-address=gcomm://" +
            ("" if self.bootstrap else ",".join("127.0.0.1:%d" % n.gport for n in c.started)),
            "--wsrep-node-address=127.0.0.1:%d" % self.gport,
            "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;%s"
            % (self.gport, self.ist, PROVIDER_TUNING),
            "--wsrep-sst-method=rsync", "--wsrep-sst-receive-address=127.0.0.1:%d" % self.sst,
            "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2", "--innodb-flush-log-at-trx-commit=2",
            "--wsrep-slave-threads=2",
        ]
        if self.bootstrap:
            self.extra_args.append("--wsrep-new-cluster")
        else:
            # The SST's rsync daemon, started by a server running as root,
            # writes as nobody: the joiner's datadir is nobody's (a server
            # running as root reads it all the same).
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                for root, dirs, files in os.walk(self.data):
                    for name in dirs + files:
                        os.chown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
                os.chown(self.data, nobody.pw_uid, nobody.pw_gid)
        # The server's start() waits until SELECT 1 works: a Galera node
        # answers only once it is part of the primary component.
        MariaDB.start(self, timeout=timeout)
        self.bootstrap = False  # a restart joins the running cluster
        if self not in c.started:
            c.started.append(self)
        self.wait_synced(timeout)

    def status(self, name):
        rows = self.sql("SHOW GLOBAL STATUS LIKE '%s'" % name, db=None)
        return rows[0][1] if rows else None

    def wait_synced(self, timeout=90):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if self.status("wsrep_local_state_comment") == "Synced":
                    return
            except AssertionError:
                pass
            time.sleep(0.1)
        raise AssertionError("galera node %d not Synced:\n%s" %
                             (self.index, open(self.errlog, errors="replace").read()[-3000:]))


class Galera:
    def __init__(self, n=3):
        self.started = []
        self.nodes = []
        for i in range(n):
            self.nodes.append(GaleraNode(self, i))
        for node in self.nodes:
            node.wait_synced()

    def hosts(self, first=0):
        """The host list for [database], starting with node `first`."""
        order = self.nodes[first:] + self.nodes[:first]
        return ", ".join("127.0.0.1:%d" % n.port for n in order)

    def section(self, first=0, **extra):
        """A [database] section (the test user, MariaDB.section's timeouts
        unless given) whose host lists every node, starting with `first`."""
        n0 = self.nodes[0]
        return n0.section(host=self.hosts(first), **extra).replace("port = %d\n" % n0.port, "")

    def sql(self, query):
        """MariaDB.sql on the first running node."""
        for n in self.nodes:
            if n.running():
                return n.sql(query)
        raise AssertionError("no galera node running")

    def connections(self, node):
        """Connections of the test user (the daemons) to `node`."""
        return int(node.value("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '%s'"
                              % node.user))

    def size(self, node=None):
        for n in ([node] if node else self.nodes):
            if n.running():
                return int(n.status("wsrep_cluster_size"))
        return 0

    def wait_size(self, want, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if all(int(n.status("wsrep_cluster_size")) == want and
                       n.status("wsrep_local_state_comment") == "Synced"
                       for n in self.nodes if n.running()):
                    return
            except (AssertionError, TypeError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError("cluster size did not become %d" % want)
