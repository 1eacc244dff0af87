"""Events and logs: every change an event with an id, a time, a kind, a
level and a sentence; each one a log line; followed with ?since=&wait=;
kept across restarts; journald priorities."""
import http.client
import io
import json
import os
import re
import select
import signal
import socket
import threading
import time

from common import set_weights, test, two_versions
from lib import API, api, check, kill, wait_for

RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
LEVELS = {"cluster_added": "notice", "cluster_deleted": "notice", "weights_set": "notice",
          "backend_down": "warning", "backend_up": "notice", "started": "notice",
          "completed": "notice"}
# How late a follower may return after the change that made the event: the
# reply goes out when the change commits, so this is the time to resume a
# suspended connection and answer it, on a busy 2-core machine.
FOLLOW_LATENCY = 0.1


def events(**query):
    q = "&".join("%s=%s" % kv for kv in query.items())
    st, body = api("GET", "/v1/events" + ("?" + q if q else ""))
    check(st == 200, "GET /v1/events?%s: %s %s" % (q, st, body))
    return body


def new_events(since):
    return events(since=since)["events"]


def wait_event(kind, since, what):
    """The first event of kind after since, waiting for it."""
    found = []
    wait_for(lambda: found.extend(e for e in new_events(since) if e["kind"] == kind) or found, 5,
             what)
    return found[0]


def log_lines(env):
    with open(os.path.join(env.dir, "vsteerd.log"), errors="replace") as f:
        return f.read().splitlines()


class Follower(threading.Thread):
    """GET /v1/events?since=..&wait=.. in a thread: what it got and when."""

    def __init__(self, since, wait, source=None):
        super().__init__(daemon=True)
        self.q = "/v1/events?since=%d&wait=%d" % (since, wait)
        self.source = source
        self.result = None
        self.done_at = None

    def run(self):
        try:
            self.result = api("GET", self.q, source=self.source)
        except OSError as e:
            self.result = (None, str(e))
        self.done_at = time.monotonic()


class Followers:
    """Many GET /v1/events?since=..&wait=.. at once, from one thread: each
    reply's time is when select() first saw it readable. (A thread per
    follower measured Python instead: 32 threads woken together take the
    GIL in turns of up to 5 ms, and the last one "returned" 0.144 s after
    vsteerd had answered them all.)"""

    def __init__(self, since, wait, sources):
        self.pending = {}
        self.done = []  # (time, status, parsed body), in the order they came
        req = ("GET /v1/events?since=%d&wait=%d HTTP/1.1\r\nHost: %s:%d\r\n"
               "Connection: close\r\n\r\n" % (since, wait, API[0], API[1])).encode()
        for src in sources:
            s = socket.create_connection(API, timeout=5, source_address=(src, 0))
            s.sendall(req)
            self.pending[s] = [None, b""]

    def pump(self, until, timeout, what):
        """Reads replies until until() is true, for at most timeout seconds."""
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            check(left > 0 and self.pending, "%s: %d replies in %d s" % (what, len(self.done), timeout))
            ready, _, _ = select.select(list(self.pending), [], [], left)
            now = time.monotonic()
            for s in ready:
                got = self.pending[s]
                chunk = s.recv(65536)
                got[0] = got[0] or now
                if chunk:
                    got[1] += chunk
                    continue
                s.close()
                del self.pending[s]
                self.done.append((got[0],) + self._parse(got[1]))

    @staticmethod
    def _parse(data):
        class Canned:
            def makefile(self, mode):
                return io.BytesIO(data)
        r = http.client.HTTPResponse(Canned())
        r.begin()
        return r.status, json.loads(r.read())


