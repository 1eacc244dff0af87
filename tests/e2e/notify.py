"""Notifications: events POSTed to webhooks (the daemon's and a service's)
from a queue of their own, retried, counted when they fail; a slow or dead
receiver delays nothing; approval_needed when a step waits for promote."""
import http.server
import json
import os
import re
import signal
import socket
import threading
import time

from common import Load, control, rollout, set_weights, test
from lib import api, check, run_vsteerd, service, wait_for

HOOK = ("127.0.0.1", 9500)     # a receiver in the test's own namespace
HANG = ("127.0.0.1", 9501)     # accepts and never answers
REFUSED = ("127.0.0.1", 9502)  # nothing listens: connections refused
# The API's answer while deliveries are pending: the notifier never takes
# the controller's lock to send, so an answer is as quick as without
# webhooks (a few ms); 100 ms is what the issue asks, on a busy 2-core
# machine.
API_LATENCY = 0.1
TOKEN = "Bearer s3cret-token"


class Receiver(threading.Thread):
    """An HTTP server on addr that records each POST: its path, headers and
    JSON body; answers `status` (200 by default)."""

    def __init__(self, addr=HOOK, status=200):
        super().__init__(daemon=True)
        self.got, self.status = [], status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.got.append({"path": self.path, "headers": dict(self.headers),
                                  "body": json.loads(body)})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(addr, Handler)

    def run(self):
        self.server.serve_forever(poll_interval=0.05)

    def kinds(self, path=None):
        return [g["body"]["kind"] for g in self.got if path is None or g["path"] == path]


def hook(path, **extra):
    t = {"url": "http://%s:%d%s" % (HOOK[0], HOOK[1], path)}
    t.update(extra)
    return t


def metric(name):
    text = api("GET", "/metrics")[1].decode()
    m = re.search(r"^%s (\d+)$" % name, text, re.M)
    check(m, "%s not in /metrics" % name)
    return int(m.group(1))


def events_of(kind):
    return [e for e in api("GET", "/v1/events")[1]["events"] if e["kind"] == kind]


def two_backends(env, *v2_args):
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", *v2_args)
    return [{"version": "1.0", "servers": ["127.0.0.1:9001"]},
            {"version": "2.0", "servers": ["127.0.0.1:9002"],
             "upgradeTransition": {"mode": "manual"}}]


