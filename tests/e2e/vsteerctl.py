"""vsteerctl, the command-line client, against a real vsteerd: every
command, the exit codes of `status` (completed, rolled back, timed out),
`--watch` on a terminal (tmux), errors in words, and a hostile API."""
import contextlib
import http.server
import json
import os
import re
import select
import subprocess
import threading
import time

from common import Load, test, two_versions
from lib import (API, BUILD, SVC, api, check, check_sanitizers, kill, service, versions_of,
                 wait_for)

CTL = os.path.join(BUILD, "vsteerctl")
COMMANDS = ("get", "events", "add-cluster", "delete-cluster", "weights", "rollout", "promote",
            "pause", "resume", "abort", "rollback", "status")
# The judge's windows, short, and an absolute error limit: a 2.0 answering
# 503 is rolled back within seconds (tests/e2e/judged.py does the same).
FAST = {"interval": 1, "minRequests": 10, "maxErrorRate": 0.05}


def ctl(*args, timeout=30, env=None):
    """vsteerctl ARGS run to its exit: the CompletedProcess (text). A
    sanitizer report in its stderr fails the test."""
    r = subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    check_sanitizers(r.stderr, "the stderr of vsteerctl %s" % " ".join(args))
    return r


def ok(*args, **kw):
    r = ctl(*args, **kw)
    check(r.returncode == 0, "vsteerctl %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                             r.stdout, r.stderr))
    return r.stdout


def refused(args, want, rc=2):
    """vsteerctl ARGS exits rc with want in a one-line message on stderr,
    not a JSON dump or a crash."""
    r = ctl(*args)
    check(r.returncode == rc and want in r.stderr and "{" not in r.stderr
          and r.stderr.startswith("vsteerctl: "),
          "vsteerctl %s: exit %d (want %d), stderr %r (want %r)"
          % (" ".join(args), r.returncode, rc, r.stderr, want))
    return r.stderr


def lines_within(p, n, timeout):
    """The first n lines p printed, read as they come (unbuffered), within
    timeout seconds."""
    buf, deadline = getattr(p, "seen", b""), time.monotonic() + timeout
    while buf.count(b"\n") < n:
        left = deadline - time.monotonic()
        check(left > 0 and select.select([p.stdout], [], [], left)[0],
              "%d lines from %s within %g s: %r" % (n, p.args, timeout, buf))
        chunk = os.read(p.stdout.fileno(), 65536)
        check(chunk, "%s ended: %r" % (p.args, buf))
        buf += chunk
    p.seen = buf
    return buf.decode().splitlines()[:n]


def timed_status(*args):
    """vsteerctl status ARGS: the CompletedProcess and how long it took."""
    t0 = time.monotonic()
    r = ctl("status", *args)
    return r, time.monotonic() - t0


def table(text):
    """The rows of a table vsteerctl printed, header first, split on runs
    of spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def http_service(env, versions=("1.0",)):
    proxy = {"address": SVC[0], "port": SVC[1], "protocol": "http", "analysis": FAST}
    return env.config([{"version": v, "servers": ["127.0.0.1:900%s" % v[0]]} for v in versions],
                      {"proxy": proxy})


@test
def vsteerctl_get(env):
    """`get services`, `get service NAME` (versions newest first, weight,
    live and dead backends, req/s once a window closed), `get clusters`,
    `-o json` (the API's view), `events`, `events --since ID` and `events -f`
    (a change printed within a second; an ID after the last: the API's
    words, then --since LAST); an unknown
    service and an API that does not answer exit 2 with a sentence, and
    every command has `--help`"""
    two_versions(env, "manual")
    out = ok("get", "services")
    rows = table(out)
    check(rows[0] == ["NAME", "ADDRESS", "PROTOCOL", "VERSIONS", "ROLLOUT"]
          and rows[1] == ["default", "127.0.0.1:8080", "tcp", "2.0=0 1.0=100", "-"],
          "get services:\n" + out)
    for i in range(20):
        versions_of([i])
    out = ok("get", "service", "default")
    rows = table(out)
    check(rows[0] == ["service default at 127.0.0.1:8080 (tcp)"] and rows[1] == ["rollout: none"]
          and rows[2] == ["VERSION", "WEIGHT", "LIVE", "DEAD", "OPEN", "DRAINED", "REQ/S",
                          "P50MS", "P99MS", "ERRORS"]
          and [r[:4] for r in rows[3:]] == [["2.0", "0", "1", "0"], ["1.0", "100", "1", "0"]],
          "get service:\n" + out)
    view = json.loads(ok("get", "service", "default", "-o", "json"))
    check([v["version"] for v in view["versions"]] == ["2.0", "1.0"]
          and view["versions"][0]["id"] == service()["versions"][0]["id"], "-o json: %s" % view)
    ids = {v["version"]: v["id"] for v in view["versions"]}
    rows = table(ok("get", "clusters"))
    check(rows[0][:3] == ["ID", "SERVICE", "VERSION"]
          and {(r[0], r[2]) for r in rows[1:]} == {(ids["1.0"], "1.0"), (ids["2.0"], "2.0")},
          "get clusters: %s" % rows)
    out = ok("events")
    m = re.search(r"^(\d+) \d{4}-\d\d-\d\dT[\d:]+Z default cluster_added: version 2\.0 added",
                  out, re.M)
    check(m, "events:\n" + out)
    api("PUT", "/v1/services/default/weights", {"2.0": 10, "1.0": 90})
    out = ok("events", "--since", m.group(1))
    check(out.splitlines() and all(int(line.split()[0]) > int(m.group(1))
                                   for line in out.splitlines())
          and "weights_set" in out, "events --since %s:\n%s" % (m.group(1), out))
    # -f: a change is printed as it happens (the long poll), not a poll later
    f = subprocess.Popen([CTL, "events", "default", "-f"], stdout=subprocess.PIPE,
                         start_new_session=True)
    env.procs.append(f)
    so_far = len(ok("events", "default").splitlines())
    lines_within(f, so_far, 5)
    t0 = time.monotonic()
    api("PUT", "/v1/services/default/weights", {"2.0": 20, "1.0": 80})
    got = lines_within(f, so_far + 1, 5)
    check("weights_set: weights set: 2.0 20.00%, 1.0 80.00%" in got[-1]
          and time.monotonic() - t0 < 1, "events -f: %r after %.1f s"
          % (got, time.monotonic() - t0))
    f.kill()
    # the last 5 s window: requests per second show once it closed
    wait_for(lambda: table(ok("get", "service", "default"))[4][6] != "-", 8,
             lambda: "1.0's req/s: %s" % ok("get", "service", "default"))
    refused(["get", "service", "nope"], "unknown_service: no service named 'nope'")
    last = json.loads(ok("events", "-o", "json").splitlines()[-1])["id"]
    refused(["events", "--since", "99999"], "follow from since=%d (--since %d)\n"
            % (last, last))
    refused(["get", "service", "../x"], "service '../x': 1 to 63 of")
    refused(["--api", "http://127.0.0.1:1", "get", "services"], "no answer from vsteerd at "
            "http://127.0.0.1:1")
    r = ctl("get", "services", env={"VSTEER_API": "http://127.0.0.1:2"})
    check(r.returncode == 2 and "127.0.0.1:2" in r.stderr, "VSTEER_API: %s" % r.stderr)
    for c in COMMANDS:
        r = ctl(c, "--help")
        check(r.returncode == 0 and r.stdout.startswith("Usage: vsteerctl " + c)
              and "--api URL" in r.stdout, "%s --help: %d %s" % (c, r.returncode, r.stdout))
    r = ctl()
    check(r.returncode == 2 and "Usage: vsteerctl" in r.stderr, "no command: %s" % r.stderr)


@test
def vsteerctl_change(env):
    """add-cluster, weights, delete-cluster, rollout, pause, resume,
    promote, abort and rollback change what the API says; a bad server,
    weight (0x64), duration, steps, strategy, option (a typo: the one
    meant), --api '', --cacert or a session strategy or mode without
    --session-timeout exits 2 naming the argument, before any request; an
    API refusal exits 2 with its code and message, then the flag that the
    field it names is typed as"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}]))
    refused(["add-cluster", "default", "2.0", "127.0.0.1:99999"],
            "server '127.0.0.1:99999': the port is 1 to 65535")
    refused(["add-cluster", "default", "2.0", "localhost:9002"], "server 'localhost:9002'")
    refused(["add-cluster", "default", "2.0", "127.0.0.1:9002", "--mode", "fast"],
            "--mode 'fast'")
    refused(["add-cluster", "default", "2.0", "127.0.0.1:9002", "--mode", "session"],
            "--mode session needs --session-timeout")
    # getopt's errors say vsteerctl:, not the program's path, and a typo
    # gets the option meant
    refused(["status", "default", "--wacth"], "no option '--wacth': did you mean --watch?")
    refused(["--api", "", "get", "services"], "--api '': empty")
    refused(["--cacert", "/nonexistent/ca.pem", "get", "services"],
            "--cacert '/nonexistent/ca.pem': No such file")
    check(ok("-V").startswith("vsteerctl "), "-V")
    out = ok("add-cluster", "default", "2.0", "127.0.0.1:9002", "--mode", "manual")
    v2 = service()["versions"][0]
    check(v2["version"] == "2.0" and v2["mode"] == "manual" and v2["id"] in out,
          "add-cluster: %s\n%s" % (v2, out))
    refused(["add-cluster", "default", "2.0", "127.0.0.1:9002"], "duplicate_version: ")
    ok("weights", "default", "2.0=25", "1.0=75")
    check([v["weight"] for v in service()["versions"]] == [25, 75], "weights: %s" % service())
    refused(["weights", "default", "2.0=25", "1.0=70"], "bad_weights: weights sum to 95.00%")
    refused(["weights", "default", "2.0=x"], "weight '2.0=x'")
    refused(["weights", "default", "2.0=101"], "weight '2.0=101'")
    refused(["weights", "default", "2.0=0x64"], "a decimal number")
    ok("weights", "default", "2.0=0", "1.0=100")
    for args, want in (
            (["--strategy", "gradual", "--to", "2.0"], "--strategy gradual needs --steps"),
            (["--strategy", "sideways", "--to", "2.0"], "--strategy 'sideways'"),
            (["--strategy", "gradual", "--to", "2.0", "--steps", "50,10"], "--steps '50,10'"),
            (["--strategy", "gradual", "--to", "2.0", "--steps", "10,100", "--hold", "5x"],
             "duration '5x'"),
            (["--strategy", "instant", "--to", "2.0", "--analysis", "interval"],
             "--analysis 'interval'"),
            (["--strategy", "session", "--to", "2.0"], "--strategy session needs "
             "--session-timeout"),
            (["--strategy", "session", "--to", "2.0", "--session-timeout", "0"],
             "--session-timeout '0': --strategy session needs 1 s"),

            (["--strategy", "instant", "--to", "9.9"], "unknown_")):
        refused(["rollout", "default"] + args, want)
    # the API's words as they came, then the flag its field is typed as
    err = refused(["rollout", "default", "--strategy", "instant", "--to", "2.0", "--analysis",
                   "interval=abc"], " (--analysis interval=...)\n")
    check(re.match(r"vsteerctl: bad_\w+: body\.analysis\.interval: ", err), err)
    check(service()["rollout"] is None, "a refused rollout started: %s" % service()["rollout"])
    out = ok("rollout", "default", "--to", "2.0", "--strategy", "gradual", "--steps", "10,50,100",
             "--analysis", "none")
    ro = service()["rollout"]
    check(ro["phase"] == "progressing" and ro["weight"] == 10 and ro["analysis"] is None
          and [s["weight"] for s in ro["steps"]] == [10, 50, 100]
          and all(s["hold"] is None for s in ro["steps"])
          and "step 1 of 3, 2.0 at 10%" in out,
          "rollout: %s\n%s" % (ro, out))
    check("paused" in ok("pause", "default") and service()["rollout"]["phase"] == "paused",
          "pause: %s" % service()["rollout"])
    ok("resume", "default")
    check(service()["rollout"]["phase"] == "progressing", "resume: %s" % service()["rollout"])
    out = ok("promote", "default")
    check(service()["rollout"]["weight"] == 50 and "2.0 at 50%" in out, "promote: " + out)
    ok("abort", "default")
    check(service()["rollout"]["phase"] == "aborted", "abort: %s" % service()["rollout"])
    ok("rollback", "default")
    check(service()["rollout"]["phase"] == "rolled_back", "rollback: %s" % service()["rollout"])
    refused(["pause", "default"], "bad_phase: ")
    ok("rollout", "default", "--to", "2.0", "--strategy", "gradual", "--steps", "10,100",
       "--hold", "1h", "--analysis", "none")
    check(service()["rollout"]["steps"][0]["hold"] == 3600, "--hold 1h: %s" % service()["rollout"])
    ok("promote", "default", "--full")
    check(service()["rollout"]["phase"] == "completed", "promote --full: %s"
          % service()["rollout"])
    refused(["delete-cluster", "default", "3.0"], "no version 3.0")
    ok("delete-cluster", "default", "2.0")
    check([v["version"] for v in service()["versions"]] == ["1.0"], "delete: %s" % service())
    refused(["delete-cluster", "default", "1.0"], "last_cluster: ")
    refused(["pause", "default", "--full"], "pause takes no --full")


@test
def vsteerctl_status_completed(env):
    """`status --timeout` follows a gradual rollout (steps 50, 100 held 1 s)
    with a line per step and exits 0 once it completed"""
    two_versions(env, "manual")
    ok("rollout", "default", "--to", "2.0", "--strategy", "gradual", "--steps", "50,100",
       "--hold", "1", "--analysis", "none")
    r, took = timed_status("default", "--timeout", "20")
    check(r.returncode == 0 and r.stdout.rstrip().endswith("default: rollout to 2.0 completed"),
          "status: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    check("step 1 of 2, 2.0 at 50%" in r.stdout and "step 2 of 2, 2.0 at 100%" in r.stdout
          and "completed: 2.0 is the stable version" in r.stdout, "lines:\n" + r.stdout)
    # the long poll wakes at the step, not a second later
    check(took < 3, "status took %.1f s for a 1 s hold" % took)
    check(set(versions_of(range(100, 120))) == {"2.0"}, "not on 2.0 after completed")
    # completed already: at once
    r = ctl("status", "default", "--timeout", "0")
    check(r.returncode == 0, "status of a completed rollout: %d %s" % (r.returncode, r.stderr))


@test
def vsteerctl_status_rollback(env):
    """`status` of an instant rollout to a 2.0 answering 503 exits 1 once
    the judge rolled it back, the auto_rollback reason (the error rate and
    the limit) on stderr"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002", "--status", "503")
    env.vsteerd(http_service(env))
    ok("add-cluster", "default", "2.0", "127.0.0.1:9002", "--mode", "manual")
    ok("rollout", "default", "--to", "2.0", "--strategy", "instant")
    load = Load()
    load.start()
    try:
        r = ctl("status", "default", "--timeout", "20")
    finally:
        load.finish()
    check(r.returncode == 1 and re.search(
        r"^vsteerctl: default: rollout to 2\.0 was rolled back \(auto_rollback: 2\.0 rolled "
        r"back to 1\.0: error rate: 2\.0 [\d.]+% \(limit 5\.00%\)\)$", r.stderr, re.M),
        "status: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    check(set(versions_of(range(100, 120))) == {"1.0"}, "not back on 1.0")


@test
def vsteerctl_status_timeout(env):
    """`status --timeout 2` of a rollout held for an hour exits 3 after 2 s
    (not before), saying where the rollout stands; with no rollout it exits
    2 at once"""
    two_versions(env, "manual")
    refused(["status", "default", "--timeout", "30"], "no_rollout: service default has no "
            "rollout to follow")
    ok("rollout", "default", "--to", "2.0", "--strategy", "gradual", "--steps", "10,100",
       "--hold", "1h", "--analysis", "none")
    r, took = timed_status("default", "--timeout", "2")
    check(r.returncode == 3 and "timed out after 2s; the rollout is 1.0 -> 2.0 (gradual): "
          "progressing, step 1 of 2, 2.0 at 10%" in r.stderr,
          "status: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    check(2 <= took < 5, "exit 3 after %.1f s" % took)
    refused(["status", "default", "--timeout", "2 hours"], "duration '2 hours'")
    refused(["status", "nope"], "unknown_service")
    api("POST", "/v1/services/default/rollout/promote?full=true")


def read_until(p, f, want, timeout):
    """What p wrote on f (its stdout or stderr) until want, read as it
    comes."""
    buf, deadline = b"", time.monotonic() + timeout
    while want.encode() not in buf:
        left = deadline - time.monotonic()
        check(left > 0 and select.select([f], [], [], left)[0],
              "%r from %s within %g s: %r" % (want, p.args, timeout, buf))
        chunk = os.read(f.fileno(), 65536)
        check(chunk, "%s ended: %r" % (p.args, buf))
        buf += chunk
    return buf.decode()


@test
def vsteerctl_follows_restart(env):
    """`status` and `events -f` outlive a vsteerd killed and started
    again mid-rollout: each says it tries again, then that vsteerd answers
    again, and status exits 0 when the rollout completes; against nothing
    at all, status gives up after its --timeout (3), not its 30 s of retries"""
    two_versions(env, "manual")
    ok("rollout", "default", "--to", "2.0", "--strategy", "gradual", "--steps", "50,100",
       "--hold", "3", "--analysis", "none")
    args = [CTL, "status", "default", "--timeout", "60"]
    status = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    follow = subprocess.Popen([CTL, "events", "-f"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        lines_within(status, 1, 5)
        lines_within(follow, 3, 5)      # the events so far: it follows
        kill(env.daemons[-1])
        # both saw it gone before it comes back
        for p in (status, follow):
            read_until(p, p.stderr, "trying again for up to 30s", 20)
        env.vsteerd()
        out, err = status.communicate(timeout=30)
        check(status.returncode == 0 and "rollout to 2.0 completed" in out.decode()
              and "answers again" in err.decode(),
              "status across a restart: exit %d\n%s%s" % (status.returncode, out.decode(),
                                                         err.decode()))
        check_sanitizers(err.decode(), "the stderr of vsteerctl status")
        read_until(follow, follow.stdout, " completed: ", 10)
        read_until(follow, follow.stderr, "answers again", 5)
    finally:
        for p in (status, follow):
            if p.poll() is None:
                p.kill()
            p.wait()
    kill(env.daemons[-1])
    r, took = timed_status("default", "--timeout", "2")
    check(r.returncode == 3 and 2 <= took < 5 and "trying again" in r.stderr,
          "status with no vsteerd: exit %d after %.1f s: %s" % (r.returncode, took, r.stderr))


def tmux(env, *args):
    # a tmux server of the test's own, its socket in the test's directory
    return subprocess.run(["tmux", "-S", os.path.join(env.dir, "tmux.sock")] + list(args),
                          capture_output=True, text=True, timeout=10)


@test
def vsteerctl_watch_tmux(env):
    """`status --watch` on a terminal (tmux, 100x30) redraws in place: the
    bar of the target's weight reads 10, 40, 70 and then 100% as a gradual
    rollout steps (holds of 2 s), each version's traffic share shows once
    a window closed, the screen never scrolls, the cursor is hidden while
    it draws, and it exits 0 with the cursor shown again; resized to 40x15
    and then 100x10 the frame fits: the header and the bar on top, no line
    wider than the window, a cut one ending in three dots"""
    two_versions(env, "manual")
    load = Load()
    load.start()
    # a 5 s window with traffic has closed: every frame can show shares
    wait_for(lambda: (service()["versions"][1]["lastWindow"] or {}).get("requests"), 12,
             "1.0's first window with requests")
    ok("rollout", "default", "--to", "2.0", "--strategy", "gradual", "--steps", "10,40,70,100",
       "--hold", "2", "--analysis", "none")
    r = tmux(env, "new-session", "-d", "-x", "100", "-y", "30", "-s", "w",
             "%s status default --watch --timeout 30; echo EXIT=$?; sleep 60" % CTL)
    check(r.returncode == 0, "tmux: %s" % r.stderr)
    seen, frames, cursor, small = [], [], set(), {}
    # at 40%, 40x15; at 70%, 100x10, and back to 100x30 once that frame is
    # seen (at 10 rows the last lines would scroll the final bar away)
    sizes = {40: (40, 15), 70: (100, 10)}
    # until the watch redraws for the new size, tmux shows the old frame
    # rewrapped: a frame on top, within the size, and wider than 40 at 100
    size = [(100, 30), False]
    try:
        def resize(x, y):
            tmux(env, "resize-window", "-t", "w", "-x", str(x), "-y", str(y))
            size[:] = [(x, y), True]

        def done():
            screen = tmux(env, "capture-pane", "-p", "-t", "w").stdout
            cursor.add(tmux(env, "display", "-p", "-t", "w", "#{cursor_flag}").stdout.strip())
            (x, y), pending = size
            rows = screen.rstrip("\n").split("\n")
            if pending and screen.startswith("default: ") and len(rows) <= y \
                    and 40 * (x == 100) < max(map(len, rows)) <= x:
                size[1] = pending = False
                if (x, y) in sizes.values():
                    small[(x, y)] = screen
                if (x, y) == (100, 10):
                    resize(100, 30)
            if not pending:
                frames.append(screen)
            m = re.search(r"^2\.0\s+\[[#.]+\]\s+([\d.]+)%", screen, re.M)
            if m and (not seen or seen[-1] != float(m.group(1))):
                seen.append(float(m.group(1)))
                if seen[-1] in sizes:
                    resize(*sizes[seen[-1]])
            return "EXIT=" in screen and screen
        final = wait_for(done, 25, lambda: "EXIT; weights seen %s, screen:\n%s"
                         % (seen, frames[-1] if frames else ""), interval=0.1)
        shown = tmux(env, "display", "-p", "-t", "w", "#{cursor_flag}").stdout.strip()
    finally:
        load.finish()
        tmux(env, "kill-server")
    check(seen == [10, 40, 70, 100], "weights seen: %s" % seen)
    check("EXIT=0" in final and "default: rollout to 2.0 completed" in final,
          "final screen:\n" + final)
    check("0" in cursor and shown == "1", "cursor flags while drawing %s, at the end %s"
          % (cursor, shown))
    # a small terminal: no scrolling, no line wider, the header (phase,
    # step) and the bar on top, a line cut ending "..."
    for (x, y), f in sorted(small.items()):
        rows = f.rstrip("\n").split("\n")
        check(len(rows) <= y and all(len(r) <= x for r in rows)
              and re.match(r"default: (rollout 1\.0 -> 2\.0 \(gradual\): )?progressing, "
                           r"step \d of 4", rows[0])
              and re.search(r"^2\.0\s+\[[#.]+\]", f, re.M)
              and all(r.endswith("...") for r in rows if len(r) == x - 1 and "[" not in r),
              "the frame at %dx%d:\n%s" % (x, y, f))
    check(len(small) == 2, "frames seen at 40x15 and 100x10: %s" % sorted(small))
    for (x, y), f in sorted(small.items()):
        print("at %dx%d:\n%s" % (x, y, f.rstrip()))
    shares = [f for f in frames if re.search(r"^[12]\.0\s+\d+%\s+\d+%\s+[\d.]+\s", f, re.M)]
    check(shares, "no frame with a traffic share; the last:\n" + frames[-2])
    # one frame at the top of the screen, redrawn in place, not scrolled
    off = [f for f in frames if f.strip() and "EXIT" not in f
           and not re.match(r"default: (rollout 1\.0 -> 2\.0 \(gradual\)|progressing)", f)]
    check(not off, "a frame not at the top:\n%s" % (off[:1] or [""])[0])
    mid = next(f for f in frames if "40%" in f)
    check(re.search(r"^VERSION\s+WEIGHT\s+SHARE\s+REQ/S", mid, re.M)
          and "last events:" in mid and "step 2 of 4" in mid, "a frame:\n" + mid)
    print(shares[-1].rstrip())


@test
def vsteerctl_token_tls(env):
    """against an HTTPS API with a token: `--cacert` and `--token-file` (or
    VSTEER_API and VSTEER_TOKEN_FILE) set weights; without the token it is
    `unauthorized`, without the CA a certificate error, a missing token
    file a sentence naming it: each exit 2, nothing changed"""
    key, cert = os.path.join(env.dir, "key.pem"), os.path.join(env.dir, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    token = os.path.join(env.dir, "token")
    with open(token, "w") as f:
        f.write("s3cret-token-0123456789\n")
    os.chmod(token, 0o600)
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                            {"version": "2.0", "servers": ["127.0.0.1:9002"],
                             "upgradeTransition": {"mode": "manual"}}],
                           {"configService": {"address": "127.0.0.1", "port": 9900,
                                              "tokenFile": token, "tlsCert": cert,
                                              "tlsKey": key}}), wait=False)
    https = ["--api", "https://127.0.0.1:9900", "--cacert", cert]
    wait_for(lambda: ctl(*https, "get", "services").returncode == 0, 20, "the HTTPS API")
    refused(https + ["weights", "default", "2.0=50", "1.0=50"], "unauthorized: ")
    refused(["--api", "https://127.0.0.1:9900", "--token-file", token, "weights", "default",
             "2.0=50", "1.0=50"], "certificate")
    refused(https + ["--token-file", token + ".nope", "weights", "default", "2.0=50", "1.0=50"],
            "token file %s.nope: No such file" % token)
    check([v["weight"] for v in json.loads(ok(*https, "get", "service", "default", "-o",
                                              "json"))["versions"]] == [0, 100],
          "a refused change changed the weights")
    ok(*https, "--token-file", token, "weights", "default", "2.0=50", "1.0=50")
    ok("weights", "default", "2.0=25", "1.0=75", "--cacert", cert,
       env={"VSTEER_API": "https://127.0.0.1:9900", "VSTEER_TOKEN_FILE": token})
    rows = table(ok(*https, "get", "service", "default"))
    check([r[:2] for r in rows[3:]] == [["2.0", "25"], ["1.0", "75"]], "weights: %s" % rows)


class FakeAPI(http.server.BaseHTTPRequestHandler):
    """An HTTP server on the API's address that is not vsteerd: answer()
    says what each GET gets."""

    def do_GET(self):
        st, body = self.answer()
        self.send_response(st)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@contextlib.contextmanager
def fake_api(handler):
    srv = http.server.ThreadingHTTPServer(API, handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        srv.shutdown()
        srv.server_close()


class Hostile(FakeAPI):
    """Each path answered with something vsteerd never sends."""
    replies = {
        "/v1/services": (200, b"<html>not json</html>"),
        "/v1/services/big": (200, b"{\"x\": \"" + b"a" * (6 << 20) + b"\"}"),
        "/v1/services/types": (200, json.dumps({"name": 5, "versions": {"a": 1},
                                                "rollout": [1]}).encode()),
        "/v1/services/wrong": (200, json.dumps({"name": "wrong",
                                                "versions": [1, None, {"version": 7,
                                                "weight": "x", "lastWindow": {"seconds": 0}}],
                                                "rollout": {"phase": 3}}).encode()),
        "/v1/clusters": (200, b"[1, 2]"),
        "/v1/services/err": (500, b"<html>Internal</html>"),
        "/v1/services/esc": (404, json.dumps({"error": {"code": "x\u001b[2J",
                                                         "message": "m\u001b]0;t\u0007"}}).encode()),
    }

    def answer(self):
        return self.replies.get(self.path.split("?")[0],
                                (200, b"{\"events\": \"no\", \"last\": -3}"))


class Restarted(FakeAPI):
    """A vsteerd that came back with an older state file: the event id
    status follows is past its newest (400 bad_field); the rollout completes
    once status asks from the new newest."""
    calls = []

    def answer(self):
        self.calls.append(self.path)
        if self.path.startswith("/v1/events") and "since=100" in self.path:
            st, body = 400, {"error": {"code": "bad_field", "message": "since 100 is after the "
                                       "newest event, 3"}}
        elif self.path.startswith("/v1/events"):
            st, body = 200, {"events": [], "last": 100 if len(self.calls) == 1 else 3,
                             "missed": 0}
        else:
            done = any("since=3" in c for c in self.calls)
            st, body = 200, {"name": "r", "versions": [],
                             "rollout": {"phase": "completed" if done else
                                                      "progressing", "to": "2.0"}}
        return st, json.dumps(body).encode()


@test
def vsteerctl_hostile_api(env):
    """against an API that answers HTML, 6 MiB, JSON of the wrong types or
    escapes in an error, each command exits 2 with a sentence (the reply's
    size capped, its text printable), never a crash; `status` across a
    vsteerd restarted with older events starts over from the newest"""
    with fake_api(Hostile):
        refused(["get", "services"], "not a JSON object: <html>not json</html>")
        refused(["get", "clusters"], "not a JSON object: [1, 2]")
        refused(["get", "service", "big"], "the reply is over 4 MiB")
        refused(["get", "service", "err"], "HTTP 500")
        err = refused(["get", "service", "esc"], "x?[2J: m?]0;t?")
        check("\033" not in err and "\a" not in err, "escape on stderr: %r" % err)
        refused(["events"], "no \"events\" list")
        # JSON, but no service's view: not drawn as one
        refused(["get", "service", "types"], "not a service of vsteerd's")
        refused(["status", "types", "--timeout", "5"], "no \"events\" list")
        r = ctl("get", "service", "wrong")
        check(r.returncode == 0 and "\033" not in r.stdout, "get service wrong: %d %r %r"
              % (r.returncode, r.stdout, r.stderr))
    with fake_api(Restarted):
        r = ctl("status", "r", "--timeout", "10")
        check(r.returncode == 0 and "rollout to 2.0 completed" in r.stdout,
              "status across a restart: exit %d %s%s; requests %s"
              % (r.returncode, r.stdout, r.stderr, Restarted.calls))
