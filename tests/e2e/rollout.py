"""Rollout strategies (instant, session, gradual), control actions, draining."""
import socket
import subprocess
import time

from common import control, rollout, test, two_versions
from lib import (SVC, api, binomial_bound, check, client_addr, fetch, kill, service, versions_of,
                 wait_for, wait_ticks)


def check_share(clients, version, pct, what):
    n = len(clients)
    got = versions_of(clients).count(version)
    bound = binomial_bound(n, pct / 100)
    check(abs(got - n * pct / 100) <= bound,
          "%s: %d of %d on %s, expected %.0f +- %.0f" % (what, got, n, version, n * pct / 100, bound))


@test
def rollout_instant(env):
    """instant rollout moves every new connection; rollback moves them back;
    events newest first"""
    two_versions(env, "manual")
    check(set(versions_of(range(100))) == {"1.0"}, "before")
    r = rollout({"to": "2.0", "strategy": "Instant", "analysis": False})["rollout"]
    check(r["phase"] == "completed" and r["weight"] == 100 and r["from"] == "1.0", "rollout: %s" % r)
    check(set(versions_of(range(100))) == {"2.0"}, "after instant rollout")
    control("rollback")
    check(set(versions_of(range(100))) == {"1.0"}, "after rollback")
    s = service()
    check(s["rollout"]["phase"] == "rolled_back", "phase %s" % s["rollout"]["phase"])
    events = api("GET", "/v1/events")[1]["events"]
    types = [e["kind"] for e in events]
    check(types[:3] == ["rolled_back", "completed", "step"] and "started" in types,
          "events (newest first): %s" % types)
    check(all(events[i]["time"] >= events[i + 1]["time"] for i in range(len(events) - 1)),
          "events not newest first")


def v1_open():
    return [v for v in service()["versions"] if v["version"] == "1.0"][0]["openConnections"]


@test
def rollout_session(env):
    """2 s timeout: active clients keep 1.0, new ones get 2.0; a client with an
    open connection keeps 1.0 past the timeout; a client whose only connection
    was open longer than the timeout gets 1.0 when it reconnects right after
    closing it (idle time starts at the close); idle past it, clients move;
    drained once closed"""
    two_versions(env, "manual")
    timeout = 2
    active = range(0, 40)          # seen just before the rollout
    holder = 40                    # keeps a connection open, and connects again meanwhile
    long_one = 41                  # only ever holds one long connection, then reconnects
    fresh = range(100, 400)        # never seen before
    check(set(versions_of(active)) == {"1.0"}, "before")
    held = {}
    for c in (holder, long_one):
        held[c] = socket.create_connection(SVC, timeout=3, source_address=(client_addr(c), 0))
        held[c].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(b"1.0" in held[c].recv(4096), "held connection of client %d not on 1.0" % c)

    r = rollout({"to": "2.0", "strategy": "session", "sessionTimeout": timeout,
                 "analysis": False})["rollout"]
    t_start = time.monotonic()
    check(r["phase"] == "completed" and r["weight"] == 100, "rollout: %s" % r)
    check(set(versions_of(active)) == {"1.0"}, "active clients moved off 1.0")
    check(set(versions_of(fresh)) == {"2.0"}, "new clients not on 2.0")
    wait_for(lambda: v1_open() == 2, 3, "the 2 held connections counted open")

    # Let the active clients go idle past the timeout (this waits for a
    # timeout to expire, it does not synchronise with anything).
    time.sleep(max(0, timeout + 1.0 - (time.monotonic() - t_start)))
    check(set(versions_of(active)) == {"2.0"}, "idle clients still on 1.0")
    check(fetch(client_addr(holder)) == "1.0", "client with an open connection moved")
    v1 = [v for v in service()["versions"] if v["version"] == "1.0"][0]
    check(not v1["drained"], "1.0 reported drained with a connection open")

    # long_one connected once, more than the timeout ago, and never since:
    # its idle time starts when that connection closes, not when it was
    # made, so connecting again right after the close keeps 1.0.
    held.pop(long_one).close()
    wait_for(lambda: v1_open() == 1, 5, "long_one's close to be seen")
    check(fetch(client_addr(long_one)) == "1.0",
          "a client that closed its only connection just now was taken as idle since it opened it")

    held.pop(holder).close()
    wait_for(lambda: [v for v in service()["versions"] if v["version"] == "1.0"][0]["drained"],
             5, "1.0 to drain")
    t_close = time.monotonic()
    check(fetch(client_addr(holder)) == "1.0", "moved right after closing")
    # Those fetches restarted the idle clocks; wait them out once more.
    time.sleep(max(0, timeout + 1.0 - (time.monotonic() - t_close)))
    check(fetch(client_addr(holder)) == "2.0", "idle holder still on 1.0")
    check(fetch(client_addr(long_one)) == "2.0", "idle long_one still on 1.0")


