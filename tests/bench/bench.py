#!/usr/bin/env python3
"""vsteer against its peers, every figure a ratio to a baseline measured in
the same run (the machine is shared and noisy).

    tests/bench/bench.py [--quick] [--out DIR] [--only NAME,...] [--soak-minutes M]

Scenarios (tests/bench/README.md says what each measures and how):
throughput, cost, switch, failover, rollback, scale, soak, mirror,
containers. Writes results.json, results.md and PNG charts into DIR
(default bench-results/DATE). Runs in its own network and mount namespace,
on loopback and on namespaces and links of its own making. Asserts nothing about speed: it measures.
"""
import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containers  # noqa: E402
import procs  # noqa: E402
import report  # noqa: E402
from procs import (BACKENDS, HAPROXY_PORT, NGINX_PROXY_PORT, SVC, BenchError,  # noqa: E402
                   api_ok, cpu_seconds, rss_kib, spread, wait_for)
from lib import sessions_in_table  # noqa: E402  (tests/lib.py: procs put it on the path)

SCENARIOS = ["throughput", "cost", "switch", "failover", "rollback", "scale", "soak", "mirror",
             "containers"]


def set_weights(w):
    api_ok("PUT", "/v1/services/default/weights", w)


# -- 1. throughput and latency --
def throughput(world, o):
    world.nginx_backends()
    cfg = world.two_version_config()
    split = {"1.0": 90, "2.0": 10}
    url = lambda port: "http://127.0.0.1:%d/" % port  # noqa: E731
    configs = ["direct", "vsteer_100", "vsteer", "vsteer_nowatch", "vsteer_100_nowatch", "haproxy",
               "nginx"]
    runs = {(c, w): [] for c in configs for w in ("keepalive", "close")}
    for rnd in range(o.rounds):
        for workload in ("keepalive", "close"):
            close = workload == "close"
            runs[("direct", workload)].append(world.wrk(url(BACKENDS["1.0"]), o.secs, close))
            world.vsteerd(cfg, fresh=rnd == 0 and workload == "keepalive")
            # steering alone: every connection to the direct run's backend
            set_weights({"1.0": 100})
            runs[("vsteer_100", workload)].append(world.wrk(url(SVC[1]), o.secs, close))
            set_weights(split)
            runs[("vsteer", workload)].append(world.wrk(url(SVC[1]), o.secs, close))
            world.vsteerd(cfg, ["--no-watch"])
            runs[("vsteer_nowatch", workload)].append(world.wrk(url(SVC[1]), o.secs, close))
            set_weights({"1.0": 100})
            runs[("vsteer_100_nowatch", workload)].append(world.wrk(url(SVC[1]), o.secs, close))
            world.stop("vsteerd")
            world.haproxy(split)
            runs[("haproxy", workload)].append(world.wrk(url(HAPROXY_PORT), o.secs, close))
            world.stop("haproxy")
            world.nginx_proxy(split)
            runs[("nginx", workload)].append(world.wrk(url(NGINX_PROXY_PORT), o.secs, close))
            world.stop("nginx-proxy")
    out = {}
    for (c, w), rs in runs.items():
        d = runs[("direct", w)]
        # Ratios pair each run with the direct run of the same round.
        row = {"errors": sum(r["errors"] for r in rs)}
        for k in ("rps", "p50_us", "p99_us", "p999_us"):
            row[k] = spread([r[k] for r in rs])
            row[k + "_ratio"] = spread([r[k] / dr[k] if dr[k] else None
                                        for r, dr in zip(rs, d)])
        out.setdefault(w, {})[c] = row
    world.stop_all()
    return out


# -- 2. steering cost per sk_lookup run --
# (row, address, connloop's source option): a new client every connection
# (the session table's insert: the worst case), one client (its session
# found), random clients of 127.1/16 (what the throughput runs send), and
# a port no service uses (the backend directly).
COST_ROWS = (("service_new_client", SVC, "-n"), ("service_known_client", SVC, None),
             ("service", SVC, "-s"), ("unrelated_port", ("127.0.0.1", BACKENDS["1.0"]), "-s"))


def per_run(before, after):
    """ns per run between two (run_cnt, run_time_ns) readings."""
    n = after[0] - before[0]
    return (after[1] - before[1]) / n if n else None


LOOP_REPEAT = 200000   # runs a warm loop: ~30 ms each, long enough to average
LOOP_NEW = 4000        # new clients a round, one test run each


