"""Steering: weights, stickiness, kernel failover, backend registration by address."""
import http.client
import os
import socket
import subprocess
import time

from common import kill_under_load, set_weights, test, two_versions
from lib import (BUILD, SVC, TestFailure, api, binomial_bound, check, client_addr, fetch, kill,
                 service, versions_of, wait_for)


@test
def weights_split(env):
    """Weights 0/25/50/100 give their share of distinct clients."""
    two_versions(env, "manual")
    n = 1200
    for w in (0, 25, 50, 100):
        set_weights(w)
        got = versions_of(range(n)).count("2.0")
        p = w / 100
        bound = binomial_bound(n, p)
        check(abs(got - n * p) <= bound,
              "weight %d%%: %d of %d clients on 2.0, expected %.0f +- %.0f"
              % (w, got, n, n * p, bound))


@test
def sticky_while_growing(env):
    """A client's version only moves forward while the new weight grows,
    and a client keeps its version over repeated connections."""
    two_versions(env, "manual")
    clients = range(600)
    prev = None
    for w in (10, 30, 60, 90):
        set_weights(w)
        now = versions_of(clients)
        check(now == versions_of(clients), "same weights, different answers at %d%%" % w)
        if prev:
            moved_back = [i for i in clients if prev[i] == "2.0" and now[i] == "1.0"]
            check(not moved_back, "%d clients moved back to 1.0 at %d%%" % (len(moved_back), w))
            check(now.count("2.0") > prev.count("2.0"), "no client moved at %d%%" % w)
        prev = now


@test
def instant_switch(env):
    """PUT /v1/clusters switches new connections at once; an established
    connection stays with the old version; DELETE switches back."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config({"version": "1.0", "servers": [{"address": "127.0.0.1", "port": 9001}]}))
    check(set(versions_of(range(100))) == {"1.0"}, "before: not all on 1.0")

    # An HTTP/1.1 keep-alive connection opened before the switch.
    held = socket.create_connection(SVC, timeout=3)
    held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"\r\n\r\n1.0" in held.recv(4096), "held connection not on 1.0")

    st, c = api("PUT", "/v1/clusters", {"service": "default", "version": "2.0",
                                        "servers": ["127.0.0.1:9002"],
                                        "upgradeTransition": {"mode": "Instant"}})
    check(st == 201 and len(c["id"]) == 36, "PUT cluster: %s %s" % (st, c))
    check(set(versions_of(range(100))) == {"2.0"}, "after: not all on 2.0")
    s = service()
    check([v["version"] for v in s["versions"]] == ["2.0", "1.0"], "order: %s" % s["versions"])
    check([v["weight"] for v in s["versions"]] == [100, 0], "weights: %s" % s["versions"])

    held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"\r\n\r\n1.0" in held.recv(4096), "held connection moved off 1.0")
    held.close()

    st, _ = api("DELETE", "/v1/clusters/" + c["id"])
    check(st == 200, "DELETE: %s" % st)
    check(set(versions_of(range(100))) == {"1.0"}, "after delete: not all on 1.0")
    check(api("GET", "/v1/clusters/" + c["id"])[0] == 404, "deleted cluster still there")


@test
def failover_and_pickup(env):
    """Killing the new version's backend sends every next connection to
    the old one, none refused; restarting it is picked up within 1 s."""
    p1, p2, id2 = two_versions(env)
    kill_under_load(lambda: kill(p2), 9002)
    s = service()
    v2 = [v for v in s["versions"] if v["version"] == "2.0"][0]
    v1 = [v for v in s["versions"] if v["version"] == "1.0"][0]
    check(not v2["live"], "2.0 still reported live")
    check(v2["counters"]["failoverOut"] > 0 and v1["counters"]["failoverIn"] > 0,
          "failover not counted: %s" % s)

    env.backend("2.0", "127.0.0.1:9002")
    t0 = time.monotonic()
    wait_for(lambda: fetch(client_addr(7)) == "2.0", 1.0, "2.0 to be steered to again")
    elapsed = time.monotonic() - t0
    print("restarted backend picked up after %.3f s" % elapsed)
    check(service()["versions"][0]["live"], "2.0 not live again")


@test
def all_dead_refused(env):
    """With no live socket in any version the SYN gets a RST at once."""
    p1, p2, _ = two_versions(env)
    kill(p1)
    kill(p2)
    for i in range(20):
        t0 = time.monotonic()
        try:
            fetch(client_addr(i), timeout=3)
            raise TestFailure("connection succeeded with every backend dead")
        except ConnectionRefusedError:
            pass
        dt = time.monotonic() - t0
        # A SYN retransmit would take >= 1 s; a RST comes back in well under.
        check(dt < 0.5, "refusal took %.3f s" % dt)
    check(service()["counters"]["refused"] >= 20, "refusals not counted")


@test
def reuseport_group(env):
    """Every socket of a SO_REUSEPORT group is registered."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--workers", "3")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"]}]))
    v2 = service()["versions"][0]
    check(v2["version"] == "2.0" and v2["liveSockets"] == 3, "sockets: %s" % v2)
    check(set(versions_of(range(50))) == {"2.0"}, "not all on 2.0")