@test
def rollout_gradual(env):
    """with a fake clock, not judged: steps advance exactly on schedule, pause holds for a
    day, resume keeps the remaining hold, `kill -9` and restart moves no
    client, a hold that ends while vsteerd is down is caught up, promote
    completes; a second rollout (2.0 to 3.0): promote during a hold moves to
    the next step with its hold starting then (`nextStepAt` exact, not advanced
    a second early), `promote?full=true` completes at 100%; shares within 4.5
    binomial SDs"""
    env.fake_clock()
    t0 = env.now
    two_versions(env, "manual")
    clients = range(1000)
    r = rollout({"to": "2.0", "steps": [{"weight": 10, "hold": 3600}, {"weight": 50, "hold": 21600},
                                         {"weight": 75}, {"weight": 100}],
                 "analysis": False})["rollout"]
    check(r["strategy"] == "gradual" and r["step"] == 1 and r["weight"] == 10
          and r["nextStepAt"] == t0 + 3600, "start: %s" % r)
    check_share(clients, "2.0", 10, "step 1")

    env.set_clock(t0 + 3599)
    wait_ticks()
    check(service()["rollout"]["step"] == 1, "advanced early")
    env.set_clock(t0 + 3600)
    wait_for(lambda: service()["rollout"]["step"] == 2, 2, "step 2")
    r = service()["rollout"]
    check(r["weight"] == 50 and r["nextStepAt"] == t0 + 3600 + 21600, "step 2: %s" % r)
    check_share(clients, "2.0", 50, "step 2")

    # Pause with 21600 - 600 s of hold left; a day passes; nothing moves.
    env.set_clock(t0 + 3600 + 600)
    r = control("pause")["rollout"]
    check(r["phase"] == "paused" and r["pausedHoldLeft"] == 21000, "pause: %s" % r)
    env.set_clock(t0 + 86400)
    wait_ticks()
    check(service()["rollout"]["step"] == 2, "moved while paused")
    r = control("resume")["rollout"]
    check(r["phase"] == "progressing" and r["nextStepAt"] == t0 + 86400 + 21000, "resume: %s" % r)

    # kill -9 with no time passing: nothing moves.
    before = versions_of(clients)
    kill(env.procs[2])
    env.vsteerd()
    check(versions_of(clients) == before, "clients moved across a restart")
    check(service()["rollout"]["step"] == 2, "restart changed the step")

    # kill -9, and the hold ends while vsteerd is down: the restarted one
    # catches up to the schedule.
    kill(env.procs[-1])
    env.set_clock(t0 + 86400 + 21000 + 5)
    env.vsteerd()
    r = service()["rollout"]
    check(r["step"] == 3 and r["weight"] == 75 and r["nextStepAt"] is None
          and r["stepStartedAt"] == t0 + 86400 + 21000, "after restart: %s" % r)
    check_share(clients, "2.0", 75, "step 3")
    check(all(b == "1.0" or a == "2.0" for a, b in zip(versions_of(clients), before) if b == "2.0"),
          "a client moved back")

    r = control("promote")["rollout"]   # step 3 waits for promote
    check(r["phase"] == "completed" and r["weight"] == 100, "promote: %s" % r)
    check(set(versions_of(range(200))) == {"2.0"}, "not all on 2.0 after completion")

    # A second rollout, 2.0 -> 3.0. Promote during a running hold moves to
    # the next step now, and that step's hold starts now.
    env.backend("3.0", "127.0.0.1:9003")
    st, c = api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"],
                                        "upgradeTransition": {"mode": "manual"}})
    check(st == 201, "PUT 3.0: %s %s" % (st, c))
    t1 = env.now
    r = rollout({"to": "3.0", "steps": [{"weight": 5, "hold": 3600}, {"weight": 30, "hold": 7200},
                                         {"weight": 60, "hold": 7200}, {"weight": 100}],
                 "analysis": False})["rollout"]
    check(r["from"] == "2.0" and r["step"] == 1 and r["weight"] == 5
          and r["nextStepAt"] == t1 + 3600, "3.0 start: %s" % r)
    env.set_clock(t1 + 1000)
    r = control("promote")["rollout"]
    check(r["phase"] == "progressing" and r["step"] == 2 and r["weight"] == 30
          and r["nextStepAt"] == t1 + 1000 + 7200, "promote during the hold: %s" % r)
    check_share(clients, "3.0", 30, "promoted to step 2")
    env.set_clock(t1 + 1000 + 7199)
    wait_ticks()
    check(service()["rollout"]["step"] == 2, "step 2's hold did not start at the promote")
    # promote?full=true: straight to 100%, completed.
    r = control("promote?full=true")["rollout"]
    check(r["phase"] == "completed" and r["weight"] == 100 and r["nextStepAt"] is None,
          "promote?full=true: %s" % r)
    s = service()
    check([(v["version"], v["weight"]) for v in s["versions"]] == [("3.0", 100), ("2.0", 0), ("1.0", 0)],
          "layout: %s" % [(v["version"], v["weight"]) for v in s["versions"]])
    check(set(versions_of(clients)) == {"3.0"}, "not all on 3.0 after promote?full=true")


