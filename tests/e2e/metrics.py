"""/metrics as Prometheus' own tools read it: promtool, the Python client's parser, a real Prometheus running the dashboard's and the alert rules' queries."""
import http.client
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from common import Load, rollout, test
from lib import API, ROOT, api, check, service, versions_of, wait_for

CONTRIB = os.path.join(ROOT, "contrib")
ALERTS = os.path.join(CONTRIB, "prometheus", "vsteer-alerts.yml")
ALERT_TESTS = os.path.join(CONTRIB, "prometheus", "vsteer-alerts.test.yml")
DASHBOARD = os.path.join(CONTRIB, "grafana", "vsteer-dashboard.json")
PROM = ("127.0.0.1", 9090)

# Every family a service with versions and a rollout shows (mirror
# rollouts add the vsteer_mirror_* ones), and its type. Python's parser
# names a counter's family without its _total.
FAMILIES = {
    "vsteer_build_info": "gauge",
    "vsteer_notifications_sent": "counter",
    "vsteer_notifications_failed": "counter",
    "vsteer_notifications_queued": "gauge",
    "vsteer_connections": "counter",
    "vsteer_failovers": "counter",
    "vsteer_requests_arrived": "counter",
    "vsteer_requests": "counter",
    "vsteer_responses": "counter",
    "vsteer_response_bytes": "counter",
    "vsteer_connection_resets": "counter",
    "vsteer_open_connections": "gauge",
    "vsteer_drain_closed": "counter",
    "vsteer_version_weight": "gauge",
    "vsteer_backend_up": "gauge",
    "vsteer_accept_backlog": "gauge",
    "vsteer_sockets_refused": "counter",
    "vsteer_request_duration_seconds": "histogram",
    "vsteer_response_size_bytes": "histogram",
    "vsteer_refused": "counter",
    "vsteer_sessions_unrecorded": "counter",
    "vsteer_rollout_phase": "gauge",
    "vsteer_rollout_step": "gauge",
    "vsteer_rollout_target_weight": "gauge",
    "vsteer_rollbacks": "counter",
    "vsteer_analysis_windows": "counter",
}

# Run by Debian's Python, which has python3-prometheus-client: each family
# the parser reads, as "name type samples".
PARSE = """
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    print(f.name, f.type, len(f.samples))
"""


def scrape():
    c = http.client.HTTPConnection(*API, timeout=5)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    check(r.status == 200 and r.getheader("Content-Type").startswith("text/plain"),
          "GET /metrics: %s %s" % (r.status, r.getheader("Content-Type")))
    return text


def samples_of(text):
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            samples[k] = float(v)
    return samples


