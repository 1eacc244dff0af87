#!/usr/bin/env python3
"""End-to-end tests: the real BPF programs in the real kernel, real
backends, real TCP connections. tests/run starts each test in its own
network and mount namespace (`unshare --net --mount`), so each has its own
loopback, its own bpffs pin directory and nothing to clean up.

    python3 tests/e2e.py --list
    unshare --net --mount --propagation private python3 tests/e2e.py NAME
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (API, BUILD, ROOT, SVC, Env, TestFailure, api, binomial_bound, check,  # noqa: E402
                 client_addr, fetch, kill, service, versions_of, wait_for, wait_ticks)

TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def two_versions(env, mode=None):
    """v1 from the config, v2 added over the API; returns (p1, p2, id2)."""
    p1 = env.backend("1.0", "127.0.0.1:9001")
    p2 = env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    body = {"version": "2.0", "servers": ["127.0.0.1:9002"]}
    if mode:
        body["upgradeTransition"] = {"mode": mode}
    st, c = api("PUT", "/v1/clusters", body)
    check(st == 201, "PUT cluster: %s %s" % (st, c))
    return p1, p2, c["id"]


def set_weights(w2):
    st, body = api("PUT", "/v1/services/default/weights", {"2.0": w2, "1.0": 100 - w2})
    check(st == 200, "PUT weights: %s %s" % (st, body))


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


class Load(threading.Thread):
    """New connections from rotating client addresses until stopped;
    counts what each version served and every failure."""

    def __init__(self, clients=500):
        super().__init__(daemon=True)
        self.clients, self.stop = clients, threading.Event()
        self.ok, self.failed, self.by_version, self.errors = 0, 0, {}, []
        self.mark = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                v = fetch(client_addr(i % self.clients), timeout=2)
                self.by_version[v] = self.by_version.get(v, 0) + 1
                self.ok += 1
            except (OSError, TestFailure) as e:
                self.failed += 1
                self.errors.append((t0, repr(e)))
            i += 1
            if self.ok % 50 == 0:
                self.mark.set()

    def wait_more(self, n, timeout=20):
        target = self.ok + n
        wait_for(lambda: self.ok >= target, timeout, "%d more connections" % n)

    def finish(self):
        self.stop.set()
        self.join(10)

    def failed_after(self, t):
        return [e for t0, e in self.errors if t0 >= t]


def port_closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return False
    except ConnectionRefusedError:
        return True


def kill_under_load(kill_fn, port):
    """Under load, kill the version on port (kill_fn); every connection
    started after its sockets closed must be served, by 1.0. A connection
    it had already accepted is reset by the kernel: that is the death of a
    process, not a steering failure."""
    load = Load()
    load.start()
    load.wait_more(100)
    kill_fn()
    wait_for(lambda: port_closed(port), 10, "the killed backend's sockets to close")
    t_dead = time.monotonic()
    load.wait_more(10)
    load.by_version.clear()
    load.wait_more(300)
    load.finish()
    lost = load.failed_after(t_dead)
    check(not lost, "%d connections after the kill failed: %s" % (len(lost), lost[:3]))
    check(set(load.by_version) == {"1.0"}, "after the kill: %s" % load.by_version)
    print("in flight when it was killed: %d reset; then %d served by 1.0"
          % (load.failed, load.by_version["1.0"]))


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


def snapshot():
    """What the API reports, minus counters that move with traffic."""
    def strip(v):
        v = dict(v)
        for k in ("counters", "openConnections", "drained"):
            v.pop(k, None)
        # the accept backlog is a reading of the queue at the last scan:
        # under load it is 0 or 1 depending on the instant
        v["backends"] = [{k: x for k, x in b.items() if k != "acceptBacklog"}
                         for b in v.get("backends", [])]
        return v
    st, body = api("GET", "/v1/services")
    return [dict(s, counters=None, versions=[strip(v) for v in s["versions"]])
            for s in body["services"]]


@test
def restart_under_load(env):
    """kill -9 of vsteerd under load fails no connection; the restarted
    vsteerd adopts pinned maps and state and moves no client."""
    p1, p2, _ = two_versions(env, "manual")
    set_weights(40)
    before = snapshot()
    clients_before = versions_of(range(300))
    load = Load()
    load.start()
    load.wait_more(100)
    kill(env.procs[2])          # vsteerd
    load.wait_more(200)         # steering runs with no controller at all
    env.vsteerd()               # no config: the state file has it all
    load.wait_more(200)
    load.finish()
    check(load.failed == 0, "%d connections failed: %s" % (load.failed, load.errors[:3]))
    print("connections during kill -9 and restart: %d, failed: 0" % load.ok)
    check(snapshot() == before, "state changed:\n%s\n%s" % (before, snapshot()))
    check(versions_of(range(300)) == clients_before, "clients moved across the restart")
    check("adopted data plane" in env.vsteerd_log(), "did not adopt")


@test
def sigterm_leaves_steering(env):
    """SIGTERM stops vsteerd, steering keeps running; --cleanup removes it."""
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=5) == 0, "vsteerd exit status")
    check(versions_of(range(10)) == ["1.0"] * 10, "steering stopped with vsteerd")
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir, "--cleanup"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "cleanup failed: %s" % r.stderr)
    check(not os.path.exists(env.pin_dir), "pin dir still there")
    try:
        fetch(timeout=2)
        raise TestFailure("still steered after --cleanup")
    except ConnectionRefusedError:
        pass


@test
def bad_requests(env):
    """Every class of bad request gets its 4xx, names what was wrong, and
    changes nothing."""
    two_versions(env, "manual")
    env.backend("3.0", "127.0.0.1:9003")
    before = snapshot()
    clients_before = versions_of(range(200))
    cid = service()["versions"][0]["id"]
    srv = ["127.0.0.1:9003"]
    cases = [
        ("PUT", "/v1/clusters", "{", 400, "bad_json"),
        ("PUT", "/v1/clusters", "[1]", 400, "bad_json"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": srv, "colour": 1}, 400, "unknown_field"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0:9003"]}, 400, "bad_address"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": [{"address": "127.0.0.1", "port": 0}]}, 400, "bad_port"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:99999"]}, 400, "bad_address"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": []}, 400, "bad_servers"),
        ("PUT", "/v1/clusters", {"version": "three", "servers": srv}, 400, "bad_version"),
        ("PUT", "/v1/clusters", {"service": "nope", "version": "3.0", "servers": srv}, 404, "unknown_service"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9001"]}, 409, "duplicate_server"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": srv * 2}, 409, "duplicate_server"),
        ("PUT", "/v1/clusters", {"version": "2.0", "servers": srv}, 409, "duplicate_version"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:8080"]}, 400, "bad_server"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9099"]}, 422, "no_listener"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": srv,
                                 "upgradeTransition": {"mode": "Session"}}, 400, "bad_field"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": srv,
                                 "upgradeTransition": {"mode": "sideways"}}, 400, "bad_mode"),
        ("PUT", "/v1/clusters", "x" * 70000, 413, "body_too_large"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": srv, "health": {"path": "healthz"}}, 400, "bad_health"),
        ("PUT", "/v1/clusters", {"version": "3.0", "servers": srv,
                                 "health": {"path": "/h", "intervalMs": 100, "timeoutMs": 500}}, 400, "bad_health"),
        ("PUT", "/v1/services/default/weights", {"2.0": 30, "1.0": 30}, 400, "bad_weights"),
        ("PUT", "/v1/services/default/weights", {"2.0": 30.001, "1.0": 69.999}, 400, "bad_weights"),
        ("PUT", "/v1/services/default/weights", {"2.0": 130, "1.0": -30}, 400, "bad_weights"),
        ("PUT", "/v1/services/default/weights", {"9.0": 50, "1.0": 50}, 404, "unknown_version"),
        # found by fuzz_requests: a key that is no version once hung vsteerd
        ("PUT", "/v1/services/default/weights", {"abc": 50, "1.0": 50}, 404, "unknown_version"),
        ("PUT", "/v1/services/default/weights", {"2.0": "50", "1.0": 50}, 400, "bad_weights"),
        ("PUT", "/v1/services/nope/weights", {"2.0": 100}, 404, "unknown_service"),
        ("GET", "/v1/services/nope", None, 404, "unknown_service"),
        ("GET", "/v1/clusters/0000", None, 404, "unknown_cluster"),
        ("DELETE", "/v1/clusters/0000", None, 404, "unknown_cluster"),
        ("POST", "/v1/clusters", {}, 405, "method_not_allowed"),
        ("PUT", "/v1/clusters/" + cid, {}, 405, "method_not_allowed"),
        ("GET", "/v1/nothing", None, 404, "not_found"),
        ("GET", "/v1/services", "{}", 400, "unexpected_body"),
    ]
    for method, path, body, want, code in cases:
        raw = body if isinstance(body, str) else None
        st, resp = api(method, path, None if raw is not None else body, raw=raw)
        what = "%s %s %.60r" % (method, path, body)
        check(st == want, "%s: status %s, want %s (%s)" % (what, st, want, resp))
        check(isinstance(resp, dict) and resp["error"]["code"] == code and resp["error"]["message"],
              "%s: error %s, want code %s" % (what, resp, code))
    check(snapshot() == before, "state changed by bad requests")
    check(versions_of(range(200)) == clients_before, "steering changed by bad requests")

    # Deleting the last cluster of a service needs ?force=true.
    for v in service()["versions"][:-1]:
        check(api("DELETE", "/v1/clusters/" + v["id"])[0] == 200, "delete")
    last = service()["versions"][0]["id"]
    st, resp = api("DELETE", "/v1/clusters/" + last)
    check(st == 409 and resp["error"]["code"] == "last_cluster", "last delete: %s %s" % (st, resp))
    check(api("DELETE", "/v1/clusters/%s?force=true" % last)[0] == 200, "forced delete")


@test
def config_errors(env):
    """A bad config keeps vsteerd from starting and names the field and file."""
    cases = [
        ({"proxy": {"address": "127.0.0.1", "port": 8080}, "clustr": []}, "clustr"),
        ({"proxy": {"address": "127.0.0.1", "port": 80800}}, "proxy.port"),
        ({"proxy": {"address": "127.0.0.1", "port": 8080},
          "cluster": [{"servers": ["127.0.0.1:1"]}, {"servers": ["x"]}]}, "cluster[1].servers[0]"),
    ]
    for cfg, field in cases:
        path = os.path.join(env.dir, "bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([os.path.join(BUILD, "vsteerd"), "-c", path, "--pin-dir", env.pin_dir,
                            "--state", env.state], capture_output=True, text=True, timeout=10)
        check(r.returncode != 0, "started with %s" % cfg)
        check(field in r.stderr and path in r.stderr, "error does not name %s and %s: %s"
              % (field, path, r.stderr))
    check(not os.path.exists(env.pin_dir), "a failed start left pins behind")


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
def bpftool_shows_fields(env):
    """The maps carry BTF: bpftool dumps field names."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    out = subprocess.run(["bpftool", "map", "dump", "pinned", env.pin_dir + "/svcs"],
                         capture_output=True, text=True).stdout
    for field in ('"upto": 10000', '"nsock": 1', '"salt"'):
        check(field in out, "%s not in bpftool output:\n%s" % (field, out))
    out = subprocess.run(["bpftool", "map", "dump", "pinned", env.pin_dir + "/sstats"],
                         capture_output=True, text=True).stdout
    check('"refused"' in out, "sstats without field names")