@test
def rollout_abort_rollback(env):
    """abort keeps the target's active sessions, rollback moves them back

    abort: new sessions back to stable at once, active sessions on the
    target stay (affinity kept); rollback: they move back too."""
    two_versions(env, "manual")
    clients = range(300)
    rollout({"to": "2.0", "strategy": "gradual", "sessionTimeout": 60, "steps": [{"weight": 50}]})
    first = versions_of(clients)
    on_v2 = [i for i, v in zip(clients, first) if v == "2.0"]
    check(len(on_v2) > 50, "too few on 2.0: %d" % len(on_v2))
    r = control("abort")["rollout"]
    check(r["phase"] == "aborted" and r["weight"] == 0, "abort: %s" % r)
    check(set(versions_of(range(1000, 1200))) == {"1.0"}, "new sessions not on 1.0 after abort")
    check(set(versions_of(on_v2)) == {"2.0"}, "active 2.0 sessions moved by abort")
    check(service()["versions"][0]["version"] == "2.0", "target unregistered by abort")

    rollout({"to": "2.0", "strategy": "gradual", "sessionTimeout": 60, "steps": [{"weight": 50}]}, 201)
    check(set(versions_of(on_v2)) == {"2.0"}, "sessions lost on restarting the rollout")
    r = control("rollback")["rollout"]
    check(r["phase"] == "rolled_back", "rollback: %s" % r)
    check(set(versions_of(on_v2)) == {"1.0"}, "rolled back sessions still on 2.0")
    check(set(versions_of(clients)) == {"1.0"}, "clients not all on 1.0 after rollback")


