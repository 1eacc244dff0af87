"""Containers with their own network: servers in other network namespaces on
a bridge, reached by local clients whose connect() is steered to their
address (address steering)."""
import errno
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

from common import Load, control, kill_under_load, rollout, set_weights, snapshot, test
from lib import (Bridge, TestFailure, api, binomial_bound, check, fetch, kill, local_addr, local_addr6,
                 network_step, run_vsteerd, service, wait_for)
from packaging import PODMAN_ENV, build_images, podman
from watch import ANALYSIS, check_slow_rolled_back, demo_control

# The service address: configured on no interface and with no route in
# the test's namespace, so a connect() to it that is not steered fails at
# once with ENETUNREACH.
SVC_B = ("10.200.0.10", 8080)
SVC_B6 = ("fd00:200::10", 8080)


def proxy(svc=SVC_B, **extra):
    return {"proxy": dict({"address": svc[0], "port": svc[1]}, **extra)}


def local_versions(clients, svc=SVC_B, src=local_addr):
    """The version that answers each local client (bound to src(i)), on a
    new connection each; a failed one fails the test saying which."""
    got = []
    with network_step("local clients to %s:%d" % svc, 3,
                      lambda: "client %s failed after %d answers (%s)"
                      % (src(clients[len(got)]), len(got), {v: got.count(v) for v in set(got)})):
        got.extend(fetch(src(i), svc=svc) for i in clients)
    return got


def connect_errno(src, dst, timeout=2):
    """0 if a connection from src (None: unbound) to dst is made, else its
    errno (ETIMEDOUT for a timeout)."""
    s = socket.socket(socket.AF_INET6 if ":" in dst[0] else socket.AF_INET)
    s.settimeout(timeout)
    try:
        if src:
            s.bind((src, 0))
        s.connect(dst)
        return 0
    except socket.timeout:
        return errno.ETIMEDOUT
    except OSError as e:
        return e.errno
    finally:
        s.close()


def errname(e):
    return errno.errorcode.get(e, str(e)) if e else "connected"


def real_peer(s):
    """Where the kernel says socket s is connected to (ss reads the socket
    itself, not the address getpeername() gives the application)."""
    host, port = s.getsockname()[:2]
    out = subprocess.run(["ss", "-Htn", "state", "established", "src", "%s:%d" % (host, port)],
                         capture_output=True, text=True).stdout.split()
    check(len(out) == 4, "ss for %s:%d: %r" % (host, port, out))
    return out[3]


def version_view(version):
    return [v for v in service()["versions"] if v["version"] == version][0]


def check_backends(version, steering, netns, servers):
    """The service view of version: its servers and, per backend, live with
    one socket, the steering kind and the namespace it lives in."""
    v = version_view(version)
    got = [(b["address"], b["live"], b["sockets"], b.get("steering"), b.get("netns"))
           for b in v["backends"]]
    check(v["servers"] == servers and got == [(s, True, 1, steering, netns) for s in servers],
          "%s's backends: servers %s, backends %s; expected %s, each live with 1 socket, "
          "steering %r, netns %r" % (version, v["servers"], v["backends"], servers, steering, netns))


def check_steered(seen):
    """Each version's `steered` counter is what the clients saw of it."""
    got = {v["version"]: v["counters"]["steered"] for v in service()["versions"]}
    want = {v: seen.count(v) for v in got}
    check(got == want, "steered counters %s, clients saw %s" % (got, want))


def check_split(got, version, pct, what):
    n = len(got)
    k, bound = got.count(version), binomial_bound(n, pct / 100)
    check(abs(k - n * pct / 100) <= bound, "%s: %d of %d on %s, expected %.0f +- %.0f"
          % (what, k, n, version, n * pct / 100, bound))


def put(body, want=201):
    st, c = api("PUT", "/v1/clusters", body)
    check(st == want, "PUT /v1/clusters %s: %s %s" % (body, st, c))
    return c


def two_containers(env, kinds=("netns", "netns"), v2_args=(), mode="manual", **svc_extra):
    """1.0 in container 1 (port 9001, from the config) and 2.0 in container
    2 (port 9002, PUT with mode), each named by its netns path, unless
    kind "pid": the pid of container 1's holder process for 1.0, of
    2.0's backend itself for 2.0; svc_extra: the service's settings.
    Returns (bridge, p1, p2)."""
    br = Bridge(env, kinds)
    p1 = br.backend(br[1], "1.0", 9001)
    p2 = br.backend(br[2], "2.0", 9002, *v2_args)
    where1 = {"pid": br[1].pid} if kinds[0] == "pid" else {}
    where2 = {"pid": p2.pid} if kinds[1] == "pid" else {}
    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001, **where1)]}],
                           proxy(**svc_extra)))
    body = {"version": "2.0", "servers": [br[2].server(9002, **where2)],
            "upgradeTransition": {"mode": mode}}
    if mode != "manual":
        body["analysis"] = False
    put(body)
    return br, p1, p2


def one_container(env):
    """1.0 in container 1 (port 9001, its netns path), from the config.
    Returns (bridge, vsteerd)."""
    br = Bridge(env, ("netns",))
    br.backend(br[1], "1.0", 9001)
    return br, env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001)]}], proxy()))


