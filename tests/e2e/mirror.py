"""The mirror strategy (Multi-Version Update): the stable version's sampled
requests replayed to the target, byte for byte, and compared; verdicts by
status, size, latency and body beyond learned noise; what is not
mirrored; a hung target; mirror then gradual; the API's refusals."""
import base64
import http.client
import json
import os
import re
import socket
import threading
import time

from common import rollout, test
from lib import SVC, api, check, kill, service, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
# Short windows so that a test takes seconds. minRequests 10: a 1 s
# window of the traffic below holds 30 or more. maxLatencyIncreaseMs 40
# (the default is 20): two identical Python backends on this busy 2-core
# machine differed by up to 26 ms in p99 over a second's replays
# (measured while a VM ran beside them); the slow target below is 60 ms
# slower in every request.
FAST = {"interval": 1, "minRequests": 10, "failureLimit": 2, "maxLatencyIncreaseMs": 40}
# Every new connection of 1.0 sampled; duration set per test.
MIRROR = {"percent": 100, "maxPerSecond": 1000}


def start(env, stable=(), target=(), analysis=None, transition=None):
    """1.0 and 2.0 (manual, 0%, or as transition says) of an http service,
    each a mirror_backend started with these extra arguments; their
    request logs."""
    logs = {}
    for version, port, extra in (("1.0", 9001, stable), ("2.0", 9002, target)):
        logs[version] = os.path.join(env.dir, "req-%s.log" % version)
        env.spawn(["/usr/bin/python3", os.path.join(HERE, "mirror_backend.py"), "--listen",
                   "127.0.0.1:%d" % port, "--version", version, "--log", logs[version]]
                  + list(extra), "listening")
    proxy = {"address": SVC[0], "port": SVC[1], "protocol": "http",
             "analysis": dict(FAST, **(analysis or {}))}
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": transition or {"mode": "manual"}}],
                           {"proxy": proxy}))
    return logs


def requests_of(log):
    """The raw requests a backend received, in order."""
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [base64.b64decode(json.loads(line)["raw"]) for line in f if line.strip()]


class Traffic(threading.Thread):
    """Clients on keep-alive connections: GETs of paths in turn, a new
    connection every `per_conn` requests (the kernel samples connections),
    until stopped; every answer's latency kept."""

    def __init__(self, paths, per_conn=10, method="GET", body=None):
        super().__init__(daemon=True)
        self.paths, self.per_conn, self.method, self.body = paths, per_conn, method, body
        self.stop = threading.Event()
        self.lat = []
        self.errors = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            c = http.client.HTTPConnection(*SVC, timeout=5)
            try:
                for _ in range(self.per_conn):
                    t0 = time.monotonic()
                    c.request(self.method, self.paths[i % len(self.paths)], body=self.body)
                    r = c.getresponse()
                    r.read()
                    self.lat.append(time.monotonic() - t0)
                    if r.status != 200:
                        self.errors.append(r.status)
                    i += 1
            except OSError as e:
                self.errors.append(str(e))
            finally:
                c.close()

    def finish(self):
        self.stop.set()
        self.join(10)


def mirror_view():
    return service()["rollout"]["mirror"]


def wait_phase(phases, timeout):
    wait_for(lambda: service()["rollout"]["phase"] in phases, timeout,
             lambda: "rollout in %s: %s" % (phases, json.dumps(service()["rollout"])[:1500]),
             interval=0.1)
    return service()["rollout"]


def events(kind):
    return [e for e in api("GET", "/v1/events")[1]["events"] if e["kind"] == kind]


def mirror_under(paths, mirror, phases, timeout, then=None):
    """A mirror started while Traffic on paths runs, until the rollout is
    in one of phases; the rollout view then, and the traffic."""
    load = Traffic(paths)
    load.start()
    body = {"to": "2.0", "strategy": "mirror", "mirror": dict(MIRROR, **mirror)}
    if then:
        body["then"] = then
    try:
        rollout(body)
        ro = wait_phase(phases, timeout)
    finally:
        load.finish()
    return ro, load


