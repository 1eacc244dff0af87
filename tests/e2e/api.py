"""The REST API under bad input, limits, authentication, concurrency and faults."""
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time

from common import control, rollout, snapshot, test, two_versions
from lib import (API, ROOT, TestFailure, api, check, kill, run_vsteerd, service, versions_of,
                 wait_for)


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
        # Query parameters: booleans are true/false/1/0, each route takes
        # only its own, once; each of these would change something if it
        # were read loosely (yes as false, an unknown one ignored).
        ("DELETE", "/v1/clusters/%s?force=yes" % cid, None, 400, "bad_field", "'force'"),
        ("DELETE", "/v1/clusters/%s?force=" % cid, None, 400, "bad_field", "'force'"),
        ("DELETE", "/v1/clusters/%s?force" % cid, None, 400, "bad_field", "'force'"),
        ("DELETE", "/v1/clusters/%s?force=true&force=false" % cid, None, 400, "bad_field", "twice"),
        ("DELETE", "/v1/clusters/%s?foce=true" % cid, None, 400, "unknown_field", "'foce'"),
        ("PUT", "/v1/services/default/weights?dryRun=true", {"2.0": 60, "1.0": 40}, 400,
         "unknown_field", "'dryRun'"),
        ("PUT", "/v1/clusters?service=default", {"version": "3.0", "servers": srv}, 400,
         "unknown_field", "'service'"),
        ("POST", "/v1/services/default/rollout/promote?full=yes", None, 400, "bad_field", "'full'"),
        ("POST", "/v1/services/default/rollout/promote?full=%ff", None, 400, "bad_field", "'full'"),
        ("GET", "/v1/services?verbose=1", None, 400, "unknown_field", "'verbose'"),
        ("GET", "/v1/events?service=nope", None, 404, "unknown_service", "'nope'"),
        ("GET", "/v1/events?service=", None, 400, "bad_field", "'service'"),
        ("GET", "/v1/events?svc=default", None, 400, "unknown_field", "'svc'"),
    ]
    for method, path, body, want, code, *named in cases:
        needle = named[0] if named else ""
        raw = body if isinstance(body, str) else None
        st, resp = api(method, path, None if raw is not None else body, raw=raw)
        what = "%s %s %.60r" % (method, path, body)
        check(st == want, "%s: status %s, want %s (%s)" % (what, st, want, resp))
        check(isinstance(resp, dict) and resp["error"]["code"] == code and resp["error"]["message"],
              "%s: error %s, want code %s" % (what, resp, code))
        check(needle in resp["error"]["message"], "%s: the message does not name %s: %s" % (what, needle, resp))
    check(snapshot() == before, "state changed by bad requests")
    check(versions_of(range(200)) == clients_before, "steering changed by bad requests")
    for query in ("", "?service=default"):
        st, resp = api("GET", "/v1/events" + query)
        check(st == 200 and isinstance(resp["events"], list), "GET /v1/events%s: %s %s" % (query, st, resp))

    # Deleting the last cluster of a service needs ?force=true (or 1; 0
    # and false are the default).
    for v in service()["versions"][:-1]:
        check(api("DELETE", "/v1/clusters/" + v["id"] + "?force=false")[0] == 200, "delete")
    last = service()["versions"][0]["id"]
    for query in ("", "?force=0", "?force=false"):
        st, resp = api("DELETE", "/v1/clusters/" + last + query)
        check(st == 409 and resp["error"]["code"] == "last_cluster", "last delete%s: %s %s" % (query, st, resp))
    check(api("DELETE", "/v1/clusters/%s?force=1" % last)[0] == 200, "forced delete")


TOKEN = "s3cret-token-0123456789"