@test
def notify_rollback_delivered(env):
    """a gradual rollout whose target answers 503 is rolled back, and the
    daemon's webhook (events started, step, auto_rollback, with an
    Authorization header) gets exactly those three, each POSTed as JSON
    with `Content-Type: application/json`, the header, a `vsteerd/`
    User-Agent and the event's id, time, service, kind, level and message
    as `GET /v1/events` shows them; the service's webhook (all kinds) gets
    each of the service's events once, `approval_needed` and
    `analysis_failed` among them; `vsteer_notifications_sent_total` counts
    them and nothing failed"""
    rx = Receiver()
    rx.start()
    clusters = two_backends(env, "--status", "503")
    env.vsteerd(env.config(clusters, {
        "proxy": {"address": "127.0.0.1", "port": 8080, "protocol": "http",
                  "notifications": [hook("/svc")]},
        "notifications": [hook("/all", events=["started", "step", "auto_rollback"],
                               headers={"Authorization": TOKEN})]}))
    rollout({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 50}],
             "analysis": {"interval": 1, "minRequests": 10, "failureLimit": 2}})
    load = Load()
    load.start()
    try:
        wait_for(lambda: service()["rollout"]["phase"] == "rolled_back", 20, "auto rollback",
                 interval=0.05)
    finally:
        load.finish()
    evs = {e["id"]: e for e in api("GET", "/v1/events?since=0")[1]["events"]}
    svc_ids = sorted(i for i, e in evs.items() if e["service"] == "default")
    wait_for(lambda: len(rx.kinds("/svc")) == len(svc_ids) and len(rx.kinds("/all")) == 3, 5,
             "deliveries: %s" % rx.kinds())
    time.sleep(0.3)  # nothing more arrives: nothing was sent twice
    daemon = sorted((g for g in rx.got if g["path"] == "/all"), key=lambda g: g["body"]["id"])
    check([g["body"]["kind"] for g in daemon] == ["started", "step", "auto_rollback"],
          "daemon webhook got %s" % [g["body"]["kind"] for g in daemon])
    for g in rx.got:
        b, h = g["body"], g["headers"]
        check(b == evs[b["id"]], "POSTed %s, GET /v1/events shows %s" % (b, evs.get(b["id"])))
        check(h.get("Content-Type") == "application/json", "Content-Type %r" % h.get("Content-Type"))
        check(h.get("User-Agent", "").startswith("vsteerd/"), "User-Agent %r" % h.get("User-Agent"))
        check((h.get("Authorization") == TOKEN) == (g["path"] == "/all"),
              "%s: Authorization %r" % (g["path"], h.get("Authorization")))
    b = daemon[2]["body"]
    check(b["service"] == "default" and b["level"] == "warning"
          and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", b["time"])
          and "2.0 rolled back to 1.0: error rate" in b["message"], "auto_rollback: %s" % b)
    got = sorted(g["body"]["id"] for g in rx.got if g["path"] == "/svc")
    check(got == svc_ids, "service webhook got ids %s, the service's events are %s"
          % (got, svc_ids))
    kinds = rx.kinds("/svc")
    check({"approval_needed", "analysis_failed", "auto_rollback"} <= set(kinds),
          "service webhook got %s" % kinds)
    check(metric("vsteer_notifications_sent_total") == len(rx.got)
          and metric("vsteer_notifications_failed_total") == 0,
          "sent %d failed %d, received %d" % (metric("vsteer_notifications_sent_total"),
                                             metric("vsteer_notifications_failed_total"),
                                             len(rx.got)))


class Hang(threading.Thread):
    """Accepts connections on addr and never answers; counts them."""

    def __init__(self, addr=HANG):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(addr)
        self.sock.listen(64)
        self.conns = []

    def run(self):
        while True:
            c, _ = self.sock.accept()
            self.conns.append(c)


@test
def notify_dead_receivers(env):
    """with a daemon webhook that hangs (accepts, never answers; timeoutMs
    300) and one that refuses connections, 10 `PUT weights` and 10
    `GET /v1/services` each answer within 100 ms while 20 deliveries are
    pending; each delivery is tried 4 times (the hanging receiver sees 40
    connections), then `vsteer_notifications_failed_total` counts all 20
    (within 5.5 s: 0.5 + 1 + 2 s of backoff and 4 timeouts) and the log
    names the URL and why; SIGTERM with deliveries pending exits within
    NOTIFIER_STOP_MS (2 s) plus 1.5 s, counting them as not made"""
    hang = Hang()
    hang.start()
    clusters = two_backends(env)
    env.vsteerd(env.config(clusters, {"notifications": [
        {"url": "http://%s:%d/hook" % HANG, "events": ["weights_set"], "timeoutMs": 300},
        {"url": "http://%s:%d/hook" % REFUSED, "events": ["weights_set"]}]}))
    slowest = 0
    t_first = time.monotonic()
    for i in range(10):
        for method, path, body in (("PUT", "/v1/services/default/weights",
                                    {"2.0": 10 * ((i + 1) % 2), "1.0": 100 - 10 * ((i + 1) % 2)}),
                                   ("GET", "/v1/services", None)):
            t0 = time.monotonic()
            st, resp = api(method, path, body)
            took = time.monotonic() - t0
            check(st == 200, "%s %s: %s %s" % (method, path, st, resp))
            slowest = max(slowest, took)
            check(took < API_LATENCY, "%s %s took %.0f ms with deliveries pending"
                  % (method, path, took * 1000))
    print("slowest API answer %.1f ms" % (slowest * 1000))
    check(metric("vsteer_notifications_queued") > 0, "nothing pending")
    wait_for(lambda: metric("vsteer_notifications_failed_total") == 20, 8,
             "20 failed deliveries", interval=0.1)
    took = time.monotonic() - t_first
    print("all 20 failed after %.1f s" % took)
    check(took < 7, "failed after %.1f s" % took)
    check(len(hang.conns) == 40, "the hanging receiver saw %d connections, not 4 per delivery"
          % len(hang.conns))
    check(metric("vsteer_notifications_queued") == 0 and
          metric("vsteer_notifications_sent_total") == 0, "queued or sent after failing")
    log = env.vsteerd_log()
    for url, why in (("http://%s:%d/hook" % HANG, "Timeout"),
                     ("http://%s:%d/hook" % REFUSED, "connect")):
        check(re.search(r"event \d+ \(weights_set\) not delivered to %s: [^\n]*%s[^\n]*4 attempts"
                        % (re.escape(url), why), log, re.I), "no log line for %s:\n%s" % (url, log))
    # Stopping with deliveries pending does not wait for them.
    set_weights(50)
    p = env.daemons[-1]
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    took = time.monotonic() - t0
    print("stopped in %.2f s with deliveries pending" % took)
    check(took < 3.5, "SIGTERM took %.1f s with deliveries pending" % took)
    check("2 deliveries were not made before vsteerd stopped" in env.vsteerd_log(),
          "stop did not count them:\n" + env.vsteerd_log())