@test
def rollout_three_versions(env):
    """session rollout by `PUT /v1/clusters`, then a 5% canary: layout
    3.0/2.0/1.0 = 5/95/0, active sessions keep 1.0, nobody moves back

    v1 held by active sessions, v2 stable for new sessions, v3 canary:
    newest first, and clients only move forward."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    old = range(0, 50)
    check(set(versions_of(old)) == {"1.0"}, "before")
    # The thesis's way: PUT a cluster with a Session transition.
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                        "upgradeTransition": {"mode": "Session", "sessionTimeout": 60}})
    check(st == 201 and c["weight"] == 100, "PUT session cluster: %s %s" % (st, c))
    st, c = api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"],
                                        "upgradeTransition": {"mode": "manual"}})
    check(st == 201, "PUT 3.0: %s" % st)
    rollout({"to": "3.0", "strategy": "gradual", "steps": [{"weight": 5}]})
    s = service()
    check([(v["version"], v["weight"]) for v in s["versions"]] == [("3.0", 5), ("2.0", 95), ("1.0", 0)],
          "layout: %s" % [(v["version"], v["weight"]) for v in s["versions"]])
    check(set(versions_of(old)) == {"1.0"}, "active 1.0 sessions moved")
    new = range(1000, 2000)
    first = versions_of(new)
    check(set(first) == {"2.0", "3.0"}, "new clients: %s" % set(first))
    check_share(new, "3.0", 5, "canary")
    control("promote", 200)
    check(service()["rollout"]["phase"] == "completed", "promote past the last step")
    # The clients seen during the canary are active sessions (60 s
    # timeout): they keep their version; only never-seen clients are new.
    after = versions_of(new)
    check(after == first, "active sessions changed version on completion")
    fresh = set(versions_of(range(3000, 3200)))
    check(fresh == {"3.0"}, "new sessions after completion: %s" % fresh)


@test
def drained_report(env):
    """open connections per version are counted and reach 0 when closed"""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    conns = [socket.create_connection(SVC, timeout=3, source_address=(client_addr(i), 0))
             for i in range(3)]
    wait_for(lambda: service()["versions"][0]["openConnections"] == 3, 3, "3 open connections")
    check(not service()["versions"][0]["drained"], "drained with connections open")
    for c in conns:
        c.close()
    wait_for(lambda: service()["versions"][0]["drained"], 5, "drained after close")


@test
def open_counts_steered_only(env):
    """a dual-stack `[::]` backend socket's IPv4 connections are counted;
    connections made to the backend's own address are neither counted nor
    measured

    A dual-stack [::] backend socket takes IPv4 connections with mapped
    addresses: they are counted as its version's. Connections made to the
    backend's own address were not steered and count for nothing."""
    env.backend("1.0", "[::]:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    wait_for(lambda: service()["versions"][0]["liveSockets"] == 1, 3, "the [::] socket registered")
    steered = [socket.create_connection(SVC, timeout=3, source_address=(client_addr(i), 0))
               for i in range(3)]
    direct = [socket.create_connection(("127.0.0.1", 9001), timeout=3) for _ in range(2)]
    for c in direct:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(b"1.0" in c.recv(4096), "direct request answered")
    wait_for(lambda: service()["versions"][0]["openConnections"] == 3, 3, "3 open connections")
    wait_ticks(2)
    v = service()["versions"][0]
    check(v["openConnections"] == 3, "direct connections counted: %s" % v["openConnections"])
    check(v["counters"]["requests"] == 0, "direct requests measured: %s" % v["counters"])
    steered[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"1.0" in steered[0].recv(4096), "steered request answered")
    wait_for(lambda: service()["versions"][0]["counters"]["requests"] == 1, 3, "1 request measured")
    for c in steered + direct:
        c.close()
    wait_for(lambda: service()["versions"][0]["drained"], 5, "drained after close")


def version_view(version):
    return [v for v in service()["versions"] if v["version"] == version][0]


@test
def deleted_version_leaves_nothing(env):
    """a cluster added with weight 0 after another was deleted gets none of its
    sessions; one added while the deleted version still has an open connection
    is not charged with it, and that connection's close does not take the new
    version's count down

    A new cluster never inherits a deleted one's clients: not their
    session affinity (a cluster added with weight 0 gets nobody), nor
    their open connections (counted for the version they were made to)."""
    for v, port in (("1.0", 9001), ("2.0", 9002), ("3.0", 9003), ("4.0", 9004)):
        env.backend(v, "127.0.0.1:%d" % port)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    st, c2 = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                         "upgradeTransition": {"mode": "session",
                                                               "sessionTimeout": 600}})
    check(st == 201, "PUT 2.0: %s %s" % (st, c2))
    clients = range(0, 60)
    check(set(versions_of(clients)) == {"2.0"}, "new sessions on 2.0")
    check(api("DELETE", "/v1/clusters/" + c2["id"])[0] == 200, "DELETE 2.0")
    st, c3 = api("PUT", "/v1/clusters", {"version": "3.0", "servers": ["127.0.0.1:9003"],
                                         "upgradeTransition": {"mode": "manual"}})
    check(st == 201 and version_view("3.0")["weight"] == 0, "PUT 3.0 manual: %s %s" % (st, c3))
    got = versions_of(clients)
    check(set(got) == {"1.0"}, "2.0's sessions went to the weight-0 3.0: %s" % sorted(set(got)))

    # 3.0 takes everything; one client keeps a connection to it open.
    st, _ = api("PUT", "/v1/services/default/weights", {"3.0": 100, "1.0": 0})
    check(st == 200, "weights")
    held = socket.create_connection(SVC, source_address=(client_addr(500), 0), timeout=5)
    wait_for(lambda: version_view("3.0")["openConnections"] == 1, 3, "3.0 counts the held connection")
    check(api("DELETE", "/v1/clusters/" + c3["id"])[0] == 200, "DELETE 3.0")
    st, c4 = api("PUT", "/v1/clusters", {"version": "4.0", "servers": ["127.0.0.1:9004"],
                                         "upgradeTransition": {"mode": "manual"}})
    check(st == 201, "PUT 4.0: %s %s" % (st, c4))
    check(version_view("4.0")["openConnections"] == 0,
          "4.0 charged with 3.0's open connection: %s" % version_view("4.0"))
    check(set(versions_of(range(600, 640))) == {"1.0"}, "new clients on 1.0")
    # 4.0's own connection stays counted when 3.0's closes (were they in
    # one slot, the close would take 4.0's count down).
    check(api("PUT", "/v1/services/default/weights", {"4.0": 100, "1.0": 0})[0] == 200, "weights")
    mine = socket.create_connection(SVC, source_address=(client_addr(700), 0), timeout=5)
    wait_for(lambda: version_view("4.0")["openConnections"] == 1, 3, "4.0 counts its connection")
    held.close()
    wait_for(lambda: not subprocess.run(["ss", "-Htn", "state", "connected", "sport = :9003"], capture_output=True,
                                        text=True).stdout.strip(), 5, "3.0's connection closed")
    check(version_view("4.0")["openConnections"] == 1,
          "3.0's close counted against 4.0: %s" % version_view("4.0"))
    mine.close()
    wait_for(lambda: version_view("4.0")["openConnections"] == 0, 3, "4.0 drained")