def token_file(env, mode=0o600):
    path = os.path.join(env.dir, "token")
    with open(path, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(path, mode)
    return path


def start_fails(env, cfg, needle):
    r = run_vsteerd(["-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state])
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
    never finishes its request is cut off after the 10 s idle timeout, and
    one that trickles it is cut off by the 30 s deadline (slowloris);
    meanwhile the API answers, and a kept-alive client is not cut."""
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
    slowloris()


DEADLINE = 30       # user/http.c HTTP_DEADLINE_S


def slowloris():
    """20 clients each send a header line every 2 s, never ending their
    request: each is closed 30 s after it connected (the deadline is
    checked every 0.5 s: allow 30-34 s). Never idle, the 10 s timeout does
    not catch them. One kept-alive client asking every 2 s stays
    connected past the deadline: each reply restarts its clock."""
    n = 20
    t0 = time.monotonic()     # before any connects: the server's clocks start later
    socks = [socket.create_connection(API, timeout=5) for _ in range(n)]
    for s_ in socks:
        s_.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    keep = http.client.HTTPConnection(*API, timeout=5)
    keep.connect()
    keep_sock = keep.sock
    closed, answers, line = {}, 0, 0
    while len(closed) < n and time.monotonic() - t0 < DEADLINE + 10:
        keep.request("GET", "/healthz")
        r = keep.getresponse()
        r.read()
        check(r.status == 200 and keep.sock is keep_sock,
              "kept-alive client: %s, same connection %s" % (r.status, keep.sock is keep_sock))
        answers += 1
        line += 1
        for s_ in socks:
            if s_ not in closed:
                try:
                    s_.sendall(b"X-Trickle-%d: y\r\n" % line)
                except OSError:
                    closed[s_] = time.monotonic() - t0
        tick = time.monotonic() + 2
        while time.monotonic() < tick and len(closed) < n:
            ready, _, _ = select.select([x for x in socks if x not in closed], [], [],
                                        max(0, tick - time.monotonic()))
            for s_ in ready:
                try:
                    data = s_.recv(100)
                except OSError:
                    data = b""
                check(data == b"", "a trickling client got an answer: %r" % data)
                closed[s_] = time.monotonic() - t0
    times = sorted(closed.values())
    check(len(closed) == n, "%d of %d trickling clients still connected after %.0f s"
          % (n - len(closed), n, time.monotonic() - t0))
    check(DEADLINE <= times[0] and times[-1] <= DEADLINE + 4,
          "trickling clients closed after %.1f to %.1f s, want %d to %d s"
          % (times[0], times[-1], DEADLINE, DEADLINE + 4))
    check(answers >= DEADLINE // 2, "only %d answers to the kept-alive client" % answers)
    keep.close()
    for s_ in socks:
        s_.close()
    print("trickling clients closed after %.1f-%.1f s; the kept-alive one got %d answers meanwhile"
          % (times[0], times[-1], answers))


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


@test
def killed_at_commit(env):
    """vsteerd SIGKILLed exactly at the two moments of a change that
    matter (tests/fault/killat.c): with the kernel's maps written and the
    new state file fsynced but not yet renamed into place, and just after
    the rename. Restarted, it steers by its state file: the API, the
    kernel's map and the state file agree, on the old weight the first
    time and on the new one the second."""
    two_versions(env, "manual")
    shim = os.path.join(ROOT, "build", "libkillat.so")
    prev = 0
    for when, w in (("before", 30), ("after", 40)):
        kill(env.procs[-1])
        # ASan wants its runtime first; the shim only wraps rename().
        p = env.vsteerd(wrapper=["env", "LD_PRELOAD=" + shim, "ASAN_OPTIONS=" +
                                 os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0",
                                 "VSTEER_KILL_RENAME=state.json", "VSTEER_KILL_NTH=2",
                                 "VSTEER_KILL_WHEN=" + when])
        api_quiet("PUT", "/v1/services/default/weights", {"2.0": w, "1.0": 100 - w})
        check(p.wait(timeout=10) == -signal.SIGKILL, "%s: vsteerd not killed at the rename" % when)
        env.vsteerd()
        check(not os.path.exists(env.state + ".tmp"), "%s: the temp state file is left" % when)
        maps_agree(env, when)
        weight = [v["weight"] for v in service()["versions"] if v["version"] == "2.0"][0]
        want = prev if when == "before" else w
        check(weight == want, "killed %s the rename: weight %s, want %s" % (when, weight, want))
        check(versions_of(range(200)).count("2.0") > 0 if want else
              "2.0" not in versions_of(range(200)), "%s: steering does not follow" % when)
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
        # read loosely, each of these would promote
        ("POST", "/v1/services/default/rollout/promote?full=yes", None, 400, "bad_field"),
        ("POST", "/v1/services/default/rollout/promote?full=true&full=true", None, 400, "bad_field"),
        ("POST", "/v1/services/default/rollout/promote?ful=true", None, 400, "unknown_field"),
        ("POST", "/v1/services/default/rollout/pause?full=true", None, 400, "unknown_field"),
        ("POST", "/v1/services/default/rollout/abort?force=true", None, 400, "unknown_field"),
    ]:
        st, resp = api(method, path, body)
        check(st == want and resp["error"]["code"] == code, "%s %s: %s %s" % (method, path, st, resp))
    check(snapshot() == during, "conflicting requests changed state")
    # The parameter itself works both ways: 0 is one step, 1 the rest.
    control("abort")
    rollout({"to": "2.0", "steps": [{"weight": 10}, {"weight": 50}]})
    control("promote?full=0")
    check(weight_of("2.0") == 50, "promote?full=0: 2.0 at %s%%, not the next step's 50%%" % weight_of("2.0"))
    control("promote?full=1")
    check(weight_of("2.0") == 100, "promote?full=1: 2.0 at %s%%" % weight_of("2.0"))


def weight_of(version):
    return [v["weight"] for v in service()["versions"] if v["version"] == version][0]


@test
def api_model_limits(env):
    """17 servers in a cluster, a 9th version of a service and a 513th
    cluster: each a 4xx that names the limit, and nothing changes; one
    under the limit still goes in."""
    # 63 services of 8 versions and 2 of 4: 512 clusters, none listening
    # (a cluster whose backends are down is valid in a config).
    services, port = [], 20000
    for i in range(65):
        clusters = []
        for v in range(8 if i < 63 else 4):
            clusters.append({"version": "%d.0" % (v + 1), "servers": ["127.0.0.1:%d" % port],
                             "upgradeTransition": {"mode": "manual"}})
            port += 1
        services.append({"name": "s%d" % i, "address": "127.0.0.1", "port": 10000 + i,
                         "clusters": clusters})
    path = os.path.join(env.dir, "config.json")
    with open(path, "w") as f:
        json.dump({"configService": {"address": API[0], "port": API[1]}, "services": services}, f)
    env.backend("5.0", "127.0.0.1:30001")
    env.vsteerd(path)
    st, cl = api("GET", "/v1/clusters")
    check(st == 200 and len(cl["clusters"]) == 512, "clusters at start: %s %d" % (st, len(cl["clusters"])))
    before = snapshot()
    with open(env.state) as f:
        state_before = f.read()
    for what, body, want, needle in [
        ("17 servers", {"service": "s64", "version": "5.0",
                        "servers": ["127.0.0.1:%d" % (31000 + i) for i in range(17)]}, 400, "16 servers"),
        ("a 9th version", {"service": "s0", "version": "9.0", "servers": ["127.0.0.1:30001"]},
         409, "8 versions"),
        ("a 513th cluster", {"service": "s64", "version": "5.0", "servers": ["127.0.0.1:30001"]},
         409, "512 clusters"),
    ]:
        st, resp = api("PUT", "/v1/clusters", body)
        check(st == want and resp["error"]["code"] == "limit" and needle in resp["error"]["message"],
              "%s: %s %s, want %d limit naming '%s'" % (what, st, resp, want, needle))
    check(snapshot() == before, "a refused request changed the API state")
    with open(env.state) as f:
        check(f.read() == state_before, "a refused request changed the state file")
    check(len(api("GET", "/v1/clusters")[1]["clusters"]) == 512, "cluster count changed")
    # One cluster fewer, and the same request goes in: 512 is the limit.
    oldest = [v for v in service("s0")["versions"] if v["version"] == "8.0"][0]["id"]
    check(api("DELETE", "/v1/clusters/" + oldest)[0] == 200, "delete s0's 8.0")
    st, resp = api("PUT", "/v1/clusters", {"service": "s64", "version": "5.0",
                                           "servers": ["127.0.0.1:30001"]})
    check(st == 201, "the 512th cluster again: %s %s" % (st, resp))
    check(len(api("GET", "/v1/clusters")[1]["clusters"]) == 512, "cluster count")


@test
def state_disk_full(env):
    """The state file's filesystem is full (a 64 KiB tmpfs filled by dd),
    so writing the new state fails with ENOSPC during a change: 500
    state_write naming it, and the API, the svcs map, the state file and
    steering are as before; with space freed, changes work."""
    statedir = os.path.join(env.dir, "small")
    os.mkdir(statedir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", statedir], check=True)
    env.state = os.path.join(statedir, "state.json")
    two_versions(env, "manual")
    env.backend("3.0", "127.0.0.1:9003")
    before, clients = snapshot(), versions_of(range(200))
    with open(env.state) as f:
        state_before = f.read()
    fill = os.path.join(statedir, "fill")
    subprocess.run(["dd", "if=/dev/zero", "of=" + fill, "bs=4k"], capture_output=True)  # until ENOSPC
    check(os.statvfs(statedir).f_bavail == 0, "the tmpfs is not full")
    for method, path, body in [("PUT", "/v1/services/default/weights", {"2.0": 60, "1.0": 40}),
                               ("POST", "/v1/services/default/rollout", {"to": "2.0"}),
                               ("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"]}),
                               ("DELETE", "/v1/clusters/" + service()["versions"][0]["id"], None)]:
        st, resp = api(method, path, body)
        check(st == 500 and resp["error"]["code"] == "state_write"
              and "No space left" in resp["error"]["message"], "%s %s: %s %s" % (method, path, st, resp))
    check(snapshot() == before, "API state changed")
    check(versions_of(range(200)) == clients, "steering changed")
    maps_agree(env, "after writes that found the disk full")
    with open(env.state) as f:
        check(f.read() == state_before, "state file changed")
    check(sorted(os.listdir(statedir)) == ["fill", "state.json"],
          "temporary files left: %s" % os.listdir(statedir))
    os.unlink(fill)
    st, _ = api("PUT", "/v1/services/default/weights", {"2.0": 60, "1.0": 40})
    check(st == 200, "with space again: %s" % st)
    maps_agree(env, "after a good write")