def test_run_loop(world, o, floor, portchk):
    """The same program in BPF_PROG_TEST_RUN: warm loops of one context
    (a known client; an unrelated port), against the floor program and
    the port-bitmap reader run the same way; and single runs from a new
    client address each, against the floor's single runs (a single run's
    figure includes the kernel's clock reads around it; the floor's
    does too). No traffic, no run-time accounting: far less noise than
    the rows above, and the cache is as warm as it gets."""
    import struct
    known = procs.sk_lookup_ctx("127.1.2.3", SVC[1])
    unrelated = procs.sk_lookup_ctx("127.1.2.3", BACKENDS["1.0"])
    progs = {"vsteer": procs.TestRun(os.path.join(world.pin, "lookup")),
             "floor": procs.TestRun(fd=floor.prog), "port_check": procs.TestRun(fd=portchk.prog)}
    rows = {k: [] for k in ("known_client", "unrelated_port", "floor", "port_check",
                            "new_client", "floor_single")}
    nxt = 0x0a000001
    try:
        for _ in range(o.rounds):
            rows["floor"].append(progs["floor"].ns(known, LOOP_REPEAT))
            rows["known_client"].append(progs["vsteer"].ns(known, LOOP_REPEAT))
            rows["unrelated_port"].append(progs["vsteer"].ns(unrelated, LOOP_REPEAT))
            rows["port_check"].append(progs["port_check"].ns(unrelated, LOOP_REPEAT))
            one, new = [], []
            for _ in range(LOOP_NEW):
                ctx = bytearray(known)
                struct.pack_into(">I", ctx, 16, nxt)   # remote_ip4, network order
                nxt += 1
                new.append(progs["vsteer"].ns(bytes(ctx), 1))
                one.append(progs["floor"].ns(known, 1))
            rows["new_client"].append(statistics.mean(new))
            rows["floor_single"].append(statistics.mean(one))
    finally:
        for p in progs.values():
            p.close()
    out = {k: spread(v) for k, v in rows.items()}
    pairs = (("known_client_over_floor", "known_client", "floor"),
             ("unrelated_port_over_floor", "unrelated_port", "floor"),
             ("new_client_over_floor", "new_client", "floor_single"))
    for name, a, b in pairs:
        out[name] = spread([x - y for x, y in zip(rows[a], rows[b])])
    out["repeat"], out["new_clients_a_round"] = LOOP_REPEAT, LOOP_NEW
    return out


def cost(world, o):
    world.nginx_backends()
    out = {}
    # The programs of an sk_lookup chain run in the order they were
    # attached, and the first pays more (~25 ns here) for what it finds
    # cold: a return-at-once program attached before vsteerd, which runs
    # first, and one after, which runs warm, as vsteer's does; and one that
    # only reads the port bitmap as vsteer's does, after it too.
    with procs.BpfStats(), procs.FloorProgram("vsteer_floor0") as first:
        world.vsteerd(world.two_version_config(), fresh=True)
        set_weights({"1.0": 90, "2.0": 10})
        with procs.FloorProgram() as floor, procs.PortCheckProgram(world.pin) as portchk:
            progs = (first, floor, portchk)
            for what, addr, src in COST_ROWS:
                samples, others = [], [[] for _ in progs]
                for _ in range(o.rounds):
                    before = procs.prog_stats(world.pin).get("vsteer_lookup", (0, 0))
                    pb = [p.stats() for p in progs]
                    rec = world.connloop("cost", addr, threads=1, secs=o.secs, src=src)
                    recs = world.finish_connloop("cost", rec, wait=True)
                    after = procs.prog_stats(world.pin).get("vsteer_lookup", (0, 0))
                    samples.append(per_run(before, after))
                    for i, p in enumerate(progs):
                        others[i].append(per_run(pb[i], p.stats()))
                out[what] = {"ns_per_run": spread(samples),
                             "first_floor_ns_per_run": spread(others[0]),
                             "floor_ns_per_run": spread(others[1]),
                             "port_check_ns_per_run": spread(others[2]),
                             "over_floor_ns": spread([a - b for a, b in zip(samples, others[1])
                                                      if a is not None and b is not None]),
                             "connections": len(recs)}
            with procs.BpfStats(on=False):  # its accounting would be in every run
                out["loop"] = test_run_loop(world, o, floor, portchk)
        # What watching costs per request under keep-alive load.
        before = procs.prog_stats(world.pin)
        r = world.wrk("http://127.0.0.1:%d/" % SVC[1], o.secs)
        after = procs.prog_stats(world.pin)
        out["watch_per_request"] = procs.per_request(before, after, r["requests"])
        # The same for a "tcp" service: no status lines to read, so no TC
        # program on the interfaces.
        cfg = world.two_version_config()
        cfg["proxy"]["protocol"] = "tcp"
        world.vsteerd(cfg, fresh=True)
        set_weights({"1.0": 90, "2.0": 10})
        before = procs.prog_stats(world.pin)
        r = world.wrk("http://127.0.0.1:%d/" % SVC[1], o.secs)
        after = procs.prog_stats(world.pin)
        out["watch_per_request_tcp"] = procs.per_request(before, after, r["requests"])
    world.stop_all()
    return out