@test
def session_table_size(env):
    """--session-table sizes the LRU; a pinned table of another size is
    refused with a clear error rather than silently kept."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg, args=["--session-table", "4096"])
    out = subprocess.run(["bpftool", "map", "show", "pinned", env.pin_dir + "/sess"],
                         capture_output=True, text=True).stdout
    check("lru_hash" in out and "max_entries 4096" in out, "sess map: %s" % out)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=5)
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir, "--state", env.state,
                        "--session-table", "8192"], capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "--session-table" in r.stderr, "size change accepted: %s" % r.stderr)
    check(versions_of(range(5)) == ["1.0"] * 5, "a refused start disturbed steering")
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--session-table", "12"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "1024" in r.stderr, "bad size: %s" % r.stderr)


@test
def failed_restart_keeps_steering(env):
    """A restart that cannot write its state file exits with an error and
    leaves the pinned steering exactly as it was."""
    env.backend("1.0", "127.0.0.1:9001")
    env.state = os.path.join(env.dir, "ro", "state.json")
    os.mkdir(os.path.dirname(env.state))
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    kill(p)
    os.chmod(os.path.dirname(env.state), 0o500)
    # root ignores directory permissions; a read-only bind mount does not.
    subprocess.run(["mount", "--bind", "-o", "ro", os.path.dirname(env.state),
                    os.path.dirname(env.state)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", os.path.dirname(env.state)], check=True)
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir, "--state", env.state],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "state" in r.stderr, "started without a writable state: %s" % r.stderr)
    check(versions_of(range(20)) == ["1.0"] * 20, "a failed restart broke steering")


@test
def lost_state_drops_stale(env):
    """State file lost, pins kept, a new config without 1.0: no client is
    steered to the version that is gone, and the salt is kept."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    p = env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                                {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                 "upgradeTransition": {"mode": "manual"}}]))
    api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    kill(p)
    os.unlink(env.state)
    env.vsteerd(env.config([{"version": "2.0", "servers": ["127.0.0.1:9002"]}]))
    check(set(versions_of(range(200))) == {"2.0"}, "clients still reach the lost 1.0")
    check("serves none of its servers" in env.vsteerd_log(), "stray socket not reported")


@test
def corrupt_state_refused(env):
    """A state file that does not parse as one stops vsteerd, naming it;
    it is not taken as empty (which would drop all steering)."""
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    kill(p)
    for text in ('{"vsteerState": 1, "services": {"oops": 1}, "clusters": []}', "{", ""):
        with open(env.state, "w") as f:
            f.write(text)
        r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir,
                            "--state", env.state], capture_output=True, text=True, timeout=10)
        check(r.returncode != 0 and env.state in r.stderr, "%r accepted: %s" % (text, r.stderr))
        check(versions_of(range(10)) == ["1.0"] * 10, "steering changed")


@test
def wildcard_two_servers(env):
    """One 0.0.0.0 socket may serve two servers of a cluster."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "0.0.0.0:9002")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002", "127.0.0.2:9002"]})
    check(st == 201 and all(b["live"] for b in c["backends"]), "%s %s" % (st, c))


# ---- API security --------------------------------------------------------

TOKEN = "s3cret-token-0123456789"


def token_file(env, mode=0o600):
    path = os.path.join(env.dir, "token")
    with open(path, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(path, mode)
    return path


def start_fails(env, cfg, needle):
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "-c", cfg, "--pin-dir", env.pin_dir,
                        "--state", env.state], capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and needle in r.stderr, "started, or no '%s' in: %s" % (needle, r.stderr))


@test
def api_token(env):
    """With a token, changes need it (401 otherwise), reads do not; a
    token file others can read is refused; off loopback a token is a must."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    cluster = {"version": "1.0", "servers": ["127.0.0.1:9001"]}
    start_fails(env, env.config(cluster, {"configService": {"address": "127.0.0.1", "port": 9900,
                                                            "tokenFile": token_file(env, 0o644)}}),
                "chmod 600")
    start_fails(env, env.config(cluster, {"configService": {"address": "0.0.0.0", "port": 9900}}),
                "tokenFile")
    env.vsteerd(env.config(cluster, {"configService": {"address": "0.0.0.0", "port": 9900,
                                                       "tokenFile": token_file(env)}}))
    body = json.dumps({"version": "2.0", "servers": ["127.0.0.1:9002"]})
    for auth in (None, "Bearer wrong", "Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x", TOKEN):
        c = http.client.HTTPConnection(*API, timeout=5)
        c.request("PUT", "/v1/clusters", body=body, headers={"Authorization": auth} if auth else {})
        r = c.getresponse()
        err = json.loads(r.read())
        check(r.status == 401 and err["error"]["code"] == "unauthorized"
              and r.getheader("WWW-Authenticate", "").startswith("Bearer"), "auth %r: %s" % (auth, r.status))
    check(api("GET", "/v1/services")[0] == 200, "reads need no token")
    check(set(versions_of(range(20))) == {"1.0"}, "an unauthorised request changed steering")
    c = http.client.HTTPConnection(*API, timeout=5)
    c.request("PUT", "/v1/clusters", body=body, headers={"Authorization": "Bearer " + TOKEN})
    check(c.getresponse().status == 201, "the token was not accepted")
    check(set(versions_of(range(20))) == {"2.0"}, "authorised change not applied")


