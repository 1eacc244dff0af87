"""vsteerd's life: restarts and adoption, SIGTERM and --cleanup, config and state files, capabilities, kernel features."""
import json
import os
import re
import signal
import stat
import subprocess

from common import Load, set_weights, snapshot, test, two_versions
from lib import api, check, fetch, kill, run_vsteerd, service, versions_of, wait_for


def check_not_steered(when):
    """Nothing listens on the service address: only steering could answer.
    Polled for up to 2 s: an unpinned link is released after an RCU
    grace period and then from a workqueue (bpffs frees its inode's object
    that way), so it may steer for a moment after its pin is gone."""
    def refused():
        try:
            fetch(timeout=2)
            return False
        except ConnectionRefusedError:
            return True
    wait_for(refused, 2, "the service address to refuse %s" % when)


@test
def restart_under_load(env):
    """`kill -9` of vsteerd under load fails no connection; the restarted
    vsteerd adopts, reports the same state, and no client changes version"""
    p1, p2, _ = two_versions(env, "manual")
    set_weights(40)
    before = snapshot()
    clients_before = versions_of(range(300))
    load = Load()
    load.start()
    load.wait_more(100)
    kill(env.procs[2])          # vsteerd
    load.wait_more(200)         # steering runs with no controller at all
    env.vsteerd()               # no config: the state file has it all
    load.wait_more(200)
    load.finish()
    check(load.failed == 0, "%d connections failed: %s" % (load.failed, load.errors[:3]))
    print("connections during kill -9 and restart: %d, failed: 0" % load.ok)
    check(snapshot() == before, "state changed:\n%s\n%s" % (before, snapshot()))
    check(versions_of(range(300)) == clients_before, "clients moved across the restart")
    check("adopted data plane" in env.vsteerd_log(), "did not adopt")


@test
def sigterm_leaves_steering(env):
    """SIGTERM leaves steering running; `--cleanup` removes it"""
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=5) == 0, "vsteerd exit status")
    check(versions_of(range(10)) == ["1.0"] * 10, "steering stopped with vsteerd")
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--cleanup"])
    check(r.returncode == 0, "cleanup failed: %s" % r.stderr)
    check(not os.path.exists(env.pin_dir), "pin dir still there")
    check_not_steered("after --cleanup")


