"""Helpers shared by the end-to-end test modules, and the test registry."""
import socket
import threading
import time

from lib import SVC, TestFailure, api, check, client_addr, fetch, wait_for


TESTS = {}


def test(fn):
    """Registers an end-to-end test under its function name. The first
    paragraph of its docstring says what it asserts: tests/catalogue.py
    makes it the test's row in tests/README.md (and fails without it)."""
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


class Load(threading.Thread):
    """New connections from rotating client addresses (src(i)) to svc until
    stopped, one at a time; counts what each version served and every
    failure."""

    def __init__(self, clients=500, src=client_addr, svc=SVC):
        super().__init__(daemon=True)
        self.clients, self.src, self.svc, self.stop = clients, src, svc, threading.Event()
        self.ok, self.failed, self.by_version, self.errors = 0, 0, {}, []
        self.mark = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                v = fetch(self.src(i % self.clients), timeout=2, svc=self.svc)
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


def port_closed(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return False
    except ConnectionRefusedError:
        return True


def kill_under_load(kill_fn, port, host="127.0.0.1", load=None):
    """Under load (a Load, not started: local clients of the service by
    default), kill the version on host:port (kill_fn); every connection
    started after its sockets closed must be served, by 1.0. A connection
    it had already accepted is reset by the kernel: that is the death of a
    process, not a steering failure. Returns the load, stopped."""
    load = load or Load()
    load.start()
    load.wait_more(100)
    kill_fn()
    wait_for(lambda: port_closed(port, host), 10, "the killed backend's sockets to close")
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
    return load


def snapshot():
    """What the API reports, minus counters that move with traffic."""
    def strip(v):
        v = dict(v)
        # lastWindow too: a window closes every 5 s, and a test that takes
        # longer (the emulated 6.1 guest) sees the first one appear
        for k in ("counters", "openConnections", "drained", "lastWindow"):
            v.pop(k, None)
        # the accept backlog is a reading of the queue at the last scan:
        # under load it is 0 or 1 depending on the instant
        v["backends"] = [{k: x for k, x in b.items() if k != "acceptBacklog"}
                         for b in v.get("backends", [])]
        return v
    st, body = api("GET", "/v1/services")
    return [dict(s, counters=None, versions=[strip(v) for v in s["versions"]])
            for s in body["services"]]


def rollout(body, want=201):
    st, resp = api("POST", "/v1/services/default/rollout", body)
    check(st == want, "POST rollout %s: %s %s" % (body, st, resp))
    return resp


def control(action, want=200):
    st, resp = api("POST", "/v1/services/default/rollout/" + action)
    check(st == want, "POST rollout/%s: %s %s" % (action, st, resp))
    return resp