@test
def api_tls(env):
    """configService.tlsCert/tlsKey serve the API over HTTPS only."""
    import ssl
    key, cert = os.path.join(env.dir, "key.pem"), os.path.join(env.dir, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]},
                           {"configService": {"address": "127.0.0.1", "port": 9900,
                                              "tlsCert": cert, "tlsKey": key}}), wait=False)
    ctx = ssl.create_default_context(cafile=cert)

    def https_get():
        try:
            c = http.client.HTTPSConnection(*API, timeout=5, context=ctx)
            c.request("GET", "/v1/services/default")
            return c.getresponse().status
        except OSError:
            return None
    check(wait_for(https_get, 10, "the HTTPS API") == 200, "HTTPS GET")
    try:
        api("GET", "/healthz")
        raise TestFailure("plain HTTP answered")
    except (OSError, http.client.HTTPException):
        pass


@test
def api_limits(env):
    """Over 64 connections get 503; huge headers get a 4xx; a client that
    never finishes its request is cut off after the 10 s timeout."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    idle = [socket.create_connection(API, timeout=5) for _ in range(70)]
    # The server accepts them asynchronously: poll until it has.
    wait_for(lambda: api("GET", "/v1/services")[0] == 503, 5, "503 with 70 connections open")
    st, resp = api("GET", "/v1/services")
    check(st == 503 and resp["error"]["code"] == "too_many_connections", "%s %s" % (st, resp))
    for s_ in idle:
        s_.close()
    wait_for(lambda: api("GET", "/healthz")[0] == 200, 5, "API after the idle connections")

    c = http.client.HTTPConnection(*API, timeout=5)
    c.request("GET", "/healthz", headers={"X-Big": "a" * 40000})
    st = c.getresponse().status
    check(400 <= st < 500, "40 kB header: %s" % st)

    slow = socket.create_connection(API, timeout=20)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    try:
        data = slow.recv(100)
    except ConnectionResetError:
        data = b""
    dt = time.monotonic() - t0
    check(data == b"" and 8 <= dt <= 14, "slow client: %r after %.1f s" % (data, dt))
    check(api("GET", "/healthz")[0] == 200, "API down after the limits")


@test
def bounded_capabilities(env):
    """vsteerd works with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN only (the
    systemd unit's set), and fails cleanly without CAP_PERFMON."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    base = [os.path.join(BUILD, "vsteerd"), "-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state]
    r = subprocess.run(["setpriv", "--bounding-set", "-all,+bpf,+net_admin", "--inh-caps", "-all", "--"]
                       + base, capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "Permission denied" in r.stderr, "ran without CAP_PERFMON: %s" % r.stderr)
    check(not os.path.exists(env.pin_dir), "a failed start left pins")
    p = subprocess.Popen(["setpriv", "--bounding-set", "-all,+bpf,+perfmon,+net_admin", "--inh-caps", "-all",
                          "--"] + base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env.procs.append(p)
    wait_for(env.healthy, 10, "vsteerd with bounded capabilities")
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"]})
    check(st == 201, "PUT cluster: %s %s" % (st, c))
    check(set(versions_of(range(20))) == {"2.0"}, "not steered")
    check(service()["versions"][0]["liveSockets"] == 1, "socket not registered")


def maps_agree(env, what):
    """What GET reports for the default service equals what the kernel's
    svcs map holds (versions in order, cumulative weights) and what the
    state file holds."""
    s = service()
    dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "pinned", env.pin_dir + "/svcs"],
                                     capture_output=True, text=True, check=True).stdout)
    check(len(dump) == 1, "%s: svcs has %d entries" % (what, len(dump)))
    v = dump[0]["formatted"]["value"]
    upto, cum = [x["upto"] for x in v["ver"][:v["nver"]]], []
    for ver in s["versions"]:
        cum.append((cum[-1] if cum else 0) + round(ver["weight"] * 100))
    check(upto == cum, "%s: API weights %s, kernel upto %s" % (what, cum, upto))
    with open(env.state) as f:
        state = json.load(f)
    by_id = {c["id"]: c["weight"] for c in state["clusters"]}
    check({ver["id"]: round(ver["weight"] * 100) for ver in s["versions"]} == by_id,
          "%s: state file %s" % (what, by_id))


@test
def concurrent_mutations(env):
    """Many clients changing things at once leave a consistent state: the
    API, the kernel's map and the state file agree."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}]))
    import random
    statuses, lock = {}, threading.Lock()

    def worker(seed):
        rnd = random.Random(seed)
        for _ in range(40):
            op = rnd.randrange(5)
            if op == 0:
                w = rnd.randrange(0, 10001) / 100
                st, _ = api("PUT", "/v1/services/default/weights", {"2.0": w, "1.0": round(100 - w, 2)})
            elif op == 1:
                st, c = api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"],
                                                     "upgradeTransition": {"mode": "manual"}})
            elif op == 2:
                ids = [v["id"] for v in service()["versions"] if v["version"] == "3.0"]
                st = api("DELETE", "/v1/clusters/" + ids[0])[0] if ids else 404
            elif op == 3:
                st, _ = api("POST", "/v1/services/default/rollout",
                            {"to": "2.0", "steps": [{"weight": rnd.randrange(1, 100)}]})
            else:
                st, _ = api("POST", "/v1/services/default/rollout/" + rnd.choice(["abort", "promote", "pause"]))
            with lock:
                statuses[st] = statuses.get(st, 0) + 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    print("statuses: %s" % sorted(statuses.items()))
    check(not [st for st in statuses if st >= 500], "server errors: %s" % statuses)
    check(statuses.get(200, 0) + statuses.get(201, 0) > 20, "too few changes went through")
    maps_agree(env, "after 320 concurrent requests")


@test
def state_write_fails(env):
    """When the state file cannot be written, a change answers 500 and the
    kernel keeps steering as before (no half-applied change)."""
    two_versions(env, "manual")
    statedir = os.path.join(env.dir, "st")
    os.mkdir(statedir)
    kill(env.procs[2])
    os.rename(env.state, os.path.join(statedir, "state.json"))
    env.state = os.path.join(statedir, "state.json")
    env.vsteerd()
    before, clients = snapshot(), versions_of(range(200))
    subprocess.run(["mount", "--bind", statedir, statedir], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", statedir], check=True)
    for method, path, body in [("PUT", "/v1/services/default/weights", {"2.0": 60, "1.0": 40}),
                               ("POST", "/v1/services/default/rollout", {"to": "2.0"}),
                               ("DELETE", "/v1/clusters/" + service()["versions"][0]["id"], None)]:
        st, resp = api(method, path, body)
        check(st == 500 and resp["error"]["code"] == "state_write", "%s %s: %s %s" % (method, path, st, resp))
    check(snapshot() == before, "API state changed")
    check(versions_of(range(200)) == clients, "steering changed")
    maps_agree(env, "after failed writes")
    subprocess.run(["umount", statedir], check=True)
    st, _ = api("PUT", "/v1/services/default/weights", {"2.0": 60, "1.0": 40})
    check(st == 200, "writable again: %s" % st)
    maps_agree(env, "after a good write")


@test
def kill_during_mutation(env):
    """vsteerd killed while changes are in flight: after a restart the
    kernel, the API and the state file agree, on the old or the new."""
    two_versions(env, "manual")
    prev = 0
    for i in range(6):
        w = 10 * (i + 1)
        t = threading.Thread(target=lambda: api_quiet("PUT", "/v1/services/default/weights",
                                                      {"2.0": w, "1.0": 100 - w}))
        t.start()
        time.sleep(0.002 * i)  # a different moment of the request each round
        kill(env.procs[-1])
        t.join(10)
        env.vsteerd()
        maps_agree(env, "round %d" % i)
        weight = [v["weight"] for v in service()["versions"] if v["version"] == "2.0"][0]
        check(weight in (w, prev), "round %d: weight %s, not %s or %s" % (i, weight, prev, w))
        prev = weight


def api_quiet(*a, **kw):
    try:
        return api(*a, **kw)
    except OSError:
        return None


@test
def map_update_fails(env):
    """The kernel refuses a map write (the svcs map frozen with bpftool,
    a real kernel-side failure): the change answers 500, the API, the
    state file and steering stay as they were."""
    two_versions(env, "manual")
    before, clients = snapshot(), versions_of(range(200))
    with open(env.state) as f:
        state_before = f.read()
    subprocess.run(["bpftool", "map", "freeze", "pinned", env.pin_dir + "/svcs"], check=True)
    st, resp = api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    check(st == 500 and resp["error"]["code"] == "bpf", "%s %s" % (st, resp))
    check(snapshot() == before, "API state changed")
    with open(env.state) as f:
        check(f.read() == state_before, "state file changed")
    check(versions_of(range(200)) == clients, "steering changed")


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

@test
def measure_latency_size(env):
    """The kernel measures each request: a version that adds 50 ms shows a
    p50 of 50 ms within 10% (the histogram's buckets are 12.5% wide, so
    its midpoint is at most 6.25% off), the other stays under 5 ms; sizes
    and keep-alive requests are counted one by one."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--delay-ms", "50", "--size", "5000")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}]))
    api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    got = versions_of(range(200))
    # 20 requests on one keep-alive connection from a client on 1.0
    src = client_addr(got.index("1.0"))
    c = http.client.HTTPConnection(*SVC, timeout=5, source_address=(src, 0))
    for _ in range(20):
        c.request("GET", "/")
        c.getresponse().read()
    c.close()
    vs = {v["version"]: v["counters"] for v in service()["versions"]}
    n2, n1 = got.count("2.0"), got.count("1.0") + 20
    check(vs["2.0"]["requests"] == n2 and vs["1.0"]["requests"] == n1,
          "requests %s/%s, expected %d/%d" % (vs["2.0"]["requests"], vs["1.0"]["requests"], n2, n1))
    check(abs(vs["2.0"]["latencyP50Ms"] - 50) <= 5, "2.0 p50 %.2f ms" % vs["2.0"]["latencyP50Ms"])
    check(vs["1.0"]["latencyP50Ms"] < 5, "1.0 p50 %.2f ms" % vs["1.0"]["latencyP50Ms"])
    per2 = vs["2.0"]["responseBytes"] / n2
    check(5000 <= per2 <= 5400, "2.0 bytes per response %.0f" % per2)
    check(abs(vs["2.0"]["meanResponseBytes"] - per2) / per2 <= 0.0625, "histogram mean %.0f vs %.0f"
          % (vs["2.0"]["meanResponseBytes"], per2))


