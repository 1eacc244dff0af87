"""Hardening: the session table under a flood of fresh client addresses. An
IPv6 host owns a /64 and is one client; one network may open only so many
new sessions per window; a session with a connection open is never
replaced by a new client's."""
import json
import os
import socket
import subprocess

from common import test
from lib import (API, api, check, client_addr, fetch, session_places, sessions_in_table,
                 versions_of, wait_for)

TABLE = 1024     # --session-table: the smallest it may be (2048 places in 512
                 # sets of four), so a flood fills it
ACTIVE = 700     # clients with a session when the flood comes
WEB6 = ("::1", 8081)


def flood_config(env, web_sessions=None, web6_sessions=None):
    """Two services sharing the session table: web (IPv4, 1.0 taking every
    session, 2.0 at 0%) and web6 (IPv6), which takes the flood."""
    for v, port in (("1.0", 9001), ("2.0", 9002)):
        env.backend(v, "127.0.0.1:%d" % port)
    env.backend("6.0", "[::1]:9101")
    web = {"name": "web", "address": "127.0.0.1", "port": 8080,
           "clusters": [{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                        {"version": "2.0", "servers": ["127.0.0.1:9002"],
                         "upgradeTransition": {"mode": "manual"}}]}
    web6 = {"name": "web6", "address": "::1", "port": 8081,
            "clusters": [{"version": "6.0", "servers": ["[::1]:9101"]}]}
    if web_sessions is not None:
        web["sessions"] = web_sessions
    if web6_sessions is not None:
        web6["sessions"] = web6_sessions
    path = os.path.join(env.dir, "config.json")
    with open(path, "w") as f:
        json.dump({"services": [web, web6],
                   "configService": {"address": API[0], "port": API[1]}}, f)
    env.vsteerd(path, args=("--session-table", str(TABLE)))


def start_session_rollout(service="web"):
    st, body = api("POST", "/v1/services/%s/rollout" % service,
                   {"to": "2.0", "strategy": "session", "sessionTimeout": 600})
    check(st == 201, "rollout: %s %s" % (st, body))


def local_prefix(prefix):
    """Every address of an IPv6 prefix is local (AnyIP) and a client may
    bind any of them (bind() itself only knows configured addresses:
    ip_nonlocal_bind, in the test's own network namespace)."""
    subprocess.run(["ip", "-6", "route", "add", "local", prefix, "dev", "lo"], check=True)
    with open("/proc/sys/net/ipv6/ip_nonlocal_bind", "w") as f:
        f.write("1")


def flood6(n, net="fd00:77::"):
    """n connections to web6 from n fresh addresses of one /64."""
    for i in range(1, n + 1):
        check(fetch("%s%x:%x" % (net, i >> 16, i & 0xffff), svc=WEB6) == "6.0", "web6")


def active_addr(i):
    """The i-th active client: one per /24 (127.1.0.1, 127.1.1.1, ...), as
    clients spread over the Internet are, so a per-network quota that stops
    one network's flood leaves them alone."""
    return "127.%d.%d.1" % (1 + i // 256, i % 256)


def moved(clients):
    """The active clients now answered by anything but 1.0."""
    return [i for i in clients if fetch(active_addr(i)) != "1.0"]


def counters(name):
    return api("GET", "/v1/services/" + name)[1]["counters"]


@test
def session_flood_one_network(env):
    """a flood of 3000 fresh addresses from one IPv6 /64 and 254 from one
    IPv4 /24 (the service's quota set to 16) moves none of a session
    rollout's 700 active clients off 1.0 in a 1024-client session table; the
    /64 is one client (the one session it opens is recorded), the /24 opens
    16 and the other 238 are counted as over quota"""
    local_prefix("fd00:77::/64")
    flood_config(env, web_sessions={"quota": 16})
    active = range(ACTIVE)
    check(moved(active) == [], "before the rollout")
    start_session_rollout()
    check(fetch("127.200.0.1") == "2.0", "a new client does not get 2.0")
    flood6(3000)
    for i in range(1, 255):
        fetch("127.77.77.%d" % i)
    gone = moved(active)
    check(not gone, "%d of %d active clients moved off 1.0 (first: %s)"
          % (len(gone), ACTIVE, [active_addr(i) for i in gone[:5]]))
    c = counters("web")
    check(c["sessionsOverQuota"] == 254 - 16, "web counters: %s" % c)
    check(counters("web6")["sessionsOverQuota"] == 0, "web6: %s" % counters("web6"))
    st, text = api("GET", "/metrics")
    check(b'vsteer_sessions_unrecorded_total{service="web",reason="quota"} 238' in text,
          "metric missing")


@test
def held_session_survives_flood(env):
    """a client holding a connection open keeps its version through a flood
    that replaces every idle session (web6 keys IPv6 clients by whole
    address and has no quota, so 6000 fresh addresses go through 2048
    places; a client's two sets of four are both full by then, and the
    longest idle session of the eight makes way, which the idle client's
    is: simulated, it survives 3000 such addresses 4% of the time, 4000
    0.3%, 6000 in none of 300 runs): its next connection still goes to 1.0,
    while an idle client's goes to 2.0"""
    local_prefix("fd00:78::/64")
    flood_config(env, web6_sessions={"ipv6Prefix": 128, "quota": 0})
    held, idle = client_addr(1), client_addr(2)
    check(fetch(idle) == "1.0", "idle client")
    conn = socket.create_connection(("127.0.0.1", 8080), timeout=5, source_address=(held, 0))
    conn.sendall(b"GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
    check(b"1.0" in conn.recv(65536), "held client not on 1.0")
    # The tracker has counted the connection when the session holds it.
    wait_for(lambda: api("GET", "/v1/services/web")[1]["versions"][-1]["openConnections"] == 1,
             5, "the open connection counted")
    start_session_rollout()
    flood6(6000, "fd00:78::")
    try:
        check(fetch(held) == "1.0", "the held client moved off 1.0")
        check(fetch(idle) == "2.0", "the flood did not evict the idle client's session: "
              "the test shows nothing")
    finally:
        conn.close()


@test
def held_session_counts_cut_key(env):
    """connections from two addresses of one IPv6 /64, to a service keying
    IPv6 clients by /64, are counted open on the one session they share
    (the tracker cuts the key as the data plane does), and released when
    they close"""
    local_prefix("fd00:79::/64")
    flood_config(env, web6_sessions={"ipv6Prefix": 64})
    table = os.path.join(env.pin_dir, "sessions")
    conns = []
    try:
        for a in ("fd00:79::1", "fd00:79::2:3"):
            c = socket.create_connection(WEB6, timeout=5, source_address=(a, 0))
            c.sendall(b"GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            check(b"6.0" in c.recv(65536), "%s not answered by 6.0" % a)
            conns.append(c)
        wait_for(lambda: [o for _, o in session_places(table)] == [2], 5,
                 lambda: "one session, two open: %s" % session_places(table))
    finally:
        for c in conns:
            c.close()
    wait_for(lambda: [o for _, o in session_places(table)] == [0], 5,
             lambda: "the session released: %s" % session_places(table))


@test
def sessions_over_old_pins(env):
    """a vsteerd adopting an older build's pins (`sess` and `shold`, no
    `sessions`) makes the new table, keeps steering, records sessions and
    keeps affinity in it, and unpins the old maps once its programs are in

    Upgrading over an older build's session maps: they are left behind
    (every client starts a new session once), not half-adopted."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    cfg = env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                      {"version": "2.0", "servers": ["127.0.0.1:9002"],
                       "upgradeTransition": {"mode": "manual"}}])
    p = env.vsteerd(cfg)
    check(fetch(client_addr(1)) == "1.0", "before the restart")
    p.terminate()
    p.wait(timeout=15)
    # What an older build left: its session maps, and a tracer of another
    # program (an older build's is never the same; the same one would be
    # kept, still counting on the table unpinned here).
    os.unlink(os.path.join(env.pin_dir, "sessions"))
    for name in ("track", "req", "resp"):
        if os.path.exists(os.path.join(env.pin_dir, name)):
            os.unlink(os.path.join(env.pin_dir, name))
    for name, kind, value in (("sess", "lru_hash", 16), ("shold", "hash", 8)):
        subprocess.run(["bpftool", "map", "create", os.path.join(env.pin_dir, name), "type",
                        kind, "key", "20", "value", str(value), "entries", "1024", "name",
                        name], check=True)
    env.vsteerd(cfg)
    log = env.vsteerd_log()
    for name in ("sess", "shold"):
        check(not os.path.exists(os.path.join(env.pin_dir, name)), "%s still pinned" % name)
        check("unpinned %s/%s" % (env.pin_dir, name) in log, "no word of %s:\n%s" % (name, log))
    table = os.path.join(env.pin_dir, "sessions")
    check(sessions_in_table(table) == 0, "the new table is not empty")
    clients = [client_addr(i) for i in range(1, 21)]
    check(versions_of(range(1, 21)) == ["1.0"] * 20, "steering after the restart")
    n = sessions_in_table(table)
    check(n == 20, "sessions recorded: %d of 20" % n)
    start_session_rollout("default")
    check([fetch(c) for c in clients] == ["1.0"] * 20, "affinity kept in the new table")
    check(fetch(client_addr(200)) == "2.0", "a new client does not get 2.0")