def promtool_accepts(text):
    """promtool check metrics: exit 0 and nothing to say (it lists each
    problem, HELP missing or a name against the conventions, on stderr)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          "promtool check metrics: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))


def python_families(text):
    """{family: type} as prometheus_client's parser reads the text; a
    family whose lines were not together would come out untyped, once per
    stretch."""
    p = subprocess.run(["/usr/bin/python3", "-c", PARSE], input=text, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "prometheus_client's parser failed:\n%s" % p.stderr[-2000:])
    fams = {}
    for line in p.stdout.splitlines():
        name, typ, n = line.split()
        check(name not in fams, "family %s read twice: its lines are not together" % name)
        check(int(n) > 0, "family %s has no samples" % name)
        fams[name] = typ
    return fams


@test
def prometheus_metrics(env):
    """`/metrics` passes `promtool check metrics` and Python's
    prometheus_client reads all 26 families with their types (no untyped);
    counts, weights, backend state, rollout step and target weight match what
    was sent and done; histogram `_sum`s are exact: bytes equal to the bytes
    sent, latency within 5 ms a request of the 20 ms delay and its mean within
    6.25% + 2 ms of p50

    GET /metrics in Prometheus text format, per service and version, with
    base units, HELP and TYPE for every family and its samples together."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--delay-ms", "20")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}]))
    api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    got = versions_of(range(100))
    n2 = got.count("2.0")
    key = '%s{service="default",version="2.0"}'

    # Each response is counted into the size histogram when its connection
    # closes, which can be just after the client has read it all (10 s:
    # seconds under qemu's emulation of Debian 12's kernel).
    def settled():
        s = samples_of(scrape())
        return s[key % "vsteer_response_size_bytes_count"] == n2 and s
    wait_for(settled, 10, "2.0's %d responses in the size histogram" % n2)
    text = scrape()
    samples = samples_of(text)
    promtool_accepts(text)
    fams = python_families(text)
    want = {k: v for k, v in FAMILIES.items() if not k.startswith("vsteer_rollout_")}
    want["vsteer_rollout_phase"] = "gauge"
    check(fams == want, "families read: %s, expected %s" % (
        sorted(set(fams.items()) ^ set(want.items())), "the same"))
    check(samples[key % "vsteer_requests_total"] == n2, "requests")
    check(samples[key % "vsteer_requests_arrived_total"] == n2, "arrived")
    check(samples[key % "vsteer_connections_total"] == n2, "connections")
    check(samples[key % "vsteer_version_weight"] == 0.5, "weight")
    check(samples[key % "vsteer_connection_resets_total"] == 0, "resets")
    check(samples['vsteer_failovers_total{service="default",version="2.0",direction="out"}'] == 0,
          "failovers")
    hb = 'vsteer_request_duration_seconds_bucket{service="default",version="2.0",le="%s"}'
    inf, le10, le50, le250 = (samples[hb % le] for le in ("+Inf", "0.01", "0.05", "0.25"))
    # None can be under its 20 ms; a loaded or emulated machine delays a
    # few past 50 ms (one in 47 under qemu's emulation), none to 250 ms.
    check(inf == n2 and le10 == 0 and le50 >= 0.9 * n2 and le250 == n2,
          "2.0 duration buckets %s %s %s %s" % (le10, le50, le250, inf))
    # The sum is the kernel's own: each request takes its 20 ms and at most
    # 5 ms more (scheduling on a loaded or emulated machine).
    s = samples[key % "vsteer_request_duration_seconds_sum"]
    check(0.020 * n2 <= s <= 0.025 * n2, "2.0 duration sum %.4f for %d requests" % (s, n2))
    # Its mean against the p50 the API reads from the buckets (a bucket's
    # middle, at most 6.25% off), plus 2 ms for the few slow outliers that
    # move a mean and not a median.
    v2 = [v for v in service()["versions"] if v["version"] == "2.0"][0]["counters"]
    p50 = v2["latencyP50Ms"] / 1000
    check(abs(s / n2 - p50) <= 0.0625 * p50 + 0.002,
          "2.0 mean latency %.4f s vs p50 %.4f s" % (s / n2, p50))
    size_sum = samples[key % "vsteer_response_size_bytes_sum"]
    check(size_sum == v2["responseBytes"] == samples[key % "vsteer_response_bytes_total"] > 0,
          "2.0 size sum %s, %d bytes sent, vsteer_response_bytes_total %s"
          % (size_sum, v2["responseBytes"], samples[key % "vsteer_response_bytes_total"]))
    check(samples['vsteer_backend_up{service="default",version="2.0",backend="127.0.0.1:9002"}'] == 1,
          "up")
    check(samples['vsteer_rollbacks_total{service="default",reason="auto"}'] == 0, "rollbacks")
    info = [k for k in samples if k.startswith("vsteer_build_info{")]
    check(len(info) == 1 and re.fullmatch(r'vsteer_build_info\{version="[^"]+",kernel="%s"\}'
                                          % re.escape(os.uname().release), info[0])
          and samples[info[0]] == 1, "build info %s" % info)
    phases = ("progressing", "paused", "completed", "aborted", "rolled_back")
    check(all(samples['vsteer_rollout_phase{service="default",phase="%s"}' % p] == 0 for p in phases),
          "a phase is set without a rollout")
    api("PUT", "/v1/services/default/weights", {"2.0": 0, "1.0": 100})
    rollout({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 25}, {"weight": 100}], "analysis": False})
    text = scrape()
    promtool_accepts(text)
    check(python_families(text) == FAMILIES, "families with a rollout")
    samples = samples_of(text)
    check(samples['vsteer_rollout_phase{service="default",phase="progressing"}'] == 1
          and samples[key % "vsteer_rollout_step"] == 1
          and samples[key % "vsteer_rollout_target_weight"] == 0.25
          and samples[key % "vsteer_version_weight"] == 0.25,
          "step 1 of a gradual rollout at 25%")
    api("POST", "/v1/services/default/rollout/promote")
    samples = samples_of(scrape())
    check(samples['vsteer_rollout_phase{service="default",phase="completed"}'] == 1
          and samples[key % "vsteer_rollout_step"] == 2
          and samples[key % "vsteer_rollout_target_weight"] == 1,
          "step 2, completed, after promote")