ANALYSIS = {"interval": 1, "minRequests": 10, "failureLimit": 2}


def analysed_rollout(env, v2_args, steps, analysis=ANALYSIS):
    env.backend("1.0", "127.0.0.1:9001")
    p2 = env.backend("2.0", "127.0.0.1:9002", *v2_args)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}]))
    rollout({"to": "2.0", "strategy": "gradual", "steps": steps, "analysis": analysis})
    return p2


def wait_phase(phase, timeout):
    return wait_for(lambda: service()["rollout"]["phase"] == phase and service()["rollout"],
                    timeout, "rollout phase %s" % phase, interval=0.05)


@test
def auto_rollback_latency(env):
    """The target adds 50 ms: rolled back automatically within
    failureLimit windows plus one, naming the metric and both values."""
    analysed_rollout(env, ["--delay-ms", "50"], [{"weight": 50}])
    load = Load()
    load.start()
    t0 = time.monotonic()
    try:
        wait_phase("rolled_back", ANALYSIS["interval"] * (ANALYSIS["failureLimit"] + 1) + 3)
    finally:
        load.finish()
    print("rolled back after %.1f s" % (time.monotonic() - t0))
    ev = [e for e in api("GET", "/v1/events")[1]["events"] if e["type"] == "auto_rollback"]
    check(ev and "latency" in ev[0]["detail"] and "2.0" in ev[0]["detail"] and "1.0" in ev[0]["detail"],
          "event: %s" % ev)
    check(set(versions_of(range(5000, 5100))) == {"1.0"}, "new sessions not back on 1.0")


def rolled_back_under_load(metric, timeout=8):
    """Load the service until the rollout rolls back; the auto_rollback
    event must name `metric`."""
    load = Load()
    load.start()
    try:
        wait_phase("rolled_back", timeout)
    finally:
        load.finish()
    ev = [e for e in api("GET", "/v1/events")[1]["events"] if e["type"] == "auto_rollback"]
    check(ev and metric in ev[0]["detail"], "event: %s" % ev)


@test
def auto_rollback_size(env):
    """The target's responses grow 100-fold: rolled back on response size."""
    analysed_rollout(env, ["--size", "20000"], [{"weight": 50}])
    rolled_back_under_load("response size")


@test
def auto_rollback_5xx(env):
    """The target answers 503: its 5xx rate (read from the responses'
    status lines in the kernel) rolls it back."""
    analysed_rollout(env, ["--status", "503"], [{"weight": 50}])
    rolled_back_under_load("error rate")
    st = [v for v in service()["versions"] if v["version"] == "2.0"][0]["counters"]["status"]
    check(st["5xx"] > 0 and st["2xx"] == 0, "2.0 status classes %s" % st)


@test
def auto_rollback_hang(env):
    """The target accepts and never answers: most requests that arrive in
    a window stay unanswered, which is a failure, and it is rolled back."""
    analysed_rollout(env, ["--hang"], [{"weight": 50}])
    stop = threading.Event()

    def client(k):
        i = 0
        while not stop.is_set():
            try:
                fetch(client_addr(1000 * k + i % 1000), timeout=0.3)
            except (OSError, TestFailure):
                pass
            i += 1
    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(12)]
    for t in threads:
        t.start()
    try:
        wait_phase("rolled_back", 10)
    finally:
        stop.set()
    ev = [e for e in api("GET", "/v1/events")[1]["events"] if e["type"] == "auto_rollback"]
    check(ev and "unanswered" in ev[0]["detail"], "event: %s" % ev)


def demo_control(port, query):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/control?" + query)
    check(c.getresponse().status == 200, "control %s" % query)


@test
def health_checks(env):
    """A backend that accepts but never answers fails its health checks
    and is taken out of rotation (its clients fail over, none hang); it
    comes back when it answers again."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "health": {"path": "/healthz", "intervalMs": 200, "timeoutMs": 100,
                                        "unhealthyAfter": 2, "healthyAfter": 2}}]))
    check(set(versions_of(range(20))) == {"2.0"}, "before")
    demo_control(9002, "hang=1")
    t0 = time.monotonic()
    wait_for(lambda: not service()["versions"][0]["backends"][0]["healthy"], 3, "2.0 marked unhealthy")
    print("hung backend out of rotation after %.2f s" % (time.monotonic() - t0))
    check(set(versions_of(range(100, 140))) == {"1.0"}, "connections still go to the hung 2.0")
    demo_control(9002, "hang=0")
    wait_for(lambda: service()["versions"][0]["backends"][0]["healthy"], 3, "2.0 healthy again")
    wait_for(lambda: fetch(client_addr(500)) == "2.0", 2, "2.0 back in rotation")
    types = [e["type"] for e in api("GET", "/v1/events")[1]["events"]]
    check("backend_down" in types and "backend_up" in types, "events %s" % types)


@test
def accept_backlog(env):
    """A backend process that stops accepting (SIGSTOP) shows its queued
    connections as acceptBacklog, read at the periodic listener scan."""
    p = env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    os.kill(p.pid, signal.SIGSTOP)

    def stopped():
        tasks = os.listdir("/proc/%d/task" % p.pid)
        return all(open("/proc/%d/task/%s/stat" % (p.pid, t)).read().rsplit(")", 1)[1].split()[0] == "T"
                   for t in tasks)
    try:
        wait_for(stopped, 5, "every thread of the backend stopped")
        held = [socket.create_connection(SVC, timeout=3, source_address=(client_addr(i), 0))
                for i in range(5)]
        last = []
        try:
            wait_for(lambda: last.append(service()["versions"][0]["backends"][0]["acceptBacklog"])
                     or last[-1] == 5, 10, "a backlog of 5")
        except TestFailure:
            raise TestFailure("backlog seen: %s" % sorted(set(last)))
    finally:
        os.kill(p.pid, signal.SIGCONT)
    for h in held:
        h.close()
    wait_for(lambda: service()["versions"][0]["backends"][0]["acceptBacklog"] == 0, 6, "backlog drained")


@test
def auto_rollback_hang_health(env):
    """The target hangs while there is no traffic to notice it: its health
    checks take it out, and the rollout rolls back at the next window."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"},
                             "health": {"path": "/", "intervalMs": 200, "timeoutMs": 100,
                                        "unhealthyAfter": 2}}]))
    rollout({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 50}], "analysis": ANALYSIS})
    demo_control(9002, "hang=1")
    wait_phase("rolled_back", 6)
    types = [e["type"] for e in api("GET", "/v1/events")[1]["events"]]
    check("backend_down" in types and "auto_rollback" in types, "events %s" % types)
    demo_control(9002, "hang=0")


