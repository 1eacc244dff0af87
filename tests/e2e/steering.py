"""Steering: weights, stickiness, kernel failover, backend registration by address."""
import fcntl
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time

from common import Load, kill_under_load, set_weights, test, two_versions
from lib import (BUILD, SVC, TestFailure, api, binomial_bound, check, client_addr, fetch, kill,
                 run_vsteerd, service, versions_of, wait_for)


@test
def weights_split(env):
    """0/25/50/100% give that share of 1200 distinct clients within 4.5
    binomial standard deviations (a false failure is a ~1e-5 event)"""
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
    """at 10→30→60→90% no client moves back to 1.0, some move forward, answers
    are stable

    A client's version only moves forward while the new weight grows,
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
    """`PUT /v1/clusters` moves all new connections; a keep-alive connection
    opened before stays on 1.0; `DELETE` moves them back"""
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
    """after 2.0 is killed, every connection started afterwards is served by
    1.0 (none refused), failover is counted; restarted 2.0 is steered to within
    1 s"""
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
    """with every backend dead, connections are refused in < 0.5 s and counted

    With no live socket in any version the SYN gets a RST at once."""
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
    """all 3 sockets of a reuseport group are registered; a `0.0.0.0` socket
    serves its `127.0.0.1` name

    Every socket of a SO_REUSEPORT group is registered."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--workers", "3")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"]}]))
    v2 = service()["versions"][0]
    check(v2["version"] == "2.0" and v2["liveSockets"] == 3, "sockets: %s" % v2)
    check(set(versions_of(range(50))) == {"2.0"}, "not all on 2.0")


@test
def wildcard_backend_socket(env):
    """all 3 sockets of a reuseport group are registered; a `0.0.0.0` socket
    serves its `127.0.0.1` name

    A backend bound to 0.0.0.0:PORT serves the 127.0.0.1:PORT it is
    registered as."""
    env.backend("1.0", "0.0.0.0:9001")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    check(set(versions_of(range(20))) == {"1.0"}, "not served")


@test
def ipv6_service(env):
    """an IPv6 service address steers by weight; IPv4 to the same port is
    untouched

    An IPv6 service address steers to IPv6 backends, by weight."""
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


