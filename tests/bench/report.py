"""results.json -> results.md and PNG charts (gnuplot); `report.py DIR`
re-renders a run."""
import os
import shutil
import subprocess

NAMES = {"direct": "direct to the backend", "vsteer_100": "vsteer 100/0 (the same backend)",
         "vsteer": "vsteer 90/10",
         "vsteer_nowatch": "vsteer 90/10, --no-watch",
         "vsteer_100_nowatch": "vsteer 100/0, --no-watch", "haproxy": "HAProxy 2.6 90/10",
         "nginx": "NGINX proxy split_clients 90/10"}
# switch and failover compare the tools, not a split
TOOLS = {"vsteer": "vsteer", "haproxy": "HAProxy 2.6", "nginx_reload": "NGINX reload"}


def settings(d):
    """A scenario's settings as the API takes them: key=value, comma-separated."""
    return ", ".join("%s=%s" % kv for kv in d.items())


def fmt(s, digits=0, scale=1.0):
    """'median [min-max]' of a spread, or '-'."""
    if not s:
        return "-"
    f = "%%.%df" % digits
    m = f % (s["median"] * scale)
    if s.get("runs", 1) > 1 and s["min"] != s["max"]:
        return "%s [%s-%s]" % (m, f % (s["min"] * scale), f % (s["max"] * scale))
    return m


def throughput_md(t):
    out = []
    for w, title in (("keepalive", "keep-alive"), ("close", "one connection per request")):
        if w not in t:
            continue
        out += ["", "**%s** (wrk, 2 threads, 32 connections)" % title, "",
                "| path | req/s | ratio | p50 µs | p99 µs | p99.9 µs | p99 ratio | errors |",
                "|---|---|---|---|---|---|---|---|"]
        for c, r in t[w].items():
            out.append("| %s | %s | %s | %s | %s | %s | %s | %d |" % (
                NAMES.get(c, c), fmt(r["rps"]), fmt(r["rps_ratio"], 3), fmt(r["p50_us"]),
                fmt(r["p99_us"]), fmt(r["p999_us"]), fmt(r["p99_us_ratio"], 3), r["errors"]))
    return out


COST_TITLES = (("service_new_client", "a service, from a new client every time (worst case)"),
               ("service_known_client", "a service, from one client (its session found)"),
               ("service", "a service, from random clients of 127.1/16 (as the throughput runs)"),
               ("unrelated_port", "an unrelated port"))


def cost_md(c):
    out = ["", "ns per run, all on the same connections; the sk_lookup programs run in this "
           "order: a program that returns at once (first), vsteer_lookup, another that returns "
           "at once, one that only reads vsteer's port bitmap.", "",
           "| connection to | returns at once, first | vsteer_lookup | returns at once, after "
           "| vsteer_lookup over it | reads the port bitmap |", "|---|---|---|---|---|---|"]
    for k, title in COST_TITLES:
        if k in c:
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                title, fmt(c[k].get("first_floor_ns_per_run"), 1), fmt(c[k]["ns_per_run"], 1),
                fmt(c[k].get("floor_ns_per_run"), 1), fmt(c[k].get("over_floor_ns"), 1),
                fmt(c[k].get("port_check_ns_per_run"), 1)))
    lp = c.get("loop")
    if lp:
        out += ["", "The same program in BPF_PROG_TEST_RUN (no traffic, no run-time accounting, "
                "warm): loops of %d runs on one context; a new client's figure is the mean of "
                "single runs from %d new addresses a round, against single runs of the program "
                "that returns at once (both include the kernel's clock reads)." % (
                    lp["repeat"], lp["new_clients_a_round"]), "",
                "| run | ns per run | over the floor |", "|---|---|---|",
                "| returns at once (the floor) | %s | |" % fmt(lp["floor"], 1),
                "| reads the port bitmap | %s | |" % fmt(lp["port_check"], 1),
                "| vsteer_lookup, an unrelated port | %s | %s |" % (
                    fmt(lp["unrelated_port"], 1), fmt(lp["unrelated_port_over_floor"], 1)),
                "| vsteer_lookup, a known client | %s | %s |" % (
                    fmt(lp["known_client"], 1), fmt(lp["known_client_over_floor"], 1)),
                "| returns at once, single runs | %s | |" % fmt(lp["floor_single"], 1),
                "| vsteer_lookup, a new client (single runs) | %s | %s |" % (
                    fmt(lp["new_client"], 1), fmt(lp["new_client_over_floor"], 1))]
    for key, what in (("watch_per_request", "an `http` service"),
                      ("watch_per_request_tcp", "a `tcp` service (no TC program)")):
        if not c.get(key):
            continue
        out += ["", "Per request under keep-alive load (the watch hooks), %s:" % what, "",
                "| program | runs per request | ns per run | ns per request |", "|---|---|---|---|"]
        for name, p in sorted(c[key].items()):
            out.append("| %s | %.3g | %.0f | %.0f |" % (name, p["runs_per_request"],
                                                     p["ns_per_run"], p["ns_per_request"]))
        total = sum(p["ns_per_request"] for n, p in c[key].items() if n != "vsteer_lookup")
        out.append("| all but vsteer_lookup | | | %.0f |" % total)
    return out


