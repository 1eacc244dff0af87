"""One rollout for a fleet of hosts: started on any host, written to etcd,
driven by the one host that holds the driver's key, judged on every host
(docs/fleet.md). The hosts and etcd as in fleet.py."""
import signal
import urllib.request

from common import Load, test
from fleet import SEEN, EtcdCluster, Host
from lib import Bridge, check, check_sanitizers, kill, local_addr, wait_for

# Every host's service is http with 1 s windows: a step's window is judged
# within seconds; a version whose p99 is over 100 ms fails (the demo
# answers in well under 10 ms here; slowed, in 150 ms, which leaves one
# client a connection at a time 3 requests a window to half of them:
# minRequests 3), twice in a row rolls back.
FAST = {"interval": 1, "minRequests": 3, "failureLimit": 2, "maxLatencyP99Ms": 100}
# A step waits for its hold, a passing window after it on the hosts, and
# each host's status saying it runs the step (every 2 s): 30 s is several
# times that on a loaded 2-core machine.
STEP = 30


def slow(h, ms):
    """h's 2.0 backend answers ms later (vsteer-demo's /control)."""
    req = urllib.request.Request("http://%s:9002/control?delay_ms=%d" % (h.c.addr, ms), method="POST")
    urllib.request.urlopen(req, timeout=3).read()


def steers(h):
    """{version: weight} of h's versions that take any."""
    return {v: w for v, w in h.weights().items() if w}


def versions(h):
    status, body = h.api("GET", "/v1/services/default")
    check(status == 200, "%s: GET /v1/services/default: %d %s" % (h.name, status, body))
    return sorted(v["version"] for v in body["versions"])


def rollout_of(hosts, what, pred, timeout=STEP):
    """Waits until pred(rollout) holds on every host."""
    for h in hosts:
        wait_for(lambda: pred(h.rollout()), timeout,
                 lambda: "%s: %s; its rollout: %s" % (h.name, what, h.rollout()))