@test
def bridged_topology_direct(env):
    """without vsteerd, the test topology works: a client bound to 10.77.0.5
    (the local client range) and an unbound one reach a backend in each
    container (an `ip netns` one and a process-held one) at its own address,
    so do fd77::5 and an unbound one over IPv6; container 1 reaches
    container 2; a connect() to the service address (IPv4 or IPv6) fails at
    once with ENETUNREACH; a 127.0.0.5-bound client cannot reach a container
    (EINVAL)

    The other tests build on this: when it fails, the fault is in the
    topology (routes, rp_filter, the bridge), not in vsteer."""
    br = Bridge(env, ("netns", "pid"))
    for c, v, port in ((br[1], "1.0", 9001), (br[2], "2.0", 9002)):
        br.backend(c, v, port)
        br.backend(c, v, port, ipv6=True)
        for src, dst in (("10.77.0.5", c.addr), (None, c.addr), ("fd77::5", c.addr6), (None, c.addr6)):
            with network_step("from %s to %s port %d without vsteerd" % (src, dst, port), 3):
                got = fetch(src, timeout=3, svc=(dst, port))
            check(got == v, "from %s to %s port %d: %r" % (src, dst, port, got))
    own = os.stat("/proc/self/ns/net").st_ino
    check(br[1].netns == "/run/netns/vs-c1" and br[2].pid
          and len({own, os.stat(br[1].netns).st_ino, os.stat(br[2].netns).st_ino}) == 3,
          "containers: %s, %s" % (vars(br[1]), vars(br[2])))
    r = br[1].run([sys.executable, "-c", "import socket; s = socket.create_connection(('%s', 9002), 3);"
                   "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(4096).decode())" % br[2].addr])
    check("2.0" in r.stdout, "container 1 to container 2: %r" % r.stdout)
    for src, svc in ((None, SVC_B), ("10.77.0.5", SVC_B), (None, SVC_B6), ("fd77::5", SVC_B6)):
        e = connect_errno(src, svc)
        check(e == errno.ENETUNREACH, "unsteered connect from %s to %s: %s" % (src, svc, errname(e)))
    e = connect_errno("127.0.0.5", (br[1].addr, 9001))
    check(e == errno.EINVAL, "127.0.0.5 to a container: %s" % errname(e))


@test
def bridged_local_split(env):
    """1.0 in container 1 and 2.0 in container 2 (netns paths) at 70/30: 400
    local clients, each bound to its own 10.77.x.y, split within 4.5 binomial
    SDs, the same client gets the same version again; getpeername() gives the
    service address while the socket is connected to the chosen container's;
    the view shows steering `address` and each netns; `steered` and `requests`
    equal what the clients saw"""
    br, _, _ = two_containers(env)
    set_weights(30)
    n = 400
    first = local_versions(range(n))
    check(set(first) <= {"1.0", "2.0"}, "answers: %s" % set(first))
    check_split(first, "2.0", 30, "weights 70/30")
    again = local_versions(range(100))
    check(again == first[:100], "%d of 100 clients changed version on reconnecting"
          % sum(a != b for a, b in zip(again, first)))
    seen = first + again

    # One connection from each side of the split: the application sees the
    # service address, the kernel's socket is the container's.
    for v, c, port in (("1.0", br[1], 9001), ("2.0", br[2], 9002)):
        i = first.index(v)
        s = socket.create_connection(SVC_B, timeout=3, source_address=(local_addr(i), 0))
        try:
            check(s.getpeername() == SVC_B, "getpeername(): %s" % (s.getpeername(),))
            check(real_peer(s) == "%s:%d" % (c.addr, port), "client on %s connected to %s"
                  % (v, real_peer(s)))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            check(b"\r\n\r\n" + v.encode() in s.recv(4096), "not answered by %s" % v)
        finally:
            s.close()
        seen.append(v)

    check_backends("1.0", "address", br[1].netns, ["%s:9001" % br[1].addr])
    check_backends("2.0", "address", br[2].netns, ["%s:9002" % br[2].addr])
    check_steered(seen)
    # Measured by the kernel in the containers' namespaces: one request
    # per connection (the counts land as the responses leave).
    want = {v: seen.count(v) for v in ("1.0", "2.0")}
    wait_for(lambda: {v: version_view(v)["counters"]["requests"] for v in want} == want, 3,
             lambda: "requests %s, expected %s" % ({v: version_view(v)["counters"]["requests"]
                                                     for v in want}, want))


@test
def bridged_unbound_per_connection(env):
    """unbound local clients (one source address for all) are drawn per
    connection and leave no session: 400 connections split 70/30 within 4.5
    binomial SDs though the service keeps sessions for 60 s, and all go to
    the other version once it has 100%; a bound client keeps its version
    over 20 connections, and after that switch (its session); `steered`
    equals what the clients saw"""
    two_containers(env, sessionTimeout=60)
    set_weights(30)
    n = 400
    got = local_versions(range(n), src=lambda i: None)
    check(set(got) <= {"1.0", "2.0"}, "answers: %s" % set(got))
    check_split(got, "2.0", 30, "unbound connections at 70/30")
    bound = local_versions([5] * 20)
    check(len(set(bound)) == 1, "a bound client changed version: %s" % {v: bound.count(v) for v in set(bound)})
    other = "1.0" if bound[0] == "2.0" else "2.0"
    set_weights(100 if other == "2.0" else 0)
    after = local_versions(range(50), src=lambda i: None)
    check(set(after) == {other}, "unbound connections with %s at 100%%: %s" % (other, set(after)))
    kept = local_versions([5] * 5)
    check(set(kept) == {bound[0]}, "the bound client's session (%s) lost: %s" % (bound[0], kept))
    check_steered(got + bound + after + kept)