# -- 3. switch time --
def switch_times(recs, flips):
    """For each flip (t_call, t_ret, target): the time from the call's
    return until the first connection after which every connection (up to
    the next flip) landed on the target; 0 when every connection started
    after the return already did."""
    out = []
    for i, (t_call, t_ret, target) in enumerate(flips):
        end = flips[i + 1][0] if i + 1 < len(flips) else float("inf")
        after = [r for r in recs if t_ret <= r[0] < end]
        wrong = [r for r in after if r[2] != target]
        if not after:
            continue
        if not wrong:
            out.append(0.0)
            continue
        last_wrong = max(r[0] for r in wrong)
        nxt = [r[0] for r in after if r[0] > last_wrong and r[2] == target]
        out.append(((nxt[0] if nxt else last_wrong) - t_ret) / 1e6)
    return out


def switch(world, o):
    world.nginx_backends()
    nflips = o.flips
    gap = 0.4
    out = {}

    def run(name, flip):
        rec = world.connloop("switch", SVC if name == "vsteer" else
                             ("127.0.0.1", HAPROXY_PORT if name == "haproxy" else NGINX_PROXY_PORT))
        time.sleep(gap)
        flips = []
        for i in range(nflips):
            target = "2.0" if i % 2 == 0 else "1.0"
            t_call = time.monotonic_ns()
            flip(target)
            flips.append((t_call, time.monotonic_ns(), target))
            time.sleep(gap)
        recs = world.finish_connloop("switch", rec)
        ok = [r for r in recs if not r[2].startswith(("err", "http"))]
        period = statistics.median(r[1] - r[0] for r in ok) / 1e6 if ok else None
        times = switch_times(recs, flips)
        out[name] = {"switch_ms": spread(times), "call_ms": spread([(b - a) / 1e6 for a, b, _ in flips]),
                     "connect_period_ms": period, "failed": len(recs) - len(ok),
                     "connections": len(recs)}

    world.vsteerd(world.two_version_config(), fresh=True)
    set_weights({"1.0": 100})
    run("vsteer", lambda t: set_weights({t: 100}))
    world.stop("vsteerd")

    world.haproxy({"1.0": 100, "2.0": 0})
    run("haproxy", lambda t: world.haproxy_cmd(
        "set weight be/v%s 100; set weight be/v%s 0" % (t[0], "1" if t[0] == "2" else "2")))
    world.stop("haproxy")

    world.nginx_proxy({"1.0": 100})
    run("nginx_reload", lambda t: world.nginx_proxy_reload({t: 100}))
    world.stop_all()
    return out


# -- 4. failover --
def failover_run(world, addr, secs, kill_at):
    """Load with one connection per request; kill -9 version 1.0's backend.
    Unavoidable failures: connections that started before the dying
    process's sockets were closed (in flight or queued on it)."""
    rec = world.connloop("failover", addr, threads=4, secs=secs)
    time.sleep(kill_at)
    victim = world.procs.pop("demo-1.0")
    t_kill = time.monotonic_ns()
    os.killpg(victim.pid, signal.SIGKILL)   # the demo and its forked workers
    victim.wait()
    # Its sockets are closed once a connection to its own address is refused.
    wait_for(lambda: not procs.port_open(BACKENDS["1.0"]), 5, "1.0's sockets to close", 0.0005)
    t_dead = time.monotonic_ns()
    recs = world.finish_connloop("failover", rec, wait=True)
    failed = [r for r in recs if r[2].startswith(("err", "http"))]
    reasons, buckets = {}, {}
    for r in failed:
        reasons[r[2]] = reasons.get(r[2], 0) + 1
        b = (r[1] - t_kill) // 100_000_000          # when the client saw it, 100 ms bins
        buckets[b] = buckets.get(b, 0) + 1
    return {"connections": len(recs), "failed": len(failed),
            "unavoidable": sum(1 for r in failed if r[0] < t_dead),
            "after_close": sum(1 for r in failed if r[0] >= t_dead), "reasons": reasons,
            "errors_stop_ms": max((r[1] - t_kill) / 1e6 for r in failed) if failed else 0.0,
            "close_ms": (t_dead - t_kill) / 1e6, "timeline": sorted(buckets.items()),
            "served_by_2": sum(1 for r in recs if r[2] == "2.0")}


