"""Rollouts judged by default: an instant switch against the stable version's
baseline and absolute limits, `"analysis": false`, inconclusive windows that
pause, rollback after abort."""
import re
import time

from common import Load, control, rollout, test, two_versions
from lib import SVC, api, check, kill, service, versions_of, wait_for, wait_ticks

# docs/watching.md's table of the built-in settings.
DEFAULTS = {"interval": 5, "minRequests": 20, "maxLatencyRatio": 1.5, "maxLatencyIncreaseMs": 20,
            "maxSizeDeviation": 0.5, "maxErrorRateIncrease": 0.01, "maxErrorRate": None,
            "maxLatencyP99Ms": None, "failureLimit": 3, "maxInconclusive": 12,
            "onInconclusive": "pause"}
# Short windows so that a test takes seconds: the service's settings, in
# the config; no request below gives any.
FAST = {"interval": 1, "minRequests": 10}


def http_service(env, analysis=None):
    """1.0 from the config of an `http` service (5xx counted) with these
    analysis settings (None: none given)."""
    proxy = {"address": SVC[0], "port": SVC[1], "protocol": "http"}
    if analysis is not None:
        proxy["analysis"] = analysis
    return env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}], {"proxy": proxy})


def events(kind):
    return [e for e in api("GET", "/v1/events")[1]["events"] if e["kind"] == kind]


def put_v2(body=None):
    st, c = api("PUT", "/v1/clusters", dict({"version": "2.0", "servers": ["127.0.0.1:9002"]},
                                            **(body or {})))
    check(st == 201, "PUT 2.0: %s %s" % (st, c))
    return c


def rolled_back_within(load, limit, timeout):
    """Under load, the rollout is rolled back, after at most limit judged
    windows; the auto_rollback event's detail."""
    t0 = time.monotonic()
    try:
        wait_for(lambda: service()["rollout"]["phase"] == "rolled_back", timeout,
                 lambda: "rolled_back; rollout %s" % service()["rollout"], interval=0.05)
    finally:
        load.finish()
    ro = service()["rollout"]
    print("rolled back after %.1f s, %d windows" % (time.monotonic() - t0,
                                                      ro["analysis"]["windows"]))
    check(ro["analysis"]["windows"] <= limit, "rolled back after %d judged windows; limit %d"
          % (ro["analysis"]["windows"], limit))
    check(ro["weight"] == 0 and set(versions_of(range(3000, 3100))) == {"1.0"},
          "new connections not back on 1.0: %s" % ro)
    ev = events("auto_rollback")
    check(len(ev) == 1, "auto_rollback events: %s" % ev)
    return ev[0]["message"]


@test
def judged_instant_put(env):
    """a service's settings default to the documented ones (API view); an
    instant `PUT /v1/clusters` of a 2.0 answering 503, with no analysis in the
    request, is rolled back within failureLimit + 1 windows against 1.0's
    baseline from before the switch, its event naming both error rates and
    the limit

    The instant switch leaves 1.0 no traffic of its own to compare with:
    what it did before the switch (0% errors) is the baseline. The
    service's analysis comes from the config (1 s windows) and a restart
    takes it."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--status", "503")
    p = env.vsteerd(http_service(env))
    check(service()["analysis"] == DEFAULTS, "defaults: %s" % service()["analysis"])
    kill(p)
    env.vsteerd(http_service(env, FAST))
    check(service()["analysis"] == dict(DEFAULTS, **FAST),
          "the config's settings: %s" % service()["analysis"])
    load = Load()
    load.start()
    # 1.0's baseline: traffic of its own before the switch, after the
    # control loop began measuring it (its first tick).
    wait_ticks(2)
    load.wait_more(100)
    put_v2()
    ro = service()["rollout"]
    check(ro["strategy"] == "instant" and ro["phase"] == "progressing" and ro["weight"] == 100
          and ro["analysis"]["interval"] == 1 and ro["analysis"]["baseline"]["requests"] >= 100,
          "the switch's rollout: %s" % ro)
    detail = rolled_back_within(load, DEFAULTS["failureLimit"] + 1, 15)
    m = re.fullmatch(r"2\.0 rolled back to 1\.0: error rate: 2\.0 ([\d.]+)% vs 1\.0 before the "
                     r"rollout 0\.00% \(limit \+1\.00%\)", detail)
    # Every answer of 2.0 is a 503, but the answers are counted when sent
    # and the statuses at TC egress, and a tick reads the two between
    # them now and then: a window may have one answer more than its 503s
    # (CI saw 99.93%, 1 in ~1400). One in a hundred is far from a pass.
    check(m and 99 <= float(m.group(1)) <= 100, "event: %s" % detail)


@test
def judged_instant_rollout(env):
    """`POST .../rollout` instant without analysis is judged too: with no
    baseline (no traffic before) the service's absolute `maxErrorRate` (5%)
    rolls a 2.0 answering 503 back within failureLimit + 1 windows, the event
    naming the rate and the limit"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--status", "503")
    env.vsteerd(http_service(env, dict(FAST, maxErrorRate=0.05)))
    put_v2({"upgradeTransition": {"mode": "manual"}})
    r = rollout({"to": "2.0", "strategy": "instant"})["rollout"]
    check(r["phase"] == "progressing" and r["analysis"]["maxErrorRate"] == 0.05
          and (r["analysis"]["baseline"] or {}).get("requests", 0) == 0, "rollout: %s" % r)
    load = Load()
    load.start()
    detail = rolled_back_within(load, DEFAULTS["failureLimit"] + 1, 15)
    m = re.fullmatch(r"2\.0 rolled back to 1\.0: error rate: 2\.0 (\d+\.\d\d)% \(limit 5\.00%\)",
                     detail)
    # Requests are counted when they arrive, 5xx when the answer leaves: the
    # one request the (sequential) load has in flight at a window's edge
    # lands in the next window's errors (CI saw 99.98%). 90% leaves room for
    # a window of only ten requests on a slow sanitizer build.
    check(m and float(m.group(1)) >= 90.0, "event: %s" % detail)