def demo_control(port, query):
    """POST /control?query to the demo on port; its JSON answer."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/control?" + query)
    r = c.getresponse()
    body = r.read()
    c.close()
    check(r.status == 200, "control %s: %s" % (query, r.status))
    return json.loads(body)


def children(pid):
    """The pids whose parent is pid (a demo's workers)."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    # ppid is the 2nd field after the ")" closing the name
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def gone(pid):
    """Exited: no such process, or a zombie (its sockets are closed)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@test
def demo_backend_controls(env):
    """vsteer-demo's knobs: `--exit-after` and `exit_after` over `/control`
    exit after exactly N requests (control requests not counted), with
    `--workers 3` every worker exits; status, size, delay; `hang` holds a
    request until `hang=0`; `--reset-every 3` resets exactly every 3rd
    request's connection, `reset_every=0` stops it

    vsteer-demo's knobs, which later tests and benchmarks rely on:
    exit-after (flag and /control; control requests do not count; with
    workers the whole demo exits), status, size, delay, hang and reset."""
    env.backend("1.0", "127.0.0.1:9001", "--exit-after", "3")
    svc = ("127.0.0.1", 9001)
    for _ in range(3):
        check(fetch(svc=svc) == "1.0", "not answering")
    wait_for(lambda: env.procs[0].poll() is not None, 5, "exit after 3 requests")

    # exit_after over /control counts requests from then on, not the
    # control requests themselves.
    p = env.backend("1.1", "127.0.0.1:9003")
    check(fetch(svc=("127.0.0.1", 9003)) == "1.1", "1.1 not answering")
    st = demo_control(9003, "exit_after=3")
    check(st["served"] == 1 and st["exit_after"] == 4, "control answer: %s" % st)
    demo_control(9003, "status=200")
    for i in range(3):
        check(p.poll() is None, "exited after %d of 3 requests" % i)
        check(fetch(svc=("127.0.0.1", 9003)) == "1.1", "request %d of 3 not answered" % (i + 1))
    wait_for(lambda: p.poll() is not None, 5, "exit after 3 more requests")

    # With workers, the worker that reaches the limit takes the whole
    # demo with it: no worker is left listening.
    p = env.backend("1.2", "127.0.0.1:9004", "--workers", "3")
    workers = children(p.pid)
    check(len(workers) == 3, "workers: %s" % workers)
    demo_control(9004, "exit_after=5")
    for i in range(5):
        check(fetch(svc=("127.0.0.1", 9004)) == "1.2", "request %d of 5 not answered" % (i + 1))
    wait_for(lambda: p.poll() is not None, 5, "the demo's parent to exit")
    check(p.returncode == 0, "exit status %s" % p.returncode)
    wait_for(lambda: all(gone(w) for w in workers), 5, "every worker to exit")
    try:
        fetch(svc=("127.0.0.1", 9004), timeout=2)
        raise TestFailure("a worker still answers after exit_after")
    except ConnectionRefusedError:
        pass

    env.backend("2.0", "127.0.0.1:9002")
    svc = ("127.0.0.1", 9002)
    demo_control(9002, "status=503&size=1000&delay_ms=200")
    c = http.client.HTTPConnection(*svc, timeout=5)
    t0 = time.monotonic()
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    dt = time.monotonic() - t0
    check(r.status == 503 and len(body) == 1000 and r.getheader("X-Version") == "2.0",
          "status %s size %d" % (r.status, len(body)))
    check(dt >= 0.2, "delay not applied: %.3f s" % dt)

    # hang: a request gets no answer until hang is cleared; control
    # requests are still answered meanwhile.
    demo_control(9002, "status=200&size=0&delay_ms=0&hang=1")
    s = socket.create_connection(svc, timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.settimeout(1.0)
    try:
        data = s.recv(4096)
        raise TestFailure("answered while hung: %r" % data[:60])
    except socket.timeout:
        pass
    demo_control(9002, "hang=0")
    s.settimeout(3.0)
    check(b"200 OK" in s.recv(4096), "hung request not answered after hang=0")
    s.close()

    # --reset-every N: every Nth request's connection is reset, the
    # others are answered; reset_every=0 over /control stops it.
    env.backend("3.0", "127.0.0.1:9005", "--reset-every", "3")
    got = []
    for _ in range(6):
        try:
            got.append(fetch(svc=("127.0.0.1", 9005)))
        except ConnectionResetError:
            got.append("reset")
    check(got == ["3.0", "3.0", "reset"] * 2, "with --reset-every 3: %s" % got)
    demo_control(9005, "reset_every=0")
    got = [fetch(svc=("127.0.0.1", 9005)) for _ in range(4)]
    check(got == ["3.0"] * 4, "after reset_every=0: %s" % got)


@test
def other_netns_refused(env):
    """a backend in another network namespace is refused with `no_listener`

    A backend in another network namespace cannot be steered to
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
    """one `0.0.0.0` socket serves two servers of a cluster"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "0.0.0.0:9002")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002", "127.0.0.2:9002"]})
    check(st == 201 and all(b["live"] for b in c["backends"]), "%s %s" % (st, c))


@test
def clusters_get(env):
    """`GET /v1/clusters` and `GET /v1/clusters/{id}`: ids, service, version,
    mode, weight, servers, backends, steered counts equal to what the clients
    saw; the two agree; an unknown id is 404"""
    _, _, id2 = two_versions(env, "manual")
    set_weights(25)
    n = 200
    got = versions_of(range(n))
    st, body = api("GET", "/v1/clusters")
    check(st == 200, "GET /v1/clusters: %s %s" % (st, body))
    cl = {c["version"]: c for c in body["clusters"]}
    check(sorted(cl) == ["1.0", "2.0"], "clusters: %s" % sorted(cl))
    check(cl["2.0"]["id"] == id2 and len(cl["1.0"]["id"]) == 36 and cl["1.0"]["id"] != id2,
          "ids: %s %s" % (cl["1.0"]["id"], cl["2.0"]["id"]))
    for v, port, weight, mode in (("1.0", 9001, 75, "instant"), ("2.0", 9002, 25, "manual")):
        c = cl[v]
        server = "127.0.0.1:%d" % port
        check(c["service"] == "default" and c["weight"] == weight and c["mode"] == mode
              and c["servers"] == [server] and c["live"] and c["liveSockets"] == 1
              and c["backends"] == [dict(c["backends"][0], address=server, live=True, sockets=1)],
              "cluster %s: %s" % (v, c))
        check(c["counters"]["steered"] == got.count(v),
              "%s steered %d, clients saw it %d times" % (v, c["counters"]["steered"], got.count(v)))
    for v in ("1.0", "2.0"):
        st, one = api("GET", "/v1/clusters/" + cl[v]["id"])
        check(st == 200, "GET /v1/clusters/{id} of %s: %s %s" % (v, st, one))
        # The same cluster, as the list shows it (the scan-time backlog aside).
        for c in (one, cl[v]):
            for b in c["backends"]:
                b.pop("acceptBacklog", None)
        check(one == cl[v], "GET %s differs from the list:\n%s\n%s" % (v, one, cl[v]))
    st, err = api("GET", "/v1/clusters/00000000-0000-0000-0000-000000000000")
    check(st == 404 and err["error"]["code"] == "unknown_cluster", "unknown id: %s %s" % (st, err))


@test
def wildcard_service_address(env):
    """a service on `0.0.0.0:8080` steers connections to 127.0.0.1 and
    127.0.0.2 on that port by weight (50%: within 4.5 binomial SDs); another
    port is untouched"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}],
                           {"proxy": {"address": "0.0.0.0", "port": 8080}}))
    check(service()["address"] == "0.0.0.0", "service: %s" % service()["address"])
    for w, want in ((0, {"1.0"}), (100, {"2.0"})):
        set_weights(w)
        for addr in ("127.0.0.1", "127.0.0.2"):
            got = {fetch(client_addr(i), svc=(addr, 8080)) for i in range(20)}
            check(got == want, "weight %d%%, to %s:8080: %s" % (w, addr, got))
    set_weights(50)
    got = [fetch(client_addr(i), svc=("127.0.0.2", 8080)) for i in range(400)]
    bound = binomial_bound(400, 0.5)
    check(abs(got.count("2.0") - 200) <= bound,
          "50%%: %d of 400 on 2.0, expected 200 +- %.0f" % (got.count("2.0"), bound))
    try:
        fetch(svc=("127.0.0.2", 8081), timeout=2)
        raise TestFailure("a connection to another port was steered")
    except ConnectionRefusedError:
        pass