def failover(world, o):
    world.demo("2.0", BACKENDS["2.0"])
    secs, kill_at = (4, 1) if o.quick else (10, 2)
    out = {"vsteer": [], "haproxy": []}
    for _ in range(o.failover_runs):
        world.demo("1.0", BACKENDS["1.0"])
        world.vsteerd(world.two_version_config(), fresh=True)
        set_weights({"1.0": 100})
        wait_for(lambda: all(v["liveSockets"] for v in
                             api_ok("GET", "/v1/services/default")["versions"]),
                 10, "both backends registered")
        out["vsteer"].append(failover_run(world, SVC, secs, kill_at))
        world.stop("vsteerd")
        # HAProxy's equivalent of "1.0 takes all, 2.0 is the fallback",
        # with its default health checks (inter 2s, fall 3, rise 2).
        world.demo("1.0", BACKENDS["1.0"])
        world.haproxy({"1.0": 100, "2.0": 100}, backup="2.0", check=True)
        out["haproxy"].append(failover_run(world, ("127.0.0.1", HAPROXY_PORT), secs, kill_at))
        world.stop("haproxy")
    world.stop_all()
    summary = {}
    for name, runs in out.items():
        summary[name] = {k: spread([r[k] for r in runs]) for k in
                         ("connections", "failed", "unavoidable", "after_close",
                          "errors_stop_ms", "close_ms", "served_by_2")}
        summary[name]["reasons"] = runs[-1]["reasons"]
        summary[name]["timeline"] = runs[-1]["timeline"]
    return summary


# -- 5. rollback detection --
def rollback(world, o):
    world.demo_backends()
    world.vsteerd(world.two_version_config(), fresh=True)
    set_weights({"1.0": 100})
    analysis = {"interval": 1, "minRequests": 20, "failureLimit": 3}
    runs = []
    for i in range(o.rollback_runs):
        api_ok("POST", "/v1/services/default/rollout",
               {"to": "2.0", "strategy": "gradual", "steps": [{"weight": 50}],
                "analysis": analysis})
        # Many slow threads: a request held 50 ms blocks only its own thread.
        rec = world.connloop("rollback", SVC, threads=8, rate=50)
        time.sleep(2.5)                 # healthy windows first
        t_inject = time.monotonic_ns()
        procs.urllib.request.urlopen(procs.urllib.request.Request(
            "http://127.0.0.1:%d/control?delay_ms=50" % BACKENDS["2.0"], method="POST"),
            timeout=5).read()
        try:
            wait_for(lambda: (api_ok("GET", "/v1/services/default")["rollout"] or {})
                     .get("phase") == "rolled_back", 30, "automatic rollback", 0.005)
        except BenchError as e:
            raise BenchError("%s; last events: %s" % (
                e, [x.get("message") or x.get("kind") for x in api_ok("GET", "/v1/events")["events"][:6]]))
        t_event = time.monotonic_ns()
        time.sleep(1)
        recs = world.finish_connloop("rollback", rec)
        on_target = [r[0] for r in recs if r[0] >= t_inject and r[2] == "2.0"]
        back = (max(on_target) - t_inject) / 1e6 if on_target else 0.0
        failed = sum(1 for r in recs if r[2].startswith(("err", "http")))
        events = api_ok("GET", "/v1/events?service=default")["events"]
        runs.append({"event_ms": (t_event - t_inject) / 1e6, "back_on_stable_ms": back,
                     "failed": failed, "events": [e.get("kind") + ": " + e.get("message", "")
                                                  for e in events[:4]]})
        procs.urllib.request.urlopen(procs.urllib.request.Request(
            "http://127.0.0.1:%d/control?delay_ms=0" % BACKENDS["2.0"], method="POST"),
            timeout=5).read()
        # the next run starts from 1.0 stable again
        set_weights({"1.0": 100})
    world.stop_all()
    return {"analysis": analysis, "event_ms": spread([r["event_ms"] for r in runs]),
            "back_on_stable_ms": spread([r["back_on_stable_ms"] for r in runs]),
            "failed": sum(r["failed"] for r in runs), "runs": runs}