@test
def bridged_rollouts(env):
    """with servers in 4 containers: an instant `PUT /v1/clusters` moves every
    new connection to 2.0; a session one (60 s) keeps the 40 clients seen on
    2.0 and sends new ones to 3.0; a gradual rollout to 4.0 without
    affinity gives 30% (promote), then 80% after a 1 s hold, within 4.5
    binomial SDs with no client moving back, then 100% on promote"""
    br = Bridge(env, ("netns",) * 4)
    for i in range(1, 5):
        br.backend(br[i], "%d.0" % i, 9000 + i)
    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001)]}], proxy()))
    active, fresh = range(0, 40), range(1000, 1400)
    check(set(local_versions(range(100))) == {"1.0"}, "before: not all on 1.0")

    c = put({"version": "2.0", "servers": [br[2].server(9002)], "upgradeTransition": {"mode": "instant"},
             "analysis": False})
    check(c["weight"] == 100, "instant cluster: %s" % c)
    got = set(local_versions(range(100)))
    check(got == {"2.0"}, "after the instant switch: %s" % got)

    check(set(local_versions(active)) == {"2.0"}, "active clients before the session switch")
    put({"version": "3.0", "servers": [br[3].server(9003)],
         "upgradeTransition": {"mode": "session", "sessionTimeout": 60}, "analysis": False})
    got = local_versions(active)
    check(set(got) == {"2.0"}, "clients with a session moved: %s" % {v: got.count(v) for v in set(got)})
    got = set(local_versions(range(500, 700)))
    check(got == {"3.0"}, "new clients after the session switch: %s" % got)

    put({"version": "4.0", "servers": [br[4].server(9004)], "upgradeTransition": {"mode": "manual"}})
    r = rollout({"to": "4.0", "strategy": "gradual", "sessionTimeout": 0, "analysis": False,
                 "steps": [{"weight": 30}, {"weight": 60, "hold": 1}, {"weight": 80}, {"weight": 100}]})
    r = r["rollout"]
    check(r["from"] == "3.0" and r["step"] == 1 and r["weight"] == 30, "gradual: %s" % r)
    at30 = local_versions(fresh)
    check(set(at30) <= {"3.0", "4.0"}, "at 30%%: %s" % set(at30))
    check_split(at30, "4.0", 30, "step 1")
    r = control("promote")["rollout"]
    check(r["step"] == 2 and r["weight"] == 60, "promote: %s" % r)
    # Step 2 holds 1 s, then step 3 (80%) waits for a promote.
    wait_for(lambda: service()["rollout"]["step"] == 3, 5, "step 3 after step 2's 1 s hold")
    check(service()["rollout"]["weight"] == 80, "step 3: %s" % service()["rollout"])
    at80 = local_versions(fresh)
    check_split(at80, "4.0", 80, "step 3")
    back = [i for i, (a, b) in enumerate(zip(at30, at80)) if a == "4.0" and b != "4.0"]
    check(not back, "%d clients moved back from 4.0 at 80%%" % len(back))
    r = control("promote")["rollout"]
    check(r["phase"] == "completed" and r["weight"] == 100, "promote at step 3: %s" % r)
    got = set(local_versions(fresh))
    check(got == {"4.0"}, "after completion: %s" % got)


def request_on(conn):
    conn.request("GET", "/")
    return conn.getresponse().read().split(b"\n", 1)[0].decode()


@test
def bridged_flow_keeps_version(env):
    """a keep-alive connection opened on 1.0 keeps getting 1.0 after the
    weights move to 100% 2.0 (3 requests before, 3 after), counted as 1.0's
    open connection until closed; new connections, bound or not, get 2.0"""
    two_containers(env)
    held = http.client.HTTPConnection(*SVC_B, timeout=3, source_address=(local_addr(7), 0))
    try:
        got = [request_on(held) for _ in range(3)]
        check(got == ["1.0"] * 3, "before: %s" % got)
        check(held.sock.getpeername() == SVC_B, "getpeername(): %s" % (held.sock.getpeername(),))
        wait_for(lambda: version_view("1.0")["openConnections"] == 1, 3, "1.0 counts the held connection")
        set_weights(100)
        got = set(local_versions(range(100, 150))) | {fetch(None, svc=SVC_B) for _ in range(20)}
        check(got == {"2.0"}, "new connections after the switch: %s" % got)
        got = [request_on(held) for _ in range(3)]
        check(got == ["1.0"] * 3, "the held connection after the switch: %s" % got)
    finally:
        held.close()
    wait_for(lambda: version_view("1.0")["openConnections"] == 0, 3, "1.0 drained")