@test
def reuseport_workers_killed(env):
    """2 of 3 reuseport workers killed under load: every connection started
    after their sockets closed is served by 2.0, which stays live with 1 socket
    and no failover; the last one killed: all go to 1.0

    A version stays live while any socket of its reuseport group is
    open: killing 2 of 3 workers under load refuses no connection that
    starts after their sockets closed, and all still go to 2.0. Killing
    the last one fails over to 1.0."""
    env.backend("1.0", "127.0.0.1:9001")
    p2 = env.backend("2.0", "127.0.0.1:9002", "--workers", "3")
    workers = children(p2.pid)
    check(len(workers) == 3, "workers: %s" % workers)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"]}]))
    check(service()["versions"][0]["liveSockets"] == 3, "3 sockets not registered")
    load = Load()
    load.start()
    try:
        load.wait_more(100)
        for w in workers[:2]:
            os.kill(w, signal.SIGKILL)
        # Their sockets are closed once the kernel took them out of the
        # sockmap (which the API reads on each request). A zombie is not
        # enough: its other threads may still hold the files.
        wait_for(lambda: service()["versions"][0]["liveSockets"] == 1, 5,
                 "the 2 killed workers' sockets to close")
        t_dead = time.monotonic()
        load.wait_more(10)
        load.by_version.clear()
        load.wait_more(300)
    finally:
        load.finish()
    lost = load.failed_after(t_dead)
    check(not lost, "%d connections failed after 2 of 3 workers died: %s" % (len(lost), lost[:3]))
    check(set(load.by_version) == {"2.0"}, "with one worker left: %s" % load.by_version)
    v2 = service()["versions"][0]
    check(v2["version"] == "2.0" and v2["live"] and v2["liveSockets"] == 1
          and v2["counters"]["failoverOut"] == 0, "2.0 with one worker: %s" % v2)
    print("in flight when the workers were killed: %d reset; then %d served by 2.0"
          % (load.failed, load.by_version["2.0"]))
    os.kill(workers[2], signal.SIGKILL)
    wait_for(lambda: not service()["versions"][0]["live"], 5, "the last worker's socket to close")
    check(set(versions_of(range(50))) == {"1.0"}, "no worker of 2.0 left: not all on 1.0")


@test
def vsteerd_help_version(env):
    """`--help`/`-h` and `--version`/`-V` print usage or version to stdout and
    exit 0; a bad option exits 2"""
    for arg in ("--help", "-h"):
        r = run_vsteerd([arg], timeout=10)
        check(r.returncode == 0 and r.stdout.startswith("Usage: vsteerd")
              and all(o in r.stdout for o in ("--config", "--pin-dir", "--state", "--cleanup",
                                              "--version"))
              and not r.stderr, "%s: exit %d\n%s%s" % (arg, r.returncode, r.stdout, r.stderr))
    for arg in ("--version", "-V"):
        r = run_vsteerd([arg], timeout=10)
        words = r.stdout.split()
        check(r.returncode == 0 and len(words) == 2 and words[0] == "vsteerd"
              and words[1][0].isdigit() and not r.stderr,
              "%s: exit %d %r %r" % (arg, r.returncode, r.stdout, r.stderr))
    r = run_vsteerd(["--no-such-option"], timeout=10)
    check(r.returncode == 2 and "Usage" in r.stderr, "bad option: exit %d" % r.returncode)