@test
def auto_rollback_dead_target(env):
    """Every backend of the target dead: rolled back at the next window."""
    p2 = analysed_rollout(env, [], [{"weight": 50}])
    load = Load()
    load.start()
    try:
        kill(p2)
        wait_phase("rolled_back", 5)
    finally:
        load.finish()
    ev = [e for e in api("GET", "/v1/events")[1]["events"] if e["type"] == "auto_rollback"]
    check(ev and "dead" in ev[0]["detail"], "event: %s" % ev)


@test
def analysis_healthy_completes(env):
    """A target as good as the stable version: each step advances once a
    window has passed after its hold, and the rollout completes."""
    analysed_rollout(env, [], [{"weight": 30, "hold": 1}, {"weight": 60, "hold": 1}])
    load = Load()
    load.start()
    try:
        wait_for(lambda: service()["rollout"]["analysis"]["windows"] >= 1, 5, "a judged window")
        lw = {v["version"]: v.get("lastWindow") for v in service()["versions"]}
        check(lw["2.0"] and lw["1.0"] and lw["2.0"]["requests"] > 0 and lw["1.0"]["requests"] > 0
              and lw["2.0"]["errorRate"] == 0, "last window per version: %s" % lw)
        r = wait_phase("completed", 15)
    finally:
        load.finish()
    check(r["analysis"]["failures"] == 0 and r["analysis"]["windows"] >= 2, "analysis: %s" % r["analysis"])
    check(not [e for e in api("GET", "/v1/events")[1]["events"] if e["type"] == "analysis_failed"],
          "a healthy target failed a window")


@test
def analysis_no_traffic(env):
    """No traffic: windows are inconclusive, nothing fails and no step
    advances until max_inconclusive windows have passed."""
    analysed_rollout(env, [], [{"weight": 30, "hold": 0}, {"weight": 60}],
                     dict(ANALYSIS, maxInconclusive=4))
    wait_for(lambda: service()["rollout"]["analysis"]["inconclusive"] >= 2, 6, "2 inconclusive windows")
    r = service()["rollout"]
    check(r["step"] == 1 and r["phase"] == "progressing" and r["analysis"]["failures"] == 0, "%s" % r)
    check("too few requests" in r["analysis"]["lastVerdict"], r["analysis"]["lastVerdict"])
    wait_for(lambda: service()["rollout"]["step"] == 2, 6, "the step after 4 inconclusive windows")
    types = [e["type"] for e in api("GET", "/v1/events")[1]["events"]]
    check("inconclusive" in types and "analysis_failed" not in types, "events: %s" % types)


@test
def no_watch_mode(env):
    """--no-watch takes the request meters down (and a restart without it
    puts them back); steering and sessions do not depend on them."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg)
    check(os.path.exists(env.pin_dir + "/req"), "meters not pinned")
    kill(p)
    p = env.vsteerd(cfg, args=["--no-watch"])
    check(not os.path.exists(env.pin_dir + "/req") and os.path.exists(env.pin_dir + "/track"),
          "meters still pinned, or the tracker gone")
    check(versions_of(range(20)) == ["1.0"] * 20, "not steered")
    c = service()["versions"][0]["counters"]
    check(c["requests"] == 0 and c["steered"] == 20, "counted without watching: %s" % c)
    kill(p)
    env.vsteerd(cfg)
    versions_of(range(10))
    check(service()["versions"][0]["counters"]["requests"] == 10, "meters not back")


@test
def prometheus_metrics(env):
    """GET /metrics in Prometheus text format, per service and version,
    with base units and consistent histograms."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--delay-ms", "20")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}]))
    api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    got = versions_of(range(100))
    c = http.client.HTTPConnection(*API, timeout=5)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    check(r.status == 200 and r.getheader("Content-Type").startswith("text/plain"), "status/type")
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            samples[k] = float(v)
    n2 = got.count("2.0")
    check(samples['vsteer_requests_total{service="default",version="2.0"}'] == n2, "requests")
    check(samples['vsteer_connections_total{service="default",version="2.0"}'] == n2, "connections")
    check(samples['vsteer_version_weight{service="default",version="2.0"}'] == 0.5, "weight")
    inf = samples['vsteer_request_duration_seconds_bucket{service="default",version="2.0",le="+Inf"}']
    le10 = samples['vsteer_request_duration_seconds_bucket{service="default",version="2.0",le="0.01"}']
    le50 = samples['vsteer_request_duration_seconds_bucket{service="default",version="2.0",le="0.05"}']
    check(inf == n2 and le10 == 0 and le50 == n2, "2.0 duration buckets %s %s %s" % (le10, le50, inf))
    s = samples['vsteer_request_duration_seconds_sum{service="default",version="2.0"}']
    check(0.019 * n2 <= s <= 0.023 * n2, "2.0 duration sum %.3f for %d requests" % (s, n2))
    check(samples['vsteer_backend_up{service="default",version="2.0",backend="127.0.0.1:9002"}'] == 1, "up")
    check(samples['vsteer_rollbacks_total{service="default",reason="auto"}'] == 0, "rollbacks")


# ---- rollouts ------------------------------------------------------------

def rollout(body, want=201):
    st, resp = api("POST", "/v1/services/default/rollout", body)
    check(st == want, "POST rollout %s: %s %s" % (body, st, resp))
    return resp


def control(action, want=200):
    st, resp = api("POST", "/v1/services/default/rollout/" + action)
    check(st == want, "POST rollout/%s: %s %s" % (action, st, resp))
    return resp


def share(versions, v):
    return versions.count(v) / len(versions)


def check_share(clients, version, pct, what):
    n = len(clients)
    got = versions_of(clients).count(version)
    bound = binomial_bound(n, pct / 100)
    check(abs(got - n * pct / 100) <= bound,
          "%s: %d of %d on %s, expected %.0f +- %.0f" % (what, got, n, version, n * pct / 100, bound))


@test
def rollout_instant(env):
    """instant: every new connection to the target at once; rollback puts
    them back on the stable version at once; events record it all."""
    two_versions(env, "manual")
    check(set(versions_of(range(100))) == {"1.0"}, "before")
    r = rollout({"to": "2.0", "strategy": "Instant"})["rollout"]
    check(r["phase"] == "completed" and r["weight"] == 100 and r["from"] == "1.0", "rollout: %s" % r)
    check(set(versions_of(range(100))) == {"2.0"}, "after instant rollout")
    control("rollback")
    check(set(versions_of(range(100))) == {"1.0"}, "after rollback")
    s = service()
    check(s["rollout"]["phase"] == "rolled_back", "phase %s" % s["rollout"]["phase"])
    events = api("GET", "/v1/events")[1]["events"]
    types = [e["type"] for e in events]
    check(types[:3] == ["rolled_back", "completed", "step"] and "started" in types,
          "events (newest first): %s" % types)
    check(all(events[i]["time"] >= events[i + 1]["time"] for i in range(len(events) - 1)),
          "events not newest first")


