"""vsteerd's life: restarts and adoption, SIGTERM and --cleanup, config and state files, capabilities, kernel features."""
import json
import os
import signal
import subprocess

from common import Load, set_weights, snapshot, test, two_versions
from lib import BUILD, TestFailure, api, check, fetch, kill, service, versions_of, wait_for


@test
def restart_under_load(env):
    """kill -9 of vsteerd under load fails no connection; the restarted
    vsteerd adopts pinned maps and state and moves no client."""
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
    """SIGTERM stops vsteerd, steering keeps running; --cleanup removes it."""
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=5) == 0, "vsteerd exit status")
    check(versions_of(range(10)) == ["1.0"] * 10, "steering stopped with vsteerd")
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir, "--cleanup"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "cleanup failed: %s" % r.stderr)
    check(not os.path.exists(env.pin_dir), "pin dir still there")
    try:
        fetch(timeout=2)
        raise TestFailure("still steered after --cleanup")
    except ConnectionRefusedError:
        pass


@test
def config_errors(env):
    """A bad config keeps vsteerd from starting and names the field and file."""
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
        r = subprocess.run([os.path.join(BUILD, "vsteerd"), "-c", path, "--pin-dir", env.pin_dir,
                            "--state", env.state], capture_output=True, text=True, timeout=10)
        check(r.returncode != 0, "started with %s" % cfg)
        check(field in r.stderr and path in r.stderr, "error does not name %s and %s: %s"
              % (field, path, r.stderr))
    check(not os.path.exists(env.pin_dir), "a failed start left pins behind")


@test
def bpftool_shows_fields(env):
    """The maps carry BTF: bpftool dumps field names."""
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
    """--session-table sizes the LRU; a pinned table of another size is
    refused with a clear error rather than silently kept."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg, args=["--session-table", "4096"])
    out = subprocess.run(["bpftool", "map", "show", "pinned", env.pin_dir + "/sess"],
                         capture_output=True, text=True).stdout
    check("lru_hash" in out and "max_entries 4096" in out, "sess map: %s" % out)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=5)
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir, "--state", env.state,
                        "--session-table", "8192"], capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "--session-table" in r.stderr, "size change accepted: %s" % r.stderr)
    check(versions_of(range(5)) == ["1.0"] * 5, "a refused start disturbed steering")
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--session-table", "12"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "1024" in r.stderr, "bad size: %s" % r.stderr)


@test
def failed_restart_keeps_steering(env):
    """A restart that cannot write its state file exits with an error and
    leaves the pinned steering exactly as it was."""
    env.backend("1.0", "127.0.0.1:9001")
    env.state = os.path.join(env.dir, "ro", "state.json")
    os.mkdir(os.path.dirname(env.state))
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    kill(p)
    os.chmod(os.path.dirname(env.state), 0o500)
    # root ignores directory permissions; a read-only bind mount does not.
    subprocess.run(["mount", "--bind", "-o", "ro", os.path.dirname(env.state),
                    os.path.dirname(env.state)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", os.path.dirname(env.state)], check=True)
    r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir, "--state", env.state],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "state" in r.stderr, "started without a writable state: %s" % r.stderr)
    check(versions_of(range(20)) == ["1.0"] * 20, "a failed restart broke steering")


@test
def lost_state_drops_stale(env):
    """State file lost, pins kept, a new config without 1.0: no client is
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
    """A state file that does not parse as one stops vsteerd, naming it;
    it is not taken as empty (which would drop all steering)."""
    env.backend("1.0", "127.0.0.1:9001")
    p = env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    kill(p)
    for text in ('{"vsteerState": 1, "services": {"oops": 1}, "clusters": []}', "{", ""):
        with open(env.state, "w") as f:
            f.write(text)
        r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir,
                            "--state", env.state], capture_output=True, text=True, timeout=10)
        check(r.returncode != 0 and env.state in r.stderr, "%r accepted: %s" % (text, r.stderr))
        check(versions_of(range(10)) == ["1.0"] * 10, "steering changed")


@test
def bounded_capabilities(env):
    """vsteerd works with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN only (the
    systemd unit's set), and fails cleanly without CAP_PERFMON."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    base = [os.path.join(BUILD, "vsteerd"), "-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state]
    r = subprocess.run(["setpriv", "--bounding-set", "-all,+bpf,+net_admin", "--inh-caps", "-all", "--"]
                       + base, capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "Permission denied" in r.stderr, "ran without CAP_PERFMON: %s" % r.stderr)
    check(not os.path.exists(env.pin_dir), "a failed start left pins")
    p = subprocess.Popen(["setpriv", "--bounding-set", "-all,+bpf,+perfmon,+net_admin", "--inh-caps", "-all",
                          "--"] + base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env.procs.append(p)
    wait_for(env.healthy, 10, "vsteerd with bounded capabilities")
    st, c = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"]})
    check(st == 201, "PUT cluster: %s %s" % (st, c))
    check(set(versions_of(range(20))) == {"2.0"}, "not steered")
    check(service()["versions"][0]["liveSockets"] == 1, "socket not registered")


@test
def kernel_features(env):
    """GET /v1/features lists what the kernel offers; a kernel without a
    request hook runs steering with the meters off and says which hook; one
    without sk_lookup is refused with a sentence, not a verifier dump."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg)
    st, f = api("GET", "/v1/features")
    check(st == 200 and f["steering"] and f["watching"], "features: %s %s" % (st, f))
    names = {x["name"]: x for x in f["features"]}
    for n in ("btf", "sk_lookup", "sk_assign", "sockmap", "sk_storage", "iter_tcp",
              "tp_inet_sock_set_state", "tp_tcp_probe", "tp_sock_send_length"):
        check(names.get(n, {}).get("available"), "%s not available on 6.18: %s" % (n, names.get(n)))
    check(f["kernel"] == os.uname().release, "kernel %r" % f["kernel"])
    kill(p, signal.SIGTERM)
    os.environ["VSTEER_PRETEND_MISSING"] = "tp_sock_send_length"
    try:
        env.vsteerd(cfg)
        st, f = api("GET", "/v1/features")
        check(f["steering"] and not f["watching"], "no meters expected: %s" % f)
        check("lacks tp_sock_send_length" in env.vsteerd_log() and "Linux 6.3" in env.vsteerd_log(),
              "no warning naming the hook:\n" + env.vsteerd_log())
        check(fetch() == "1.0", "steering without the meters")
        check(service()["versions"][0]["counters"]["requests"] == 0, "requests measured")
        kill(env.procs[-1], signal.SIGTERM)
        os.environ["VSTEER_PRETEND_MISSING"] = "sk_lookup"
        r = subprocess.run([os.path.join(BUILD, "vsteerd"), "--pin-dir", env.pin_dir,
                            "--state", env.state, "--config", cfg],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "lacks sk_lookup" in r.stderr and "Linux 5.9" in r.stderr,
              "exit %d: %s" % (r.returncode, r.stderr))
        check(fetch() == "1.0", "a refused start touched steering")
    finally:
        del os.environ["VSTEER_PRETEND_MISSING"]