@test
def bridged_failover(env):
    """2.0 (container 2) killed under load from local clients: no connection
    started after its socket closed fails, all go to 1.0, at most 2 fail
    overall (in flight at the kill), failover is counted; the restarted 2.0
    is steered to again within 2 s

    The load is one connection at a time: the kill resets the one the
    client has open, and (in the microseconds between the kernel closing
    the dying process's connection and its listening socket) one more
    may meet the listener as it closes. Every failure must have started
    before the socket was seen closed."""
    br, _, p2 = two_containers(env, mode="instant")
    check(set(local_versions(range(20))) == {"2.0"}, "before the kill: not all on 2.0")
    load = kill_under_load(lambda: kill(p2), 9002, br[2].addr, Load(src=local_addr, svc=SVC_B))
    check(load.failed <= 2, "%d connections failed: %s" % (load.failed, load.errors[:3]))
    v1, v2 = version_view("1.0"), version_view("2.0")
    check(not v2["live"] and not v2["backends"][0]["live"], "2.0 still live: %s" % v2)
    check(v2["counters"]["failoverOut"] > 0 and v1["counters"]["failoverIn"] > 0,
          "failover not counted: 1.0 %s, 2.0 %s" % (v1["counters"], v2["counters"]))
    check(service()["counters"]["refused"] == 0, "refusals: %s" % service()["counters"])

    br.backend(br[2], "2.0", 9002)
    t0 = time.monotonic()
    wait_for(lambda: fetch(local_addr(7), svc=SVC_B) == "2.0", 2.0, "the restarted 2.0 to be steered to")
    print("restarted 2.0 steered to after %.3f s" % (time.monotonic() - t0))
    check_backends("2.0", "address", br[2].netns, ["%s:9002" % br[2].addr])


@test
def bridged_pid_form(env):
    """servers named by pid (container 1's holder process, 2.0's backend
    itself): split 50/50 within 4.5 binomial SDs, the view shows netns
    `pid N`; with both backends killed a local connect() fails at once with
    EPERM and is counted as refused"""
    br, p1, p2 = two_containers(env, ("pid", "pid"))
    set_weights(50)
    got = local_versions(range(300))
    check(set(got) <= {"1.0", "2.0"}, "answers: %s" % set(got))
    check_split(got, "2.0", 50, "weights 50/50")
    check_steered(got)
    check_backends("1.0", "address", "pid %d" % br[1].pid, ["%s:9001" % br[1].addr])
    check_backends("2.0", "address", "pid %d" % p2.pid, ["%s:9002" % br[2].addr])

    kill(p1)
    kill(p2)
    wait_for(lambda: not version_view("1.0")["live"] and not version_view("2.0")["live"], 3,
             "both versions not live")
    for i in range(20):
        t0 = time.monotonic()
        e = connect_errno(local_addr(i), SVC_B)
        dt = time.monotonic() - t0
        check(e == errno.EPERM and dt < 0.5, "with every backend dead: %s after %.3f s" % (errname(e), dt))
    check(service()["counters"]["refused"] >= 20, "refusals not counted: %s" % service()["counters"])


@test
def bridged_container_form(env):
    """a server named by a podman container (the demo image, `--network
    none`, listening on 0.0.0.0:9002; a veth moved into its namespace puts
    it on the bridge): an instant switch to it steers every new local
    connection there, the view shows netns `container NAME`; `podman kill`:
    every local client goes to 1.0

    vsteerd finds the container's pid with `podman inspect` itself."""
    br, _ = one_container(env)
    tag = "bridged%d" % os.getpid()
    image = build_images(tag, ("demo",))[0]
    name = "vsteer-%s-2.0" % tag
    try:
        podman("run", "-d", "--name", name, "--network", "none", image,
               "--listen", "0.0.0.0:9002", "--version", "2.0")
        c = br.attach(int(podman("inspect", "-f", "{{.State.Pid}}", name)), name)
        wait_for(lambda: connect_errno(None, (c.addr, 9002)) == 0, 10, "the container's demo to listen")
        put({"version": "2.0", "servers": [c.server(9002, container=name)],
             "upgradeTransition": {"mode": "instant"}, "analysis": False})
        check_backends("2.0", "address", "container " + name, ["%s:9002" % c.addr])
        got = set(local_versions(range(50)))
        check(got == {"2.0"}, "after the switch to the container: %s" % got)
        podman("kill", name)
        wait_for(lambda: not version_view("2.0")["live"], 5, "2.0 not live after podman kill")
        got = set(local_versions(range(50)))
        check(got == {"1.0"}, "after podman kill: %s" % got)
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, env=PODMAN_ENV)
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True, env=PODMAN_ENV)


@test
def bridged_ipv6(env):
    """an IPv6 service (fd00:200::10, on no interface) with 1.0 and 2.0 at
    [fd88::2]:9001 and [fd88::3]:9002 in containers, at 50/50: 300 local
    clients bound to fd77:0:x::1 (each its own /64) split within 4.5
    binomial SDs and keep their version on reconnecting, 200 unbound
    connections too; getpeername() gives the service address; `steered`
    equals what the clients saw"""
    br = Bridge(env)
    br.backend(br[1], "1.0", 9001, ipv6=True)
    br.backend(br[2], "2.0", 9002, ipv6=True)
    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001, ipv6=True)]},
                            {"version": "2.0", "servers": [br[2].server(9002, ipv6=True)],
                             "upgradeTransition": {"mode": "manual"}}], proxy(SVC_B6)))
    set_weights(50)
    first = local_versions(range(300), SVC_B6, local_addr6)
    check(set(first) <= {"1.0", "2.0"}, "answers: %s" % set(first))
    check_split(first, "2.0", 50, "bound clients at 50/50")
    again = local_versions(range(100), SVC_B6, local_addr6)
    check(again == first[:100], "%d of 100 clients changed version on reconnecting"
          % sum(a != b for a, b in zip(again, first)))
    unbound = local_versions(range(200), SVC_B6, lambda i: None)
    check_split(unbound, "2.0", 50, "unbound connections at 50/50")
    check_backends("2.0", "address", br[2].netns, [br[2].endpoint(9002, True)])
    s = socket.create_connection(SVC_B6, timeout=3, source_address=(local_addr6(7), 0))
    try:
        check(s.getpeername()[:2] == SVC_B6, "getpeername(): %s" % (s.getpeername(),))
    finally:
        s.close()
    check_steered(first + again + unbound + [first[7]])