@test
def events_every_change(env):
    """a cluster added, weights set, a version's process killed and started
    again (seen by the kernel scan, no health checks), and a cluster deleted
    are each one event, numbered one apart, with an RFC 3339 time, its kind,
    its level and a sentence naming the values; each is one log line with
    the time, the level and "(kind, event N)\""""
    env.backend("1.0", "127.0.0.1:9001")
    p2 = env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    last = events()["last"]
    st, body = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                           "upgradeTransition": {"mode": "manual"}})
    check(st == 201, "PUT cluster: %s %s" % (st, body))
    id2 = body["id"]
    set_weights(30)
    kill(p2)
    down = wait_event("backend_down", last, "backend_down after the kill")
    env.backend("2.0", "127.0.0.1:9002")
    wait_event("backend_up", down["id"], "backend_up after the restart")
    set_weights(0)
    st, body = api("DELETE", "/v1/clusters/" + id2)
    check(st == 200, "DELETE: %s %s" % (st, body))
    got = new_events(last)
    kinds = [e["kind"] for e in got]
    check(kinds == ["cluster_added", "weights_set", "backend_down", "backend_up", "weights_set",
                    "cluster_deleted"], "kinds, oldest first: %s" % kinds)
    check([e["id"] for e in got] == list(range(last + 1, last + 7)), "ids: %s" % got)
    want = ["version 2.0 added as cluster %s (manual, 1 server)" % id2,
            "weights set: 2.0 30.00%, 1.0 70.00%",
            "nothing listens on 127.0.0.1:9002 of 2.0 any more",
            "127.0.0.1:9002 of 2.0 listens again",
            "weights set: 2.0 0.00%, 1.0 100.00%",
            "version 2.0 deleted (cluster %s)" % id2]
    lines = log_lines(env)
    for e, text in zip(got, want):
        check(re.fullmatch(RFC3339, e["time"]) and e["service"] == "default"
              and e["level"] == LEVELS[e["kind"]] and e["message"].startswith(text),
              "event %s, want %r" % (e, text))
        pattern = r"%s vsteerd %s: service default: %s \(%s, event %d\)" % (
            RFC3339.replace(r"\dZ", r"\d\.\d{3}Z"), e["level"], re.escape(e["message"]),
            e["kind"], e["id"])
        n = sum(1 for ln in lines if re.fullmatch(pattern, ln))
        check(n == 1, "event %d logged %d times, want once as %s" % (e["id"], n, pattern))
    check(events()["events"][0] == got[-1], "newest first without since")


@test
def events_follow(env):
    """GET /v1/events?since=ID&wait=S returns within 100 ms of the next
    event, and an empty list after S seconds when there is none; since=0
    gives every event oldest first; wait over 60, wait without since, since
    after the newest event and a since that is not a number are 400s"""
    two_versions(env, "manual")
    last = events()["last"]
    f = Follower(last, 10)
    f.start()
    f.join(0.3)
    check(f.is_alive(), "a follower returned with nothing to follow: %s" % (f.result,))
    set_weights(40)
    changed = time.monotonic()
    f.join(5)
    check(f.done_at is not None, "the follower did not return after the change")
    late = f.done_at - changed
    st, body = f.result
    check(st == 200 and [e["kind"] for e in body["events"]] == ["weights_set"]
          and body["last"] == last + 1 and body["missed"] == 0, "follower got %s %s" % (st, body))
    check(late <= FOLLOW_LATENCY, "the follower returned %.3f s after the change" % late)

    t0 = time.monotonic()
    body = events(since=last + 1, wait=1)
    took = time.monotonic() - t0
    check(body["events"] == [] and body["last"] == last + 1, "nothing to follow: %s" % body)
    # The deadline thread wakes at the deadline; allow a loaded machine 1 s.
    check(1.0 <= took <= 2.0, "wait=1 returned after %.2f s" % took)

    every = events(since=0)
    ids = [e["id"] for e in every["events"]]
    check(ids == sorted(ids) and ids[-1] == last + 1 and every["missed"] == 0,
          "since=0: %s" % every)
    for q, named in (("since=1&wait=61", "60 seconds"), ("wait=5", "needs 'since'"),
                     ("since=%d" % (last + 5), "after the newest event, %d" % (last + 1)),
                     ("since=abc", "whole number"), ("since=-1", "whole number"),
                     ("since=1&wait=1.5", "whole number")):
        st, body = api("GET", "/v1/events?" + q)
        check(st == 400 and body["error"]["code"] == "bad_field" and named in body["error"]["message"],
              "?%s: %s %s" % (q, st, body))