@test
def metrics_sums_over_old_pins(env):
    """a vsteerd adopting pins without the `vsums` map (an older vsteerd's)
    makes it and seeds each version's `_sum`s from its histograms: within
    6.25% of the exact sums, never lower than the count allows, exact again
    for what follows

    Adopting an older vsteerd's pins: the map of exact sums is new, the
    histograms are not; the sums start from the buckets' middles."""
    env.backend("1.0", "127.0.0.1:9001", "--delay-ms", "5")
    p = env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    versions_of(range(40))
    key = '%s{service="default",version="1.0"}'
    seen = []

    def sized(n):
        seen.append(samples_of(scrape()))
        return seen[-1][key % "vsteer_response_size_bytes_count"] == n

    def say(n):
        return lambda: "%d responses in the size histogram: %s" % (n, {
            k: v for k, v in seen[-1].items() if "1.0" in k and "bucket" not in k})
    wait_for(lambda: sized(40), 10, say(40))
    before = samples_of(scrape())
    p.terminate()
    p.wait(timeout=15)
    # What a vsteerd from before vsums left: every pin but that one, and a
    # tracer and request meters of another program, which this start
    # replaces (the same program, same tag, would be kept, still writing
    # to the vsums unpinned here: an older build's never is the same).
    for name in ("vsums", "track", "req", "resp"):
        if name == "vsums" or os.path.exists(os.path.join(env.pin_dir, name)):
            os.unlink(os.path.join(env.pin_dir, name))
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    check("the pinned maps predate vsums" in env.vsteerd_log(), "no word of the seeding:\n%s"
          % env.vsteerd_log())
    after = samples_of(scrape())
    check(os.path.exists(os.path.join(env.pin_dir, "vsums")), "vsums not pinned")
    for name in ("vsteer_request_duration_seconds", "vsteer_response_size_bytes"):
        exact, seeded = before[key % (name + "_sum")], after[key % (name + "_sum")]
        check(after[key % (name + "_count")] == 40 and abs(seeded - exact) <= 0.0625 * exact,
              "%s: sum %s seeded from the buckets, %s exact" % (name, seeded, exact))
    versions_of(range(40, 50))
    wait_for(lambda: sized(50), 10, say(50))
    last = samples_of(scrape())
    grew = last[key % "vsteer_response_size_bytes_sum"] - after[key % "vsteer_response_size_bytes_sum"]
    sent = last[key % "vsteer_response_bytes_total"] - after[key % "vsteer_response_bytes_total"]
    check(grew == sent > 0, "after the upgrade the size sum grew %s for %s bytes sent" % (grew, sent))