@test
def bridged_v4mapped_client(env):
    """a local client on an IPv6 socket connecting to the IPv4 service
    address in its mapped form (::ffff:10.200.0.10, as Java and other
    dual-stack clients do), unbound or bound to ::ffff:10.77.x.y, is steered
    like an IPv4 one: answered by the version its bound address gets over
    IPv4, getpeername() the mapped service address

    A dual-stack socket connects to an IPv4 address through the connect6
    hook, with the address mapped: the service is the same one."""
    two_containers(env)
    set_weights(50)
    want = local_versions(range(20))
    mapped = ("::ffff:" + SVC_B[0], SVC_B[1])
    got = local_versions([None] + list(range(20)), mapped,
                         lambda i: None if i is None else "::ffff:" + local_addr(i))
    check(got[0] in ("1.0", "2.0") and got[1:] == want,
          "dual-stack clients (unbound, then bound): %s; over IPv4: %s" % (got, want))
    s = socket.socket(socket.AF_INET6)
    try:
        s.bind(("::ffff:" + local_addr(0), 0))
        s.connect(mapped)
        check(s.getpeername()[:2] == mapped, "getpeername(): %s" % (s.getpeername(),))
    finally:
        s.close()


HEALTH = {"path": "/healthz", "intervalMs": 200, "timeoutMs": 100, "unhealthyAfter": 2, "healthyAfter": 2}


@test
def bridged_status_and_health(env):
    """an `http` service: 1.0 in a container answering 503 has 20 of 20
    local requests counted as 5xx (read by the TC meter inside its
    namespace); 2.0 in another, health-checked, takes every new local
    connection, is out of rotation within 3 s of hanging (local clients go
    to 1.0), back within 3 s of answering again; events both ways"""
    br = Bridge(env)
    br.backend(br[1], "1.0", 9001, "--status", "503")
    br.backend(br[2], "2.0", 9002)
    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001)]},
                            {"version": "2.0", "servers": [br[2].server(9002)], "health": HEALTH,
                             "upgradeTransition": {"mode": "manual"}}], proxy(protocol="http")))
    check(set(local_versions(range(20))) == {"1.0"}, "not all on 1.0")
    want = {"requests": 20, "5xx": 20}
    wait_for(lambda: {"requests": version_view("1.0")["counters"]["requests"],
                      "5xx": version_view("1.0")["counters"]["status"]["5xx"]} == want, 3,
             lambda: "1.0's counters %s, expected %s" % (version_view("1.0")["counters"], want))

    set_weights(100)
    check(set(local_versions(range(100, 120))) == {"2.0"}, "not all on 2.0")
    demo_control(9002, "hang=1", br[2].addr)
    t0 = time.monotonic()
    wait_for(lambda: not version_view("2.0")["backends"][0]["healthy"], 3, "2.0 marked unhealthy")
    print("hung 2.0 out of rotation after %.2f s" % (time.monotonic() - t0))
    got = set(local_versions(range(200, 240)))
    check(got == {"1.0"}, "with 2.0 unhealthy: %s" % got)
    demo_control(9002, "hang=0", br[2].addr)
    wait_for(lambda: version_view("2.0")["backends"][0]["healthy"], 3, "2.0 healthy again")
    wait_for(lambda: fetch(local_addr(500), svc=SVC_B) == "2.0", 2, "2.0 back in rotation")
    kinds = [e["kind"] for e in api("GET", "/v1/events")[1]["events"]]
    check("backend_down" in kinds and "backend_up" in kinds, "events %s" % kinds)


@test
def bridged_direct_not_counted(env):
    """connections made to a container's own address without the service
    (a local process, a process in another container, vsteerd's health
    checks) count for nothing: 2.0's `requests` and `openConnections` are
    only what was steered to it, as for a version steered by socket

    The steered connection is made to the same address and port, so the
    server's side cannot tell them apart by address: a version's meters
    must count the connections its connect hook made, or a health check
    every 200 ms and any other caller would be judged as its traffic."""
    br = Bridge(env, ("netns",) * 3)
    br.backend(br[1], "1.0", 9001)
    br.backend(br[2], "2.0", 9002)
    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001)]},
                            {"version": "2.0", "servers": [br[2].server(9002)], "health": HEALTH,
                             "upgradeTransition": {"mode": "manual"}}], proxy()))
    set_weights(100)
    check(set(local_versions(range(10))) == {"2.0"}, "not all on 2.0")
    direct = (br[2].addr, 9002)
    for src in [local_addr(i) for i in range(5)] + [None] * 5:
        fetch(src, svc=direct)
    br[3].run([sys.executable, "-c", "import socket\nfor i in range(5):\n"
               " s = socket.create_connection(('%s', 9002), 3); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
               " s.recv(4096); s.close()" % br[2].addr])
    held = socket.create_connection(direct, timeout=3)
    try:
        # 25 steered or direct requests, and 3 health checks
        wait_for(lambda: demo_control(9002, "", br[2].addr)["served"] >= 28, 3,
                 "3 health checks of 2.0", interval=0.1)
        c = version_view("2.0")
        got = {"steered": c["counters"]["steered"], "requests": c["counters"]["requests"],
               "open": c["openConnections"]}
    finally:
        held.close()
    check(got == {"steered": 10, "requests": 10, "open": 0},
          "2.0 counted %s; steered to it: 10 connections of 1 request each, none open" % got)