@test
def rollout_session(env):
    """session: active clients keep 1.0 while new ones get 2.0; a client
    with a connection open keeps 1.0 past the timeout; idle past the
    timeout, clients move to 2.0."""
    two_versions(env, "manual")
    timeout = 2
    active = range(0, 40)          # seen just before the rollout
    holder = 40                    # keeps a connection open throughout
    fresh = range(100, 400)        # never seen before
    check(set(versions_of(active)) == {"1.0"}, "before")
    held = socket.create_connection(SVC, timeout=3, source_address=(client_addr(holder), 0))
    held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"1.0" in held.recv(4096), "held connection not on 1.0")

    r = rollout({"to": "2.0", "strategy": "session", "sessionTimeout": timeout})["rollout"]
    t_start = time.monotonic()
    check(r["phase"] == "completed" and r["weight"] == 100, "rollout: %s" % r)
    check(set(versions_of(active)) == {"1.0"}, "active clients moved off 1.0")
    check(set(versions_of(fresh)) == {"2.0"}, "new clients not on 2.0")
    check(service()["versions"][1]["openConnections"] >= 1, "open connection not counted")

    # Let the active clients go idle past the timeout (this waits for a
    # timeout to expire, it does not synchronise with anything).
    time.sleep(max(0, timeout + 1.0 - (time.monotonic() - t_start)))
    check(set(versions_of(active)) == {"2.0"}, "idle clients still on 1.0")
    check(fetch(client_addr(holder)) == "1.0", "client with an open connection moved")
    v1 = [v for v in service()["versions"] if v["version"] == "1.0"][0]
    check(not v1["drained"], "1.0 reported drained with a connection open")

    held.close()
    wait_for(lambda: [v for v in service()["versions"] if v["version"] == "1.0"][0]["drained"],
             5, "1.0 to drain")
    t_close = time.monotonic()
    check(fetch(client_addr(holder)) == "1.0", "moved right after closing")
    # That fetch restarted the idle clock; wait it out once more.
    time.sleep(max(0, timeout + 1.0 - (time.monotonic() - t_close)))
    check(fetch(client_addr(holder)) == "2.0", "idle holder still on 1.0")


@test
def rollout_gradual(env):
    """gradual: steps advance on (fake) time; pause holds; resume keeps
    the remaining hold; promote skips; restart mid-rollout resumes on
    schedule with no client moved."""
    env.fake_clock()
    t0 = env.now
    two_versions(env, "manual")
    clients = range(1000)
    r = rollout({"to": "2.0", "steps": [{"weight": 10, "hold": 3600}, {"weight": 50, "hold": 21600},
                                         {"weight": 75}, {"weight": 100}]})["rollout"]
    check(r["strategy"] == "gradual" and r["step"] == 1 and r["weight"] == 10
          and r["nextStepAt"] == t0 + 3600, "start: %s" % r)
    check_share(clients, "2.0", 10, "step 1")

    env.set_clock(t0 + 3599)
    wait_ticks()
    check(service()["rollout"]["step"] == 1, "advanced early")
    env.set_clock(t0 + 3600)
    wait_for(lambda: service()["rollout"]["step"] == 2, 2, "step 2")
    r = service()["rollout"]
    check(r["weight"] == 50 and r["nextStepAt"] == t0 + 3600 + 21600, "step 2: %s" % r)
    check_share(clients, "2.0", 50, "step 2")

    # Pause with 21600 - 600 s of hold left; a day passes; nothing moves.
    env.set_clock(t0 + 3600 + 600)
    r = control("pause")["rollout"]
    check(r["phase"] == "paused" and r["pausedHoldLeft"] == 21000, "pause: %s" % r)
    env.set_clock(t0 + 86400)
    wait_ticks()
    check(service()["rollout"]["step"] == 2, "moved while paused")
    r = control("resume")["rollout"]
    check(r["phase"] == "progressing" and r["nextStepAt"] == t0 + 86400 + 21000, "resume: %s" % r)

    # kill -9 with no time passing: nothing moves.
    before = versions_of(clients)
    kill(env.procs[2])
    env.vsteerd()
    check(versions_of(clients) == before, "clients moved across a restart")
    check(service()["rollout"]["step"] == 2, "restart changed the step")

    # kill -9, and the hold ends while vsteerd is down: the restarted one
    # catches up to the schedule.
    kill(env.procs[-1])
    env.set_clock(t0 + 86400 + 21000 + 5)
    env.vsteerd()
    r = service()["rollout"]
    check(r["step"] == 3 and r["weight"] == 75 and r["nextStepAt"] is None
          and r["stepStartedAt"] == t0 + 86400 + 21000, "after restart: %s" % r)
    check_share(clients, "2.0", 75, "step 3")
    check(all(b == "1.0" or a == "2.0" for a, b in zip(versions_of(clients), before) if b == "2.0"),
          "a client moved back")

    r = control("promote")["rollout"]   # step 3 waits for promote
    check(r["phase"] == "completed" and r["weight"] == 100, "promote: %s" % r)
    check(set(versions_of(range(200))) == {"2.0"}, "not all on 2.0 after completion")


@test
def rollout_abort_rollback(env):
    """abort: new sessions back to stable at once, active sessions on the
    target stay (affinity kept); rollback: they move back too."""
    two_versions(env, "manual")
    clients = range(300)
    rollout({"to": "2.0", "strategy": "gradual", "sessionTimeout": 60, "steps": [{"weight": 50}]})
    first = versions_of(clients)
    on_v2 = [i for i, v in zip(clients, first) if v == "2.0"]
    check(len(on_v2) > 50, "too few on 2.0: %d" % len(on_v2))
    r = control("abort")["rollout"]
    check(r["phase"] == "aborted" and r["weight"] == 0, "abort: %s" % r)
    check(set(versions_of(range(1000, 1200))) == {"1.0"}, "new sessions not on 1.0 after abort")
    check(set(versions_of(on_v2)) == {"2.0"}, "active 2.0 sessions moved by abort")
    check(service()["versions"][0]["version"] == "2.0", "target unregistered by abort")

    rollout({"to": "2.0", "strategy": "gradual", "sessionTimeout": 60, "steps": [{"weight": 50}]}, 201)
    check(set(versions_of(on_v2)) == {"2.0"}, "sessions lost on restarting the rollout")
    r = control("rollback")["rollout"]
    check(r["phase"] == "rolled_back", "rollback: %s" % r)
    check(set(versions_of(on_v2)) == {"1.0"}, "rolled back sessions still on 2.0")
    check(set(versions_of(clients)) == {"1.0"}, "clients not all on 1.0 after rollback")


@test
def rollout_three_versions(env):
    """v1 held by active sessions, v2 stable for new sessions, v3 canary:
    newest first, and clients only move forward."""
    p1 = env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    old = range(0, 50)
    check(set(versions_of(old)) == {"1.0"}, "before")
    # The thesis's way: PUT a cluster with a Session transition.
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                        "upgradeTransition": {"mode": "Session", "sessionTimeout": 60}})
    check(st == 201 and c["weight"] == 100, "PUT session cluster: %s %s" % (st, c))
    st, c = api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"],
                                        "upgradeTransition": {"mode": "manual"}})
    check(st == 201, "PUT 3.0: %s" % st)
    rollout({"to": "3.0", "strategy": "gradual", "steps": [{"weight": 5}]})
    s = service()
    check([(v["version"], v["weight"]) for v in s["versions"]] == [("3.0", 5), ("2.0", 95), ("1.0", 0)],
          "layout: %s" % [(v["version"], v["weight"]) for v in s["versions"]])
    check(set(versions_of(old)) == {"1.0"}, "active 1.0 sessions moved")
    new = range(1000, 2000)
    first = versions_of(new)
    check(set(first) == {"2.0", "3.0"}, "new clients: %s" % set(first))
    check_share(new, "3.0", 5, "canary")
    control("promote", 200)
    check(service()["rollout"]["phase"] == "completed", "promote past the last step")
    # The clients seen during the canary are active sessions (60 s
    # timeout): they keep their version; only never-seen clients are new.
    after = versions_of(new)
    check(after == first, "active sessions changed version on completion")
    fresh = set(versions_of(range(3000, 3200)))
    check(fresh == {"3.0"}, "new sessions after completion: %s" % fresh)


