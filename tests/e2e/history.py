"""A service's history for charts: GET /v1/services/{name}/history, a
sample of every version at each 5 s window (docs/api.md)."""
import threading
import time

from common import set_weights, test
from lib import api, check, versions_of, wait_for

FIELDS = ("weight", "requestsPerSecond", "latencyP50Ms", "latencyP99Ms", "errorRate",
          "openConnections")
# A window ends at the first tick (250 ms) at least 5 monotonic seconds
# after the last; a sample's time is the wall clock's second then, so two
# samples are 5 s apart, give or take the second either end falls in (and
# a tick late on a busy machine).
SPACING = (4, 6)


def history(query="", name="default"):
    st, h = api("GET", "/v1/services/%s/history%s" % (name, query))
    check(st == 200, "GET history%s: %s %s" % (query, st, h))
    n = len(h["time"])
    for v, cols in h["versions"].items():
        check(set(cols) == set(FIELDS), "%s's fields: %s" % (v, sorted(cols)))
        check(all(len(cols[f]) == n for f in FIELDS), "%s's arrays are not %d long: %s" % (v, n, cols))
    return h


def next_sample(after, what, cond=lambda h: True):
    """The history once it holds a sample after time `after`, and cond
    holds of it."""
    return wait_for(lambda: (lambda h: h["time"] and h["time"][-1] > after and cond(h) and h)(
        history()), 12, what, interval=0.1)


def at(h, v, field, i):
    return h["versions"][v][field][i]


@test
def history_of_versions(env):
    """a sample every 5 s: a version added shows null before it came, its weights
    as set, a burst of requests sent in one window as requestsPerSecond (the
    count / 5 s, or / 6 s for a window a late tick made longer) with its
    latencies, windows without requests at 0 with null latencies and error
    rate, a deleted version's column kept with nulls; ?since= gives only the
    newer samples

    1.0 alone first, then 2.0 (manual) added and weighted 25/75: the
    samples are 5 s apart (4 to 6, seconds being whole), 2.0's columns are
    null before it came and its weight 25 after; 200 new clients sent
    right after a sample show up as each version's requests per second
    in the window that holds them, exactly (count / 5 s; count / 6 s if a
    late tick made that window 6 s: the only tolerance), with latencies
    and an error rate of 0; windows with no request have rate 0 and null
    latencies. 2.0 deleted: its column stays, null from then on."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    h0 = wait_for(lambda: (lambda h: h["time"] and h)(history()), 5, "a first sample")
    check(h0["service"] == "default" and h0["interval"] == 5 and h0["keep"] == 360, "head: %s" % h0)
    check(list(h0["versions"]) == ["1.0"], "versions: %s" % list(h0["versions"]))
    check(at(h0, "1.0", "weight", -1) == 100, "1.0's weight: %s" % h0)
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                        "upgradeTransition": {"mode": "manual"}})
    check(st == 201, "PUT cluster: %s %s" % (st, c))
    set_weights(25)
    # A roll may come between the two requests: 2.0 at 0 first, then 25.
    h1 = next_sample(h0["time"][-1], "a sample with 2.0 at 25%",
                     lambda h: h["versions"].get("2.0", {}).get("weight", [None])[-1] == 25)
    t1 = h1["time"][-1]
    got = versions_of(range(200))
    sent = {v: got.count(v) for v in ("1.0", "2.0")}
    sent_by = int(time.time())
    check(all(sent.values()), "one version got nothing: %s" % sent)
    # Until the window that ended the burst has closed (a sample after it)
    # and one more, without requests, has too.
    h = wait_for(lambda: (lambda h: len([t for t in h["time"] if t > t1]) >= 2
                          and h["time"][-2] > sent_by and h)(history()), 16,
                 "two samples after the burst", interval=0.2)
    times = h["time"]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(SPACING[0] <= g <= SPACING[1] for g in gaps), "samples not 5 s apart: %s" % times)
    i1 = times.index(t1)
    for f in FIELDS:
        check(all(x is None for x in h["versions"]["2.0"][f][:times.index(h0["time"][-1]) + 1]),
              "2.0's %s before it came: %s" % (f, h["versions"]["2.0"][f]))
    check(at(h, "2.0", "weight", i1) == 25 and at(h, "1.0", "weight", i1) == 75,
          "weights at %d: %s" % (t1, h))
    # The first sample 2.0 is in begins its first whole window.
    first = [w is not None for w in h["versions"]["2.0"]["weight"]].index(True)
    check(h["versions"]["2.0"]["weight"][first] in (0, 25), "2.0's first weight: %s" % h)
    check(at(h, "2.0", "requestsPerSecond", first) is None, "2.0's partial first window measured")
    for v, n in sent.items():
        rates = h["versions"][v]["requestsPerSecond"][i1 + 1:]
        lat = h["versions"][v]["latencyP50Ms"][i1 + 1:]
        busy = [i for i, r in enumerate(rates) if r]
        print("%s: %d sent, rates after %d: %s, p50 %s" % (v, n, t1, rates, lat))
        check(len(busy) == 1, "%s's burst in %d windows: %s" % (v, len(busy), rates))
        r = rates[busy[0]]
        check(abs(r - n / 5) < 1e-9 or abs(r - n / 6) < 1e-9,
              "%s: %s requests per second for %d requests in 5 s" % (v, r, n))
        check(lat[busy[0]] is not None and lat[busy[0]] > 0
              and h["versions"][v]["latencyP99Ms"][i1 + 1 + busy[0]] >= lat[busy[0]],
              "%s's latencies: %s" % (v, h["versions"][v]))
        check(h["versions"][v]["errorRate"][i1 + 1 + busy[0]] == 0, "%s's error rate" % v)
        quiet = [i1 + 1 + i for i, r in enumerate(rates) if i != busy[0]]
        check(all(h["versions"][v]["requestsPerSecond"][i] == 0 for i in quiet)
              and all(h["versions"][v]["latencyP50Ms"][i] is None for i in quiet)
              and all(h["versions"][v]["errorRate"][i] is None for i in quiet),
              "%s's windows without requests: %s" % (v, h["versions"][v]))
        check(all(x is not None and x >= 0 for x in h["versions"][v]["openConnections"][i1:]),
              "%s's open connections: %s" % (v, h["versions"][v]["openConnections"]))
    # ?since=: only the samples after it, every array as long.
    newer = history("?since=%d" % times[-2])
    check(newer["time"] == times[-1:] or newer["time"][:1] == times[-1:],
          "since %d: %s, had %s" % (times[-2], newer["time"], times))
    check(history("?since=%d" % (times[-1] + 3600))["time"] == [], "since in the future")
    check(history("?since=0")["time"][:len(times)] == times, "since=0 is everything")
    # 2.0 deleted: its column stays, absent from the next sample on.
    set_weights(0)
    st, body = api("DELETE", "/v1/clusters/" + c["id"] + "?force=true")
    check(st == 200, "DELETE 2.0: %s %s" % (st, body))
    h = next_sample(history()["time"][-1], "a sample without 2.0")
    check("2.0" in h["versions"] and all(h["versions"]["2.0"][f][-1] is None for f in FIELDS),
          "2.0 deleted: %s" % {f: h["versions"].get("2.0", {}).get(f, [])[-2:] for f in FIELDS})
    check(at(h, "1.0", "weight", -1) == 100, "1.0's weight: %s" % h["versions"]["1.0"]["weight"])


@test
def history_refusals(env):
    """?since= not a whole number, negative, 10^15 or more, or given twice: 400
    bad_field; another parameter 400; a body 400 unexpected_body; an unknown
    service, odd names included, 404; the history of a service deleted goes;
    readers while it is deleted and added again, over a roll, get whole replies

    Refusals of GET /v1/services/{name}/history, and a service deleted
    and added again under the same name starting with no history."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    path = "/v1/services/default/history"
    for q in ("since=-1", "since=abc", "since=1.5", "since=", "since", "since=1e9",
              "since=1000000000000000", "since=1&since=2", "since=%2D1"):
        st, body = api("GET", path + "?" + q)
        check(st == 400 and body["error"]["code"] == "bad_field", "?%s: %s %s" % (q, st, body))
    st, body = api("GET", path + "?wait=5")
    check(st == 400 and body["error"]["code"] == "unknown_field", "?wait: %s %s" % (st, body))
    st, body = api("GET", path, raw="{}")
    check(st == 400 and body["error"]["code"] == "unexpected_body", "a body: %s %s" % (st, body))
    # A name is any bytes the path decodes to: the message shows them
    # printable, or jansson would refuse it and there would be no reply.
    for name in ("nope", "a%20b", "%2e%2e", "x" * 63, "%C3%A9", "%ff%fe", "%C3" * 63, "default%00"):
        st, body = api("GET", "/v1/services/%s/history" % name)
        want = "not_found" if "%00" in name else "unknown_service"
        check(st == 404 and isinstance(body, dict) and body["error"]["code"] == want,
              "%s: %s %s" % (name, st, body))
    for method in ("PUT", "POST", "DELETE"):
        st, body = api(method, path)
        check(st == 405, "%s: %s %s" % (method, st, body))
    # The first tick takes a sample at once.
    wait_for(lambda: history()["time"], 5, "a first sample")
    st, body = api("DELETE", "/v1/services/default?force=true")
    check(st == 200, "DELETE service: %s %s" % (st, body))
    st, body = api("GET", path)
    check(st == 404 and body["error"]["code"] == "unknown_service", "deleted: %s %s" % (st, body))
    st, body = api("POST", "/v1/services", {"name": "default", "address": "127.0.0.1",
                                         "port": 8080})
    check(st == 201, "POST service: %s %s" % (st, body))
    h = history()
    check(h["versions"] == {} and len(h["time"]) <= 1, "a new service's history: %s" % h)
    churn_while_reading(path)


