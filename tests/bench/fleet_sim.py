#!/usr/bin/env python3
"""A fleet on one machine (docs/fleet.md, "Scale"): N vsteerd hosts, each
in a network namespace with two demo backends, and three etcd members, as
the end-to-end test fleet_hosts starts them. Prints how long they take to
join, how long a weights change takes to reach all N (measured by polling
each host's API in turn), and each vsteerd's and etcd member's idle CPU
and RSS. Asserts nothing; not run by CI.

    make && sudo SIM_N=20 /usr/bin/python3 tests/bench/fleet_sim.py
"""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDLE_S = 20  # how long idle CPU is measured over


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        p = f.read().rsplit(")", 1)[1].split()
    return int(p[11]) + int(p[12])


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def cpu_percent(pids):
    """Each pid's CPU over IDLE_S seconds, in percent of a core."""
    before = [ticks(p) for p in pids]
    time.sleep(IDLE_S)
    hz = os.sysconf("SC_CLK_TCK")
    return [(ticks(p) - b) / hz / IDLE_S * 100 for p, b in zip(pids, before)]


def main(n):
    from lib import Env, Bridge
    import fleet

    env = Env()
    try:
        bridge = Bridge(env, ("netns",) * (n + 3))
        cluster = fleet.EtcdCluster(env, [bridge[n + 1], bridge[n + 2], bridge[n + 3]])
        t0 = time.monotonic()
        hosts = [fleet.Host(env, bridge, bridge[i], cluster, "h%d" % i) for i in range(1, n + 1)]
        for h in hosts:
            h.start()
        fleet.SEEN = 120
        hosts[0].wait_states({h.name: "ok" for h in hosts}, "all joined")
        print("N=%d: all joined and seen ok %.1f s after the first start" % (n, time.monotonic() - t0))
        times = []
        for k in range(10):
            w = {"1.0": k % 2 * 100, "2.0": 100 - k % 2 * 100}
            t1 = time.monotonic()
            status, body = hosts[0].set_weights(w)
            assert status == 200, body
            pending = set(hosts[1:])
            while pending:
                pending = {h for h in pending if h.weights() != w}
            times.append((time.monotonic() - t1) * 1000)
            time.sleep(0.3)
        print("weights applied by all %d (ms, polling %d APIs in turn): median %.0f max %.0f"
              % (n, n, statistics.median(times), max(times)))
        pids = [h.proc.pid for h in hosts]
        epids = [p.pid for p in cluster.procs.values()]
        cpu = cpu_percent(pids + epids)
        print("idle CPU a vsteerd: mean %.2f%% max %.2f%%; etcd members: %s%%"
              % (statistics.mean(cpu[:n]), max(cpu[:n]), ", ".join("%.1f" % c for c in cpu[n:])))
        print("RSS a vsteerd: mean %.0f MiB; etcd members: %s MiB"
              % (statistics.mean(rss_mib(p) for p in pids),
                 ", ".join("%.0f" % rss_mib(p) for p in epids)))
    finally:
        env.close()


if __name__ == "__main__":
    if os.environ.get("FLEET_SIM_INNER") != "1":
        # A network and mount namespace of its own, as tests/run gives a test.
        os.execvpe("unshare", ["unshare", "--net", "--mount", "--propagation", "private",
                               sys.executable, os.path.abspath(__file__)],
                   dict(os.environ, FLEET_SIM_INNER="1"))
    sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests/e2e")]
    os.chdir(ROOT)
    main(int(os.environ.get("SIM_N", "20")))