@test
def drained_report(env):
    """Per version: open connections, and drained once they close."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    conns = [socket.create_connection(SVC, timeout=3, source_address=(client_addr(i), 0))
             for i in range(3)]
    wait_for(lambda: service()["versions"][0]["openConnections"] == 3, 3, "3 open connections")
    check(not service()["versions"][0]["drained"], "drained with connections open")
    for c in conns:
        c.close()
    wait_for(lambda: service()["versions"][0]["drained"], 5, "drained after close")


@test
def open_counts_steered_only(env):
    """A dual-stack [::] backend socket takes IPv4 connections with mapped
    addresses: they are counted as its version's. Connections made to the
    backend's own address were not steered and count for nothing."""
    env.backend("1.0", "[::]:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    wait_for(lambda: service()["versions"][0]["liveSockets"] == 1, 3, "the [::] socket registered")
    steered = [socket.create_connection(SVC, timeout=3, source_address=(client_addr(i), 0))
               for i in range(3)]
    direct = [socket.create_connection(("127.0.0.1", 9001), timeout=3) for _ in range(2)]
    for c in direct:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(b"1.0" in c.recv(4096), "direct request answered")
    wait_for(lambda: service()["versions"][0]["openConnections"] == 3, 3, "3 open connections")
    wait_ticks(2)
    v = service()["versions"][0]
    check(v["openConnections"] == 3, "direct connections counted: %s" % v["openConnections"])
    check(v["counters"]["requests"] == 0, "direct requests measured: %s" % v["counters"])
    steered[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"1.0" in steered[0].recv(4096), "steered request answered")
    wait_for(lambda: service()["versions"][0]["counters"]["requests"] == 1, 3, "1 request measured")
    for c in steered + direct:
        c.close()
    wait_for(lambda: service()["versions"][0]["drained"], 5, "drained after close")


DEPLOY = os.path.join(ROOT, "examples", "deploy.sh")


def deploy(*args, timeout=60):
    r = subprocess.run([DEPLOY] + list(args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


@test
def deploy_script(env):
    """examples/deploy.sh: 0 and "drained" for a healthy upgrade, 1 and the
    reason for one rolled back, 2 and the API's error for a bad one; a
    rerun reuses a registered version."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003", "--delay-ms", "50")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    rc, out, err = deploy("-s", "instant", "-A", "none", "-d", "10", "default", "2.0",
                          "127.0.0.1:9002")
    check(rc == 0, "healthy deploy: exit %d\n%s%s" % (rc, out, err))
    check("default 2.0 deployed" in out and "1.0 is drained" in out, "output:\n" + out)
    check(versions_of(range(20)) == ["2.0"] * 20, "new connections not on 2.0")
    # 3.0 answers 50 ms late: the judge rolls it back, the script says why.
    load = Load()
    load.start()
    try:
        rc, out, err = deploy("-s", "gradual", "-S", '[{"weight": 50}]', "-A",
                              '{"interval": 1, "minRequests": 5, "failureLimit": 2}',
                              "default", "3.0", "127.0.0.1:9003")
    finally:
        load.finish()
    check(rc == 1, "slow version: exit %d\n%s%s" % (rc, out, err))
    check("rolled_back" in err and "latency" in err, "no reason given:\n" + err)
    check(load.failed == 0, "%d connections failed during the rollback" % load.failed)
    # Rerun for 3.0 with other servers: refused before anything changes.
    rc, out, err = deploy("default", "3.0", "127.0.0.1:9009")
    check(rc == 2 and "already has 3.0" in err, "changed servers: exit %d %s" % (rc, err))
    rc, out, err = deploy("nope", "3.0", "127.0.0.1:9003")
    check(rc == 2 and "unknown_service" in err, "unknown service: exit %d %s" % (rc, err))
    rc, out, err = deploy("-s", "sideways", "default", "3.0", "127.0.0.1:9003")
    check(rc == 2 and "sideways" in err, "bad strategy: exit %d %s" % (rc, err))
    check(service()["rollout"]["phase"] == "rolled_back", "bad runs changed the rollout")


@test
def kernel_features(env):
    """GET /v1/features lists what the kernel offers; a kernel without a
    request hook runs steering with the meters off and says which hook; one
    without sk_lookup is refused with a sentence, not a verifier dump."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg)
    st, f = api("GET", "/v1/features")
    check(st == 200 and f["steering"] and f["watching"], "features: %s %s" % (st, f))
    names = {x["name"]: x for x in f["features"]}
    for n in ("btf", "sk_lookup", "sk_assign", "sockmap", "sk_storage", "iter_tcp",
              "tp_inet_sock_set_state", "tp_tcp_probe", "tp_sock_send_length"):
        check(names.get(n, {}).get("available"), "%s not available on 6.18: %s" % (n, names.get(n)))
    check(f["kernel"] == os.uname().release, "kernel %r" % f["kernel"])
    kill(p, signal.SIGTERM)
    os.environ["VSTEER_PRETEND_MISSING"] = "tp_sock_send_length"
    try:
        env.vsteerd(cfg)
        st, f = api("GET", "/v1/features")
        check(f["steering"] and not f["watching"], "no meters expected: %s" % f)
        check("lacks tp_sock_send_length" in env.vsteerd_log() and "Linux 6.3" in env.vsteerd_log(),
              "no warning naming the hook:\n" + env.vsteerd_log())
        check(fetch() == "1.0", "steering without the meters")
        check(service()["versions"][0]["counters"]["requests"] == 0, "requests measured")
        kill(env.procs[-1], signal.SIGTERM)
        os.environ["VSTEER_PRETEND_MISSING"] = "sk_lookup"
        r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir,
                            "--state", env.state, "--config", cfg],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "lacks sk_lookup" in r.stderr and "Linux 5.9" in r.stderr,
              "exit %d: %s" % (r.returncode, r.stderr))
        check(fetch() == "1.0", "a refused start touched steering")
    finally:
        del os.environ["VSTEER_PRETEND_MISSING"]


PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "docker/containers.conf"))


def podman(*args, timeout=180):
    """podman with the project's settings (runc, no default ulimits)."""
    r = subprocess.run(["podman"] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=PODMAN_ENV)
    check(r.returncode == 0, "podman %s: %s" % (" ".join(args[:2]), (r.stdout + r.stderr)[-1500:]))
    return r.stdout.strip()


def build_images(tag):
    """Both images from docker/, on the local base (docker/base.sh)."""
    r = subprocess.run([os.path.join(ROOT, "docker/base.sh")], capture_output=True, text=True,
                       timeout=600)
    check(r.returncode == 0, "docker/base.sh: %s" % (r.stdout + r.stderr)[-1500:])
    images = ["localhost/vsteerd:" + tag, "localhost/vsteer-demo:" + tag]
    for image, dockerfile in zip(images, ("vsteerd.Dockerfile", "demo.Dockerfile")):
        podman("build", "-q", "--build-arg", "BASE=localhost/vsteer-base:bookworm",
               "-f", os.path.join(ROOT, "docker", dockerfile), "-t", image, ROOT)
    return images


@test
def containers_pod(env):
    """docker/vsteer-pod.yaml as it is: `podman kube play` brings up
    vsteerd and demo 1.0 and 2.0 on host networking with the host paths it
    names (here this test's own bpffs and tmpfs mounts); 1.0 is served, a
    rollout moves new connections to 2.0."""
    build_images("latest")
    os.makedirs("/etc/vsteer", exist_ok=True)
    os.makedirs("/var/lib/vsteer", exist_ok=True)
    for what, where in (("bpf", "/sys/fs/bpf"), ("tmpfs", "/etc/vsteer"), ("tmpfs", "/var/lib/vsteer")):
        subprocess.run(["mount", "-t", what, what, where], check=True)   # this test's namespace only
    with open(os.path.join(ROOT, "docker/vsteer.json")) as f, open("/etc/vsteer/config.json", "w") as g:
        g.write(f.read())
    pod = os.path.join(ROOT, "docker/vsteer-pod.yaml")
    try:
        podman("kube", "play", pod)
        wait_for(env.healthy, 20, "vsteerd in the pod")
        check(fetch() == "1.0", "1.0 not served")
        st, body = api("POST", "/v1/services/default/rollout", {"to": "2.0", "strategy": "instant"})
        check(st == 201, "rollout: %s %s" % (st, body))
        check(set(versions_of(range(30))) == {"2.0"}, "not on 2.0 after the rollout")
    finally:
        subprocess.run(["podman", "kube", "down", pod], capture_output=True, env=PODMAN_ENV)


