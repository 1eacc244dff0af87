"""Hardening: who may listen for a server. A backend's sockets are steered
to only if they belong to the owner recorded for it (its uid and cgroup),
so a process of another user that binds a dead backend's address gets
nothing."""
import os
import time

from common import set_weights, test, two_versions
from lib import api, check, client_addr, fetch, kill, wait_for, wait_ticks

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def versions_seen(n=60):
    """Which version answers n new connections from n distinct clients."""
    seen = {}
    for i in range(n):
        v = fetch(client_addr(i), timeout=2)
        seen[v] = seen.get(v, 0) + 1
    return seen


def backend_view(version):
    st, svc = api("GET", "/v1/services/default")
    check(st == 200, "GET service: %s %s" % (st, svc))
    for v in svc["versions"]:
        if v["version"] == version:
            return v["backends"][0]
    raise AssertionError("no version %s" % version)


def events_of(kind):
    return [e for e in api("GET", "/v1/events")[1]["events"] if e["kind"] == kind]


@test
def squatter_refused(env):
    """an unprivileged process that binds a dead backend's address gets no
    connection: its socket is refused for its owner (counted in the API and
    /metrics, an event names its uid), clients fail over to 1.0, and the
    backend restarted by its owner is steered to again within 1 s"""
    p1, p2, _ = two_versions(env, "manual")
    set_weights(100)
    check(versions_seen() == {"2.0": 60}, "2.0 does not take every client")
    owner = backend_view("2.0")["owner"]
    check(owner and owner["uid"] == 0, "owner not recorded: %s" % owner)
    kill(p2)
    squat = env.backend("evil", "127.0.0.1:9002", wrapper=NOBODY)
    wait_ticks(4)
    seen = versions_seen()
    check(seen == {"1.0": 60}, "the squatter got connections: %s" % seen)
    b = backend_view("2.0")
    check(not b["live"] and b["refusedSockets"] == 1, "view: %s" % b)
    ev = events_of("socket_refused")
    check(ev and "uid 65534" in ev[0]["message"] and "127.0.0.1:9002" in ev[0]["message"],
          "event: %s" % ev)
    st, text = api("GET", "/metrics")
    check(b'vsteer_sockets_refused_total{service="default",version="2.0",backend="127.0.0.1:9002"} 1'
          in text, "metric missing")
    # Its owner restarts the backend: picked up as before.
    kill(squat)
    env.backend("2.0", "127.0.0.1:9002")
    t0 = time.monotonic()
    wait_for(lambda: fetch(client_addr(0), timeout=2) == "2.0", 5, "2.0 steered to again")
    check(time.monotonic() - t0 < 1.0, "2.0 back after %.2f s" % (time.monotonic() - t0))
    check(len(events_of("socket_refused")) == 1, "one socket, one event")


@test
def owner_given(env):
    """a cluster registered with "owner": {"uid": 0} while the socket on its
    address is nobody's is refused with 422 socket_owner naming the uid,
    nothing registered; with "owner": {"uid": 65534} it steers to that
    socket; the owner is in the state file and survives a restart

    (Sockets of two owners on one address, 409 several_owners, cannot be
    made on one host: the kernel refuses a second listener of another uid
    on an overlapping address. The unit tests cover it.)"""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    env.backend("2.0", "127.0.0.1:9002", wrapper=NOBODY)
    st, body = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                           "owner": {"uid": 0}})
    check(st == 422 and body["error"]["code"] == "socket_owner"
          and "uid 65534" in body["error"]["message"], "owner mismatch: %s %s" % (st, body))
    st, body = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                           "owner": {"uid": 65534},
                                           "upgradeTransition": {"mode": "manual"}})
    check(st == 201 and body["backends"][0]["owner"] == {"uid": 65534}
          and body["backends"][0]["live"], "owner given: %s %s" % (st, body))
    set_weights(100)
    check(versions_seen(20) == {"2.0": 20}, "not steered to nobody's 2.0")
    # The owner survives a restart (state file).
    d = env.daemons[-1]
    d.terminate()
    d.wait(timeout=15)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    check(backend_view("2.0")["owner"] == {"uid": 65534}, "owner lost: %s" % backend_view("2.0"))


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    raise AssertionError("no cgroup2 file system is mounted")


@test
def owner_by_cgroup(env):
    """a cluster whose owner is a cgroup steers to a socket created in that
    cgroup (or below it) and refuses one of the same uid created in another
    cgroup"""
    mnt = cgroup2_mount()
    name = "vsteer-test-%d" % os.getpid()
    mine, other = os.path.join(mnt, name), os.path.join(mnt, name + "-other")
    os.mkdir(mine)
    os.mkdir(other)
    try:
        def in_cgroup(path):
            return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path]

        env.backend("1.0", "127.0.0.1:9001")
        env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
        p = env.backend("2.0", "127.0.0.1:9002", wrapper=in_cgroup(other))
        body = {"version": "2.0", "servers": ["127.0.0.1:9002"],
                "owner": {"cgroup": "/" + name}, "upgradeTransition": {"mode": "manual"}}
        st, r = api("PUT", "/v1/clusters", body)
        check(st == 422 and r["error"]["code"] == "socket_owner", "other cgroup: %s %s" % (st, r))
        kill(p)
        env.backend("2.0", "127.0.0.1:9002", wrapper=in_cgroup(mine))
        st, r = api("PUT", "/v1/clusters", body)
        check(st == 201 and r["backends"][0]["live"], "its cgroup: %s %s" % (st, r))
        check(r["backends"][0]["owner"] == {"cgroup": "/" + name}, "owner: %s" % r["backends"][0])
        set_weights(100)
        check(versions_seen(20) == {"2.0": 20}, "not steered to 2.0 in its cgroup")
    finally:
        env.close()
        for d in (mine, other):
            wait_for(lambda: not open(os.path.join(d, "cgroup.procs")).read().strip(), 5,
                     "%s empty" % d)
            os.rmdir(d)