@test
def notify_approval_needed(env):
    """with a fake clock, a gradual rollout's step without a hold sends one
    `approval_needed` (its message naming the step and
    `POST /v1/services/default/rollout/promote`) when it begins, not again
    on later ticks, a pause and resume, or a restart; the service's
    notifications are in the state file: after a restart without the
    config the view still lists them (the header's value hidden) and the
    promote's events are delivered; a restart with a config that changes
    them takes the config's"""
    rx = Receiver()
    rx.start()
    env.fake_clock()
    clusters = two_backends(env)
    cfg = env.config(clusters, {"proxy": {
        "address": "127.0.0.1", "port": 8080,
        "notifications": [hook("/svc", events=["approval_needed", "completed"],
                               headers={"X-Token": "abc"})]}})
    p = env.vsteerd(cfg)
    # Not judged: with no traffic its windows would be inconclusive, and
    # the hold would not end on the clock alone.
    rollout({"to": "2.0", "strategy": "gradual", "analysis": False,
             "steps": [{"weight": 10, "hold": 60}, {"weight": 50}, {"weight": 100}]})
    check(not events_of("approval_needed"), "approval_needed before the step that waits")
    env.set_clock(env.now + 60)
    ev = wait_for(lambda: events_of("approval_needed"), 5, "approval_needed")
    check(len(ev) == 1 and ev[0]["level"] == "notice" and ev[0]["message"] ==
          "step 2 of 3 (2.0 at 50.00%) waits for approval: "
          "POST /v1/services/default/rollout/promote goes on to 100.00%", "event: %s" % ev)
    wait_for(lambda: rx.kinds() == ["approval_needed"], 5, "approval_needed delivered")
    check(rx.got[0]["body"] == ev[0], "delivered %s" % rx.got[0]["body"])
    env.set_clock(env.now + 3600)
    control("pause")
    control("resume")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    # Without the config: the state file's notifications.
    p = env.vsteerd()
    env.set_clock(env.now + 60)
    time.sleep(0.6)  # a few ticks: nothing new to ask
    check(len(events_of("approval_needed")) == 1, "approval_needed again: %s"
          % events_of("approval_needed"))
    n = service()["notifications"]
    check(n == [{"url": "http://127.0.0.1:9500/svc", "events": ["approval_needed", "completed"],
                 "headers": {"X-Token": "(hidden)"}, "timeoutMs": 5000}], "view: %s" % n)
    control("promote")
    wait_for(lambda: rx.kinds() == ["approval_needed", "completed"], 5,
             "completed delivered after the restart: %s" % rx.kinds())
    check(rx.got[1]["headers"].get("X-Token") == "abc", "header after the restart: %s"
          % rx.got[1]["headers"])
    # With a config that changes them: the config's.
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    with open(cfg) as f:
        c = json.load(f)
    c["proxy"]["notifications"] = [hook("/other")]
    with open(cfg, "w") as f:
        json.dump(c, f)
    env.vsteerd(cfg)
    n = service()["notifications"]
    check(len(n) == 1 and n[0]["url"].endswith("/other") and n[0]["events"] == ["*"],
          "view after a restart with a changed config: %s" % n)