ITEMS = ["/api/items/%d" % i for i in range(1, 40)]
USERS = ["/api/users/%d" % i for i in range(1, 40)]


@test
def mirror_identical_passes(env):
    """two versions that answer alike: a 3 s mirror of every 1.0 connection
    compares requests on both routes, finds no difference, ends
    `completed` with a `mirror_passed` event; 2.0 never had a client (0%
    weight all along, every request it got is a replay of one 1.0 got,
    byte for byte)"""
    logs = start(env)
    ro, load = mirror_under(ITEMS + USERS, dict(duration=3), ("completed", "aborted", "rolled_back"), 15)
    m = ro["mirror"]
    check(ro["phase"] == "completed" and m["verdict"] == "pass",
          "identical versions: %s" % json.dumps(ro)[:2000])
    routes = {r["route"]: r for r in m["routes"]}
    check(set(routes) == {"GET /api/items/{id}", "GET /api/users/{id}"}, "routes: %s" % routes)
    for r in routes.values():
        check(r["compared"] >= 5 and r["statusDiffers"] == 0 and r["bodiesDiffer"] == 0,
              "route: %s" % r)
    check(len(events("mirror_passed")) == 1, "events: %s" % events("mirror_passed"))
    check(service()["versions"][0]["weight"] == 0, "2.0 got weight")
    got1, got2 = requests_of(logs["1.0"]), requests_of(logs["2.0"])
    check(got2 and all(r in got1 for r in got2),
          "2.0 got %d requests, %d of them never sent to 1.0" %
          (len(got2), len([r for r in got2 if r not in got1])))
    check(not load.errors, "client errors: %s" % load.errors[:5])


@test
def mirror_bigger_route_fails(env):
    """a 2.0 whose answers are 400 bytes larger under /api/items fails: the
    rollout is rolled back by its windows (failureLimit 2) and the
    verdict and report name `GET /api/items/{id}`, not the users route"""
    start(env, target=["--bigger", "/api/items"])
    ro, load = mirror_under(ITEMS + USERS, dict(duration=60), ("rolled_back", "aborted", "completed"), 20)
    check(ro["phase"] == "rolled_back", "phase: %s" % ro["phase"])
    why = events("auto_rollback")[0]["message"]
    check("GET /api/items/{id}" in why and "users" not in why, "why: %s" % why)
    routes = {r["route"]: r for r in ro["mirror"]["routes"]}
    items, users = routes["GET /api/items/{id}"], routes["GET /api/users/{id}"]
    check(items["target"]["meanBytes"] > items["primary"]["meanBytes"] + 300,
          "items sizes: %s" % items)
    check(users["bodiesDiffer"] == 0 and
          abs(users["target"]["meanBytes"] - users["primary"]["meanBytes"]) < 1,
          "users: %s" % users)


@test
def mirror_status_fails(env):
    """a 2.0 answering 500 to every 4th request fails on status, the
    verdict saying so; 1.0's clients saw only 200s"""
    start(env, target=["--fail-every", "4"])
    ro, load = mirror_under(ITEMS, dict(duration=60), ("rolled_back",), 20)
    why = events("auto_rollback")[0]["message"]
    check("status" in why, "why: %s" % why)
    check(ro["mirror"]["routes"][0]["statusDiffers"] > 0, "report: %s" % ro["mirror"])
    check(not load.errors, "clients of 1.0 saw errors: %s" % load.errors[:5])


@test
def mirror_slow_fails(env):
    """a 2.0 that answers 60 ms later fails on latency (ratio 1.5 and 20 ms
    more: both exceeded)"""
    start(env, target=["--delay-ms", "60"])
    mirror_under(ITEMS, dict(duration=60), ("rolled_back",), 25)
    why = events("auto_rollback")[0]["message"]
    check("p50" in why or "p99" in why or "latency" in why, "why: %s" % why)