def switch_md(s):
    out = ["", "| how | switch time ms | the call took ms | client connect period ms | failed |",
           "|---|---|---|---|---|"]
    for k, r in s.items():
        out.append("| %s | %s | %s | %.3f | %d |" % (
            TOOLS.get(k, k), fmt(r["switch_ms"], 3), fmt(r["call_ms"], 3),
            r["connect_period_ms"] or 0, r["failed"]))
    return out


def failover_md(f):
    out = ["", "| | connections | failed | unavoidable (started before the close) | "
           "after the close | errors stop after ms |", "|---|---|---|---|---|---|"]
    for k, r in f.items():
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            TOOLS.get(k, k), fmt(r["connections"]), fmt(r["failed"]), fmt(r["unavoidable"]),
            fmt(r["after_close"]), fmt(r["errors_stop_ms"], 1)))
    for k, r in f.items():
        if r.get("reasons"):
            out.append("")
            out.append("%s failures by kind (last run): %s" % (TOOLS.get(k, k), ", ".join(
                "%s %d" % kv for kv in sorted(r["reasons"].items()))))
    return out


def rollback_md(r):
    return ["", "analysis: %s" % settings(r["analysis"]), "",
            "| time from +50 ms injected to | ms |", "|---|---|",
            "| the automatic rollback (API shows rolled_back) | %s |" % fmt(r["event_ms"]),
            "| the last new connection to land on the target | %s |" % fmt(r["back_on_stable_ms"]),
            "", "failed requests during these runs: %d" % r["failed"]]


def scale_md(s):
    out = ["", "| clients (`--session-table`) | `sessions` (memlock) | per client |",
           "|---|---|---|"]
    for n, v in s.get("session_table", {}).items():
        out.append("| %s | %.1f MiB | %.0f B |" % (
            n, (v["bytes_memlock"] or 0) / 2**20, v["bytes_per_client"]))
    if "config" in s:
        c = s["config"]
        out += ["", "%d services x %d versions x %d backends (%d listening sockets): "
                "vsteerd started in %.2f s" % (c["services"], c["versions"],
                                               c["backends_per_version"], c["listeners"],
                                               s["startup_s"]), "",
                "| | connections/s | sk_lookup ns per run |", "|---|---|---|"]
        for k, title in (("direct", "directly, spread over the service's 1.0 backends"),
                         ("service", "through the service")):
            r = s["connections"][k]
            out.append("| %s | %s | %s |" % (title, fmt(r["connections_per_s"]),
                                             fmt(r["lookup_ns_per_run"], 1)))
        out += ["", "service / direct: %s" % fmt(s["connections"]["service"]["ratio_to_direct"], 3),
                "", "| vsteerd | CPU % of one core | RSS MiB |", "|---|---|---|",
                "| idle | %.2f | %.1f |" % (s["vsteerd_idle"]["cpu_pct"], s["vsteerd_idle"]["rss_kib"] / 1024),
                "| under connection load | %.2f | %.1f |" % (s["vsteerd_load"]["cpu_pct"],
                                                           s["vsteerd_load"]["rss_kib"] / 1024)]
    return out