@test
def events_many_followers(env):
    """40 followers from 40 addresses: 32 wait and all return within 100 ms
    of the next event, the 8 over the limit get an empty reply at once, and
    an ordinary request meanwhile is answered at once; SIGTERM with
    followers waiting answers them and vsteerd exits"""
    two_versions(env, "manual")
    last = events()["last"]
    fs = Followers(last, 30, ["127.0.3.%d" % (i + 1) for i in range(40)])
    fs.pump(lambda: len(fs.done) >= 8, 5, "8 followers answered at once")
    early = list(fs.done)
    check(len(early) == 8 and all(st == 200 and body["events"] == [] for _, st, body in early),
          "over the limit: %s" % [r[1:] for r in early])
    t0 = time.monotonic()
    check(api("GET", "/v1/services")[0] == 200, "GET /v1/services")
    check(time.monotonic() - t0 < 1, "a request took %.2f s with 32 followers" % (time.monotonic() - t0))
    check(len(fs.pending) == 32, "%d followers still waiting, want 32" % len(fs.pending))
    set_weights(20)
    changed = time.monotonic()
    fs.pump(lambda: not fs.pending, 5, "32 followers after the change")
    waiting = fs.done[8:]
    late = max(at - changed for at, _, _ in waiting)
    check(all(st == 200 and body["events"][0]["kind"] == "weights_set" for _, st, body in waiting),
          "followers got %s" % [r[1:] for r in waiting][:3])
    print("the last of %d followers returned %.3f s after the change" % (len(waiting), late))
    check(late <= FOLLOW_LATENCY, "the last follower returned %.3f s after the change" % late)

    fs = [Follower(last + 1, 30, source="127.0.4.%d" % (i + 1)) for i in range(4)]
    for f in fs:
        f.start()
    f.join(0.3)
    check(all(f.done_at is None for f in fs), "followers returned with nothing to follow")
    d = env.daemons[-1]
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=10)
    for f in fs:
        f.join(5)
    check(all(f.result and f.result[0] == 200 and f.result[1]["events"] == [] for f in fs),
          "followers at stop got %s" % [f.result for f in fs])


@test
def events_survive_restart(env):
    """events are in the state file: after a restart they are all still
    there with their ids, times and messages, and the next one is numbered
    after them"""
    two_versions(env, "manual")
    set_weights(10)
    before = events()
    check(len(before["events"]) >= 2, "events: %s" % before)
    d = env.daemons[-1]
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=10)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    after = events()
    # The restart's own, numbered after them: 2.0, registered over the
    # API, is not in the config (a config_differs warning), and what the
    # config read at start did (tests/e2e/services.py).
    new = after["events"][:len(after["events"]) - len(before["events"])]
    check(after["events"][len(new):] == before["events"]
          and [(e["id"], e["kind"]) for e in new] == [(before["last"] + 2, "reloaded"),
                                                      (before["last"] + 1, "config_differs")],
          "after the restart: %s\nbefore: %s" % (after, before))
    set_weights(20)
    check(events()["events"][0]["id"] == after["last"] + 1, "next id: %s" % events()["events"][0])


@test
def log_journal_priorities(env):
    """with JOURNAL_STREAM naming its stderr, every log line starts with its
    sd-daemon priority (<4> warning, <5> notice, <6> info) and no time;
    --log-level warning leaves out notices and keeps warnings"""
    _, p2, _ = two_versions(env, "manual")
    d = env.daemons[-1]
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=10)
    os.truncate(os.path.join(env.dir, "vsteerd.log"), 0)
    cfg = env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}])
    env.vsteerd(cfg, journal=True)
    last = events()["last"]
    set_weights(50)
    kill(p2)
    wait_event("backend_down", last, "backend_down")
    lines = log_lines(env)
    bad = [ln for ln in lines if not re.match(r"<[3-7]>(error|warning|notice|info|debug): ", ln)]
    check(lines and not bad, "lines without a priority: %s" % bad[:5])
    for prio, text in (("<6>info: ", "API on http://%s:%d" % API), ("<5>notice: ", "weights set"),
                       ("<4>warning: ", "nothing listens on 127.0.0.1:9002")):
        check(any(ln.startswith(prio) and text in ln for ln in lines),
              "no %s line with %r in:\n%s" % (prio, text, "\n".join(lines)))

    d = env.daemons[-1]
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=10)
    os.truncate(os.path.join(env.dir, "vsteerd.log"), 0)
    p2 = env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(cfg, args=["--log-level", "warning"])
    last = events()["last"]
    set_weights(10)
    kill(p2)
    wait_event("backend_down", last, "backend_down")
    text = "\n".join(log_lines(env))
    check("weights set" not in text and "API on" not in text, "notices and info logged:\n" + text)
    check("warning: service default: nothing listens on 127.0.0.1:9002" in text,
          "the warning is missing:\n" + text)