@test
def notify_bad_config(env):
    """15 hostile `notifications` (an ftp URL, credentials in the URL, a
    space, a 300-byte URL, a header value with CR LF, a header name with a
    colon, a `Content-Type` header, a header twice in other case, an
    unknown kind, an empty kind list, 5 targets, 9 headers, an unknown
    field, timeoutMs 5, not a list) at the top level, in `proxy` or in
    `services[0]` stop vsteerd with exit 1 and a message naming the file
    and the field; nothing is pinned"""
    good = {"url": "http://127.0.0.1:9500/x"}
    cases = [
        ([{"url": "ftp://127.0.0.1/x"}], "notifications[0].url: must start with http://"),
        ([{"url": "http://user:pw@127.0.0.1/x"}], "notifications[0].url: must not carry credentials"),
        ([{"url": "http://127.0.0.1/a b"}], "notifications[0].url: must be printable ASCII"),
        ([{"url": "http://127.0.0.1/" + "a" * 300}], "notifications[0].url: must be under 256"),
        ([good, {"url": "https://x/", "headers": {"Authorization": "Bearer x\r\nX-Evil: 1"}}],
         "notifications[1].headers.Authorization: must be a string of printable ASCII"),
        ([{"url": "http://x/", "headers": {"X-A:b": "1"}}],
         "notifications[0].headers: 'X-A:b' is not a header name"),
        ([{"url": "http://x/", "headers": {"content-type": "text/plain"}}],
         "notifications[0].headers.content-type: set by vsteerd"),
        ([{"url": "http://x/", "headers": {"X-A": "1", "x-a": "2"}}],
         "notifications[0].headers.x-a: given twice"),
        ([{"url": "http://x/", "events": ["started", "explode"]}],
         "notifications[0].events[1]: 'explode' is not an event kind"),
        ([{"url": "http://x/", "events": []}], "notifications[0].events: must be a non-empty list"),
        ([good] * 5, "notifications: at most 4 targets"),
        ([{"url": "http://x/", "headers": {"X-%d" % i: "v" for i in range(9)}}],
         "notifications[0].headers: at most 8 headers"),
        ([{"url": "http://x/", "method": "GET"}], "notifications[0]: unknown field 'method'"),
        ([{"url": "http://x/", "timeoutMs": 5}], "notifications[0].timeoutMs: must be a whole number"),
        ({"url": "http://x/"}, "notifications: must be a list"),
    ]
    path = os.path.join(env.dir, "bad.json")
    for i, (value, want) in enumerate(cases):
        where = i % 3
        cfg = {"configService": {"address": "127.0.0.1", "port": 9900}}
        svc = {"address": "127.0.0.1", "port": 8080}
        if where == 0:
            cfg.update({"proxy": svc, "notifications": value})
        elif where == 1:
            cfg["proxy"] = dict(svc, notifications=value)
            want = "proxy." + want
        else:
            cfg["services"] = [dict(svc, name="web", notifications=value)]
            want = "services[0]." + want
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = run_vsteerd(["-c", path, "--pin-dir", env.pin_dir, "--state", env.state])
        check(r.returncode == 1, "started with %s: %s" % (value, r.stderr))
        check(want in r.stderr and path in r.stderr, "error does not say %r and name %s: %s"
              % (want, path, r.stderr))
    check(not os.path.exists(env.pin_dir), "a failed start left pins behind")