@test
def containers_upgrade(env):
    """docker/: both images built with podman; vsteerd and two demo versions
    as containers on host networking (this test's namespace). Rollout to
    2.0, `podman kill` of 2.0: no connection started after its sockets
    closed fails, all go to 1.0; 2.0 started again is steered to again."""
    tag = "test%d" % os.getpid()
    images = build_images(tag)
    names = {v: "%s-%s" % (tag, v) for v in ("vsteerd", "1.0", "2.0")}
    state = os.path.join(env.dir, "state")
    os.mkdir(state)
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    try:
        for v, port in (("1.0", 9001), ("2.0", 9002)):
            podman("run", "-d", "--name", names[v], "--network", "host", images[1],
                   "--listen", "127.0.0.1:%d" % port, "--version", v)
            wait_for(lambda: not port_closed(port), 10, "demo %s container" % v)
        podman("run", "-d", "--name", names["vsteerd"], "--network", "host",
               "--cap-drop", "all", "--cap-add", "bpf,perfmon,net_admin",
               "--security-opt", "seccomp=unconfined",
               "-v", "%s:/sys/fs/bpf" % env.bpffs, "-v", "%s:/etc/vsteer:ro" % env.dir,
               "-v", "%s:/var/lib/vsteer" % state, images[0],
               "--config", "/etc/vsteer/" + os.path.basename(cfg))
        wait_for(env.healthy, 20, "vsteerd container API")
        check(fetch() == "1.0", "1.0 not served")
        st, body = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                               "upgradeTransition": {"mode": "manual"}})
        check(st == 201, "register 2.0: %s %s" % (st, body))
        st, body = api("POST", "/v1/services/default/rollout", {"to": "2.0", "strategy": "instant"})
        check(st == 201, "rollout: %s %s" % (st, body))
        check(set(versions_of(range(50))) == {"2.0"}, "not all on 2.0 after the rollout")

        kill_under_load(lambda: podman("kill", names["2.0"]), 9002)

        podman("start", names["2.0"])
        wait_for(lambda: fetch(client_addr(3)) == "2.0", 10, "restarted 2.0 steered to")
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0"] + list(names.values()),
                       capture_output=True, env=PODMAN_ENV)
        subprocess.run(["podman", "rmi", "-f"] + images, capture_output=True, env=PODMAN_ENV)


def puppet_apply(code, timeout=120):
    r = subprocess.run(["puppet", "apply", "--detailed-exitcodes", "--color=false",
                        "--modulepath", os.path.join(ROOT, "examples/puppet/modules"), "-e", code],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


@test
def puppet_converges(env):
    """examples/puppet: `puppet apply` of vsteer::version rolls the service
    out to 2.0 (exit 2: changed); a second apply changes nothing (exit 0); a
    version the judge rolls back fails the run (exit 4 or 6) with the
    reason, and 2.0 stays stable."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003", "--delay-ms", "50")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    def manifest(**params):
        params["deploy"] = DEPLOY
        return "vsteer::version { 'default': %s }" % ", ".join(
            "%s => %s" % (k, "[%s]" % ", ".join("'%s'" % x for x in v) if isinstance(v, list)
                          else "'%s'" % v) for k, v in params.items())
    to_2 = manifest(version="2.0", servers=["127.0.0.1:9002"], strategy="instant",
                    analysis="none")
    rc, out = puppet_apply(to_2)
    check(rc == 2, "first apply: exit %d\n%s" % (rc, out[-2000:]))
    check(set(versions_of(range(20))) == {"2.0"}, "not on 2.0 after the apply")
    rc, out = puppet_apply(to_2)
    check(rc == 0, "second apply changed something: exit %d\n%s" % (rc, out[-2000:]))
    load = Load()
    load.start()
    try:
        rc, out = puppet_apply(manifest(version="3.0", servers=["127.0.0.1:9003"],
                                        strategy="gradual", steps='[{"weight": 50}]',
                                        analysis='{"interval": 1, "minRequests": 5, "failureLimit": 2}'))
    finally:
        load.finish()
    check(rc in (4, 6) and "rolled_back" in out and "latency" in out,
          "slow version: exit %d\n%s" % (rc, out[-2000:]))
    check(set(versions_of(range(20))) == {"2.0"}, "2.0 not stable after the failed run")


@test
def coreos_config(env):
    """vm/vsteer.bu passes the offline Butane checks, and a copy with a
    container that has no image, or config servers no demo runs, fails."""
    tool, bu = os.path.join(ROOT, "vm/check-butane.py"), os.path.join(ROOT, "vm/vsteer.bu")
    r = subprocess.run([tool, bu], capture_output=True, text=True)
    check(r.returncode == 0, "vm/vsteer.bu: %s" % (r.stdout + r.stderr))
    text = open(bu).read()
    for broken, needle in ((text.replace("Image=localhost/vsteerd", "Img=x"), "no [Container] Image="),
                           (text.replace('"127.0.0.1:9002"]', '"127.0.0.1:9005"]'), "not all run")):
        path = os.path.join(env.dir, "broken.bu")
        with open(path, "w") as f:
            f.write(broken)
        r = subprocess.run([tool, path], capture_output=True, text=True)
        check(r.returncode == 1 and needle in r.stdout, "broken copy passed: %s" % r.stdout)


@test
def rollout_bad_requests(env):
    """Bad rollout requests get a 4xx and change nothing."""
    two_versions(env, "manual")
    before = snapshot()
    cases = [
        ({"to": "9.9"}, 404, "unknown_target"),
        ({"to": "1.0"}, 409, "already_stable"),
        ({"to": "2.0", "strategy": "sideways"}, 400, "bad_rollout"),
        ({"to": "2.0", "strategy": "gradual"}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": []}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": [{"weight": 101}]}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": [{"weight": -1}]}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": [{"weight": 0.001}]}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": [{"weight": 50}, {"weight": 10}]}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": [{"weight": 50, "hold": -5}]}, 400, "bad_rollout"),
        ({"to": "2.0", "steps": [{"weight": 50, "wait": 5}]}, 400, "unknown_field"),
        ({"to": "2.0", "strategy": "session"}, 400, "bad_rollout"),
        ({"to": "2.0", "strategy": "session", "sessionTimeout": 0}, 400, "bad_rollout"),
        ({"to": "2.0", "strategy": "instant", "steps": [{"weight": 5}]}, 400, "bad_rollout"),
        ({"strategy": "instant"}, 400, "bad_rollout"),
    ]
    for body, want, code in cases:
        st, resp = api("POST", "/v1/services/default/rollout", body)
        check(st == want and resp["error"]["code"] == code, "%s: %s %s" % (body, st, resp))
    for action in ("promote", "pause", "resume", "abort", "rollback"):
        st, resp = api("POST", "/v1/services/default/rollout/" + action)
        check(st == 409 and resp["error"]["code"] == "no_rollout", "%s: %s %s" % (action, st, resp))
    check(api("POST", "/v1/services/default/rollout/explode")[0] == 404, "unknown action")
    check(api("POST", "/v1/services/nope/rollout", {"to": "2.0"})[0] == 404, "unknown service")
    check(snapshot() == before, "bad rollout requests changed state")

    rollout({"to": "2.0", "steps": [{"weight": 10}]})
    during = snapshot()
    cid = [v for v in service()["versions"] if v["version"] == "2.0"][0]["id"]
    for method, path, body, want, code in [
        ("POST", "/v1/services/default/rollout", {"to": "2.0", "steps": [{"weight": 20}]}, 409, "rollout_in_progress"),
        ("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50}, 409, "rollout_in_progress"),
        ("DELETE", "/v1/clusters/" + cid, None, 409, "rollout_in_progress"),
        ("POST", "/v1/services/default/rollout/resume", None, 409, "bad_phase"),
    ]:
        st, resp = api(method, path, body)
        check(st == want and resp["error"]["code"] == code, "%s %s: %s %s" % (method, path, st, resp))
    check(snapshot() == during, "conflicting requests changed state")


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(TESTS))
        return 0
    name = sys.argv[1]
    env = Env()
    try:
        try:
            TESTS[name](env)
        finally:
            env.close()
    except TestFailure as e:
        print("FAIL: %s" % e)
        print("--- vsteerd log ---\n%s" % (env.vsteerd_log() if os.path.exists(
            os.path.join(env.dir, "vsteerd.log")) else "(none)"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
