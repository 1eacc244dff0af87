"""A fleet: a real etcd cluster (Debian's etcd-server, three members),
vsteer's client of it (user/store/etcd_client), and vsteerd hosts, each
in a network namespace of its own with its own backend, that join a fleet
through it (docs/fleet.md)."""
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.request

from common import test
from lib import (BUILD, Bridge, TestFailure, local_addr, START_TIMEOUT as VSTEERD_START, answer, api, check,
                 check_sanitizers, kill, run_vsteerd, wait_for)

# Client and peer ports of the members, on the test namespace's loopback.
MEMBERS = [("m%d" % i, 23790 + i, 23800 + i) for i in (1, 2, 3)]
# A member is up within a second; the cluster has a leader one or two
# election timeouts (500 ms here) after the last one: 15 s covers a
# loaded 2-core machine.
START_TIMEOUT = 15


class EtcdCluster:
    """Three etcd members, data in the test's temp dir, fsync off (test
    data), killed with the test: on the test namespace's loopback, or each
    in a container of a Bridge (`containers`: three), at its address."""

    def __init__(self, env, containers=None):
        self.env, self.procs = env, {}
        if containers:
            self.members = [("m%d" % i, c.addr, 2379, 2380, c.enter())
                            for i, c in enumerate(containers, 1)]
        else:
            self.members = [(n, "127.0.0.1", client, peer, []) for n, client, peer in MEMBERS]
        initial = ",".join("%s=http://%s:%d" % (n, a, peer) for n, a, _, peer, _ in self.members)
        for name, addr, client, peer, enter in self.members:
            log = open(os.path.join(env.dir, "etcd-%s.log" % name), "ab")
            p = subprocess.Popen(
                enter + [
                 "etcd", "--name", name, "--data-dir", os.path.join(env.dir, "etcd-" + name),
                 "--listen-client-urls", "http://%s:%d" % (addr, client),
                 "--advertise-client-urls", "http://%s:%d" % (addr, client),
                 "--listen-peer-urls", "http://%s:%d" % (addr, peer),
                 "--initial-advertise-peer-urls", "http://%s:%d" % (addr, peer),
                 "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "vsteer-test", "--unsafe-no-fsync",
                 "--heartbeat-interval", "50", "--election-timeout", "500",
                 "--logger", "zap", "--log-outputs", "stderr"],
                stdout=log, stderr=log, start_new_session=True)
            env.procs.append(p)
            self.procs[name] = p
        wait_for(lambda: all(self.healthy(a, c) for _, a, c, _, _ in self.members), START_TIMEOUT,
                 lambda: "etcd's members to have a leader (logs: %s)" % env.dir)

    @staticmethod
    def healthy(addr, port):
        try:
            with urllib.request.urlopen("http://%s:%d/health" % (addr, port), timeout=1) as r:
                return b'"true"' in r.read()
        except OSError:
            return False

    def endpoints(self):
        return ",".join("http://%s:%d" % (a, c) for _, a, c, _, _ in self.members)

    @contextlib.contextmanager
    def partition(self, name):
        """Member name (in a container) cut off from the other members for
        the block (blackhole routes in its namespace); clients still reach
        it. It loses its leader within an election timeout or two."""
        enter = [e for n, _, _, _, e in self.members if n == name][0]
        others = [a for n, a, _, _, _ in self.members if n != name]
        for a in others:
            subprocess.run(enter + ["ip", "route", "add", "blackhole", a + "/32"], check=True)
        try:
            yield
        finally:
            for a in others:
                subprocess.run(enter + ["ip", "route", "del", "blackhole", a + "/32"], check=True)

    def kill(self, name):
        """SIGKILL one member; returns once the others have a leader (it
        may have been the leader: an election takes an election timeout
        or two)."""
        kill(self.procs.pop(name))
        left = [(a, c) for n, a, c, _, _ in self.members if n in self.procs]
        wait_for(lambda: all(self.healthy(a, c) for a, c in left), START_TIMEOUT,
                 "etcd's other members to elect a leader")