# A connect() to the service from inside a container, unbound and bound
# to the container's own address: prints each one's errno name.
CONNECT_FROM_INSIDE = """
import errno, socket, sys
for src in (None, sys.argv[1]):
    s = socket.socket()
    s.settimeout(2)
    try:
        if src:
            s.bind((src, 0))
        s.connect(("%s", %d))
        print("connected")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print(errno.errorcode[e.errno])
""" % SVC_B


@test
def bridged_other_netns_untouched(env):
    """a connect() to the service address made inside a container (unbound
    or bound to its own address) is not steered: EHOSTUNREACH from its own
    unreachable route, nothing counted; a local client's is

    Each container gets an unreachable route for the service's network,
    so that a connect() left alone fails at once (its default route leads
    to the test's namespace, which forwards nothing: the SYN would be
    dropped and the connect time out). Steered, it would reach 1.0 or 2.0
    over the bridge."""
    br, _, _ = two_containers(env)
    set_weights(50)
    for c in br.containers:
        c.run(["ip", "route", "add", "unreachable", "10.200.0.0/16"])
        out = c.run([sys.executable, "-c", CONNECT_FROM_INSIDE, c.addr]).stdout.split()
        check(out == ["EHOSTUNREACH"] * 2, "connect() from inside %s: %s" % (c.name, out))
    check_steered([])
    got = fetch(local_addr(1), svc=SVC_B)
    check(got in ("1.0", "2.0"), "local client: %r" % got)
    check_steered([got])


@test
def bridged_mixed(env):
    """1.0 a socket of vsteerd's namespace (127.0.0.1:9001), 2.0 in a
    container, service 10.77.255.254:8080 (a local address): at 50/50, 400
    local clients split within 4.5 binomial SDs and keep their version on
    reconnecting; the view shows steering `socket` (no netns) and
    `address`; getpeername() is the service address on both; `steered`
    equals what the clients saw

    A client's connect() is rewritten to the container when 2.0 is
    chosen, and left alone when 1.0 is, for sk_lookup to hand it to
    1.0's socket: the two must agree on the client's version."""
    svc = ("10.77.255.254", 8080)
    br = Bridge(env, ("netns",))
    env.backend("1.0", "127.0.0.1:9001")
    br.backend(br[1], "2.0", 9002)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": [br[1].server(9002)],
                             "upgradeTransition": {"mode": "manual"}}], proxy(svc)))
    set_weights(50)
    n = 400
    first = local_versions(range(n), svc)
    check(set(first) <= {"1.0", "2.0"}, "answers: %s" % set(first))
    check_split(first, "2.0", 50, "weights 50/50")
    again = local_versions(range(100), svc)
    check(again == first[:100], "%d of 100 clients changed version on reconnecting"
          % sum(a != b for a, b in zip(again, first)))
    check_backends("1.0", "socket", None, ["127.0.0.1:9001"])
    check_backends("2.0", "address", br[1].netns, ["%s:9002" % br[1].addr])
    for v in ("1.0", "2.0"):
        s = socket.create_connection(svc, timeout=3, source_address=(local_addr(first.index(v)), 0))
        try:
            check(s.getpeername() == svc, "%s: getpeername() %s" % (v, s.getpeername(),))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            check(b"\r\n\r\n" + v.encode() in s.recv(4096), "not answered by %s" % v)
        finally:
            s.close()
    check_steered(first + again + ["1.0", "2.0"])


@test
def bridged_auto_rollback_slow(env):
    """a gradual rollout (50%) to a 2.0 in a container that adds 50 ms is
    rolled back automatically under local load after at most failureLimit +
    1 judged windows; the event names latency p50 with the target's 50 ms
    +-10%; new local connections go to 1.0"""
    two_containers(env, v2_args=("--delay-ms", "50"))
    rollout({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 50}], "analysis": ANALYSIS})
    check_slow_rolled_back(load=Load(src=local_addr, svc=SVC_B),
                           new_versions=lambda: local_versions(range(5000, 5100)))