@test
def mirror_noise_learned(env):
    """both versions put the time of the answer in a "ts" field: the noise
    is learned by replaying samples to 1.0 too, `ts` is reported as noise,
    and the mirror passes"""
    # Bodies are what it judges: a latency limit out of reach, as one of
    # the two Python backends' p99 went to 57 ms for a second (5 ms the
    # other) in a CI run of the sanitizer build, failing the mirror on
    # latency.
    start(env, stable=["--timestamp"], target=["--timestamp"],
          analysis={"maxLatencyIncreaseMs": 1000})
    ro, load = mirror_under(ITEMS, dict(duration=3), ("completed", "aborted", "rolled_back"), 15)
    check(ro["phase"] == "completed", "phase: %s" % json.dumps(ro)[:2000])
    r = ro["mirror"]["routes"][0]
    check("ts" in r["noise"]["fields"] and r["bodiesDiffer"] == 0, "route: %s" % r)
    check(ro["mirror"]["requests"]["noiseSamples"] >= 1, "requests: %s" % ro["mirror"]["requests"])


@test
def mirror_methods(env):
    """POST is not mirrored by default (counted as skipped); with
    `"methods": ["POST"]` it is, its body byte for byte"""
    logs = start(env)
    load = Traffic(["/api/orders"], method="POST", body=b'{"n": 1}')
    load.start()
    try:
        rollout({"to": "2.0", "strategy": "mirror", "mirror": dict(MIRROR, duration=2)})
        ro = wait_phase(("completed", "aborted"), 15)
        m = ro["mirror"]["requests"]
        check(m["skipped"]["method"] > 0 and m["mirrored"] == 0, "default: %s" % m)
        check(not requests_of(logs["2.0"]), "2.0 got a POST")
        rollout({"to": "2.0", "strategy": "mirror",
                 "mirror": dict(MIRROR, duration=2, methods=["POST"])})
        ro = wait_phase(("completed", "aborted"), 15)
    finally:
        load.finish()
    check(ro["mirror"]["requests"]["compared"] > 0, "POST listed: %s" % ro["mirror"])
    got2 = requests_of(logs["2.0"])
    check(got2 and all(r.startswith(b"POST /api/orders") and r.endswith(b'{"n": 1}')
                       for r in got2), "2.0 got: %s" % got2[:2])


