"""Drain deadlines: after a rollout completes and its drainDeadline passes,
vsteerd closes the old version's keep-alive connections that are idle
between requests, never one with a request in flight, and reports the
version drained. The rollouts here are not judged ("analysis": false): a
judged one completes, and its deadline starts, once a window passes."""
import os
import re
import select
import socket
import time

from common import rollout, test, two_versions
from lib import (SVC, TestFailure, api, check, client_addr, fetch, kill, network_step, service,
                 wait_for, wait_ticks)
from steering import demo_control

QUIET = 1.0  # s: VS_DRAIN_QUIET_MS, the quiet before a connection counts as idle


class KeepAlive:
    """An HTTP/1.1 client on one connection to the service, kept open
    between its requests, as a browser or a connection pool does."""

    def __init__(self, src):
        self.src = src
        with network_step("keep-alive connection from %s" % src, 5):
            self.s = socket.create_connection(SVC, timeout=5, source_address=(src, 0))

    def send(self):
        self.s.sendall(b"GET / HTTP/1.1\r\nHost: svc\r\n\r\n")

    def response(self, timeout=5):
        """The version line of one whole response (by its Content-Length)."""
        self.s.settimeout(timeout)
        buf = b""
        with network_step("response on %s's keep-alive connection" % self.src, timeout):
            while b"\r\n\r\n" not in buf:
                chunk = self.s.recv(4096)
                check(chunk, "%s: connection closed before a response: %r" % (self.src, buf))
                buf += chunk
            head, _, body = buf.partition(b"\r\n\r\n")
            n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            while len(body) < n:
                chunk = self.s.recv(4096)
                check(chunk, "%s: connection closed within a response" % self.src)
                body += chunk
        return body.split(b"\n", 1)[0].decode()

    def get(self):
        self.send()
        return self.response()

    def closed(self):
        """Whether the server has closed it (a reset or EOF), seen now."""
        if not select.select([self.s], [], [], 0)[0]:
            return False
        try:
            data = self.s.recv(4096)
        except ConnectionResetError:
            return True
        if data:
            raise TestFailure("%s: unexpected bytes from the server: %r" % (self.src, data))
        return True

    def close(self):
        self.s.close()


def version_view(version):
    return [v for v in service()["versions"] if v["version"] == version][0]


def drain_metric(version):
    text = api("GET", "/metrics")[1].decode()
    m = re.search(r'^vsteer_drain_closed_total\{service="default",version="%s"\} (\d+)$'
                  % re.escape(version), text, re.M)
    check(m, "no vsteer_drain_closed_total for %s in /metrics" % version)
    return int(m.group(1))


def events_of(kind):
    return [e for e in api("GET", "/v1/events")[1]["events"] if e["kind"] == kind]


def idle_and_slow(n_idle):
    """n_idle keep-alive clients on 1.0 that made one request each, and one
    more whose next request 1.0 answers in 3 s: (idle, slow)."""
    idle = [KeepAlive(client_addr(i)) for i in range(n_idle)]
    slow = KeepAlive(client_addr(n_idle))
    for c in idle + [slow]:
        check(c.get() == "1.0", "%s not on 1.0" % c.src)
    demo_control(9001, "delay_ms=3000")
    slow.send()
    # In flight: its request has arrived at 1.0 (counted by the meters).
    wait_for(lambda: version_view("1.0")["counters"]["arrived"] == n_idle + 2, 3,
             "the slow request to arrive at 1.0")
    return idle, slow