def churn_while_reading(path, seconds=6):
    """Readers of the history while the service is deleted and added again
    with a version, over a roll or more: every reply is whole, 200 with
    arrays as long as its times or 404 (the GET copies the history under
    the controller's lock, as the other views take their snapshot)."""
    stop, bad, reads = threading.Event(), [], [0]

    def reader():
        while not stop.is_set():
            st, h = api("GET", path)
            reads[0] += 1
            if st == 404 and isinstance(h, dict) and h["error"]["code"] == "unknown_service":
                continue
            ok = st == 200 and isinstance(h, dict) and all(
                len(c[f]) == len(h["time"]) for c in h["versions"].values() for f in FIELDS)
            if not ok:
                bad.append((st, h))
    threads = [threading.Thread(target=reader, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    end, rounds = time.monotonic() + seconds, 0
    try:
        while time.monotonic() < end:
            for method, p, body, want in (
                    ("DELETE", "/v1/services/default?force=true", None, 200),
                    ("POST", "/v1/services", {"name": "default", "address": "127.0.0.1",
                                              "port": 8080}, 201),
                    ("PUT", "/v1/clusters", {"version": "1.0", "servers": ["127.0.0.1:9001"]}, 201)):
                st, r = api(method, p, body)
                check(st == want, "%s %s: %s %s" % (method, p, st, r))
            rounds += 1
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    print("%d reads during %d deletes and adds" % (reads[0], rounds))
    check(not bad, "%d bad replies: %s" % (len(bad), bad[:2]))