@test
def judged_analysis_false(env):
    """`"analysis": false` on `PUT /v1/clusters` (and on the service) leaves
    an instant 2.0 answering 503 at 100% through failureLimit + 2 windows: the
    rollout completes at once, no window is judged"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--status", "503")
    env.backend("3.0", "127.0.0.1:9003")
    p = env.vsteerd(http_service(env, FAST))
    put_v2({"analysis": False})
    ro = service()["rollout"]
    check(ro["phase"] == "completed" and ro["analysis"] is None, "rollout: %s" % ro)
    check("not judged" in events("started")[0]["message"], "started: %s" % events("started"))
    load = Load()
    load.start()
    try:
        # failureLimit + 2 windows of 1 s: one more than a rollback takes.
        time.sleep(DEFAULTS["failureLimit"] + 2)
    finally:
        load.finish()
    check(load.by_version.get("2.0", 0) > 50 and "1.0" not in load.by_version,
          "not all on 2.0: %s" % load.by_version)
    check(service()["rollout"]["phase"] == "completed" and not events("auto_rollback")
          and not events("analysis_failed"), "judged: %s" % service()["rollout"])
    # The service's own "analysis": false: a rollout without any is not judged.
    kill(p)
    env.vsteerd(http_service(env, False))
    check(service()["analysis"] is False, "service analysis: %s" % service()["analysis"])
    st, c = api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"]})
    r = service()["rollout"]
    check(st == 201 and r["phase"] == "completed" and r["analysis"] is None,
          "3.0 on a service not judged: %s %s, rollout %s" % (st, c, r))


@test
def judged_inconclusive_pauses(env):
    """with no traffic, maxInconclusive (3) windows without a verdict pause a
    gradual rollout at its step once the hold is over, with an `auto_pause`
    event saying how many windows and why; resume continues it"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(http_service(env, dict(FAST, maxInconclusive=3)))
    put_v2({"upgradeTransition": {"mode": "manual"}})
    rollout({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 30, "hold": 0},
                                                           {"weight": 60}]})
    r = wait_for(lambda: service()["rollout"]["phase"] == "paused" and service()["rollout"], 8,
                 lambda: "paused; rollout %s" % service()["rollout"], interval=0.05)
    check(r["step"] == 1 and r["weight"] == 30 and r["analysis"]["failures"] == 0,
          "paused rollout: %s" % r)
    ev = events("auto_pause")
    check(len(ev) == 1 and re.fullmatch(
        r"2\.0 paused at 30\.00%: 3 windows in a row without a verdict \(the last: too few "
        r"requests to judge: 2\.0 0, 1\.0 (overall )?0 \(need 10 each\)\)", ev[0]["message"]),
        "auto_pause events: %s" % ev)
    check(events("paused") and not events("step")[0]["message"].startswith("step 2"),
          "events: %s" % api("GET", "/v1/events")[1]["events"][:4])
    r = control("resume")["rollout"]
    check(r["phase"] == "progressing" and r["analysis"]["inconclusive"] == 0, "resume: %s" % r)
    wait_for(lambda: len(events("auto_pause")) == 2, 8, "a second pause after 3 more windows")


@test
def rollback_after_abort(env):
    """`rollback` of an aborted rollout is accepted and moves the target's
    remaining sessions (kept by the abort) back to 1.0"""
    two_versions(env, "manual")
    clients = range(300)
    rollout({"to": "2.0", "strategy": "gradual", "sessionTimeout": 60, "steps": [{"weight": 50}]})
    on_v2 = [i for i, v in zip(clients, versions_of(clients)) if v == "2.0"]
    check(len(on_v2) > 50, "too few on 2.0: %d" % len(on_v2))
    control("abort")
    check(set(versions_of(on_v2)) == {"2.0"}, "active 2.0 sessions moved by abort")
    r = control("rollback")["rollout"]
    check(r["phase"] == "rolled_back" and r["weight"] == 0, "rollback: %s" % r)
    check(set(versions_of(on_v2)) == {"1.0"}, "2.0's sessions not back on 1.0 after rollback")
    check(set(versions_of(range(1000, 1100))) == {"1.0"}, "new clients not on 1.0")
    st, body = api("POST", "/v1/services/default/rollout/rollback")
    check(st == 409 and body["error"]["code"] == "bad_phase", "second rollback: %s %s" % (st, body))