def soak_md(s):
    return ["", "| | |", "|---|---|",
            "| duration | %.1f min |" % s["minutes"],
            "| rollout + rollback cycles | %d |" % s["cycles"],
            "| connections | %d (1.0: %d, 2.0: %d) |" % (s["connections"], s["served"]["1.0"],
                                                      s["served"]["2.0"]),
            "| failed | %d %s |" % (s["failed"], s["reasons"] or ""),
            "| vsteerd RSS start -> end | %.1f -> %.1f MiB |" % (s["rss_kib_start"] / 1024,
                                                               s["rss_kib_end"] / 1024),
            "| events kept | %d |" % s["events"],
            "| sessions in the table | %d of %d places |" % (s["sessions"], s["session_places"])]


def mirror_lost_text(lost):
    return ", ".join("%s %d" % kv for kv in lost.items() if kv[1]) or "none"


def mirror_md(m):
    out = ["", "Mirror settings: %s; stable version 1.0 takes every client." % settings(m["settings"])]
    for w, title in (("keepalive", "keep-alive"), ("close", "one connection per request")):
        t = m["throughput"].get(w)
        if not t:
            continue
        mi = t["mirror"]
        out += ["", "**%s** (wrk, 2 threads, 32 connections): without / with a mirror running" % title,
                "", "| | without | with | ratio |", "|---|---|---|---|"]
        for k, name in (("rps", "req/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs")):
            out.append("| %s | %s | %s | %s |" % (name, fmt(t[k]["off"]), fmt(t[k]["on"]),
                                                fmt(t[k + "_ratio"], 3)))
        out += ["", "What the mirror did per round: connections sampled %s, requests seen %s, "
                "mirrored %s (%s a second, %s of those served), compared %s; lost: %s; "
                "vsteerd CPU %s%% of one core; verdicts %s. Errors: %d." % (
                    fmt(mi["sampled"]), fmt(mi["seen"]), fmt(mi["mirrored"]),
                    fmt(mi["mirrored_per_s"]), fmt(mi["mirrored_share"], 3), fmt(mi["compared"]),
                    mirror_lost_text(mi["lost"]), fmt(mi["vsteerd_cpu_pct"]),
                    ", ".join(str(v) for v in mi["verdicts"]), t["errors"])]
    c = m.get("cost")
    if c:
        out += ["", "Kernel cost per request, keep-alive (wrk, 1 thread, 1 connection):", "",
                "| | program | runs per request | ns per run | ns per request |",
                "|---|---|---|---|---|"]
        for side, name in (("off", "no mirror"), ("on", "percent 100")):
            for prog, p in c[side]["programs"].items():
                out.append("| %s | %s | %s | %s | %s |" % (
                    name, prog, fmt(p["runs_per_request"], 2), fmt(p["ns_per_run"]),
                    fmt(p["ns_per_request"])))
        out += ["", "Capture's extra ns per request (both programs, rounds whose capture was "
                "not lost): %s; connections sampled "
                "per round %s, their capture lost: %s" % (
                    fmt(c["extra_ns_per_request"]), c["on"]["sampled"],
                    "; ".join(mirror_lost_text(x) for x in c["on"]["capture_lost"]))]
    cap = m.get("capacity")
    if cap:
        out += ["", "Largest mirrored rate without drops (connloop, one request per connection, "
                "%s):" % cap["settings"], "",
                "| offered conn/s | served /s | mirrored /s | compared in the step | lost | "
                "vsteerd CPU % |",
                "|---|---|---|---|---|---|"]
        for st in cap["steps"]:
            out.append("| %d | %.0f | %.0f | %d | %s | %.0f |" % (
                st["offered_per_s"], st["served_per_s"], st["mirrored_per_s"], st["compared"],
                mirror_lost_text(st["lost"]), st["vsteerd_cpu_pct"]))
        out += ["", "sustained without drops: %.0f mirrored requests/s" % cap["sustained_per_s"]]
    return out