@test
def fleet_rollout(env):
    """Three hosts in a fleet (etcd of three members, minHosts 2), each with
    its own backends and clients: exactly one drives (its metrics say 2,
    the others' 1); a version registered
    on h1 reaches h2 and h3 (their own 3.0 on the same loopback address),
    one whose server is h1's address leaves them failing, naming it, until
    it is deleted (on every host); a gradual rollout
    started on h2 reaches every host at its first step (the same weights,
    each host asks for approval, and 48 new clients get the same versions
    from each host), a promote on
    h3 moves them all, and the driver takes the rest of the schedule to
    100% on every host once their windows pass; with 2.0 slow on h3 only, a
    rollout is rolled back on every host after h3's windows failed, each
    host's event naming h3 (h1 and h2 judged theirs passing); the driver
    SIGKILLed mid-rollout: another host takes the driver's key and
    finishes the schedule, and the killed host, restarted, takes the
    completed rollout from etcd; a version deleted on h2 leaves every host,
    and one registered instant on h3 takes over on every host (a rollout
    of the fleet); with the etcd member every host calls first cut off
    from the others, weights set on h2 still reach every host; with two
    hosts killed, a step whose hold is over waits, and the driver says for
    whom (GET /v1/fleet, vsteerctl, one event) until one is back; not one
    client connection failed
    throughout (steering never waits on vsteerd or etcd)."""
    bridge = Bridge(env, ("netns",) * 6)
    cluster = EtcdCluster(env, [bridge[4], bridge[5], bridge[6]])
    hosts = [Host(env, bridge, bridge[i], cluster, "h%d" % i,
                  proxy={"protocol": "http", "analysis": FAST}, fleet={"minHosts": 2})
             for i in (1, 2, 3)]
    by_name = {h.name: h for h in hosts}
    for h in hosts:
        h.start()
    h1, h2, h3 = hosts
    for h in hosts:
        h.wait_states({"h1": "ok", "h2": "ok", "h3": "ok"}, "all three hosts joined")
    wait_for(lambda: {h.fleet()["driver"] for h in hosts} <= set(by_name), SEEN,
             lambda: "one driver, known to all: %s" % {h.name: h.fleet()["driver"] for h in hosts})
    driver = by_name[h1.fleet()["driver"]]
    check(sum(h.fleet()["driver"] == h.name for h in hosts) == 1
          and driver.events("fleet_driver"), "the driver: %s, its events %s"
          % ({h.name: h.fleet()["driver"] for h in hosts}, driver.events("fleet_driver")))
    for h in hosts:
        want = b"vsteer_fleet_driver %d" % (2 if h is driver else 1)
        wait_for(lambda: want in h.api("GET", "/metrics")[1], SEEN,
                 lambda: "%s's metrics to say %s" % (h.name, want))
    status, body = h1.set_weights({"1.0": 100, "2.0": 0})
    check(status == 200, "PUT weights on h1: %d %s" % (status, body))
    for h in hosts:
        wait_for(lambda: steers(h) == {"1.0": 100}, SEEN,
                 lambda: "%s to apply 1.0=100: %s" % (h.name, h.weights()))

    # A version registered on h1 reaches h2 and h3: each runs its 3.0 on
    # its own loopback, which the servers h1 gave name on every host.
    for h in hosts:
        env.backend("3.0", "127.0.0.1:9003", wrapper=h.c.enter())
    status, body = h1.api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"],
                                                   "upgradeTransition": {"mode": "manual"}})
    check(status == 201, "PUT 3.0 on h1: %d %s" % (status, body))
    for h in hosts:
        wait_for(lambda: versions(h) == ["1.0", "2.0", "3.0"], SEEN,
                 lambda: "%s to take version 3.0 from the fleet: %s" % (h.name, versions(h)))
    # One whose servers are h1's own address does not fit the others:
    # failing, saying so, until it leaves the fleet (DELETE on any host).
    env.backend("4.0", h1.c.endpoint(9004), wrapper=h1.c.enter())
    status, body = h1.api("PUT", "/v1/clusters", {"version": "4.0", "servers": [h1.c.endpoint(9004)],
                                                   "upgradeTransition": {"mode": "manual"}})
    check(status == 201, "PUT 4.0 on h1: %d %s" % (status, body))
    h1.wait_states({"h1": "ok", "h2": "failing", "h3": "failing"}, "4.0 does not fit h2 and h3")
    problem = {e["host"]: e for e in h1.fleet()["hosts"]}["h2"]["status"]["problems"][0]
    check("version 4.0 of the fleet (servers as h1 gave them) is not registered here" in problem,
          "h2's problem: %s" % problem)
    id4 = {c["version"]: c["id"] for c in h1.api("GET", "/v1/clusters")[1]["clusters"]}["4.0"]
    status, body = h1.api("DELETE", "/v1/clusters/" + id4)
    check(status == 200, "DELETE 4.0 on h1: %d %s" % (status, body))
    for h in hosts:
        h.wait_states({"h1": "ok", "h2": "ok", "h3": "ok"}, "4.0 left the fleet")
        check(versions(h) == ["1.0", "2.0", "3.0"], "%s's versions: %s" % (h.name, versions(h)))

    loads = [Load(clients=200, src=lambda i, k=k: local_addr(2000 + 300 * k + i),
                  svc=(h.c.addr, 8080)) for k, h in enumerate(hosts)]
    for load in loads:
        load.start()
    try:
        # Started on h2: every host runs it, at its first step (which
        # waits for a promote), with the same weights and salt.
        steps = [{"weight": 25}, {"weight": 50, "hold": 2}, {"weight": 100, "hold": 2}]
        status, body = h2.api("POST", "/v1/services/default/rollout",
                              {"to": "3.0", "strategy": "gradual", "steps": steps})
        check(status == 201 and body["rollout"]["fleet"] and body["rollout"]["step"] == 1,
              "a rollout started on h2: %d %s" % (status, body))
        started = body["rollout"]["startedAt"]
        rollout_of(hosts, "the rollout at step 1",
                   lambda r: r and r["startedAt"] == started and r["step"] == 1 and r["fleet"]
                   and r["phase"] == "progressing")
        for h in hosts:
            check(steers(h) == {"1.0": 75, "3.0": 25} and len(h.events("approval_needed")) == 1,
                  "%s at step 1: weights %s, approval_needed events %s"
                  % (h.name, h.weights(), h.events("approval_needed")))
        # 48 new clients: one version for all has a chance of 0.75^48.
        split = {h.name: [h.fetch(local_addr(1000 + i)) for i in range(48)] for h in hosts}
        check(split["h1"] == split["h2"] == split["h3"] and len(set(split["h1"])) == 2,
              "48 clients' versions differ between hosts, or are one version: %s" % split)
        status, body = h3.api("POST", "/v1/services/default/rollout/promote")
        check(status == 200 and body["rollout"]["step"] == 2, "promote on h3: %d %s" % (status, body))
        rollout_of(hosts, "the schedule driven to 100%", lambda r: r["phase"] == "completed", 3 * STEP)
        for h in hosts:
            ro = h.rollout()
            marks = [(m["kind"], m["step"]) for m in ro["history"]]
            check(steers(h) == {"3.0": 100} and ("promoted", 1) in marks
                  and ("step", 3) in marks and ro["analysis"]["windows"] > 0,
                  "%s after the rollout: weights %s, rollout %s" % (h.name, h.weights(), ro))
            check(len(h.events("completed")) == 1, "%s's completed events: %s" % (h.name, h.events("completed")))

        # 2.0 slow on h3 only: h3's windows fail; every host rolls back.
        status, body = h1.set_weights({"1.0": 100})
        check(status == 200, "PUT weights on h1 after the rollout: %d %s" % (status, body))
        for h in hosts:
            wait_for(lambda: steers(h) == {"1.0": 100}, SEEN,
                     lambda: "%s to apply 1.0=100 again: %s" % (h.name, h.weights()))
        slow(h3, 150)
        status, body = h1.api("POST", "/v1/services/default/rollout",
                              {"to": "2.0", "strategy": "gradual",
                               "steps": [{"weight": 50, "hold": 600}, {"weight": 100}]})
        check(status == 201, "a second rollout on h1: %d %s" % (status, body))
        rollout_of(hosts, "rolled back for h3's windows", lambda r: r["phase"] == "rolled_back", 2 * STEP)
        for h in hosts:
            ev = h.events("auto_rollback")
            check(steers(h) == {"1.0": 100} and len(ev) == 1 and "on host h3: " in ev[0],
                  "%s after h3 failed: weights %s, auto_rollback events %s" % (h.name, h.weights(), ev))
        for h in (h1, h2):
            an = h.rollout()["analysis"]
            check(an["failures"] == 0 and an["windows"] > 0, "%s judged its own windows: %s" % (h.name, an))
        check(h3.rollout()["analysis"]["failures"] >= 2, "h3's windows: %s" % h3.rollout()["analysis"])
        slow(h3, 0)

        # The driver killed mid-rollout: another takes over.
        steps = [{"weight": 25, "hold": 3}, {"weight": 50, "hold": 3}, {"weight": 100, "hold": 3}]
        starter = h1 if driver is not h1 else h2
        status, body = starter.api("POST", "/v1/services/default/rollout",
                                   {"to": "2.0", "strategy": "gradual", "steps": steps})
        check(status == 201, "a third rollout on %s: %d %s" % (starter.name, status, body))
        started = body["rollout"]["startedAt"]
        rollout_of(hosts, "the third rollout", lambda r: r["startedAt"] == started)
        kill(driver.proc)
        rest = [h for h in hosts if h is not driver]
        wait_for(lambda: rest[0].fleet()["driver"] in {h.name for h in rest}, SEEN,
                 lambda: "a new driver after %s's kill: %s" % (driver.name, rest[0].fleet()["driver"]))
        heir = by_name[rest[0].fleet()["driver"]]
        check(heir.events("fleet_driver"), "%s drives and has no fleet_driver event" % heir.name)
        rollout_of(rest, "the schedule finished by %s" % heir.name, lambda r: r["phase"] == "completed",
                   3 * STEP)
        for h in rest:
            ro = h.rollout()
            check(ro["startedAt"] == started and steers(h) == {"2.0": 100}
                  and ro["endedAt"] - started >= 9,
                  "%s after the driver's kill: weights %s, rollout %s" % (h.name, h.weights(), ro))
        driver.start()
        rollout_of([driver], "the restarted host takes the completed rollout",
                   lambda r: r["startedAt"] == started and r["phase"] == "completed")
        check(steers(driver) == {"2.0": 100}, "%s's weights after its restart: %s"
              % (driver.name, driver.weights()))

        # 3.0 deleted on h2: it leaves every host. 5.0 registered instant
        # on h3: its takeover is a rollout of the fleet, which every host
        # runs (each has its own 5.0 on its loopback).
        id3 = {c["version"]: c["id"] for c in h2.api("GET", "/v1/clusters")[1]["clusters"]}["3.0"]
        status, body = h2.api("DELETE", "/v1/clusters/" + id3)
        check(status == 200, "DELETE 3.0 on h2: %d %s" % (status, body))
        for h in hosts:
            wait_for(lambda: versions(h) == ["1.0", "2.0"], SEEN,
                     lambda: "%s to delete 3.0 with the fleet: %s" % (h.name, versions(h)))
            env.backend("5.0", "127.0.0.1:9005", wrapper=h.c.enter())
        status, body = h3.api("PUT", "/v1/clusters", {"version": "5.0", "servers": ["127.0.0.1:9005"],
                                                       "upgradeTransition": {"mode": "instant"}})
        check(status == 201, "PUT 5.0 instant on h3: %d %s" % (status, body))
        rollout_of(hosts, "5.0's takeover, the fleet's",
                   lambda r: r["to"] == "5.0" and r["strategy"] == "instant" and r["fleet"]
                   and r["phase"] == "completed")
        for h in hosts:
            check(steers(h) == {"5.0": 100} and h.fetch() == "5.0",
                  "%s after 5.0's takeover: %s" % (h.name, h.weights()))

        # m1, the member every host calls first, cut off from the other
        # two: it has no leader, so the hosts' watches on it end (etcd's
        # hasleader) and go to another member, and calls move on: a change
        # made on h2 reaches every host.
        with cluster.partition("m1"):
            status, body = h2.set_weights({"1.0": 100})
            check(status == 200, "PUT weights on h2 with m1 cut off: %d %s" % (status, body))
            for h in hosts:
                wait_for(lambda: steers(h) == {"1.0": 100}, SEEN,
                         lambda: "%s to apply h2's weights with m1 cut off: %s" % (h.name, h.weights()))

        # Two of three hosts gone (minHosts 2): h1 drives alone, and a
        # step whose hold is over waits, saying for whom, until one is back.
        for h in (h2, h3):
            kill(h.proc)
        # Their statuses lapse with their leases (LEASE s): until then they
        # read as behind, not missing.
        h1.wait_states({"h1": "ok", "h2": "missing", "h3": "missing"}, "h2 and h3 killed")
        wait_for(lambda: h1.fleet()["driver"] == "h1", SEEN,
                 lambda: "h1 to drive alone: %s" % h1.fleet()["driver"])
        status, body = h1.api("POST", "/v1/services/default/rollout",
                              {"to": "2.0", "strategy": "gradual",
                               "steps": [{"weight": 50, "hold": 1}, {"weight": 100}]})
        check(status == 201, "a rollout on h1 alone: %d %s" % (status, body))
        wait_for(lambda: "default" in h1.fleet()["waiting"], SEEN,
                 lambda: "h1's fleet view to say what the step waits for: %s" % h1.fleet())
        why = h1.fleet()["waiting"]["default"]
        check("step 1 of 2 waits for hosts: 1 of 3 run it, 2 needed" in why
              and "h2 (missing)" in why and "h3 (missing)" in why
              and len(h1.events("fleet_rollout_waiting")) == 1
              and "service default: step 1 of 2 waits" in h1.ctl("get", "fleet"),
              "what h1 says the step waits for: %s; events %s"
              % (why, h1.events("fleet_rollout_waiting")))
        check(h1.rollout()["step"] == 1, "the step went on without its hosts: %s" % h1.rollout())
        h2.start()
        rollout_of([h1, h2], "the step, h2 back", lambda r: r["phase"] == "completed")
        check(not h1.fleet()["waiting"], "still waiting: %s" % h1.fleet()["waiting"])
        h3.start()
    finally:
        for load in loads:
            load.finish()
    failed = {h.name: (load.failed, load.errors[:2]) for h, load in zip(hosts, loads) if load.failed}
    check(not failed and all(load.ok > 100 for load in loads),
          "clients' connections failed: %s; answered %s" % (failed, [load.ok for load in loads]))
    for h in hosts:
        h.proc.send_signal(signal.SIGTERM)
        check(h.proc.wait(timeout=10) == 0, "%s's vsteerd exited with %s" % (h.name, h.proc.returncode))
        check_sanitizers(open(h.log, errors="replace").read(), "%s's log" % h.name)
