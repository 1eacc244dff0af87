"""The containers scenario: a version whose server lives in a container on
a bridge (its own network namespace), reached by clients of other
namespaces (remote) and of the host's own (local), through vsteer and
through what a container host offers instead, each a ratio to the
container reached directly in the same round.

Everything lives in bench.py's network namespace, which plays the host:

    client namespace vscl            host (bench.py's namespace)        container vsc1
    10.99.0.2, 10.98.0.0/16  --veth--  vscl0 10.99.0.1                    nginx, 1 worker
                                       vsbr0 10.88.0.1/24  --veth(vsh1)--  eth0 10.88.0.2:80
                                       local 10.77.0.0/16 (local clients)

The client namespace routes everything to the host (so 10.88.0.0/24 and
the service address), the host routes 10.98.0.0/16 back to it and
forwards (ip_forward=1). Every client connection binds a random address
of its range (srcaddr.c's VSTEER_SRC_BASE), as the throughput scenario's
come from random 127.1.x.y: vsteer keys sessions by client address, so
each connection is a new client, its worst case. One version, 100%: the
split does not matter here, the path does.
"""
import os
import select
import shutil
import subprocess
import time

import procs
from procs import BenchError, api_ok, spread, wait_for

BRIDGE, GATEWAY = "vsbr0", "10.88.0.1"
CONTAINER, SERVER = "vsc1", ("10.88.0.2", 80)
CLIENT, CLIENT_ADDR, HOST_ADDR, HOST_DEV = "vscl", "10.99.0.2", "10.99.0.1", "vscl0"
CLIENT_RANGE, LOCAL_RANGE = "10.98.0.0", "10.77.0.0"     # /16 each
# Configured nowhere: local clients' connect() is rewritten before any
# packet, remote clients reach it by their default route to the host.
SERVICE = ("10.200.0.10", 8080)
DNAT_PORT, FORWARDER_PORT = 8081, 8082
WORKLOADS = ("keepalive", "close")
ROOTLESSPORT = ("/usr/libexec/podman/rootlessport", "/usr/lib/podman/rootlessport")

# (client, path): what each is and where it connects.
PATHS = {
    ("remote", "direct"): "the container's address, routed by the host (no NAT)",
    ("remote", "dnat"): "the host's port %d, iptables DNAT as Docker publishes a port" % DNAT_PORT,
    ("remote", "forwarder"): "the host's port %d, podman's rootlessport (user space)"
    % FORWARDER_PORT,
    ("remote", "vsteer"): "the service address, vsteer's packet steering (TC)",
    ("remote", "direct_attached"): "direct, with vsteer's programs attached (not steered)",
    ("local", "direct"): "the container's address from the host",
    ("local", "vsteer"): "the service address, vsteer's connect hook",
    ("local", "direct_attached"): "direct, with vsteer's programs attached (not steered)",
}


def ns_exec(name):
    return ("ip", "netns", "exec", name) if name else ()


def ip(*args, ns=None, check=True):
    return subprocess.run(list(ns_exec(ns)) + ["ip"] + list(args), check=check,
                          capture_output=True, text=True)


def target(client, path):
    """(url, wrap, source range) of a path."""
    url = {"direct": "http://%s:%d/" % SERVER, "direct_attached": "http://%s:%d/" % SERVER,
           "dnat": "http://%s:%d/" % (HOST_ADDR, DNAT_PORT),
           "forwarder": "http://%s:%d/" % (HOST_ADDR, FORWARDER_PORT),
           "vsteer": "http://%s:%d/" % SERVICE}[path]
    if client == "remote":
        return url, ns_exec(CLIENT), CLIENT_RANGE
    return url, (), LOCAL_RANGE