@test
def wildcard_backend_socket(env):
    """A backend bound to 0.0.0.0:PORT serves the 127.0.0.1:PORT it is
    registered as."""
    env.backend("1.0", "0.0.0.0:9001")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    check(set(versions_of(range(20))) == {"1.0"}, "not served")


@test
def ipv6_service(env):
    """An IPv6 service address steers to IPv6 backends, by weight."""
    env.backend("1.0", "[::1]:9001")
    env.backend("2.0", "[::1]:9002")
    cfg = env.config([], {"proxy": {"address": "::1", "port": 8080}})
    env.vsteerd(cfg)
    for v, port in (("1.0", 9001), ("2.0", 9002)):
        st, c = api("PUT", "/v1/clusters", {"version": v, "servers": [{"address": "::1", "port": port}]})
        check(st == 201, "PUT %s: %s %s" % (v, st, c))
    svc6 = ("::1", 8080)
    check({fetch(svc=svc6) for _ in range(10)} == {"2.0"}, "IPv6 not steered to 2.0")
    set_weights(0)
    check({fetch(svc=svc6) for _ in range(10)} == {"1.0"}, "IPv6 not steered back to 1.0")
    # An IPv4 connection to the same port is no business of this service.
    try:
        fetch(timeout=2)
        raise TestFailure("IPv4 connection to the IPv6 service's port was steered")
    except ConnectionRefusedError:
        pass


@test
def demo_backend_controls(env):
    """vsteer-demo's knobs, which later tests and benchmarks rely on."""
    env.backend("1.0", "127.0.0.1:9001", "--exit-after", "3")
    svc = ("127.0.0.1", 9001)
    for _ in range(3):
        check(fetch(svc=svc) == "1.0", "not answering")
    wait_for(lambda: env.procs[0].poll() is not None, 5, "exit after 3 requests")
    env.backend("2.0", "127.0.0.1:9002")
    svc = ("127.0.0.1", 9002)
    c = http.client.HTTPConnection(*svc, timeout=5)
    c.request("POST", "/control?status=503&size=1000&delay_ms=200")
    check(c.getresponse().status == 200, "control refused")
    c = http.client.HTTPConnection(*svc, timeout=5)
    t0 = time.monotonic()
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    dt = time.monotonic() - t0
    check(r.status == 503 and len(body) == 1000 and r.getheader("X-Version") == "2.0",
          "status %s size %d" % (r.status, len(body)))
    check(dt >= 0.2, "delay not applied: %.3f s" % dt)


@test
def other_netns_refused(env):
    """A backend in another network namespace cannot be steered to
    (sk_lookup would hang such connections): vsteerd refuses it."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    other = subprocess.Popen(["unshare", "--net", "sh", "-c",
                              "ip link set lo up; exec %s --listen 127.0.0.1:9002 --version 2.0"
                              % os.path.join(BUILD, "vsteer-demo")],
                             stdout=subprocess.PIPE, start_new_session=True)
    env.procs.append(other)
    check(b"listening" in other.stdout.readline(), "other-netns backend did not start")
    st, resp = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"]})
    check(st == 422 and "network namespace" in resp["error"]["message"], "%s %s" % (st, resp))
    check(set(versions_of(range(20))) == {"1.0"}, "steering changed")


@test
def wildcard_two_servers(env):
    """One 0.0.0.0 socket may serve two servers of a cluster."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "0.0.0.0:9002")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002", "127.0.0.2:9002"]})
    check(st == 201 and all(b["live"] for b in c["backends"]), "%s %s" % (st, c))


# ---- API security --------------------------------------------------------

@test
def mptcp_listener_refused(env):
    """A socket the kernel will not put in a sockmap (MPTCP, as Go 1.24+
    listens by default) is refused with the real reason, not 'nothing
    listens'."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    try:
        m = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
    except OSError as e:
        raise TestFailure("this kernel has no MPTCP (%s); the test needs it" % e)
    m.bind(("127.0.0.1", 9002))
    m.listen()
    st, resp = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"]})
    check(st == 422 and resp["error"]["code"] == "socket_refused"
          and "multipathtcp" in resp["error"]["message"], "%s %s" % (st, resp))
    check(len(service()["versions"]) == 1, "cluster registered anyway")
    m.close()


@test
def sockmap_full(env):
    """A version with more listening sockets than its 32 sockmap slots:
    32 are used, the rest are reported, nothing breaks."""
    env.backend("1.0", "127.0.0.1:9001", "--workers", "40")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    v = service()["versions"][0]
    check(v["liveSockets"] == 32 and v["live"], "sockets: %s" % v["liveSockets"])
    check(set(versions_of(range(50))) == {"1.0"}, "not served")
    check("no room for another socket" in env.vsteerd_log(), "not reported")


# ---- watching versions ---------------------------------------------------

def share(versions, v):
    return versions.count(v) / len(versions)