def cgroup2_root():
    """Where the cgroup v2 hierarchy's root is mounted."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, fstype = line.split(" - ")[0].split(), line.split(" - ")[1].split()[0]
            if fstype == "cgroup2" and fields[3] == "/":
                return fields[4]
    raise TestFailure("no cgroup2 root mounted")


def bpftool(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True)
    check(r.returncode == 0, "bpftool %s: %s" % (" ".join(args), r.stderr))
    # `cgroup show` of a cgroup with nothing attached prints an empty line
    return json.loads(r.stdout) if r.stdout.strip() else []


HOOK_PINS = ("connect4", "connect6", "peer4", "peer6")


def tc_programs(c=None):
    """The vsteer TC programs on the interfaces of container c's namespace
    (None: the test's own), as (interface, program name)."""
    cmd = ["bpftool", "-j", "net", "show"]
    out = c.run(cmd).stdout if c else subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [(t["devname"], t["name"]) for n in json.loads(out) for t in n["tc"]
            if t["name"].startswith("vsteer_")]


@test
def bridged_cleanup(env):
    """the connect hook is 4 links pinned in the pin directory (`connect4`,
    `connect6`, `peer4`, `peer6`) on the cgroup v2 root; after SIGTERM it
    still steers; `--cleanup` removes them: none of their links or programs
    is left on the root, no TC meter in the container's namespace or the
    test's own, and a local connect() to the service is no longer rewritten
    (ENETUNREACH)"""
    br, p = one_container(env)
    check(fetch(local_addr(1), svc=SVC_B) == "1.0", "not steered")
    root = cgroup2_root()
    links = {}
    for name in HOOK_PINS:
        link = bpftool("link", "show", "pinned", os.path.join(env.pin_dir, name))
        check(link.get("type") == "cgroup" and link.get("cgroup_id") == os.stat(root).st_ino,
              "%s is not a link on the cgroup root %s: %s" % (name, root, link))
        links[name] = link
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=15) == 0, "vsteerd's exit status")
    check(fetch(local_addr(2), svc=SVC_B) == "1.0", "steering stopped with vsteerd")

    meters = {"own": tc_programs(), br[1].name: tc_programs(br[1])}
    check(all(meters.values()), "no TC meter: %s" % meters)
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--cleanup"])
    check(r.returncode == 0, "--cleanup: %s" % r.stderr)
    left = {"own": tc_programs(), br[1].name: tc_programs(br[1])}
    check(not any(left.values()), "TC meters left: %s" % left)
    left = [n for n in HOOK_PINS if os.path.exists(os.path.join(env.pin_dir, n))]
    check(not left, "pins left: %s" % left)
    ids = {l["id"] for l in links.values()}
    progs = {l["prog_id"] for l in links.values()}
    still = [l for l in bpftool("link", "show") if l["id"] in ids]
    check(not still, "links left: %s" % still)
    attached = [a for a in bpftool("cgroup", "show", root) if a["id"] in progs]
    check(not attached, "programs left on %s: %s" % (root, attached))
    for src in (local_addr(3), None):
        e = connect_errno(src, SVC_B)
        check(e == errno.ENETUNREACH, "connect() from %s after --cleanup: %s" % (src, errname(e)))


def refused(body, status, codes, names, what, field=("servers[0]", "server 0")):
    """PUT body is answered status with one of codes, its message naming
    the server (one of field) and one of names (its key, or the value
    given)."""
    st, resp = api("PUT", "/v1/clusters", body)
    err = resp.get("error", {}) if isinstance(resp, dict) else {}
    msg = err.get("message", "")
    check(st == status and err.get("code") in codes and any(f in msg for f in field)
          and any(n in msg for n in names), "%s: %s %s; expected %d %s naming %s and %s"
          % (what, st, resp, status, "/".join(codes), " or ".join(field), " or ".join(names)))


@test
def bridged_refused(env):
    """a server naming its namespace badly is a 400 `bad_servers` naming the
    field (a relative, empty, long or non-string netns; a 0, negative, 2^31,
    2^63-1, string or float pid; an empty, option-like or non-string
    container; two of them), one naming no namespace that can be opened a
    422 `no_netns` naming it (a missing path, a directory, a dead pid, a
    container podman does not know); a bad or missing address is
    `bad_address`/`bad_port`, the wildcard `bad_server`, another key
    `unknown_field`, string and object servers in one cluster
    `bad_servers`: nothing changes; a config mixing them stops vsteerd
    naming the file and the server; two containers' servers in one cluster
    are accepted"""
    br = Bridge(env, ("netns", "netns", "netns"))
    br.backend(br[1], "1.0", 9001)
    br.backend(br[2], "2.0", 9002)
    br.backend(br[3], "2.0", 9003)
    path = os.path.join(env.dir, "mixed.json")
    with open(path, "w") as f:
        json.dump(dict(proxy(), cluster=[{"version": "1.0", "servers": [
            br[1].server(9001), "127.0.0.1:9009"]}]), f)
    r = run_vsteerd(["-c", path, "--pin-dir", env.pin_dir, "--state", env.state])
    check(r.returncode != 0 and path in r.stderr and "cluster[0]" in r.stderr
          and ("servers[1]" in r.stderr or "server 1" in r.stderr),
          "a config mixing string and object servers: exit %d, %s" % (r.returncode, r.stderr))
    check(not os.path.exists(env.pin_dir), "the failed start left pins")

    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001)]}], proxy()))
    before = snapshot()
    dead = subprocess.Popen(["true"])
    dead.wait()
    addr = "%s:9002" % br[2].addr
    bad, none = (400, ("bad_servers",)), (422, ("no_netns",))
    cases = [
        ({"netns": "/run/netns/vs-nope"}, none, "/run/netns/vs-nope", "a missing netns"),
        ({"netns": env.dir}, none, env.dir, "a directory as netns"),
        ({"netns": "run/netns/vs-c2"}, bad, "netns", "a relative netns"),
        ({"netns": ""}, bad, "netns", "an empty netns"),
        ({"netns": "/run/netns/" + "x" * 300}, bad, "netns", "a long netns"),
        ({"netns": 5}, bad, "netns", "a number as netns"),
        ({"netns": None}, bad, "netns", "null as netns"),
        ({"pid": dead.pid}, none, str(dead.pid), "a dead pid"),
        ({"pid": 0}, bad, "pid", "pid 0"),
        ({"pid": -1}, bad, "pid", "pid -1"),
        ({"pid": 2 ** 31}, bad, "pid", "pid 2^31"),
        ({"pid": 2 ** 63 - 1}, bad, "pid", "pid 2^63-1"),
        ({"pid": str(os.getpid())}, bad, "pid", "a string pid"),
        ({"pid": 1.5}, bad, "pid", "a float pid"),
        ({"container": "vsteer-no-such-container"}, none, "vsteer-no-such-container",
         "an unknown container"),
        ({"container": "--help"}, bad, "container", "an option as container"),
        ({"container": ""}, bad, "container", "an empty container"),
        ({"container": ["web"]}, bad, "container", "a list as container"),
        ({"netns": br[2].netns, "pid": os.getpid()}, bad, "netns", "netns and pid"),
        ({"netns": br[2].netns, "container": "web"}, bad, "netns", "netns and container"),
    ]
    for where, (status, codes), name, what in cases:
        key = [k for k in where if k in ("netns", "pid", "container")][0]
        refused({"version": "2.0", "servers": [dict({"address": addr}, **where)]}, status, codes,
                (key, name), what)
    for address, codes, what in [(br[2].addr, ("bad_address", "bad_port"), "an address without a port"),
                                 ("nowhere:9002", ("bad_address",), "a name as address"),
                                 ("0.0.0.0:9002", ("bad_server",), "the wildcard address")]:
        refused({"version": "2.0", "servers": [{"address": address, "netns": br[2].netns}]}, 400, codes,
                (address, "address"), what)
    refused({"version": "2.0", "servers": [{"netns": br[2].netns}]}, 400, ("bad_address",), ("address",),
            "no address")
    refused({"version": "2.0", "servers": [{"address": addr, "netns": br[2].netns, "nets": "x"}]}, 400,
            ("unknown_field",), ("nets",), "an unknown key")
    for servers in ([addr, br[3].server(9003)], [br[3].server(9003), addr]):
        refused({"version": "2.0", "servers": servers}, 400, ("bad_servers",), ("servers",),
                "string and object servers in one cluster: %s" % servers, ("servers", "server 1"))
    check(snapshot() == before, "a refused request changed the service")
    check(set(local_versions(range(20))) == {"1.0"}, "steering changed")

    c = put({"version": "2.0", "servers": [br[2].server(9002), br[3].server(9003)]})
    check(len(c["backends"]) == 2 and all(b["live"] for b in c["backends"]),
          "two containers' servers: %s" % c["backends"])
    check(set(local_versions(range(20))) == {"2.0"}, "not all on the new 2.0")