CONTAINER_PATHS = {"direct": "direct to the container", "dnat": "host port, iptables DNAT",
                   "forwarder": "host port, user-space forwarder",
                   "vsteer": "vsteer (service address)",
                   "direct_attached": "direct, vsteer's programs attached"}


def containers_md(c):
    out = ["", "Service %s (exists nowhere), its one version's server %s in the container; "
           "user-space forwarder: %s. Every client connection from a random address of its "
           "client's range; wrk, 2 threads, 32 connections." % (c["service"], c["server"],
                                                                 c.get("forwarder", "-"))]
    for w, title in (("keepalive", "keep-alive"), ("close", "one connection per request")):
        rows = c.get("workloads", {}).get(w)
        if not rows:
            continue
        out += ["", "**%s**" % title, "",
                "| client | path | req/s | ratio | p50 µs | p99 µs | p99 ratio | errors | "
                "vsteerd CPU % |", "|---|---|---|---|---|---|---|---|---|"]
        for client in ("remote", "local"):
            for path in CONTAINER_PATHS:
                r = rows.get(client, {}).get(path)
                if not r:
                    continue
                out.append("| %s | %s | %s | %s | %s | %s | %s | %d | %s |" % (
                    client, CONTAINER_PATHS.get(path, path), fmt(r["rps"]),
                    fmt(r["rps_ratio"], 3), fmt(r["p50_us"]), fmt(r["p99_us"]),
                    fmt(r["p99_us_ratio"], 3), r["errors"], fmt(r.get("vsteerd_cpu_pct"), 1)))
        v = rows.get("remote", {}).get("vsteer", {}).get("rps_to_dnat")
        if v:
            out += ["", "remote, vsteer / DNAT: %s" % fmt(v, 3)]
    if c.get("cost"):
        out += ["", "Kernel run time per request (`kernel.bpf_stats_enabled`, separate runs):", "",
                "| client / path / workload | program | runs per request | ns per run | "
                "ns per request |", "|---|---|---|---|---|"]
        for run, progs in c["cost"].items():
            for name, p in progs.items():
                if p["runs_per_request"] and p["runs_per_request"]["median"] >= 0.01:
                    out.append("| %s | %s | %s | %s | %s |" % (
                        run, name, fmt(p["runs_per_request"], 2), fmt(p["ns_per_run"]),
                        fmt(p["ns_per_request"])))
    if c.get("load1"):
        out += ["", "1-minute load average after each round: %s (wrk and nginx alone keep "
                "both cores of the development VM busy: 2-3; more is other work)" % fmt(c["load1"], 1)]
    others = c.get("other_vsteerds")
    if others and others["max"]:
        out += ["", "Other vsteerds on the machine during the runs (their tracepoint programs "
                "and connect hooks run for every path alike): %s" % fmt(others)]
    return out


SECTIONS = [("throughput", "1. Throughput and latency", throughput_md),
            ("cost", "2. Steering cost", cost_md),
            ("switch", "3. Switch time (all new connections to the other version)", switch_md),
            ("failover", "4. Failover: kill -9 of the backend taking traffic", failover_md),
            ("rollback", "5. Rollback detection", rollback_md),
            ("scale", "6. Scale", scale_md),
            ("soak", "7. Soak", soak_md),
            ("mirror", "9. Mirror: the stable version with 10% mirrored, the capture's cost, "
             "the largest mirrored rate", mirror_md),
            ("containers", "10. Containers: remote and local clients of a server on a bridge",
             containers_md)]


def markdown(res, out_dir):
    m = res["machine"]
    out = ["# vsteer benchmark", "",
           "`%s` on %s; %s" % (res["command"].strip(), res["date"], "quick mode: a harness "
                               "check, not figures to quote" if res["quick"] else "full run"),
           "", "Machine: Linux %s, %d x %s, %.0f GiB; %s; %s; %s." % (
               m["kernel"], m["cpus"], m["cpu"], m["memory_gib"], m["haproxy"], m["nginx"],
               m["wrk"]),
           "", "Figures are the median of the runs with [min-max]; ratios pair each run "
           "with the baseline run next to it."]
    for key, title, fn in SECTIONS:
        if key in res["scenarios"]:
            out += ["", "## " + title] + fn(res["scenarios"][key])
            if key in res["failed"]:
                out += ["", "FAILED: " + res["failed"][key]]
            png = {"throughput": ["throughput.png", "latency.png"],
                   "failover": ["failover.png"]}.get(key, [])
            png = [p for p in png if os.path.exists(os.path.join(out_dir, p))]
            out += [""] + ["![%s](%s)" % (p[:-4], p) for p in png]
        elif key in res["failed"]:
            out += ["", "## " + title, "", "FAILED: " + res["failed"][key]]
    return "\n".join(out) + "\n"