def raw_client(chunks, want):
    """One connection to the service: each chunk sent on its own (TCP_NODELAY,
    a pause between), then `want` responses read."""
    s = socket.create_connection(SVC, timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for c in chunks:
        s.sendall(c)
        time.sleep(0.02)
    buf = b""
    while buf.count(b"HTTP/1.1 200") < want:
        d = s.recv(65536)
        check(d, "closed after %r" % buf[-200:])
        buf += d
    s.close()


@test
def mirror_replays_exact_bytes(env):
    """requests split over several segments, three pipelined in one write,
    and one with a chunked body (POST listed) reach 2.0 exactly as 1.0
    got them: the replay is the client's bytes (noiseSamples 0, so 1.0
    gets no replay of its own)"""
    logs = start(env)
    rollout({"to": "2.0", "strategy": "mirror",
             "mirror": dict(MIRROR, duration=0, methods=["GET", "POST"],
                            compare={"noiseSamples": 0})})
    split = [b"GET /split/1 HTTP/1.1\r\nHo", b"st: a\r\nX-Long: " + b"y" * 3000, b"\r\n\r\n"]
    piped = [b"".join(b"GET /piped/%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(3))]
    chunked = [b"POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
               b"5;ext=1\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\nTrailer: t\r\n\r\n"]
    raw_client(split, 1)
    raw_client(piped, 3)
    raw_client(chunked, 1)
    want = [b"".join(split)] + [b"GET /piped/%d HTTP/1.1\r\nHost: a\r\n\r\n" % i
                                for i in range(3)] + [b"".join(chunked)]
    wait_for(lambda: len(requests_of(logs["2.0"])) >= len(want), 5,
             lambda: "5 replays; 2.0 got %s" % requests_of(logs["2.0"]))
    got = requests_of(logs["2.0"])
    check(sorted(got) == sorted(want), "2.0 got %r, want %r" % (got, want))
    # noiseSamples 0: 1.0 gets no replay, only its client's requests.
    check(requests_of(logs["1.0"]) == want, "1.0 got %r" % requests_of(logs["1.0"])[:8])


@test
def mirror_hung_target(env):
    """a 2.0 that never answers: 1.0's clients are not slowed (their median
    latency under the mirror within 3x + 5 ms of before it: loopback
    latencies of a Python backend vary that much between runs), replays
    beyond maxInFlight (8) are dropped and counted, and the mirror fails: each
    replay that times out (200 ms) is a status that differs"""
    start(env, target=["--hang"])
    before = Traffic(ITEMS)
    before.start()
    time.sleep(1)
    before.finish()
    _, load = mirror_under(ITEMS, dict(duration=60, maxInFlight=8, timeoutMs=200),
                           ("rolled_back",), 20)
    m = mirror_view()["requests"]
    check(m["dropped"]["inFlight"] > 0 and m["failed"] > 0, "requests: %s" % m)

    def median(x):
        return sorted(x)[len(x) // 2]
    check(median(load.lat) < 3 * median(before.lat) + 0.005,
          "median latency %.1f ms under the mirror, %.1f ms before" %
          (median(load.lat) * 1e3, median(before.lat) * 1e3))
    check(not load.errors, "client errors: %s" % load.errors[:5])


@test
def mirror_then_gradual(env):
    """a mirror that passes starts its `then`: a gradual rollout of 50% then
    100%, held 1 s each, which completes with 2.0 the stable version; the
    mirror's report stays in the service view (`lastMirror`), and the
    verdict that ended it counted what the report counts"""
    start(env)
    ro, _ = mirror_under(ITEMS, dict(duration=2), ("completed", "aborted", "rolled_back"), 20,
                         then={"strategy": "gradual", "analysis": False,
                               "steps": [{"weight": 50, "hold": 1}, {"weight": 100, "hold": 1}]})
    check(ro["strategy"] == "gradual" and ro["phase"] == "completed" and ro["weight"] == 100,
          "rollout: %s" % json.dumps(ro)[:1500])
    ev = events("mirror_passed")
    check(len(ev) == 1, "mirror_passed events: %s" % ev)
    # The verdict that ended it counted what the report has: the report
    # stops when the verdict is taken.
    last = service()["lastMirror"]
    judged = int(re.search(r"(\d+) requests compared", ev[0]["message"]).group(1))
    check(last["requests"]["compared"] >= 10 and
          judged == last["requests"]["compared"] and
          last["capture"]["sampled"] <= last["requests"]["seen"],
          "event %s, report %s" % (ev[0]["message"], last["requests"]))


@test
def mirror_refused(env):
    """what the API refuses, each with a 4xx naming the field, nothing
    started: a bad percent, an unknown field, a method that is not a
    token, `mirror` on another strategy, `then` without a mirror, a then
    that mirrors, a target that has weight"""
    start(env)
    cases = [
        ({"to": "2.0", "strategy": "mirror", "mirror": {"percent": 0}}, "percent"),
        ({"to": "2.0", "strategy": "mirror", "mirror": {"nope": 1}}, "nope"),
        ({"to": "2.0", "strategy": "mirror", "mirror": {"methods": ["G ET"]}}, "methods"),
        ({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 100}],
          "mirror": {"percent": 5}}, "mirror"),
        ({"to": "2.0", "strategy": "instant", "then": {"strategy": "instant"}}, "then"),
        ({"to": "2.0", "strategy": "mirror", "then": {"strategy": "mirror"}}, "then"),
    ]
    for body, word in cases:
        st, resp = api("POST", "/v1/services/default/rollout", body)
        check(400 <= st < 500 and word in resp["error"]["message"],
              "%s: %s %s" % (body, st, resp))
    st, resp = api("PUT", "/v1/services/default/weights", {"2.0": 10, "1.0": 90})
    check(st == 200, "weights: %s" % resp)
    st, resp = api("POST", "/v1/services/default/rollout", {"to": "2.0", "strategy": "mirror"})
    check(st == 409 and resp["error"]["code"] == "target_has_weight", "%s %s" % (st, resp))
    check(service()["rollout"] is None, "a rollout started: %s" % service()["rollout"])


@test
def mirror_config_restart(env):
    """the config's `"mode": "MultiVersion"` starts a mirror with its
    settings and `then` at the first start; vsteerd killed (-9) in the
    middle and started again continues it (settings, then and verdict from
    the state file; comparisons start afresh), and /metrics has its
    counters by route"""
    start(env, transition={"mode": "MultiVersion",
                           "mirror": {"percent": 100, "duration": 600, "maxPerSecond": 500,
                                      "compare": {"ignore": ["meta.id"]}},
                           "then": {"strategy": "gradual", "steps": [{"weight": 10}]}})
    ro = service()["rollout"]
    m = ro["mirror"]
    check(ro["strategy"] == "mirror" and ro["phase"] == "progressing" and
          m["settings"]["maxPerSecond"] == 500 and
          m["settings"]["compare"]["ignore"] == ["meta.id"] and
          m["then"]["strategy"] == "gradual", "from the config: %s" % json.dumps(ro)[:1500])
    kill(env.daemons[-1])
    env.vsteerd(os.path.join(env.dir, "config.json"))
    load = Traffic(ITEMS)
    load.start()
    try:
        wait_for(lambda: (mirror_view().get("requests") or {}).get("compared", 0) >= 10, 10,
                 lambda: "comparisons after the restart: %s" % mirror_view())
    finally:
        load.finish()
    after = service()["rollout"]
    check(after["mirror"]["settings"] == m["settings"] and after["mirror"]["then"] == m["then"]
          and after["startedAt"] == ro["startedAt"], "after the restart: %s" %
          json.dumps(after)[:1500])
    text = api("GET", "/metrics")[1].decode()
    for want in ('vsteer_mirror_compared_total{service="default",route="GET /api/items/{id}"}',
                 'vsteer_mirror_requests_total{service="default",outcome="mirrored"}',
                 'vsteer_mirror_verdict{service="default",verdict="pass"}'):
        check(want in text, "%s not in /metrics" % want)


@test
def mirror_credentials(env):
    """requests with an Authorization header or a cookie are not mirrored
    (counted as skipped) unless the rollout allows them; then they are"""
    logs = start(env)
    rollout({"to": "2.0", "strategy": "mirror", "mirror": dict(MIRROR, duration=0)})
    for h in ({"Authorization": "Bearer x"}, {"Cookie": "s=1"}):
        c = http.client.HTTPConnection(*SVC, timeout=5)
        c.request("GET", "/api/items/1", headers=h)
        c.getresponse().read()
        c.close()
    wait_for(lambda: mirror_view()["requests"]["skipped"]["authorization"] == 1 and
             mirror_view()["requests"]["skipped"]["cookie"] == 1, 5,
             lambda: "skipped: %s" % mirror_view()["requests"])
    check(not requests_of(logs["2.0"]), "2.0 got %s" % requests_of(logs["2.0"]))
    api("POST", "/v1/services/default/rollout/abort")
    rollout({"to": "2.0", "strategy": "mirror",
             "mirror": dict(MIRROR, duration=0, authorization=True, cookies=True)})
    for h in ({"Authorization": "Bearer x"}, {"Cookie": "s=1"}):
        c = http.client.HTTPConnection(*SVC, timeout=5)
        c.request("GET", "/api/items/1", headers=h)
        c.getresponse().read()
        c.close()
    wait_for(lambda: len(requests_of(logs["2.0"])) == 2, 5,
             lambda: "2 replays; 2.0 got %s" % requests_of(logs["2.0"]))