@test
def gradual_session_timeout(env):
    """a gradual rollout without `sessionTimeout` keeps (and shows) the
    service's; `0` turns affinity off; a session rollout with 0 is a 400"""
    for v, port in (("1.0", 9001), ("2.0", 9002), ("3.0", 9003)):
        env.backend(v, "127.0.0.1:%d" % port)
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}},
                            {"version": "3.0", "servers": ["127.0.0.1:9003"],
                             "upgradeTransition": {"mode": "manual"}}]))
    rollout({"to": "2.0", "strategy": "session", "sessionTimeout": 600, "analysis": False})
    check(service()["rollout"]["phase"] == "completed" and service()["sessionTimeout"] == 600,
          "session rollout: %s" % service()["rollout"])
    rollout({"to": "3.0", "strategy": "gradual", "steps": [{"weight": 10}]})
    check(service()["rollout"]["sessionTimeout"] == 600 and service()["sessionTimeout"] == 600,
          "inherited timeout not shown: %s" % service()["rollout"])
    control("abort")
    hist = service()["rollout"]["history"]
    check([h["kind"] for h in hist] == ["aborted", "step", "started"]
          and hist[1]["message"] == "step 1 of 1: 3.0 at 10.00% of new sessions"
          and hist[1]["weight"] == 10, "history of the aborted rollout: %s" % hist)
    rollout({"to": "3.0", "strategy": "gradual", "steps": [{"weight": 10}], "sessionTimeout": 0})
    check(service()["rollout"]["sessionTimeout"] == 0 and service()["sessionTimeout"] == 0,
          "sessionTimeout 0: %s" % service()["rollout"])
    # Its own history only, though the last one ended in the same second.
    check([h["kind"] for h in service()["rollout"]["history"]] == ["step", "started"],
          "history: %s" % service()["rollout"]["history"])
    control("abort")
    st, body = api("POST", "/v1/services/default/rollout",
                   {"to": "3.0", "strategy": "session", "sessionTimeout": 0})
    check(st == 400 and "sessionTimeout" in body["error"]["message"], "session with 0: %s %s" % (st, body))