def answers(client, path):
    """One request from the path's client range: did the container answer?"""
    url, wrap, base = target(client, path)
    src = base[:-1] + "1"
    r = subprocess.run(list(wrap) + ["curl", "-s", "-m", "2", "--interface", src, url],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and r.stdout.strip() == "1.0"


class Host:
    """The topology above: set up on entry, gone on exit (the namespaces,
    links, routes, rules; /run/netns is a tmpfs of bench.py's mount
    namespace, so nothing of it reaches the real host)."""

    def __enter__(self):
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            self.forward = f.read().strip()
        os.makedirs("/run/netns", exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/netns"], check=True)
        try:
            self.build()
        except BaseException:
            self.__exit__()     # half a topology would be in the next scenario's way
            raise
        return self

    def build(self):
        for cmd in ("link add %s type bridge" % BRIDGE, "addr add %s/24 dev %s" % (GATEWAY, BRIDGE),
                    "link set %s up" % BRIDGE, "netns add " + CONTAINER, "netns add " + CLIENT,
                    "link add vsh1 type veth peer name eth0 netns " + CONTAINER,
                    "link set vsh1 master " + BRIDGE, "link set vsh1 up",
                    "link add %s type veth peer name eth0 netns %s" % (HOST_DEV, CLIENT),
                    "addr add %s/24 dev %s" % (HOST_ADDR, HOST_DEV), "link set %s up" % HOST_DEV,
                    "route add %s/16 via %s" % (CLIENT_RANGE, CLIENT_ADDR),
                    "route add local %s/16 dev lo" % LOCAL_RANGE):
            ip(*cmd.split())
        for ns, addr, gw in ((CONTAINER, SERVER[0], GATEWAY), (CLIENT, CLIENT_ADDR, HOST_ADDR)):
            for cmd in ("addr add %s/24 dev eth0" % addr, "link set eth0 up", "link set lo up",
                        "route add default via " + gw):
                ip(*cmd.split(), ns=ns)
        ip("route", "add", "local", CLIENT_RANGE + "/16", "dev", "lo", ns=CLIENT)
        self.sysctl("net.ipv4.ip_forward", "1")

    def __exit__(self, *exc):
        if getattr(self, "exit_w", None) is not None:
            os.close(self.exit_w)
        self.dnat(False)
        for ns in (CONTAINER, CLIENT):
            ip("netns", "del", ns, check=False)     # their veths go with them
        ip("link", "del", BRIDGE, check=False)
        ip("route", "del", CLIENT_RANGE + "/16", check=False)
        ip("route", "del", "local", LOCAL_RANGE + "/16", "dev", "lo", check=False)
        self.sysctl("net.ipv4.ip_forward", self.forward)
        subprocess.run(["umount", "/run/netns"], check=False)

    @staticmethod
    def sysctl(key, value):
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)

    def dnat(self, on):
        """The host's port DNAT to the container, with the rules Docker
        adds for a published port on its bridge (podman's iptables driver
        adds the same kind): DNAT of local destinations, masquerade of
        the bridge's traffic leaving it, FORWARD accepting the published
        port and established flows, policy DROP. Off: the tables deleted,
        not flushed: an empty nat chain still keeps conntrack hooked into
        every packet of the namespace, and the other paths run without
        netfilter."""
        if not on:
            for table in ("nat", "filter"):
                subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True)
            return
        rules = [
            "-t nat -N DOCKER",
            "-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
            "-t nat -A DOCKER -d %s/32 ! -i %s -p tcp --dport %d -j DNAT --to-destination %s:%d"
            % ((HOST_ADDR, BRIDGE, DNAT_PORT) + SERVER),
            "-t nat -A POSTROUTING -s 10.88.0.0/24 ! -o %s -j MASQUERADE" % BRIDGE,
            "-P FORWARD DROP",
            "-A FORWARD -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % BRIDGE,
            "-A FORWARD -d %s/32 ! -i %s -o %s -p tcp --dport %d -j ACCEPT"
            % (SERVER[0], BRIDGE, BRIDGE, SERVER[1]),
            "-A FORWARD -i %s ! -o %s -j ACCEPT" % (BRIDGE, BRIDGE)]
        for rule in rules:
            subprocess.run(["iptables"] + rule.split(), check=True, capture_output=True)

    def forwarder(self, world):
        """podman's rootlessport publishing the container's port on the
        host's port FORWARDER_PORT: a parent on the host accepts, a child in
        the container's namespace connects to the server and hands the
        socket over, the parent copies bytes both ways (as docker-proxy
        does). Its name, or None where podman's is not installed."""
        exe = next((p for p in ROOTLESSPORT if os.access(p, os.X_OK)), None)
        if not exe:
            return None
        exit_r, exit_w = os.pipe()
        ready_r, ready_w = os.pipe()
        tmp = world.path("rootlessport")
        os.makedirs(tmp, exist_ok=True)
        cfg = {"Mappings": [{"host_ip": HOST_ADDR, "host_port": FORWARDER_PORT,
                             "container_port": SERVER[1], "range": 1, "protocol": "tcp"}],
               "NetNSPath": "/run/netns/" + CONTAINER, "ExitFD": exit_r, "ReadyFD": ready_w,
               "TmpDir": tmp, "ChildIP": SERVER[0], "ContainerID": "bench", "RootlessCNI": False}
        p = world.start("rootlessport", [exe], stdin=subprocess.PIPE, pass_fds=(exit_r, ready_w))
        p.stdin.write(procs.json.dumps(cfg).encode())
        p.stdin.close()
        os.close(exit_r)
        os.close(ready_w)
        self.exit_w = exit_w        # rootlessport runs until it is closed
        # "1" when it listens; EOF if it failed
        ready = os.read(ready_r, 1) if select.select([ready_r], [], [], 10)[0] else b""
        os.close(ready_r)
        if ready != b"1":
            raise BenchError("rootlessport did not start: see %s" % world.path("rootlessport.log"))
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "podman"],
                           capture_output=True, text=True)
        return "rootlessport (podman %s)" % (r.stdout or "?")