@test
def config_errors(env):
    """a bad config stops vsteerd and the error names the field and the file"""
    cases = [
        ({"proxy": {"address": "127.0.0.1", "port": 8080}, "clustr": []}, "clustr"),
        ({"proxy": {"address": "127.0.0.1", "port": 80800}}, "proxy.port"),
        ({"proxy": {"address": "127.0.0.1", "port": 8080},
          "cluster": [{"servers": ["127.0.0.1:1"]}, {"servers": ["x"]}]}, "cluster[1].servers[0]"),
    ]
    for cfg, field in cases:
        path = os.path.join(env.dir, "bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = run_vsteerd(["-c", path, "--pin-dir", env.pin_dir, "--state", env.state])
        check(r.returncode != 0, "started with %s" % cfg)
        check(field in r.stderr and path in r.stderr, "error does not name %s and %s: %s"
              % (field, path, r.stderr))
    check(not os.path.exists(env.pin_dir), "a failed start left pins behind")


@test
def bpftool_shows_fields(env):
    """`bpftool map dump` shows field names

    The maps carry BTF: bpftool dumps field names."""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    out = subprocess.run(["bpftool", "map", "dump", "pinned", env.pin_dir + "/svcs"],
                         capture_output=True, text=True).stdout
    for field in ('"upto": 10000', '"nsock": 1', '"salt"'):
        check(field in out, "%s not in bpftool output:\n%s" % (field, out))
    out = subprocess.run(["bpftool", "map", "dump", "pinned", env.pin_dir + "/sstats"],
                         capture_output=True, text=True).stdout
    check('"refused"' in out, "sstats without field names")


@test
def session_table_size(env):
    """`--session-table` sizes the session table (4096 clients: 2048 sets of
    four); a different size on adoption is refused with a clear error,
    steering untouched

    --session-table sizes the table; a pinned table of another size is
    refused with a clear error rather than silently kept."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg, args=["--session-table", "4096"])
    out = subprocess.run(["bpftool", "map", "show", "pinned", env.pin_dir + "/sessions"],
                         capture_output=True, text=True).stdout
    check("array" in out and "max_entries 2048" in out and "value 64B" in out,
          "sessions map: %s" % out)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=5)
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--state", env.state, "--session-table", "8192"])
    check(r.returncode != 0 and "--session-table" in r.stderr, "size change accepted: %s" % r.stderr)
    check(versions_of(range(5)) == ["1.0"] * 5, "a refused start disturbed steering")
    r = run_vsteerd(["--session-table", "12"])
    check(r.returncode == 2 and "1024" in r.stderr, "bad size: %s" % r.stderr)


@test
def failed_restart_keeps_steering(env):
    """a restart that cannot write its state exits and leaves steering as it
    was

    A restart that cannot write its state file exits with an error and
    leaves the pinned steering exactly as it was: even one that had lost
    its state and was given a config that would change it (only 2.0)."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.state = os.path.join(env.dir, "ro", "state.json")
    os.mkdir(os.path.dirname(env.state))
    p = env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                                {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                 "upgradeTransition": {"mode": "manual"}}]))
    api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    before = versions_of(range(200))
    check(set(before) == {"1.0", "2.0"}, "50/50 before")
    kill(p)
    os.chmod(os.path.dirname(env.state), 0o500)
    # root ignores directory permissions; a read-only bind mount does not.
    subprocess.run(["mount", "--bind", "-o", "ro", os.path.dirname(env.state),
                    os.path.dirname(env.state)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", os.path.dirname(env.state)], check=True)
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--state", env.state])
    check(r.returncode != 0 and "state" in r.stderr, "started without a writable state: %s" % r.stderr)
    check(versions_of(range(200)) == before, "a failed restart changed steering")
    # The state file gone as well, and a config that has only 2.0.
    lost = os.path.join(env.dir, "ro2", "state.json")
    os.mkdir(os.path.dirname(lost))
    subprocess.run(["mount", "--bind", "-o", "ro", os.path.dirname(lost), os.path.dirname(lost)],
                   check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", os.path.dirname(lost)], check=True)
    cfg = env.config([{"version": "2.0", "servers": ["127.0.0.1:9002"]}])
    r = run_vsteerd(["--pin-dir", env.pin_dir, "--state", lost, "--config", cfg])
    check(r.returncode != 0 and "state" in r.stderr, "started without a writable state: %s" % r.stderr)
    check(versions_of(range(200)) == before, "a failed restart with a new config changed steering")


@test
def lost_state_drops_stale(env):
    """pins kept, state lost, config without 1.0: nobody reaches 1.0

    State file lost, pins kept, a new config without 1.0: no client is
    steered to the version that is gone, and the salt is kept."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    p = env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                                {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                 "upgradeTransition": {"mode": "manual"}}]))
    api("PUT", "/v1/services/default/weights", {"2.0": 50, "1.0": 50})
    kill(p)
    os.unlink(env.state)
    env.vsteerd(env.config([{"version": "2.0", "servers": ["127.0.0.1:9002"]}]))
    check(set(versions_of(range(200))) == {"2.0"}, "clients still reach the lost 1.0")
    check("serves none of its servers" in env.vsteerd_log(), "stray socket not reported")


@test
def corrupt_state_refused(env):
    """a malformed or truncated state file stops vsteerd, steering untouched

    A state file that does not parse as one stops vsteerd, naming it;
    it is not taken as empty (which would drop all steering)."""
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    kill(p)
    for text in ('{"vsteerState": 1, "services": {"oops": 1}, "clusters": []}', "{", ""):
        with open(env.state, "w") as f:
            f.write(text)
        r = run_vsteerd(["--pin-dir", env.pin_dir, "--state", env.state])
        check(r.returncode != 0 and env.state in r.stderr, "%r accepted: %s" % (text, r.stderr))
        check(versions_of(range(10)) == ["1.0"] * 10, "steering changed")


@test
def bounded_capabilities(env):
    """vsteerd with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN only steers and
    restarts over its pins; without CAP_PERFMON it fails cleanly; pins with no
    program beside the link are refused with the way out, steering untouched

    vsteerd works with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN only (the
    systemd unit's set), and fails cleanly without CAP_PERFMON."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    r = run_vsteerd(["-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state],
                    wrapper=["setpriv", "--bounding-set", "-all,+bpf,+net_admin", "--inh-caps", "-all", "--"])
    check(r.returncode != 0 and "Permission denied" in r.stderr, "ran without CAP_PERFMON: %s" % r.stderr)
    check(not os.path.exists(env.pin_dir), "a failed start left pins")
    three = ["setpriv", "--bounding-set", "-all,+bpf,+perfmon,+net_admin", "--inh-caps", "-all", "--"]
    env.vsteerd(cfg, wrapper=three)
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"]})
    check(st == 201, "PUT cluster: %s %s" % (st, c))
    check(set(versions_of(range(20))) == {"2.0"}, "not steered")
    check(service()["versions"][0]["liveSockets"] == 1, "socket not registered")
    # A restart adopts the pins with the same three: the link's program is
    # read from the one pinned beside it, not by id (CAP_SYS_ADMIN).
    kill(env.procs[-1], signal.SIGTERM)
    env.vsteerd(cfg, wrapper=three)
    check("adopted data plane" in env.vsteerd_log(), "not adopted:\n" + env.vsteerd_log())
    # ...and pins the new program in place of the old, for the next one.
    link, prog = (json.loads(subprocess.run(["bpftool", "-j", k, "show", "pinned",
                                             os.path.join(env.pin_dir, n)], capture_output=True,
                                            text=True, check=True).stdout)
                  for k, n in (("link", "link"), ("prog", "lookup")))
    check(link["prog_id"] == prog["id"], "link runs %d, lookup pins %d" % (link["prog_id"], prog["id"]))
    # The tracers' programs are read from their pins too: the same build's
    # are kept, not replaced (which would leave a gap in what they see).
    check("replacing tracer" not in env.vsteerd_log(), "tracers replaced:\n" + env.vsteerd_log())
    check(set(versions_of(range(20))) == {"2.0"}, "not steered after the restart")
    # Pins of a vsteerd that pinned no program: refused with the way out,
    # steering untouched; one start with CAP_SYS_ADMIN pins it.
    kill(env.procs[-1], signal.SIGTERM)
    os.unlink(os.path.join(env.pin_dir, "lookup"))
    r = run_vsteerd(["-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state], wrapper=three)
    check(r.returncode != 0 and "needs CAP_SYS_ADMIN" in r.stderr, "old pins adopted: %s" % r.stderr)
    check(set(versions_of(range(20))) == {"2.0"}, "steering lost by a refused start")
    env.vsteerd(cfg)
    kill(env.procs[-1], signal.SIGTERM)
    check(os.path.exists(os.path.join(env.pin_dir, "lookup")), "no program pinned")
    env.vsteerd(cfg, wrapper=three)
    check(set(versions_of(range(20))) == {"2.0"}, "not steered after the last restart")


@test
def kernel_features(env):
    """`/v1/features` shows every feature the running kernel's version should
    have; a kernel pretending to lack `sock_send_length` measures by TC and
    says so; one lacking `tcp_probe` steers with the meters off and a warning
    naming the hook and its Linux version; one lacking sk_lookup is refused
    with a sentence and steering is untouched

    GET /v1/features lists what the kernel offers; a kernel without a
    request hook runs steering with the meters off (and the mirror's capture:
    a mirror rollout is refused, 409 not_watching) and says which hook; one
    without sk_lookup is refused with a sentence, not a verifier dump."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg)
    st, f = api("GET", "/v1/features")
    check(st == 200 and f["steering"] and f["watching"] and f["mirror"], "features: %s %s" % (st, f))
    names = {x["name"]: x for x in f["features"]}
    release = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    for n, x in names.items():
        since = tuple(int(v) for v in x["since"].split("."))
        check(x["available"] or since > release,
              "%s (since %s) not available on %s" % (n, x["since"], os.uname().release))
    check(len(names) >= 11 and f["kernel"] == os.uname().release, "features %s" % f)
    kill(p, signal.SIGTERM)
    try:
        # Before 6.3: the TC egress program measures the responses.
        os.environ["VSTEER_PRETEND_MISSING"] = "tp_sock_send_length"
        env.vsteerd(cfg)
        st, f = api("GET", "/v1/features")
        check(f["steering"] and f["watching"] and f["mirror"], "meters expected, by TC: %s" % f)
        check("lacks tp_btf/sock_send_length" in env.vsteerd_log() and "TC egress" in env.vsteerd_log(),
              "no line saying how responses are measured:\n" + env.vsteerd_log())
        check(not os.path.exists(env.pin_dir + "/resp"), "the send hook is still pinned")
        check(fetch() == "1.0", "steering")
        check(service()["versions"][0]["counters"]["requests"] == 1, "request not measured")
        kill(env.procs[-1], signal.SIGTERM)
        # Without the request hook there is nothing to measure with.
        os.environ["VSTEER_PRETEND_MISSING"] = "tp_tcp_probe"
        env.vsteerd(cfg)
        st, f = api("GET", "/v1/features")
        check(f["steering"] and not f["watching"] and not f["mirror"], "no meters expected: %s" % f)
        st, r = api("POST", "/v1/services/default/rollout", {"to": "1.0", "strategy": "mirror"})
        check(st == 409 and r["error"]["code"] == "not_watching", "a mirror: %s %s" % (st, r))
        check("lacks tp_tcp_probe" in env.vsteerd_log() and "Linux 5.5" in env.vsteerd_log(),
              "no warning naming the hook:\n" + env.vsteerd_log())
        check(fetch() == "1.0", "steering without the meters")
        check(service()["versions"][0]["counters"]["requests"] == 1, "requests measured")
        kill(env.procs[-1], signal.SIGTERM)
        os.environ["VSTEER_PRETEND_MISSING"] = "sk_lookup"
        r = run_vsteerd(["--pin-dir", env.pin_dir, "--state", env.state, "--config", cfg])
        check(r.returncode == 1 and "lacks sk_lookup" in r.stderr and "Linux 5.9" in r.stderr,
              "exit %d: %s" % (r.returncode, r.stderr))
        check(fetch() == "1.0", "a refused start touched steering")
    finally:
        del os.environ["VSTEER_PRETEND_MISSING"]


@test
def file_modes_and_bpffs(env):
    """after a start (umask 022) the pin directory and the state directory
    vsteerd made are 0700, the state file 0600, also after a change; a pin
    directory on a tmpfs stops vsteerd with "not on a BPF filesystem" naming
    it, nothing created there, nothing steered"""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    env.state = os.path.join(env.dir, "newdir", "state.json")
    os.umask(0o022)     # what a shell gives: the modes must not come from it
    env.vsteerd(cfg)
    for path, want in ((env.pin_dir, 0o700), (env.state, 0o600), (os.path.dirname(env.state), 0o700)):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        check(mode == want, "%s: mode %o, want %o" % (path, mode, want))
    pins = [p for p in os.listdir(env.pin_dir)]
    check(pins, "nothing pinned in %s" % env.pin_dir)
    kill(env.procs[-1], signal.SIGTERM)
    # The state file is rewritten on every change: still 0600 after one.
    env.vsteerd(cfg)
    check(api("PUT", "/v1/services/default/weights", {"1.0": 100})[0] == 200, "PUT weights")
    check(stat.S_IMODE(os.stat(env.state).st_mode) == 0o600, "state file mode after a change")
    kill(env.procs[-1], signal.SIGTERM)
    check(run_vsteerd(["--pin-dir", env.pin_dir, "--cleanup"]).returncode == 0, "--cleanup")

    tmpfs = os.path.join(env.dir, "notbpf")
    os.mkdir(tmpfs)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", tmpfs], check=True)
    pin_dir = os.path.join(tmpfs, "vsteer")
    r = run_vsteerd(["-c", cfg, "--pin-dir", pin_dir, "--state", os.path.join(env.dir, "s2.json")])
    check(r.returncode != 0 and "not on a BPF filesystem" in r.stderr and tmpfs in r.stderr,
          "exit %d: %s" % (r.returncode, r.stderr))
    check(os.listdir(tmpfs) == [], "left in the tmpfs: %s" % os.listdir(tmpfs))
    check(not os.path.exists(env.pin_dir), "pinned on bpffs instead")
    check_not_steered("with the pin directory refused")