def run_client_tests(cluster, *args, endpoints=None, env=None):
    binary = os.path.join(BUILD, "etcd_tests")
    r = subprocess.run([binary] + list(args),
                       env=dict(os.environ, VSTEER_ETCD=endpoints or cluster.endpoints(), **(env or {})),
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


def make_certs(d):
    """A CA, etcd's certificate for 127.0.0.1 and a client's signed by it,
    and another CA, in directory d (openssl, P-256 keys: quick). etcd's is
    for client authentication too: its JSON gateway calls its own gRPC
    server with it, which wants a client's certificate (without it every
    call answers "connection closed", code 14)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        run("req", "-x509", *key, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
            "-subj", "/CN=vsteer test " + ca)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        run("req", *key, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o600)


@test
def etcd_client_tls(env):
    """The etcd client and vsteerd against an etcd member that serves TLS
    and wants clients' certificates (made by openssl for the test): with
    the CA and a client certificate, calls work; without the certificate,
    or trusting another CA, each call is refused with an error naming the
    member; vsteerd with caCert, cert and key in its config joins the
    fleet through it (GET /v1/fleet: linked, its own status read back)."""
    d = os.path.join(env.dir, "tls")
    os.mkdir(d, 0o700)
    make_certs(d)
    url = "https://127.0.0.1:23791"
    log = open(os.path.join(env.dir, "etcd-tls.log"), "ab")
    p = subprocess.Popen(
        ["etcd", "--name", "m1", "--data-dir", os.path.join(env.dir, "etcd-tls"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", "http://127.0.0.1:23801",
         "--initial-advertise-peer-urls", "http://127.0.0.1:23801",
         "--initial-cluster", "m1=http://127.0.0.1:23801", "--unsafe-no-fsync",
         "--cert-file", os.path.join(d, "server.pem"), "--key-file", os.path.join(d, "server.key"),
         "--trusted-ca-file", os.path.join(d, "ca.pem"), "--client-cert-auth",
         "--logger", "zap", "--log-outputs", "stderr"],
        stdout=log, stderr=log, start_new_session=True)
    env.procs.append(p)
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    ctx.load_cert_chain(os.path.join(d, "client.pem"), os.path.join(d, "client.key"))

    def healthy():
        try:
            with urllib.request.urlopen(url + "/health", timeout=1, context=ctx) as r:
                return b'"true"' in r.read()
        except OSError:
            return False
    wait_for(healthy, START_TIMEOUT, "the TLS member to have a leader (log: %s)" % log.name)
    run_client_tests(None, "tls", endpoints=url, env={"VSTEER_ETCD_TLS": d})

    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}],
                     {"fleet": {"etcd": url, "hostId": "t1", "leaseSeconds": LEASE,
                                "caCert": os.path.join(d, "ca.pem"),
                                "cert": os.path.join(d, "client.pem"),
                                "key": os.path.join(d, "client.key")}})
    env.vsteerd(cfg)
    wait_for(lambda: api("GET", "/v1/fleet")[1]["hosts"][:1]
             and api("GET", "/v1/fleet")[1]["hosts"][0]["state"] == "ok", SEEN,
             lambda: "vsteerd to join through TLS: %s" % (api("GET", "/v1/fleet"),))
    view = api("GET", "/v1/fleet")[1]
    check(view["link"]["joined"] and not view["link"]["stale"] and view["etcd"] == url,
          "vsteerd's link through TLS: %s" % view)


# Fleet tests run hosts with a short lease: a host that dies or loses etcd
# is missing 3 s after its last keepalive; each host publishes its status
# and reads the others' every 2 s (FLEET_PUBLISH_MS). A state change is
# seen within lease + two rounds + the load of a 2-core machine: 20 s.
LEASE = 3
SEEN = 20


class Host:
    """vsteerd in container c of a Bridge: its service on c's address
    :8080, its backends (versions 1.0 and 2.0) on c's :9001 and :9002, its API on the
    container's loopback, its pins, state and log its own."""

    def __init__(self, env, bridge, c, cluster, name, proxy=None, fleet=None):
        """proxy, fleet: more of the config's "proxy" and "fleet"."""
        self.env, self.c, self.name = env, c, name
        self.dir = os.path.join(env.dir, name)
        os.mkdir(self.dir, 0o700)
        self.backend = bridge.backend(c, "1.0", 9001)
        self.backend2 = bridge.backend(c, "2.0", 9002)
        self.config = os.path.join(self.dir, "config.json")
        with open(self.config, "w") as f:
            json.dump({"proxy": dict({"address": c.addr, "port": 8080}, **(proxy or {})),
                       "configService": {"address": "127.0.0.1", "port": 9900},
                       "cluster": [{"version": "1.0", "servers": [c.endpoint(9001)]},
                                   {"version": "2.0", "servers": [c.endpoint(9002)]}],
                       "fleet": dict({"leaseSeconds": LEASE}, **(fleet or {}))}, f)
        self.log = os.path.join(env.dir, name + ".log")
        self.cluster = cluster
        self.proc = None

    def start(self):
        cmd = self.c.enter() + os.environ.get("VSTEER_FLEET_WRAP", "").split() + [
            os.path.join(BUILD, "vsteerd"), "--pin-dir", os.path.join(self.env.bpffs, self.name),
            "--state", os.path.join(self.dir, "state.json"), "--config", self.config,
            "--etcd", self.cluster.endpoints(), "--host-id", self.name]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        self.env.procs.append(self.proc)
        self.env.daemons.append(self.proc)
        wait_for(lambda: self.healthy() or self.proc.poll() is not None, VSTEERD_START,
                 "%s's API" % self.name)
        check(self.proc.poll() is None, "%s's vsteerd exited: %s" % (self.name, self.tail()))

    def tail(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def api(self, method, path, body=None):
        return api(method, path, body, netns=self.c.netns)

    def weights(self):
        """{version: weight} of its service as it steers now."""
        status, body = self.api("GET", "/v1/services/default")
        check(status == 200, "%s: GET /v1/services/default: %d %s" % (self.name, status, body))
        return {v["version"]: v["weight"] for v in body["versions"]}

    def rollout(self):
        """Its service's rollout as it runs it now."""
        status, body = self.api("GET", "/v1/services/default")
        check(status == 200, "%s: GET /v1/services/default: %d %s" % (self.name, status, body))
        return body["rollout"]

    def set_weights(self, weights, revision=None):
        return self.api("PUT", "/v1/services/default/weights"
                        + ("?revision=%d" % revision if revision is not None else ""), weights)

    def healthy(self):
        try:
            return self.api("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def fleet(self):
        try:
            status, body = self.api("GET", "/v1/fleet")
        except (OSError, http.client.HTTPException) as e:
            raise TestFailure("%s: GET /v1/fleet: %r (exit %s); its log:\n%s"
                              % (self.name, e, self.proc.poll(), self.tail()))
        check(status == 200, "%s: GET /v1/fleet: %d %s" % (self.name, status, body))
        return body

    def ctl(self, *args):
        """vsteerctl against this host's API, run in its namespace."""
        r = self.c.run([os.path.join(BUILD, "vsteerctl"), "--api", "http://127.0.0.1:9900"]
                       + list(args))
        return r.stdout

    def states(self):
        """{host: state} as this host last read the fleet."""
        return {h["host"]: h["state"] for h in self.fleet()["hosts"]}

    def wait_states(self, want, what):
        wait_for(lambda: self.states() == want, SEEN,
                 lambda: "%s to see %s (%s); it sees %s" % (self.name, want, what, self.fleet()))

    def events(self, kind):
        status, body = self.api("GET", "/v1/events")
        return [e["message"] for e in body["events"] if e["kind"] == kind]

    def fetch(self, src=None):
        """One request from the test's namespace (from address src if
        given) to this host's service."""
        s = socket.create_connection((self.c.addr, 8080), timeout=3,
                                     source_address=(src, 0) if src else None)
        return answer(s)


@contextlib.contextmanager
def cut_off(c, cluster):
    """c cannot reach etcd's members (blackhole routes in its namespace)
    for the block; its other traffic goes on."""
    addrs = [a for _, a, _, _, _ in cluster.members]
    for a in addrs:
        c.run(["ip", "route", "add", "blackhole", a + "/32"])
    try:
        yield
    finally:
        for a in addrs:
            c.run(["ip", "route", "del", "blackhole", a + "/32"])


@test
def fleet_hosts(env):
    """Three vsteerd hosts (each in its own network namespace with its own
    backends) in a fleet through a three-member etcd (each member in a
    namespace of its own): every host's GET /v1/fleet shows the three ok,
    with their versions' weights and live sockets, as vsteerctl get fleet
    does; weights set on one host
    are applied by all three (their maps: clients get the version), a
    change the host cannot make locally is not written; at 50/50 the same
    48 new clients get the same versions from each host (a shared salt); two hosts changing
    the same revision at once: one wins, the other gets 409
    fleet_conflict, and all three apply the winner's; a host whose backend
    stops reports the problem and is seen failing; one SIGKILLed is seen
    missing once its lease lapsed, and a fleet_host_missing event says so;
    a host cut off from etcd keeps steering (every request of the cut
    answered), says it is stale (API, metrics, event, vsteerctl), refuses changes
    (503 fleet_stale) and is missing for the others, then back in the
    fleet when the link returns, with the weights set meanwhile; a
    missing host is forgotten by DELETE /v1/fleet/hosts/ID, a live one
    refused (409), an unknown one 404; with an etcd member killed,
    statuses keep coming; a host stopped by SIGTERM is missing at once;
    the hosts restarted come back with the fleet's weights."""
    bridge = Bridge(env, ("netns",) * 6)
    cluster = EtcdCluster(env, [bridge[4], bridge[5], bridge[6]])
    hosts = [Host(env, bridge, bridge[i], cluster, "h%d" % i) for i in (1, 2, 3)]
    for h in hosts:
        h.start()
    h1, h2, h3 = hosts
    all_ok = {"h1": "ok", "h2": "ok", "h3": "ok"}
    for h in hosts:
        h.wait_states(all_ok, "all three hosts joined")
    view = h1.fleet()
    check(view["host"] == "h1" and view["prefix"] == "/vsteer" and not view["link"]["stale"]
          and view["link"]["joined"] and view["counts"] == {"ok": 3, "behind": 0, "failing": 0, "missing": 0},
          "h1's view of the fleet: %s" % view)
    for entry in view["hosts"]:
        svc = entry["status"]["services"][0]
        check(entry["self"] == (entry["host"] == "h1") and svc["name"] == "default"
              and [(v["version"], v["weight"], v["liveSockets"]) for v in svc["versions"]]
              == [("2.0", 100, 1), ("1.0", 0, 1)],
              "%s's status as h1 reads it: %s" % (entry["host"], entry))
    check(h1.events("fleet_joined"), "h1 has no fleet_joined event")
    table = h1.ctl("get", "fleet")
    check(table.startswith("host h1 in the fleet /vsteer (etcd http://10.88.0.5:2379,")
          and "linked, read at" in table
          and all(re.search(r"^%s(?: \(this\))? +ok +\d+ +default 2\.0=100/1 1\.0=0/1 +-$" % n,
                            table, re.M) for n in ("h1", "h2", "h3")),
          "vsteerctl get fleet on h1:\n%s" % table)
    for h in hosts:
        check(h.fetch() == "2.0", "%s does not steer to its newest version" % h.name)

    # Weights set on one host reach every host through etcd.
    status, body = h1.set_weights({"1.0": 100, "2.0": 0})
    check(status == 200, "PUT weights on h1: %d %s" % (status, body))
    for h in hosts:
        wait_for(lambda: h.weights() == {"1.0": 100, "2.0": 0}, SEEN,
                 lambda: "%s to apply h1's weights: %s" % (h.name, h.weights()))
        check(h.fetch() == "1.0", "%s steers otherwise than its weights" % h.name)
    desired = h1.fleet()["services"]["default"]
    check(desired["by"] == "h1" and desired["revision"] > 0 and desired["problem"] is None,
          "h1's view of the service's desired state: %s" % desired)
    for h in hosts:
        h.wait_states(all_ok, "every host applied the weights")
    # A change this host could not make locally is not written.
    status, body = h2.set_weights({"3.0": 100})
    check(status == 404 and h1.fleet()["services"]["default"]["revision"] == desired["revision"],
          "weights for an unknown version: %d %s; the fleet's: %s"
          % (status, body, h1.fleet()["services"]))

    # At a split, a client gets the same version from every host: the
    # fleet's hosts share the service's salt (set with the first write).
    status, body = h3.set_weights({"1.0": 50, "2.0": 50})
    check(status == 200, "PUT 50/50 on h3: %d %s" % (status, body))
    for h in hosts:
        wait_for(lambda: h.weights() == {"1.0": 50, "2.0": 50}, SEEN,
                 lambda: "%s to apply 50/50: %s" % (h.name, h.weights()))
    # New clients (no session yet on any host), 48 of them: all on one
    # version has a chance of 2^-47 at 50%.
    split = {h.name: [h.fetch(local_addr(1000 + i)) for i in range(48)] for h in hosts}
    check(split["h1"] == split["h2"] == split["h3"] and len(set(split["h1"])) == 2,
          "48 clients' versions differ between hosts, or are one version: %s" % split)
    desired = h1.fleet()["services"]["default"]

    # Two hosts change the same revision at once: one wins, the other 409.
    base = desired["revision"]
    results = {}
    bodies = {"h2": {"1.0": 0, "2.0": 100}, "h3": {"1.0": 50, "2.0": 50}}
    threads = [threading.Thread(target=lambda h=h: results.__setitem__(h.name, h.set_weights(bodies[h.name], base)))
               for h in (h2, h3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r[0] for r in results.values())
    check(codes == [200, 409], "two changes from revision %d: %s" % (base, results))
    loser = [n for n, r in results.items() if r[0] == 409][0]
    check(results[loser][1]["error"]["code"] == "fleet_conflict", "the loser's answer: %s" % results[loser][1])
    winner = bodies["h2" if loser == "h3" else "h3"]
    for h in hosts:
        wait_for(lambda: h.weights() == winner, SEEN,
                 lambda: "%s to apply the winner's weights %s: %s" % (h.name, winner, h.weights()))
    # Without a revision: the one this host applied, the newest now.
    status, body = h1.set_weights({"1.0": 100, "2.0": 0})
    check(status == 200, "PUT weights on h1 after the race: %d %s" % (status, body))
    for h in hosts:
        wait_for(lambda: h.weights() == {"1.0": 100, "2.0": 0}, SEEN,
                 lambda: "%s to apply h1's weights again: %s" % (h.name, h.weights()))

    # A host with a version that takes sessions and has no socket: failing.
    kill(h3.backend)
    h1.wait_states({"h1": "ok", "h2": "ok", "h3": "failing"}, "h3's backend stopped")
    problem = {h["host"]: h for h in h1.fleet()["hosts"]}["h3"]["status"]["problems"][0]
    check("version 1.0 takes 100.00% of new sessions and has no live socket" in problem,
          "h3's problem as h1 reads it: %s" % problem)
    check(any(m.startswith("host h3: ") for m in h1.events("fleet_host_failing")),
          "h1 has no fleet_host_failing event for h3: %s" % h1.events("fleet_host_failing"))

    # SIGKILL: no revoke; its status goes with its lease.
    kill(h3.proc)
    t0 = time.monotonic()
    h1.wait_states({"h1": "ok", "h2": "ok", "h3": "missing"}, "h3's vsteerd killed")
    check(time.monotonic() - t0 >= LEASE - 1,
          "h3 seen missing %.1f s after its kill, before its %d s lease could lapse"
          % (time.monotonic() - t0, LEASE))
    check(any("host h3 is missing" in m for m in h1.events("fleet_host_missing")),
          "h1 has no fleet_host_missing event for h3")

    # h2 cut off from etcd: it steers on, is stale, and comes back.
    failed = []
    with cut_off(h2.c, cluster):
        deadline = time.monotonic() + SEEN
        while not h2.fleet()["link"]["stale"]:
            check(time.monotonic() < deadline, "h2 not stale %d s after its cut: %s"
                  % (SEEN, h2.fleet()))
            try:
                check(h2.fetch() == "1.0", "h2 answered another version while cut off")
            except OSError as e:
                failed.append(str(e))
            time.sleep(0.05)
        h1.wait_states({"h1": "ok", "h2": "missing", "h3": "missing"}, "h2 cut off")
        status, body = h2.set_weights({"1.0": 50, "2.0": 50})
        check(status == 503 and body["error"]["code"] == "fleet_stale",
              "a change on h2 while stale: %d %s" % (status, body))
        # A change made meanwhile elsewhere: h2 catches up when back.
        status, body = h1.set_weights({"1.0": 0, "2.0": 100})
        check(status == 200, "PUT weights on h1 while h2 is cut off: %d %s" % (status, body))
        table = h2.ctl("get", "fleet")
        check("STALE since" in table, "vsteerctl get fleet on stale h2:\n%s" % table)
        status, text = h2.api("GET", "/metrics")
        check(b"vsteer_fleet_stale 1" in text, "h2's metrics while stale: %s"
              % [l for l in text.split(b"\n") if b"fleet" in l])
        for _ in range(20):
            try:
                h2.fetch()
            except OSError as e:
                failed.append(str(e))
    check(not failed, "h2 failed %d requests while cut off from etcd: %s" % (len(failed), failed[:3]))
    check(h2.events("fleet_stale"), "h2 has no fleet_stale event")
    wait_for(lambda: not h2.fleet()["link"]["stale"], SEEN, "h2 to reconnect")
    wait_for(lambda: h2.weights() == {"1.0": 0, "2.0": 100}, SEEN,
             lambda: "h2 to catch up with the weights set while it was cut off: %s" % h2.weights())
    check(h2.fetch() == "2.0", "h2 steers otherwise than its weights")
    h1.wait_states({"h1": "ok", "h2": "ok", "h3": "missing"}, "h2's link back")
    check(h2.events("fleet_reconnected"), "h2 has no fleet_reconnected event")
    check(any("host h2 is back" in m for m in h1.events("fleet_host_back")),
          "h1 has no fleet_host_back event for h2")

    # Forgetting hosts: only a missing one.
    status, body = h1.api("DELETE", "/v1/fleet/hosts/h2")
    check(status == 409 and body["error"]["code"] == "host_alive", "DELETE of live h2: %d %s" % (status, body))
    status, body = h1.api("DELETE", "/v1/fleet/hosts/nobody")
    check(status == 404 and body["error"]["code"] == "unknown_host", "DELETE of nobody: %d %s" % (status, body))
    status, body = h1.api("DELETE", "/v1/fleet/hosts/h3")
    check(status == 200, "DELETE of missing h3: %d %s" % (status, body))
    h2.wait_states({"h1": "ok", "h2": "ok"}, "h3 forgotten")

    # One etcd member down: the hosts' statuses keep coming.
    cluster.kill("m1")
    at = {h["host"]: h["status"]["at"] for h in h1.fleet()["hosts"]}
    wait_for(lambda: all(h["status"] and h["status"]["at"] > at[h["host"]] for h in h1.fleet()["hosts"]),
             SEEN, lambda: "new statuses with m1 dead: %s" % h1.fleet())
    check(h1.states() == {"h1": "ok", "h2": "ok"}, "h1's view with m1 dead: %s" % h1.fleet())
    # SIGTERM gives the lease up: missing for the others at once, not a
    # lease later. Then each log is checked for sanitizer reports, leaks
    # included (LeakSanitizer reports at exit).
    h2.proc.send_signal(signal.SIGTERM)
    check(h2.proc.wait(timeout=10) == 0, "h2's vsteerd exited with %s" % h2.proc.returncode)
    h1.wait_states({"h1": "ok", "h2": "missing"}, "h2's vsteerd stopped")
    check(any("host h2 is missing" in m for m in h1.events("fleet_host_missing")),
          "h1 has no fleet_host_missing event for h2")
    h1.proc.send_signal(signal.SIGTERM)
    check(h1.proc.wait(timeout=10) == 0, "h1's vsteerd exited with %s" % h1.proc.returncode)
    for h in (h1, h2):
        check_sanitizers(open(h.log, errors="replace").read(), "%s's log" % h.name)

    # Every vsteerd restarted: the fleet's state is etcd's and the pins'.
    for h in (h1, h2):
        h.start()
    for h in (h1, h2):
        h.wait_states({"h1": "ok", "h2": "ok"}, "h1 and h2 restarted")
        check(h.weights() == {"1.0": 0, "2.0": 100} and h.fetch() == "2.0",
              "%s's weights after the restart: %s" % (h.name, h.weights()))
    for h in (h1, h2):
        h.proc.send_signal(signal.SIGTERM)
        check(h.proc.wait(timeout=10) == 0, "%s's vsteerd exited with %s" % (h.name, h.proc.returncode))
        check_sanitizers(open(h.log, errors="replace").read(), "%s's log" % h.name)


@test
def fleet_options(env):
    """vsteerd's fleet options refused at --check-config, each with a
    message naming what is wrong (no etcd needed): a host id without etcd,
    etcd without a host id, a bad host id, prefix or endpoint, a password
    file others can read, a user without one; a good set is summarised.
    A vsteerd outside a fleet answers GET /v1/fleet with 503 no_fleet,
    shows no fleet metrics and refuses weights with a fleet's revision."""
    cfg = env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}])
    pw = os.path.join(env.dir, "etcd-password")
    with open(pw, "w") as f:
        f.write("secret\n")
    os.chmod(pw, 0o644)
    etcd = ["--etcd", "http://127.0.0.1:2379"]
    cases = [
        (["--host-id", "a"], "a host id is for a fleet"),
        (etcd, "a fleet needs this host's id"),
        (etcd + ["--host-id", "a b"], "host id 'a b' must be 1-63 characters"),
        (etcd + ["--host-id", "a", "--etcd-prefix", "vsteer/"], "etcd prefix 'vsteer/' must be a path"),
        (etcd + ["--host-id", "a", "--etcd-prefix", "/a/../b"], "etcd prefix '/a/../b' must be a path"),
        (["--etcd", "ftp://x:1", "--host-id", "a"], "ftp://x:1"),
        (["--etcd", "http://x", "--host-id", "a"], "http://x"),
    ]
    for args, want in cases:
        r = run_vsteerd(["--check-config", cfg] + args)
        check(r.returncode == 2 and want in r.stderr,
              "%s: exit %d, %r (wanted %r)" % (args, r.returncode, r.stderr, want))
    for extra, want in [({"user": "vsteer", "passwordFile": pw}, "mode 644 lets others read it"),
                        ({"user": "vsteer"}, "user and passwordFile go together"),
                        ({"leaseSeconds": 1}, "leaseSeconds"),
                        ({"etcd": ["http://a:1", 7]}, "fleet.etcd[1]"),
                        ({"hostid": "a"}, "hostid")]:
        path = env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}],
                          {"fleet": dict({"etcd": "http://127.0.0.1:2379", "hostId": "a"}, **extra)})
        r = run_vsteerd(["--check-config", path])
        check(r.returncode == 2 and want in r.stderr,
              "fleet %s: exit %d, %r (wanted %r)" % (extra, r.returncode, r.stderr, want))
    os.chmod(pw, 0o600)
    path = env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}],
                      {"fleet": {"etcd": ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
                                 "hostId": "web-1", "user": "vsteer", "passwordFile": pw}})
    r = run_vsteerd(["--check-config", path, "--etcd-prefix", "/prod/vsteer"])
    check(r.returncode == 0 and "host web-1 of the fleet /prod/vsteer in etcd "
          "http://10.0.0.1:2379,http://10.0.0.2:2379" in r.stdout,
          "a good fleet config: exit %d, %r %r" % (r.returncode, r.stdout, r.stderr))
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    status, body = api("GET", "/v1/fleet")
    check(status == 503 and body["error"]["code"] == "no_fleet", "GET /v1/fleet without a fleet: %d %s" % (status, body))
    status, text = api("GET", "/metrics")
    check(b"vsteer_fleet" not in text, "fleet metrics without a fleet")
    status, body = api("PUT", "/v1/services/default/weights?revision=3", {"1.0": 100})
    check(status == 400 and body["error"]["code"] == "unknown_field",
          "a fleet's revision without a fleet: %d %s" % (status, body))