@test
def alert_rules_checked(env):
    """`promtool check rules` accepts contrib's alert rules and `promtool check
    config` its example Prometheus config; `promtool test rules` shows each
    alert firing on series that should fire it and not on its near misses

    The alert rules, the example scrape config and the rules' own unit
    tests (contrib/prometheus/vsteer-alerts.test.yml), by promtool."""
    for cmd in (["check", "rules", ALERTS], ["check", "config", "prometheus.yml"],
                ["test", "rules", ALERT_TESTS]):
        p = subprocess.run(["promtool"] + cmd, capture_output=True, text=True, timeout=60,
                           cwd=os.path.dirname(ALERTS))
        check(p.returncode == 0 and "SUCCESS" in p.stdout + p.stderr,
              "promtool %s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))


def prom_get(path, **params):
    """A Prometheus HTTP API call's data; its error fails the test."""
    url = "http://%s:%d%s?%s" % (PROM + (path, urllib.parse.urlencode(params)))
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    check(body.get("status") == "success", "Prometheus %s %s: %s" % (path, params, body))
    return body["data"]


def start_prometheus(env):
    """Debian's Prometheus on this test's loopback, with contrib's example
    config (scraping every second, the alert rules evaluated every second)
    and a storage directory of its own; returns once it is ready."""
    import yaml
    with open(os.path.join(CONTRIB, "prometheus", "prometheus.yml")) as f:
        cfg = yaml.safe_load(f)
    cfg["global"].update(scrape_interval="1s", evaluation_interval="1s")
    cfg["rule_files"] = [ALERTS]
    cfg["scrape_configs"][0]["static_configs"] = [{"targets": ["%s:%d" % API]}]
    path = os.path.join(env.dir, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    log = open(os.path.join(env.dir, "prometheus.log"), "ab")
    p = subprocess.Popen(["prometheus", "--config.file", path,
                          "--storage.tsdb.path", os.path.join(env.dir, "prometheus"),
                          "--web.listen-address", "%s:%d" % PROM], stdout=log, stderr=log)
    env.procs.append(p)

    def ready():
        check(p.poll() is None, "prometheus exited: %s"
              % open(os.path.join(env.dir, "prometheus.log"), errors="replace").read()[-2000:])
        try:
            with urllib.request.urlopen("http://%s:%d/-/ready" % PROM, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(ready, 30, "Prometheus ready", interval=0.1)
    return p


def dashboard_queries(rate_interval):
    """Every PromQL expression of the dashboard, as Grafana would send it
    for all services: panels, annotations, and the variable's
    label_values() as the metric it reads."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dash["annotations"]["list"]]
    for v in dash["templating"]["list"]:
        m = re.fullmatch(r"label_values\((\w+), *\w+\)", v.get("definition", ""))
        if m:
            exprs.append(m.group(1))
    return [e.replace("$service", ".*").replace("$__rate_interval", rate_interval) for e in exprs]


@test
def prometheus_runs_dashboard_and_alerts(env):
    """a real Prometheus scraping vsteerd through a judged rollout that rolls
    back answers every query of the Grafana dashboard and every alert rule
    without error and with data for each dashboard query; every rule
    evaluates healthy, VsteerRolledBack and VsteerAnalysisFailing fire,
    VsteerDown does not

    Debian's Prometheus in the test's namespace, with contrib's example
    config, scrapes vsteerd every second while a 50 ms slower 2.0 is
    rolled back by the judge."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--delay-ms", "50")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}]))
    start_prometheus(env)
    t0 = time.monotonic()
    wait_for(lambda: [r for r in prom_get("/api/v1/query", query='up{job="vsteer"} == 1')["result"]],
             20, "Prometheus to scrape vsteerd", interval=0.2)
    load = Load()
    load.start()
    try:
        rollout({"to": "2.0", "strategy": "gradual", "steps": [{"weight": 50}],
                 "analysis": {"interval": 1, "minRequests": 10, "failureLimit": 2}})
        wait_for(lambda: service()["rollout"]["phase"] == "rolled_back", 20, "the rollback",
                 interval=0.1)
        # Scrapes after the rollback, so that its changes are in the data.
        seen = time.time()
        wait_for(lambda: [r for r in prom_get("/api/v1/query", query="vsteer_rollout_phase"
                                                 '{phase="rolled_back"} == 1')["result"]
                          if float(r["value"][0]) > seen + 2], 10, "scrapes after the rollback",
                 interval=0.2)
    finally:
        load.finish()
    # 5 s: five scrapes, as Grafana's $__rate_interval is at least four.
    empty = []
    for q in dashboard_queries("5s"):
        if not prom_get("/api/v1/query", query=q)["result"]:
            empty.append(q)
    check(not empty, "dashboard queries without data:\n%s" % "\n".join(empty))
    groups = prom_get("/api/v1/rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    check(len(rules) == 9, "%d rules loaded" % len(rules))
    for r in rules:
        prom_get("/api/v1/query", query=r["query"])
    # The rules are evaluated every second: wait for a round after the rollback.
    firing = wait_for(lambda: {a["labels"]["alertname"] for a in prom_get("/api/v1/alerts")["alerts"]
                               if a["state"] == "firing"} >= {"VsteerRolledBack", "VsteerAnalysisFailing"}
                      and {a["labels"]["alertname"] for a in prom_get("/api/v1/alerts")["alerts"]},
                      10, "VsteerRolledBack and VsteerAnalysisFailing to fire", interval=0.2)
    check("VsteerDown" not in firing, "alerts: %s" % firing)
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    check(not bad, "rules not healthy: %s" % bad)
    windows = prom_get("/api/v1/query", query='vsteer_analysis_windows_total{result="fail"}')["result"]
    check(len(windows) == 1 and float(windows[0]["value"][1]) >= 2,
          "failed analysis windows: %s" % windows)
    print("%.1f s from Prometheus ready to the checks" % (time.monotonic() - t0))


MIRROR_FAMILIES = {
    "vsteer_mirror_requests": "counter",
    "vsteer_mirror_capture_lost": "counter",
    "vsteer_mirror_compared": "counter",
    "vsteer_mirror_status_differs": "counter",
    "vsteer_mirror_bodies_differ": "counter",
    "vsteer_mirror_verdict": "gauge",
}


@test
def prometheus_metrics_mirror(env):
    """during a mirror rollout of an http service `/metrics` still passes
    `promtool check metrics`, and Python's parser reads the 6 mirror
    families with their types next to the 26 others; HTTP status classes
    counted

    A mirror rollout adds its families: each typed, its samples together."""
    # Imported here, not at the top: importing mirror.py registers its
    # tests, which must come after these in --list.
    from mirror import ITEMS, Traffic, mirror_view, start
    start(env, transition={"mode": "MultiVersion", "mirror": {"percent": 100, "duration": 600,
                                                              "maxPerSecond": 500}})
    load = Traffic(ITEMS)
    load.start()
    try:
        wait_for(lambda: (mirror_view().get("requests") or {}).get("compared", 0) >= 10, 10,
                 lambda: "comparisons: %s" % mirror_view())
    finally:
        load.finish()
    text = scrape()
    promtool_accepts(text)
    fams = python_families(text)
    want = dict(FAMILIES, **MIRROR_FAMILIES)
    check(fams == want, "families read: %s differ" % sorted(set(fams.items()) ^ set(want.items())))
    seen = []

    # The mirror backend answers 200 to all: each answered request has
    # its 2xx (the last one counted a moment after its client read it).
    def all_2xx():
        s = samples_of(scrape())
        seen.append((s['vsteer_responses_total{service="default",version="1.0",code="2xx"}'],
                     s['vsteer_requests_total{service="default",version="1.0"}']))
        return seen[-1][0] > 0 and seen[-1][0] == seen[-1][1]
    wait_for(all_2xx, 5, lambda: "1.0's 2xx responses and requests: %s" % (seen[-1],))