# -- 6. scale --
def usage(pid, secs, load=None):
    """vsteerd's CPU (% of one core) over secs, idle or while load() runs."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    if load:
        load()
    else:
        time.sleep(secs)
    return {"cpu_pct": 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0),
            "rss_kib": rss_kib(pid)}


def scale(world, o):
    out = {}
    # Session table memory: an array, allocated whole at creation.
    for n in (65536, 1 << 20):
        world.vsteerd({}, ["--session-table", str(n)], fresh=True)
        info = procs.map_info(os.path.join(world.pin, "sessions"))
        out.setdefault("session_table", {})[str(n)] = {
            "sets": info["max_entries"], "bytes_memlock": info.get("bytes_memlock"),
            "bytes_per_client": info.get("bytes_memlock", 0) / n}
        world.stop("vsteerd")
    # 1 service x 2 versions x 1 backend against S services x 4 versions x
    # 16 backends, one nginx worker holding every listener.
    nsvc, nver, nbk = o.scale
    ports = {}
    servers = []
    port = 10000
    for v in range(nver):
        ver = "%d.0" % (v + 1)
        lst = []
        for _ in range(nsvc * nbk):
            lst.append(port)
            port += 1
        ports[ver] = lst
        servers.append("server { %s location / { return 200 \"%s\\n\"; } }" % (
            " ".join("listen 127.0.0.1:%d backlog=4096;" % p for p in lst), ver))
    world.nginx("nginx-scale", "\n".join(servers), 1)
    wait_for(lambda: procs.port_open(port - 1), 30, "nginx with %d listeners" % (port - 10000))
    services = []
    for s in range(nsvc):
        services.append({"name": "s%d" % s, "address": "127.0.0.1", "port": 20000 + s,
                         "clusters": [{"version": "%d.0" % (v + 1), "upgradeTransition": {"mode": "Manual"},
                                       "servers": ["127.0.0.1:%d" % p for p in
                                                   ports["%d.0" % (v + 1)][s * nbk:(s + 1) * nbk]]}
                                      for v in range(nver)]})
    t0 = time.monotonic()
    p = world.vsteerd({"services": services}, fresh=True)
    out["startup_s"] = time.monotonic() - t0
    weights = {"1.0": 70, "2.0": 20, "3.0": 5, "4.0": 5}
    for s in range(nsvc):
        api_ok("PUT", "/v1/services/s%d/weights" % s, {k: v for k, v in weights.items()
                                                        if int(k[0]) <= nver})
    wait_for(lambda: all(v["liveSockets"] == nbk for v in
                         api_ok("GET", "/v1/services/s%d" % (nsvc - 1))["versions"]),
             30, "backends registered")
    out["config"] = {"services": nsvc, "versions": nver, "backends_per_version": nbk,
                     "listeners": port - 10000}
    out["vsteerd_idle"] = usage(p.pid, o.secs * 2)
    mid = nsvc // 2
    rows = {}
    with procs.BpfStats():
        # direct: spread over the 16 backends of the service's 1.0
        for what, tgt, span in (("direct", ports["1.0"][mid * nbk], nbk),
                                ("service", 20000 + mid, 1)):
            samples, cps = [], []
            for _ in range(o.rounds):
                before = procs.prog_stats(world.pin).get("vsteer_lookup", (0, 0))
                holder = {}
                u = usage(p.pid, 0, lambda: holder.update(
                    r=world.wrk("http://127.0.0.1:%d/" % tgt, o.secs, close=True, span=span)))
                after = procs.prog_stats(world.pin).get("vsteer_lookup", (0, 0))
                n = after[0] - before[0]
                samples.append((after[1] - before[1]) / n if n else None)
                cps.append(holder["r"]["rps"])
            rows[what] = {"connections_per_s": spread(cps), "lookup_ns_per_run": spread(samples),
                          "runs": cps}
        out["vsteerd_load"] = u
    rows["service"]["ratio_to_direct"] = spread(
        [a / b for a, b in zip(rows["service"].pop("runs"), rows["direct"].pop("runs"))])
    out["connections"] = rows
    world.stop_all()
    return out


# -- 7. soak --
def soak(world, o):
    world.nginx_backends()
    p = world.vsteerd(world.two_version_config(), fresh=True)
    set_weights({"1.0": 100})
    rss0 = rss_kib(p.pid)
    rec = world.connloop("soak", SVC, threads=2, rate=250)
    t_end = time.monotonic() + o.soak_minutes * 60
    samples, cycles, i = [(0, rss0)], 0, 0
    t0 = time.monotonic()
    while time.monotonic() < t_end:
        strategy = ("instant", "session")[i % 2]
        body = {"to": "2.0", "strategy": strategy}
        if strategy == "session":
            body["sessionTimeout"] = 2
        api_ok("POST", "/v1/services/default/rollout", body)
        time.sleep(o.soak_period)
        api_ok("POST", "/v1/services/default/rollout/rollback")
        time.sleep(o.soak_period)
        set_weights({"1.0": 100})       # 2.0 a plain 0% version again
        cycles += 1
        i += 1
        if not samples or time.monotonic() - t0 - samples[-1][0] >= 10:
            samples.append((time.monotonic() - t0, rss_kib(p.pid)))
    recs = world.finish_connloop("soak", rec)
    failed = [r for r in recs if r[2].startswith(("err", "http"))]
    reasons = {}
    for r in failed:
        reasons[r[2]] = reasons.get(r[2], 0) + 1
    out = {"minutes": o.soak_minutes, "cycles": cycles, "connections": len(recs),
           "failed": len(failed), "reasons": reasons,
           "served": {v: sum(1 for r in recs if r[2] == v) for v in BACKENDS},
           "rss_kib_start": rss0, "rss_kib_end": rss_kib(p.pid), "rss_samples": samples,
           "events": len(api_ok("GET", "/v1/events")["events"]),
           "sessions": sessions_in_table(os.path.join(world.pin, "sessions")),
           "session_places": procs.map_info(os.path.join(world.pin, "sessions"))["max_entries"]
           * 4}
    world.stop_all()
    return out


# -- 8. mirror --
ROLLOUT = "/v1/services/default/rollout"
MIRROR_DROPS = ("rate", "inFlight", "stream")
CAPTURE_LOSS = ("overBudget", "bufferFull")


def mirror_rollout():
    return api_ok("GET", "/v1/services/default")["rollout"] or {}


class Mirror:
    """A mirror rollout to 2.0 (duration 0: until aborted) for a with
    block; afterwards .did says what it did: its phase and verdict, the
    requests seen, mirrored, compared, skipped and dropped (the rollout's
    own), and the kernel's capture counters over the block (a service's
    are kept across rollouts: a difference)."""

    def __init__(self, world, **settings):
        self.settings = dict(settings, duration=0)
        self.pid = world.procs["vsteerd"].pid
        self.did = None

    def __enter__(self):
        api_ok("POST", ROLLOUT, {"to": "2.0", "strategy": "mirror", "mirror": self.settings})
        self.cap0 = mirror_rollout().get("mirror", {}).get("capture", {})
        self.cpu0, self.t0 = cpu_seconds(self.pid), time.monotonic()
        return self

    def __exit__(self, exc, *_):
        if exc is None:
            cpu = 100 * (cpu_seconds(self.pid) - self.cpu0) / (time.monotonic() - self.t0)
            # Replays under way finish: counts read twice alike, 0.2 s apart.
            last = []

            def settled():
                last.append(mirror_rollout().get("mirror", {}).get("requests"))
                return len(last) > 1 and last[-1] == last[-2]
            wait_for(settled, 10, "the mirror's counts to settle", 0.2)
            ro = mirror_rollout()
            m = ro.get("mirror", {})
            cap = m.get("capture", {})
            self.did = {"phase": ro.get("phase"), "verdict": m.get("verdict"),
                        "why": m.get("why"), "requests": m.get("requests", {}),
                        "capture": {k: v - self.cap0.get(k, 0) for k, v in cap.items()},
                        "routes": [r["report"] for r in m.get("routes", [])],
                        "vsteerd_cpu_pct": cpu}
        api_ok("POST", ROLLOUT + "/abort")


def mirror_lost(did):
    """Requests the mirror dropped and connections the capture lost, by
    counter; empty when nothing was."""
    r, c = did["requests"], did["capture"]
    lost = {k: r.get("dropped", {}).get(k, 0) for k in MIRROR_DROPS}
    lost.update({k: c.get(k, 0) for k in CAPTURE_LOSS})
    return {k: v for k, v in lost.items() if v}


def mirror_throughput(world, o):
    """The stable version's wrk figures without and with a 10% mirror,
    each round a pair next to each other in time (in turn first)."""
    url = "http://127.0.0.1:%d/" % SVC[1]
    out = {}
    for workload in ("keepalive", "close"):
        close = workload == "close"
        pairs, did = [], []
        for rnd in range(o.rounds):
            pair = {}
            for on in ((False, True) if rnd % 2 == 0 else (True, False)):
                if not on:
                    pair["off"] = world.wrk(url, o.secs, close)
                    continue
                with Mirror(world, **o.mirror_settings) as m:
                    pair["on"] = world.wrk(url, o.secs, close)
                did.append(dict(m.did, served=pair["on"]["requests"]))
            pairs.append(pair)
        row = {"errors": sum(p[k]["errors"] for p in pairs for k in p)}
        for k in ("rps", "p50_us", "p99_us"):
            row[k] = {side: spread([p[side][k] for p in pairs]) for side in ("off", "on")}
            row[k + "_ratio"] = spread([p["on"][k] / p["off"][k] if p["off"][k] else None
                                        for p in pairs])
        req = [d["requests"] for d in did]
        row["mirror"] = {
            "sampled": spread([d["capture"].get("sampled", 0) for d in did]),
            "seen": spread([r.get("seen", 0) for r in req]),
            "mirrored": spread([r.get("mirrored", 0) for r in req]),
            "compared": spread([r.get("compared", 0) for r in req]),
            "mirrored_share": spread([r.get("mirrored", 0) / d["served"] for r, d in zip(req, did)
                                      if d["served"]]),
            "mirrored_per_s": spread([r.get("mirrored", 0) / o.secs for r in req]),
            "lost": {k: sum(mirror_lost(d).get(k, 0) for d in did)
                     for k in MIRROR_DROPS + CAPTURE_LOSS},
            "vsteerd_cpu_pct": spread([d["vsteerd_cpu_pct"] for d in did]),
            "verdicts": [d["verdict"] for d in did], "last": did[-1]}
        out[workload] = row
    return out


def mirror_cost(world, o):
    """The capture's kernel cost per request under keep-alive load: no
    mirror against every connection sampled (percent 100). maxPerSecond
    1000 keeps the replay small (the rest is dropped, counted as rate,
    after the capture) while its copy budget, 64 MiB/s per CPU, stays far
    above what wrk's requests take; one connection leaves
    vsteerd's reader the CPU to keep up, so no connection's capture is
    lost (a lost one is not copied any more, and would look cheap)."""
    url = "http://127.0.0.1:%d/" % SVC[1]
    runs = {"off": [], "on": []}
    with procs.BpfStats():
        for rnd in range(o.cost_rounds):
            for on in ((False, True) if rnd % 2 == 0 else (True, False)):
                before = procs.prog_stats(world.pin)
                if on:
                    with Mirror(world, percent=100, maxPerSecond=1000) as m:
                        r = world.wrk(url, o.secs, conns=1, threads=1)
                        after = procs.prog_stats(world.pin)
                else:
                    r = world.wrk(url, o.secs, conns=1, threads=1)
                    after = procs.prog_stats(world.pin)
                per = procs.per_request(before, after, r["requests"])
                runs["on" if on else "off"].append(
                    dict(per=per, rps=r["rps"], lost=mirror_lost(m.did) if on else {},
                         sampled=m.did["capture"].get("sampled", 0) if on else 0))
    out = {}
    for side, rs in runs.items():
        progs = {}
        for name in ("vsteer_req", "vsteer_http"):
            progs[name] = {k: spread([x["per"].get(name, {}).get(k) for x in rs])
                           for k in ("runs_per_request", "ns_per_run", "ns_per_request")}
        # Only the capture's losses matter here: the replay's drops come
        # after the copy, by design of this measurement.
        out[side] = {"programs": progs, "rps": spread([x["rps"] for x in rs]),
                     "sampled": [x["sampled"] for x in rs],
                     "capture_lost": [{k: v for k, v in x["lost"].items() if k in CAPTURE_LOSS}
                                      for x in rs]}
    # A round whose capture was lost copied only until then: left out.
    out["extra_ns_per_request"] = spread(
        [sum(on["per"].get(n, {}).get("ns_per_request", 0) -
             off["per"].get(n, {}).get("ns_per_request", 0) for n in ("vsteer_req", "vsteer_http"))
         for on, off in zip(runs["on"], runs["off"])
         if not any(k in on["lost"] for k in CAPTURE_LOSS)])
    return out


def mirror_capacity(world, o):
    """Every connection sampled, the replay bounded only by maxInFlight:
    connloop (one request per connection) at rising rates until a round
    drops anything. Each step a fresh mirror, so its counts are its own."""
    steps = []
    for rate in o.mirror_rates:
        with Mirror(world, percent=100, maxPerSecond=100000, maxInFlight=256) as m:
            rec = world.connloop("mirror", SVC, threads=8, secs=o.mirror_step_secs,
                                 rate=rate / 8)
            recs = world.finish_connloop("mirror", rec, wait=True)
        r = m.did["requests"]
        steps.append({"offered_per_s": rate, "served_per_s": len(recs) / o.mirror_step_secs,
                      "failed": sum(1 for x in recs if x[2].startswith(("err", "http"))),
                      "mirrored": r.get("mirrored", 0), "compared": r.get("compared", 0),
                      "seen": r.get("seen", 0),
                      "mirrored_per_s": r.get("mirrored", 0) / o.mirror_step_secs,
                      "lost": mirror_lost(m.did), "verdict": m.did["verdict"],
                      "vsteerd_cpu_pct": m.did["vsteerd_cpu_pct"]})
        if steps[-1]["lost"]:
            break
    clean = [s for s in steps if not s["lost"]]
    return {"steps": steps, "settings": {"percent": 100, "maxPerSecond": 100000,
                                         "maxInFlight": 256},
            "sustained_per_s": max((s["mirrored_per_s"] for s in clean), default=0),
            "first_lossy": next((s for s in steps if s["lost"]), None)}


def mirror(world, o):
    world.nginx_backends(body="same")
    world.vsteerd(world.two_version_config(), fresh=True)
    set_weights({"1.0": 100})
    wait_for(lambda: all(v["liveSockets"] for v in
                         api_ok("GET", "/v1/services/default")["versions"]),
             10, "both backends registered")
    out = {"settings": o.mirror_settings,
           "throughput": mirror_throughput(world, o),
           "cost": mirror_cost(world, o),
           "capacity": mirror_capacity(world, o)}
    world.stop_all()
    return out


RUNNERS = {"throughput": throughput, "cost": cost, "switch": switch, "failover": failover,
           "rollback": rollback, "scale": scale, "soak": soak, "mirror": mirror,
           "containers": containers.run}


def options(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: harness check")
    ap.add_argument("--out", help="output folder (default bench-results/DATE)")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--soak-minutes", type=float, help="soak length (full run: 3)")
    o = ap.parse_args(argv)
    q = o.quick
    o.secs = 1 if q else 8              # per wrk run
    o.rounds = 1 if q else 5            # runs per figure (median, min, max)
    o.flips = 4 if q else 20
    o.failover_runs = 1 if q else 3
    o.rollback_runs = 1 if q else 3
    o.scale = (10, 4, 4) if q else (100, 4, 16)
    o.soak_period = 1.0 if q else 2.5
    # 10% of wrk's connections: ~6000 requests/s with keep-alive (a
    # sampled connection is mirrored whole), ~1500 with a connection per
    # request; maxPerSecond far above both, so the sample is replayed
    # whole and what bounds it shows as drops, not as a smaller sample.
    o.mirror_settings = {"percent": 10, "maxPerSecond": 20000, "maxInFlight": 256}
    o.cost_rounds = 1 if q else 3
    o.mirror_rates = [500, 2000] if q else [500, 1000, 2000, 3000, 4000, 6000, 8000, 12000]
    o.mirror_step_secs = 1 if q else 4
    # quick: one connection per request only, one run for the cost: every
    # path and the code of each measurement runs once, in about 10 s. Full:
    # more and shorter rounds than the other scenarios' (8 x 5 s): its
    # pairs are the figures, and on a shared machine more short pairs
    # give a steadier median than a few long ones.
    o.containers_rounds = 1 if q else 8
    o.containers_secs = 1 if q else 5
    o.containers_workloads = ("close",) if q else containers.WORKLOADS
    o.containers_cost_runs = [("remote", "vsteer", "close")] if q else [
        (c, p, w) for c in ("remote", "local") for p, w in
        (("vsteer", "keepalive"), ("vsteer", "close"), ("direct_attached", "close"))]
    o.containers_cost_secs = 1 if q else 4
    if o.soak_minutes is None:
        o.soak_minutes = 0.1 if q else 3
    o.scenarios = o.only.split(",") if o.only else list(SCENARIOS)
    bad = [s for s in o.scenarios if s not in RUNNERS]
    if bad:
        ap.error("unknown scenario %s (one of %s)" % (",".join(bad), ",".join(SCENARIOS)))
    o.out = o.out or os.path.join(procs.ROOT, "bench-results",
                                  datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    return o


def main(argv):
    if os.environ.get("VSTEER_BENCH_NETNS") != "1":
        if os.geteuid() != 0:
            print("bench: run as root (it loads BPF programs)", file=sys.stderr)
            return 2
        os.environ["VSTEER_BENCH_NETNS"] = "1"
        return subprocess.call(["unshare", "--net", "--mount", "--propagation", "private",
                                sys.executable, os.path.abspath(__file__)] + argv)
    o = options(argv)
    os.makedirs(o.out, exist_ok=True)
    res = {"command": "tests/bench/bench.py " + " ".join(argv),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": procs.machine(), "quick": o.quick, "scenarios": {}, "failed": {}}
    world = procs.World()
    t_all = time.monotonic()
    try:
        for name in o.scenarios:
            t0 = time.monotonic()
            print("bench: %s ..." % name, flush=True)
            try:
                res["scenarios"][name] = RUNNERS[name](world, o)
                # paths that did not answer fail the scenario; the rest is kept
                broken = res["scenarios"][name].get("broken")
                if broken:
                    res["failed"][name] = "; ".join("%s: %s" % kv for kv in broken.items())
                    print("bench: %s failed: %s" % (name, res["failed"][name]), flush=True)
            except (BenchError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
                res["failed"][name] = "%s: %s" % (type(e).__name__, e)
                print("bench: %s failed: %s (logs in %s)" % (name, e, world.dir), flush=True)
            finally:
                world.stop_all()
            print("bench: %s done in %.0f s" % (name, time.monotonic() - t0), flush=True)
    finally:
        world.stop_all()
    res["seconds"] = time.monotonic() - t_all
    with open(os.path.join(o.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    report.write(res, o.out)
    print("bench: results in %s (%.0f s)" % (o.out, res["seconds"]))
    # The processes' logs help only when something failed.
    if res["failed"]:
        print("bench: logs kept in %s" % world.dir)
    else:
        world.remove()
    measured = [s for s in res["scenarios"] if s not in res["failed"]]
    print("bench: %d scenarios measured, %d failed" % (len(measured), len(res["failed"])))
    return 1 if res["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