def vsteer_config():
    return {"proxy": {"address": SERVICE[0], "port": SERVICE[1], "protocol": "http"},
            "cluster": [{"version": "1.0", "upgradeTransition": {"mode": "Manual"},
                         "servers": [{"address": "%s:%d" % SERVER,
                                      "netns": "/run/netns/" + CONTAINER}]}]}


def attached():
    """vsteer programs left on the host's interfaces and the container's
    (none while the paths without vsteer run)."""
    left = []
    for wrap in ((), ns_exec(CONTAINER)):
        r = subprocess.run(list(wrap) + ["bpftool", "-j", "net", "show"], capture_output=True,
                           text=True)
        for dev in (procs.json.loads(r.stdout or "[]") or [{}])[0].get("tc", []):
            if dev.get("name", "").startswith("vsteer"):
                left.append("%s on %s" % (dev["name"], dev.get("devname")))
    return left


def other_vsteerds():
    """vsteerds of others on this shared machine (other namespaces' tests),
    counted by their trackers, while ours is not running: their
    tracepoint programs run for every TCP socket of the kernel and their
    connect hooks for every connect(), on every path alike."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    progs = procs.json.loads(r.stdout or "[]")
    return sum(1 for p in progs if isinstance(p, dict) and p.get("name") == "vsteer_track")


class Paths:
    """Measures paths, each wrk run a sample; a path that does not answer
    is recorded in broken and not measured again."""

    def __init__(self, world, o):
        self.world, self.o = world, o
        self.runs = {}
        self.broken = {}
        self.forwarder = None
        self.started = False        # vsteerd once: its pin directory and state
        self.others = []
        self.load = []              # the 1-minute load average after each round

    def probe(self, client, path):
        key = "%s/%s" % (client, path)
        if key in self.broken:
            return False
        try:
            wait_for(lambda: answers(client, path), 5, "%s to answer" % key, 0.05)
            return True
        except BenchError as e:
            self.broken[key] = str(e)
            return False

    def measure(self, client, path, workload, secs=None):
        """A wrk run; kept as a sample of the path unless secs is given
        (the cost's runs, which are not compared). With vsteerd running,
        its CPU use during the run too."""
        if not self.probe(client, path):
            return None
        url, wrap, base = target(client, path)
        p = self.world.procs.get("vsteerd")
        cpu0, t0 = (procs.cpu_seconds(p.pid), time.monotonic()) if p else (0, 0)
        r = self.world.wrk(url, secs or self.o.containers_secs, workload == "close", wrap=wrap,
                           src_base=base)
        if p:
            r["vsteerd_cpu_pct"] = 100 * (procs.cpu_seconds(p.pid) - cpu0) / (time.monotonic() - t0)
        if not secs:
            self.runs.setdefault((client, path, workload), []).append(r)
        return r


def ratios(runs, base):
    """Rows as the throughput scenario's: each run a ratio to the base run
    of the same round and workload."""
    row = {"errors": sum(r["errors"] for r in runs), "runs": len(runs),
           "vsteerd_cpu_pct": spread([r.get("vsteerd_cpu_pct") for r in runs])}
    for k in ("rps", "p50_us", "p99_us", "p999_us"):
        row[k] = spread([r[k] for r in runs])
        row[k + "_ratio"] = spread([r[k] / b[k] if b[k] else None
                                      for r, b in zip(runs, base)])
    return row


def start_vsteer(world, fresh):
    world.vsteerd(vsteer_config(), fresh=fresh)
    api_ok("PUT", "/v1/services/default/weights", {"1.0": 100})
    wait_for(lambda: all(v["liveSockets"] for v in
                         api_ok("GET", "/v1/services/default")["versions"]),
             10, "the container's server registered")


# One round of one workload: the paths without vsteer, then those through
# it; odd rounds both the other way round. Each client's direct run sits
# next to its vsteer run, the noise of a shared machine being what it is.
WITHOUT = (("remote", "forwarder"), ("remote", "dnat"), ("local", "direct"), ("remote", "direct"))
THROUGH = (("remote", "vsteer"), ("local", "vsteer"), ("remote", "direct_attached"),
           ("local", "direct_attached"))


def rounds(world, o, host, m):
    """Interleaved rounds: the paths without vsteer (no BPF program of
    vsteer anywhere, checked; no netfilter but for the DNAT runs) and the
    paths through vsteer (vsteerd started; its programs removed with
    --cleanup before the next paths without). vsteerd is left running
    when its paths came last (the cost's runs follow)."""
    def without(w, order):
        world.cleanup_vsteer()
        left = attached()
        if left:
            raise BenchError("vsteer programs still attached: %s" % left)
        m.others.append(other_vsteerds())
        for client, path in order:
            if path == "forwarder" and not m.forwarder:
                continue
            if path != "dnat":
                m.measure(client, path, w)
                continue
            host.dnat(True)
            try:
                m.measure(client, path, w)
            finally:
                host.dnat(False)

    def through(w, order):
        start_vsteer(world, fresh=not m.started)
        m.started = True
        for client, path in order:
            m.measure(client, path, w)

    for rnd in range(o.containers_rounds):
        for w in o.containers_workloads:
            if rnd % 2 == 0:
                without(w, WITHOUT)
                through(w, THROUGH)
            else:
                through(w, THROUGH[::-1])
                without(w, WITHOUT[::-1])
            m.load.append(os.getloadavg()[0])


def cost(world, o, m):
    """Kernel run time of vsteer's programs per request (bpf_stats), on
    their own runs after the rounds: accounting slows every program run,
    so it is off while paths are compared. The connect hook runs once per
    connect(), the TC programs once per packet on each interface it
    crosses."""
    if not getattr(world, "pin", None):
        start_vsteer(world, fresh=False)
    samples = {}
    with procs.BpfStats():
        for _ in range(o.cost_rounds):
            for client, path, w in o.containers_cost_runs:
                before = procs.prog_stats(world.pin, ((), ns_exec(CONTAINER)))
                r = m.measure(client, path, w, o.containers_cost_secs)
                if r is None:
                    continue
                after = procs.prog_stats(world.pin, ((), ns_exec(CONTAINER)))
                samples.setdefault((client, path, w), []).append(
                    procs.per_request(before, after, r["requests"]))
    world.cleanup_vsteer()
    out = {}
    for (client, path, w), pers in samples.items():
        progs = {}
        for name in sorted({n for p in pers for n in p}):
            progs[name] = {k: spread([p.get(name, {}).get(k) for p in pers])
                           for k in ("runs_per_request", "ns_per_run", "ns_per_request")}
        out["%s/%s/%s" % (client, path, w)] = progs
    return out


def run(world, o):
    if not shutil.which("nft"):
        raise BenchError("nft is missing (scripts/deps.sh installs nftables): the DNAT path's "
                         "tables could not be deleted after it")
    with Host() as host:
        m = Paths(world, o)
        out = {"service": "%s:%d" % SERVICE, "server": "%s:%d" % SERVER,
               "paths": {"%s/%s" % k: v for k, v in PATHS.items()}}
        try:
            world.nginx("nginx-c1", "server { listen %s:%d reuseport backlog=4096; "
                        "location / { return 200 \"1.0\\n\"; } }" % SERVER, 1,
                        wrap=ns_exec(CONTAINER))
            wait_for(lambda: answers("local", "direct"), 5, "nginx in the container")
            m.forwarder = host.forwarder(world)
            out["forwarder"] = m.forwarder or "none installed (podman's rootlessport)"
            t0 = time.monotonic()
            rounds(world, o, host, m)
            out["rounds_s"] = time.monotonic() - t0
            out["cost"] = cost(world, o, m)
        finally:
            world.stop_all()
        table = {}
        for (client, path, w), runs in m.runs.items():
            base = m.runs.get((client, "direct", w), [])
            if (client, path) in PATHS and len(runs) == len(base):
                table.setdefault(w, {}).setdefault(client, {})[path] = ratios(runs, base)
        for w, rows in table.items():
            v, d = m.runs.get(("remote", "vsteer", w)), m.runs.get(("remote", "dnat", w))
            if v and d and len(v) == len(d):
                rows["remote"]["vsteer"]["rps_to_dnat"] = spread(
                    [a["rps"] / b["rps"] if b["rps"] else None for a, b in zip(v, d)])
        out["workloads"] = table
        out["other_vsteerds"] = spread(m.others)
        out["load1"] = spread(m.load)
        out["broken"] = m.broken
    return out