def gnuplot(script, out_dir):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=out_dir,
                       capture_output=True)
    if r.returncode:
        print("report: gnuplot: %s" % r.stderr.strip()[-300:])
    return r.returncode == 0


# Short enough for six bars' labels under a 900 px chart.
CHART_NAMES = {"vsteer_100": "vsteer 100/0", "vsteer_100_nowatch": "100/0 --no-watch",
               "vsteer": "vsteer 90/10", "vsteer_nowatch": "90/10 --no-watch",
               "haproxy": "HAProxy 90/10", "nginx": "NGINX 90/10"}


def ratio_chart(t, key, title, png, out_dir):
    rows = []
    for c in CHART_NAMES:
        vals = []
        for w in ("keepalive", "close"):
            s = t.get(w, {}).get(c, {}).get(key)
            vals += [s["median"], s["min"], s["max"]] if s else [0, 0, 0]
        rows.append("\"%s\" %s" % (CHART_NAMES[c], " ".join("%.4f" % v for v in vals)))
    dat = png[:-4] + ".dat"
    with open(os.path.join(out_dir, dat), "w") as f:
        f.write("\n".join(rows) + "\n")
    gnuplot("""set terminal pngcairo size 900,450 font ",10"
set output "%s"
set title "%s (median, min-max; 1.0 = direct)"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set grid ytics
set key outside bottom center horizontal
set xtics noenhanced
plot "%s" using 2:3:4:xtic(1) title "keep-alive", "" using 5:6:7 title "connection per request", 1 with lines lc rgb "black" dt 2 notitle
""" % (png, title, dat), out_dir)


def failover_chart(f, out_dir):
    if not any(r["timeline"] for r in f.values()):
        return                          # nothing failed: nothing to draw
    # Side by side in each 100 ms bucket: the tools often fail in the same
    # bucket, and overlapping boxes would hide one.
    width = 0.09 / len(f)
    for i, k in enumerate(f):
        shift = (i - (len(f) - 1) / 2) * width
        with open(os.path.join(out_dir, "failover-%s.dat" % k), "w") as fh:
            for b, n in f[k]["timeline"]:
                fh.write("%.3f %d\n" % (b * 0.1 + 0.05 + shift, n))
    plots = ", ".join("\"failover-%s.dat\" using 1:2 with boxes title \"%s\"" % (k, TOOLS.get(k, k))
                      for k in f)
    gnuplot("""set terminal pngcairo size 900,400 font ",10"
set output "failover.png"
set title "Failed requests per 100 ms (when the client saw the failure) after kill -9 of the backend taking traffic"
set xlabel "seconds after the kill"
set yrange [0:*]
set ylabel "failed requests"
set style fill solid 0.6 border -1
set boxwidth %.3f
set xrange [-0.5:*]
set grid
set xtics noenhanced
plot %s
""" % (width, plots), out_dir)


def write(res, out_dir):
    sc = res["scenarios"]
    if "throughput" in sc:
        ratio_chart(sc["throughput"], "rps_ratio", "Requests/s relative to direct",
                    "throughput.png", out_dir)
        ratio_chart(sc["throughput"], "p99_us_ratio", "p99 latency relative to direct",
                    "latency.png", out_dir)
    if "failover" in sc:
        failover_chart(sc["failover"], out_dir)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown(res, out_dir))


if __name__ == "__main__":
    # Re-render a run's results.md and charts: report.py DIR
    import json
    import sys
    with open(os.path.join(sys.argv[1], "results.json")) as fh:
        write(json.load(fh), sys.argv[1])