def drain_closes(method=None):
    """The drain test with this way of closing sockets (None: the best
    this kernel has)."""
    st, feats = api("GET", "/v1/features")
    if method is None:   # the kernel's own way: the iterator's from 6.5 on
        have = {f["name"]: f["available"] for f in feats["features"]}
        method = "bpf_sock_destroy" if have["sock_destroy"] else "sock_diag_destroy"
    check(feats["drainClose"] == method, "drainClose %s, not %s" % (feats["drainClose"], method))
    idle, slow = idle_and_slow(3)
    t0 = time.monotonic()
    r = rollout({"to": "2.0", "strategy": "session", "sessionTimeout": 60, "drainDeadline": 2,
                 "analysis": False})
    check(r["rollout"]["phase"] == "completed" and r["rollout"]["drainDeadline"] == 2,
          "rollout: %s" % r["rollout"])
    d = version_view("1.0")["drain"]
    check(d and d["deadline"] == 2 and d["closesAt"] == d["startedAt"] + 2 and not d["closing"],
          "1.0's drain: %s" % d)
    other = KeepAlive(client_addr(100))   # a new session: 2.0's, never drained
    check(other.get() == "2.0", "a new client not on 2.0")

    # The deadline is in whole seconds of the wall clock: it passes 1 to 2 s
    # after the rollout, and the next tick (250 ms) closes.
    while time.monotonic() - t0 < 0.95:
        check(not any(c.closed() for c in idle + [slow]), "closed %.2f s after the rollout, "
              "before the deadline" % (time.monotonic() - t0))
        time.sleep(0.05)
    wait_for(lambda: all(c.closed() for c in idle), 4, "the idle connections of 1.0 to be closed")
    t_idle = time.monotonic() - t0
    check(t_idle < 3.5, "closed %.2f s after a 2 s deadline" % t_idle)
    check(not slow.closed(), "the connection with a request in flight was closed")
    check(slow.response() == "1.0", "the slow request's response")
    t_resp = time.monotonic()
    check(t_resp - t0 > t_idle, "the slow response came before the deadline: nothing to prove")
    # Idle once answered and quiet for QUIET: then closed, on a tick.
    wait_for(lambda: slow.closed(), QUIET + 3, "the answered slow connection to be closed")
    quiet = time.monotonic() - t_resp
    check(quiet >= QUIET - 0.1, "closed %.2f s after its response, under the %.1f s quiet"
          % (quiet, QUIET))
    print("idle closed %.2f s after the rollout; the slow one %.2f s after its response"
          % (t_idle, quiet))

    # Past the deadline its sessions follow the weights: clients of 1.0
    # within their 60 s session timeout reconnect to 2.0.
    check([fetch(client_addr(i)) for i in range(4)] == ["2.0"] * 4, "reconnected clients not on 2.0")
    check(not other.closed() and other.get() == "2.0", "2.0's keep-alive connection was touched")
    wait_for(lambda: version_view("1.0")["openConnections"] == 0, 3, "1.0 to hold no connection")
    wait_for(lambda: events_of("drained"), 3, "the drained event")
    v1 = version_view("1.0")
    check(v1["counters"]["drainClosed"] == 4 and v1["drain"]["closing"] and v1["drain"]["drained"],
          "1.0 after the drain: %s %s" % (v1["counters"], v1["drain"]))
    check(version_view("2.0")["counters"]["drainClosed"] == 0, "2.0 counts closes")
    check(drain_metric("1.0") == 4 and drain_metric("2.0") == 0, "vsteer_drain_closed_total")
    first = events_of("drain_closed")
    check(len(first) == 1 and "closed 3 idle connections, 1 busy left open" in first[0]["message"],
          "drain_closed events: %s" % first)
    check("drain closed 4" in events_of("drained")[0]["message"], "drained: %s" % events_of("drained"))
    for c in idle + [slow, other]:
        c.close()


@test
def drain_deadline_closes_idle(env):
    """a session rollout with `drainDeadline` 2: 1.0's 3 idle keep-alive
    connections are closed by the server (they see a reset) 1 to 3.5 s after
    it (not before 0.95 s) and a 4th, whose request is in flight (3 s) across
    the deadline, gets its whole response and is closed only once quiet for
    1 s; they reconnect to 2.0 within their 60 s session timeout; a keep-alive
    connection to 2.0 is untouched; `drainClosed` (API) and
    `vsteer_drain_closed_total` say 4, a `drain_closed` event says 3 closed and
    1 busy, a `drained` event says 4 (closed by `bpf_sock_destroy`, or by
    netlink SOCK_DESTROY on a kernel before 6.5)"""
    two_versions(env, "manual")
    drain_closes()


@test
def drain_deadline_netlink(env):
    """the same with `bpf_sock_destroy` pretended missing (kernels before 6.5):
    `drainClose` is `sock_diag_destroy` and netlink SOCK_DESTROY closes the
    same connections, counted the same"""
    os.environ["VSTEER_PRETEND_MISSING"] = "sock_destroy"
    two_versions(env, "manual")
    drain_closes("sock_diag_destroy")


@test
def drain_none_without_deadline(env):
    """a session rollout without `drainDeadline` closes nothing: 2.5 s later
    1.0's idle keep-alive connections are open and answered by 1.0, and its
    clients reconnect to 1.0 (their session); `drain` is null, no drain
    event, `drainClosed` 0"""
    two_versions(env, "manual")
    idle = [KeepAlive(client_addr(i)) for i in range(3)]
    for c in idle:
        check(c.get() == "1.0", "%s not on 1.0" % c.src)
    r = rollout({"to": "2.0", "strategy": "session", "sessionTimeout": 60, "analysis": False})
    check(r["rollout"]["drainDeadline"] is None, "drainDeadline: %s" % r["rollout"])
    wait_ticks(10)
    check(not any(c.closed() for c in idle), "an idle connection was closed without a deadline")
    check([c.get() for c in idle] == ["1.0"] * 3, "idle connections not answered by 1.0")
    for c in idle:
        c.close()
    check([fetch(client_addr(i)) for i in range(3)] == ["1.0"] * 3, "clients left their session")
    v1 = version_view("1.0")
    check(v1["drain"] is None and v1["counters"]["drainClosed"] == 0, "1.0: %s" % v1)
    check(not events_of("drain_closed") and not events_of("drained"), "drain events")


