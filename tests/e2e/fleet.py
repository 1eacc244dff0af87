"""A fleet's store: a real etcd cluster (Debian's etcd-server, three
members in the test's namespace) and vsteer's client of it
(user/store/etcd_client). The fleet itself (issue 19) builds on these."""
import os
import subprocess
import urllib.request

from common import test
from lib import BUILD, check, kill, wait_for

# Client and peer ports of the members, on the test namespace's loopback.
MEMBERS = [("m%d" % i, 23790 + i, 23800 + i) for i in (1, 2, 3)]
# A member is up within a second; the cluster has a leader one or two
# election timeouts (500 ms here) after the last one: 15 s covers a
# loaded 2-core machine.
START_TIMEOUT = 15


class EtcdCluster:
    """Three etcd members in the test's namespace, data in its temp dir,
    fsync off (test data), killed with the test."""

    def __init__(self, env):
        self.env, self.procs = env, {}
        initial = ",".join("%s=http://127.0.0.1:%d" % (n, peer) for n, _, peer in MEMBERS)
        for name, client, peer in MEMBERS:
            log = open(os.path.join(env.dir, "etcd-%s.log" % name), "ab")
            p = subprocess.Popen(
                ["etcd", "--name", name, "--data-dir", os.path.join(env.dir, "etcd-" + name),
                 "--listen-client-urls", "http://127.0.0.1:%d" % client,
                 "--advertise-client-urls", "http://127.0.0.1:%d" % client,
                 "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                 "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "vsteer-test", "--unsafe-no-fsync",
                 "--heartbeat-interval", "50", "--election-timeout", "500",
                 "--logger", "zap", "--log-outputs", "stderr"],
                stdout=log, stderr=log, start_new_session=True)
            env.procs.append(p)
            self.procs[name] = p
        wait_for(lambda: all(self.healthy(c) for _, c, _ in MEMBERS), START_TIMEOUT,
                 lambda: "etcd's members to have a leader (logs: %s)" % env.dir)

    @staticmethod
    def healthy(port):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1) as r:
                return b'"true"' in r.read()
        except OSError:
            return False

    def endpoints(self):
        return ",".join("http://127.0.0.1:%d" % c for _, c, _ in MEMBERS)

    def kill(self, name):
        """SIGKILL one member; returns once the others have a leader (it
        may have been the leader: an election takes an election timeout
        or two)."""
        kill(self.procs.pop(name))
        left = [c for n, c, _ in MEMBERS if n in self.procs]
        wait_for(lambda: all(self.healthy(c) for c in left), START_TIMEOUT,
                 "etcd's other members to elect a leader")


def run_client_tests(cluster, *args):
    binary = os.path.join(BUILD, "etcd_tests")
    r = subprocess.run([binary] + list(args),
                       env=dict(os.environ, VSTEER_ETCD=cluster.endpoints()),
                       capture_output=True, text=True, timeout=120)
    last = (r.stdout.strip().splitlines() or [""])[-1]
    check(r.returncode == 0 and last.startswith("etcd:") and last.endswith(" 0 failed"),
          "%s %s: exit %d\n%s%s" % (binary, " ".join(args), r.returncode,
                                     r.stdout[-3000:], r.stderr[-3000:]))
    return last


@test
def etcd_client(env):
    """The etcd client against a real three-member etcd cluster
    (build/etcd_tests): put, range by prefix and delete; a transaction that
    creates a key once; increments from two threads guarded by the
    revision they read, none lost; leases kept alive, revoked and lapsed
    (gone between 1 and 5 s after a 2 s TTL); watches that replay history
    from a revision, stop on their flag within 2.5 s, and are cancelled
    from a compacted revision; the next member when the first is dead;
    peers that are not etcd (not JSON, a web page, cut mid-body, not HTTP)
    refused with the error that names them; watch streams from a fake
    member (a message in two pieces, an error frame without its newline,
    an error status, a message that is not etcd's) each ending the watch
    with its reason. Then with the first member killed: every call still
    answers from the other two."""
    cluster = EtcdCluster(env)
    run_client_tests(cluster)
    cluster.kill("m1")
    run_client_tests(cluster, "quorum")


@test
def etcd_client_auth(env):
    """The etcd client against a cluster with authentication on (the test
    enables it: user root): without credentials, and with a wrong
    password, refused with etcd_refused and a message that says which;
    with the right ones, every token made stale (another user added: etcd
    refuses tokens from before any change to users) is renewed by a new
    login while two threads keep calling, none of their 60 writes
    failing; a watch logs in again too."""
    cluster = EtcdCluster(env)
    run_client_tests(cluster, "auth")