@test
def sigint_leaves_steering(env):
    """SIGINT: vsteerd exits 0, the link stays pinned, no client changes
    version; a restart adopts the same clusters and weights"""
    two_versions(env, "manual")
    set_weights(50)
    before = versions_of(range(100))
    snap = service()["versions"]
    p = env.procs[-1]
    p.send_signal(signal.SIGINT)
    check(p.wait(timeout=5) == 0, "vsteerd exit status %s" % p.returncode)
    check(os.path.exists(os.path.join(env.pin_dir, "link")), "link unpinned by SIGINT")
    check(versions_of(range(100)) == before, "steering changed when vsteerd stopped")
    env.vsteerd()
    check("adopted data plane in" in env.vsteerd_log(), "restart did not adopt: %s"
          % env.vsteerd_log())
    check([(v["id"], v["weight"]) for v in service()["versions"]]
          == [(v["id"], v["weight"]) for v in snap], "state changed across SIGINT")
    check(versions_of(range(100)) == before, "clients moved across the restart")


@test
def cleanup_nothing_pinned(env):
    """`--cleanup` with no pin directory (or no parent) says nothing is pinned
    and exits 0; it removes `<pin-dir>_tmp<pid>` leftovers of dead pids and
    keeps those of a live pid or held locked

    vsteerd --cleanup with nothing pinned says so and exits 0; it also
    removes <pin-dir>_tmp<pid> directories a dead vsteerd left half-built,
    and keeps those of a live pid or that someone holds locked."""
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--cleanup"], timeout=10)
    check(r.returncode == 0 and "nothing is pinned" in r.stderr,
          "no pin dir: exit %d %s" % (r.returncode, r.stderr))
    r = run_vsteerd(["--pin-dir", os.path.join(env.dir, "nope", "vsteer"), "--cleanup"], timeout=10)
    check(r.returncode == 0 and "nothing is pinned" in r.stderr,
          "no parent dir: exit %d %s" % (r.returncode, r.stderr))

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = "%s_tmp%d" % (env.pin_dir, dead.pid)
    live = "%s_tmp%d" % (env.pin_dir, os.getpid())
    locked = "%s_tmp%d" % (env.pin_dir, 4194304 + 7)    # above pid_max: no such pid
    for d in (stale, live, locked):
        os.mkdir(d)
        # what a start that died half-way leaves: a pinned map
        subprocess.run(["bpftool", "map", "create", os.path.join(d, "svcs"), "type", "hash",
                        "key", "4", "value", "4", "entries", "1", "name", "svcs"], check=True)
    fd = os.open(locked, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)     # a vsteerd of another pid namespace building it
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--cleanup"], timeout=10)
    os.close(fd)
    check(r.returncode == 0 and "nothing is pinned" in r.stderr and stale in r.stderr,
          "with leftovers: exit %d %s" % (r.returncode, r.stderr))
    check(not os.path.exists(stale), "leftover of a dead pid not removed")
    check(os.path.exists(os.path.join(live, "svcs")), "a live pid's directory removed")
    check(os.path.exists(os.path.join(locked, "svcs")), "a locked directory removed")

    # With pins there, --cleanup removes them and the dead leftovers.
    os.mkdir(stale)
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=5)
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--cleanup"], timeout=10)
    check(r.returncode == 0 and "removed %s\n" % env.pin_dir in r.stderr,
          "with pins: exit %d %s" % (r.returncode, r.stderr))
    check(not os.path.exists(env.pin_dir) and not os.path.exists(stale), "not all removed")


# ---- API security --------------------------------------------------------

@test
def mptcp_listener_refused(env):
    """an MPTCP listener is refused with `socket_refused` and the GODEBUG hint,
    not "nothing listens"

    A socket the kernel will not put in a sockmap (MPTCP, as Go 1.24+
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
    """40 reuseport sockets for one version: 32 registered, served, reported

    A version with more listening sockets than its 32 sockmap slots:
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


@test
def weights_hundredths(env):
    """weights of 0.29/99.71 read back exactly and are 29/10000 basis points in
    the map

    Weights in hundredths of a percent go into the map as basis points
    and read back as written (no float noise such as 0.28999999999999998)."""
    two_versions(env, "manual")
    st, body = api("PUT", "/v1/services/default/weights", {"2.0": 0.29, "1.0": 99.71})
    check(st == 200, "PUT weights: %s %s" % (st, body))
    c = http.client.HTTPConnection("127.0.0.1", 9900, timeout=5)
    c.request("GET", "/v1/services/default")
    text = c.getresponse().read().decode()
    check('"weight": 0.29,' in text and '"weight": 99.71,' in text, "weights as read: %s" %
          re.findall(r'"weight": [^,]*', text))
    dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "pinned", env.pin_dir + "/svcs"],
                                     capture_output=True, text=True, check=True).stdout)
    upto = [v["upto"] for v in dump[0]["formatted"]["value"]["ver"][:2]]
    check(upto == [29, 10000], "basis points in the map: %s" % upto)