@test
def drain_survives_restart(env):
    """with a fake clock: an instant rollout's `drainDeadline` of 3600 s
    survives `kill -9` of vsteerd and a restart (the idle connection stays
    open before it); at the deadline the connection is closed within 2 s,
    and its count, `drained` and the events survive another restart"""
    env.fake_clock()
    t0 = env.now
    two_versions(env, "manual")
    c = KeepAlive(client_addr(0))
    check(c.get() == "1.0", "not on 1.0")
    rollout({"to": "2.0", "strategy": "instant", "drainDeadline": 3600, "analysis": False})
    kill(env.daemons[-1])
    env.vsteerd()
    d = version_view("1.0")["drain"]
    check(d == {"deadline": 3600, "startedAt": t0, "closesAt": t0 + 3600, "closing": False,
                "drained": False}, "after a restart: %s" % d)
    env.set_clock(t0 + 3599)
    wait_ticks(4)
    check(not c.closed(), "closed before the deadline (backends exited: %s; events %s)"
          % ([q.poll() for q in env.procs[:2]], api("GET", "/v1/events")[1]["events"][-4:]))
    env.set_clock(t0 + 3600)
    wait_for(c.closed, 2, "the idle connection closed at the deadline")
    wait_for(lambda: events_of("drained"), 3, "drained")
    kill(env.daemons[-1])
    env.vsteerd()
    v1 = version_view("1.0")
    check(v1["counters"]["drainClosed"] == 1 and v1["drain"]["drained"], "after a restart: %s" % v1)
    check(events_of("drain_closed") and events_of("drained"), "events after a restart")
    c.close()


@test
def drain_deadline_refused(env):
    """`drainDeadline` that is not whole seconds from 0 to 604800 (a string,
    -1, 604801, 1.5, null), or on a manual cluster's upgradeTransition, is a
    400 naming the field and changes nothing; with the request meters off
    (`--no-watch`) it is `409 not_watching`, and on a kernel that can close no
    socket (both ways pretended missing) `409 drain_unsupported`, with
    `drainClose` `none` in `GET /v1/features`"""
    env.backend("3.0", "127.0.0.1:9003")
    two_versions(env, "manual")
    before = service()
    srv = ["127.0.0.1:9003"]
    for bad in ("2", -1, 604801, 1.5, None):
        st, r = api("POST", "/v1/services/default/rollout", {"to": "2.0", "drainDeadline": bad})
        check(st == 400 and r["error"]["code"] == "bad_rollout"
              and "body.drainDeadline" in r["error"]["message"], "rollout %r: %s %s" % (bad, st, r))
        st, r = api("PUT", "/v1/clusters", {"version": "3.0", "servers": srv,
                                            "upgradeTransition": {"mode": "instant", "drainDeadline": bad}})
        check(st == 400 and "upgradeTransition.drainDeadline" in r["error"]["message"],
              "cluster %r: %s %s" % (bad, st, r))
    st, r = api("PUT", "/v1/clusters", {"version": "3.0", "servers": srv,
                                        "upgradeTransition": {"mode": "manual", "drainDeadline": 5}})
    check(st == 400 and "manual" in r["error"]["message"], "manual: %s %s" % (st, r))
    check(service() == before, "a refused drainDeadline changed the service")

    for env_var, args, code in ((None, ["--no-watch"], "not_watching"),
                                ("sock_destroy,sock_diag_destroy", [], "drain_unsupported")):
        kill(env.daemons[-1])
        if env_var:
            os.environ["VSTEER_PRETEND_MISSING"] = env_var
        env.vsteerd(args=args)
        st, r = api("POST", "/v1/services/default/rollout", {"to": "2.0", "drainDeadline": 5})
        check(st == 409 and r["error"]["code"] == code and "drainDeadline" in r["error"]["message"],
              "rollout: %s %s" % (st, r))
        st, r = api("PUT", "/v1/clusters", {"version": "3.0", "servers": srv,
                                            "upgradeTransition": {"mode": "instant", "drainDeadline": 5}})
        check(st == 409 and r["error"]["code"] == code, "cluster: %s %s" % (st, r))
        check(service()["rollout"] is None and len(service()["versions"]) == 2, "changed")
    check(api("GET", "/v1/features")[1]["drainClose"] == "none", "drainClose with neither way")