@test
def bridged_loopback_server_refused(env):
    """a server in a container named by a loopback address (127.0.0.1:9002,
    where its backend does listen, inside the container) is a 400
    `bad_server` naming it: steering stays on 1.0, and a local client never
    reaches the process listening on 127.0.0.1:9002 in vsteerd's own
    namespace

    A loopback address is not the container's as seen from vsteerd's
    namespace: a connect() rewritten to 127.0.0.1:9002 would be made to
    whatever listens there on the host."""
    br = Bridge(env, ("netns", "netns"))
    br.backend(br[1], "1.0", 9001)
    env.backend("2.0", "127.0.0.1:9002", wrapper=br[2].enter())
    env.backend("host", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": [br[1].server(9001)]}], proxy()))
    before = snapshot()
    st, resp = api("PUT", "/v1/clusters", {"version": "2.0", "servers": [
        {"address": "127.0.0.1:9002", "netns": br[2].netns}], "analysis": False})
    if st == 201:
        try:
            got = set(local_versions(range(20)))
        except TestFailure as e:
            got = str(e)
        raise TestFailure("127.0.0.1:9002 in %s accepted (201): local clients now get %s"
                          % (br[2].netns, got))
    err = resp.get("error", {}) if isinstance(resp, dict) else {}
    check(st == 400 and err.get("code") == "bad_server" and "127.0.0.1:9002" in err.get("message", ""),
          "a loopback server in a container: %s %s" % (st, resp))
    check(snapshot() == before, "the refused request changed the service")
    check(set(local_versions(range(20))) == {"1.0"}, "steering changed")


@test
def bridged_drain_deadline(env):
    """an instant rollout to 2.0 with `drainDeadline` 1 closes 1.0's idle
    keep-alive connection in its container (the drain's iterator runs in the
    server's namespace) 1 to 4 s after it (deadline 1 s, then 1 s of quiet
    and a tick or so), counted in 1.0's `drainClosed`; a new connection of
    the same client goes to 2.0"""
    two_containers(env)
    held = http.client.HTTPConnection(*SVC_B, timeout=3, source_address=(local_addr(9), 0))
    try:
        check(request_on(held) == "1.0", "the held connection is not on 1.0")
        st, c = api("POST", "/v1/services/default/rollout",
                    {"to": "2.0", "strategy": "instant", "drainDeadline": 1, "analysis": False})
        check(st == 201, "rollout: %s %s" % (st, c.get("error", c)))
        t0 = time.monotonic()

        def closed():
            r, _, _ = select.select([held.sock], [], [], 0)
            if not r:
                return False
            try:
                return held.sock.recv(1) == b""
            except ConnectionResetError:
                return True
        wait_for(closed, 6, "1.0's idle connection closed by its drain")
        took = time.monotonic() - t0
        check(1.0 <= took <= 4.0, "closed %.2f s after the rollout (1 to 4 s)" % took)
        wait_for(lambda: version_view("1.0")["counters"]["drainClosed"] == 1, 3,
                 "1.0's drainClosed counts it")
        check(local_versions([9]) == ["2.0"], "the client's new connection is not on 2.0")
    finally:
        held.close()
