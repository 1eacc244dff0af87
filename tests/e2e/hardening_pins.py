"""Pins and neighbours: pins removed or replaced by hand are put back, the exit line is true, a service address another process listens on and a second vsteerd in the namespace are refused."""
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess

from common import set_weights, test, two_versions
from lib import API, BUILD, START_TIMEOUT, SVC, TestFailure, api, check, check_sanitizers, fetch, kill, \
    versions_of, wait_for

PINS = ("link", "lookup", "track", "req", "resp", "rst", "svcs", "socks", "ports", "vstats", "sstats",
        "sessions", "vopen", "lat", "rsize", "sks", "sopts", "squota", "sguard")


def steered_versions(when, n=100):
    """versions_of(range(n)), or a failure that says steering stopped."""
    try:
        return versions_of(range(n))
    except ConnectionRefusedError:
        raise TestFailure("connection refused %s: steering stopped" % when) from None


def events(type_):
    return [e for e in api("GET", "/v1/events")[1]["events"] if e["kind"] == type_]


def locked_by_someone(path):
    """Whether another process holds an flock on the directory."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def start_refused(args, what):
    """vsteerd run with args must exit non-zero by itself within 10 s; its
    stderr. One that starts instead is stopped and fails the test."""
    p = subprocess.Popen([os.path.join(BUILD, "vsteerd")] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        err = p.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=15)[1]
        raise TestFailure("%s: vsteerd started instead of refusing:\n%s" % (what, err[-2000:]))
    check_sanitizers(err, "the stderr of vsteerd %s" % " ".join(args))
    check(p.returncode != 0, "%s: exit 0:\n%s" % (what, err))
    return err


def pinned(env):
    """What is in the test's bpffs but what bpffs itself shows there."""
    return sorted(n for n in os.listdir(env.bpffs) if not n.endswith(".debug"))


def write_config(env, name, cfg):
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def removed_then_killed(env, remove, want_event, after=None):
    """Two versions at 50/50; remove() takes pins away by hand; within a tick
    vsteerd warns, records an event naming what it pinned again, and pins it;
    after() checks more; then kill -9: every client is still served by its
    version, and a restarted vsteerd adopts the pins. Returns the events."""
    two_versions(env, "manual")
    set_weights(50)
    before = steered_versions("before the pins were removed")
    check(set(before) == {"1.0", "2.0"}, "50/50 before: %s" % set(before))
    # The pins this kernel has: no resp without sock_send_length (6.1).
    want = [p for p in PINS if os.path.exists(os.path.join(env.pin_dir, p))]
    check(set(PINS) - set(want) <= {"resp"}, "pinned before: %s" % want)
    remove()
    wait_for(lambda: all(os.path.exists(os.path.join(env.pin_dir, p)) for p in want), 3,
             lambda: "every pin back in %s: %s" % (env.pin_dir, os.listdir(env.pin_dir)
                                                   if os.path.isdir(env.pin_dir) else "no dir"))
    # A tick in the middle of the removal makes two events of it.
    wait_for(lambda: [e for e in events("repinned") if want_event in e["message"]], 3,
             lambda: "a repinned event with %r: %s" % (want_event, events("repinned")))
    ev = events("repinned")
    check(all(e["service"] == "" for e in ev), "events of a service: %s" % ev)
    check(not events("pin_replaced"), "vsteerd's own pins taken for another's: %s"
          % events("pin_replaced"))
    check(versions_of(range(100)) == before, "clients moved while the pins were put back")
    if after:
        after()
    kill(env.daemons[-1])
    check(steered_versions("after kill -9 of vsteerd") == before,
          "clients changed version after vsteerd was killed")
    env.vsteerd()
    check("adopted data plane" in env.vsteerd_log(), "the restart did not adopt the pins")
    check(versions_of(range(100)) == before, "clients moved across the restart")
    return ev


@test
def repin_link(env):
    """the sk_lookup link's pin removed by hand is pinned again within a tick,
    with a warning and a `repinned` event naming `link`; after `kill -9` of
    vsteerd all 100 clients are served by the version they had (50/50), and
    a restart adopts the pins"""
    link = os.path.join(env.pin_dir, "link")
    ev = removed_then_killed(env, lambda: os.unlink(link), "link")
    check(len(ev) == 1 and ev[0]["message"].endswith(": link"), "events: %s" % ev)
    check("warning: pinned again in %s: link (repinned" % env.pin_dir in env.vsteerd_log(),
          "no warning naming link")


@test
def repin_every_pin(env):
    """every pin of the pin directory removed by hand (the directory kept): all
    19 (18 without sock_send_length) are pinned again within a tick, with a
    warning and a `repinned` event; `kill -9` then leaves every client on its
    version, and a restart adopts"""
    def remove():
        for name in os.listdir(env.pin_dir):
            os.unlink(os.path.join(env.pin_dir, name))
    removed_then_killed(env, remove, "link")
    check("warning: pinned again in %s: " % env.pin_dir in env.vsteerd_log(), "no warning")


@test
def repin_directory(env):
    """the whole pin directory removed (`rm -rf`): it is made again, mode 0700
    under umask 022, locked by vsteerd, every pin in it, with a warning and a
    `repinned` event; `kill -9` then leaves every client on its version, and a
    restart adopts"""
    def remove():
        # A tick may pin something again between rmtree's unlinks and its
        # rmdir: then again, as rm -rf by hand would be.
        while os.path.exists(env.pin_dir):
            shutil.rmtree(env.pin_dir, ignore_errors=True)

    def made_again():
        mode = stat.S_IMODE(os.stat(env.pin_dir).st_mode)
        check(mode == 0o700, "the pin directory made again: mode %o" % mode)
        check(locked_by_someone(env.pin_dir), "the pin directory made again is not locked")
        check("was gone: made it again" in env.vsteerd_log(), "no warning")
    os.umask(0o022)
    removed_then_killed(env, remove, "was gone", made_again)


@test
def foreign_pin_replaced(env):
    """another map renamed over the `svcs` pin is unpinned and vsteerd's pinned
    again within a tick, with a warning and a `pin_replaced` event; a restart
    after `kill -9` adopts vsteerd's map, every client on its version"""
    two_versions(env, "manual")
    set_weights(50)
    before = steered_versions("at first")
    foreign = os.path.join(env.bpffs, "foreign")
    subprocess.run(["bpftool", "map", "create", foreign, "type", "hash", "key", "4", "value", "4",
                    "entries", "1", "name", "foreign"], check=True)
    os.rename(foreign, os.path.join(env.pin_dir, "svcs"))   # replaces the pin in one step
    wait_for(lambda: events("pin_replaced"), 3, lambda: "a pin_replaced event: %s"
             % api("GET", "/v1/events")[1])
    ev = events("pin_replaced")
    check(len(ev) == 1 and "svcs" in ev[0]["message"], "events: %s" % ev)
    check(not events("repinned"), "a replaced pin reported as missing: %s" % events("repinned"))
    check("warning: svcs in %s held another BPF object" % env.pin_dir in env.vsteerd_log(),
          "no warning")
    info = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "pinned",
                                      os.path.join(env.pin_dir, "svcs")],
                                     capture_output=True, text=True, check=True).stdout)
    check(info["name"] == "svcs", "pinned as svcs: %s" % info)
    kill(env.daemons[-1])
    env.vsteerd()
    check("adopted data plane" in env.vsteerd_log(), "the restart did not adopt the pins")
    check(steered_versions("after the restart") == before, "clients moved")


@test
def sigterm_after_removed_pin(env):
    """SIGTERM right after the link's pin is removed: vsteerd puts it back
    before it says "steering stays pinned", exits 0 and steering keeps
    running; with the bpffs under the pin directory unmounted, it says at
    warn level that `link` is not pinned and steering stops, and it does
    (refused)"""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    p = env.vsteerd(cfg)
    os.unlink(os.path.join(env.pin_dir, "link"))
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=10) == 0, "exit status %s" % p.returncode)
    log = env.vsteerd_log()
    check("steering stays pinned in %s" % env.pin_dir in log, "no exit line:\n" + log)
    check(os.path.exists(os.path.join(env.pin_dir, "link")), "link not pinned after the exit line")
    check(steered_versions("after SIGTERM", 10) == ["1.0"] * 10, "steering after SIGTERM")

    p = env.vsteerd(cfg)
    subprocess.run(["umount", "-l", env.bpffs], check=True)
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=10) == 0, "exit status %s" % p.returncode)
    last = env.vsteerd_log().rstrip().splitlines()[-1]
    check("stopping;" in last and "link" in last and "not pinned" in last
          and "steering stops" in last and "stays pinned" not in last[last.index("stopping"):],
          "exit line: %s" % last)
    print(last)
    try:
        fetch(timeout=2)
        raise TestFailure("still steered after vsteerd said steering stops")
    except ConnectionRefusedError:
        pass


@test
def service_address_taken(env):
    """a process listening on the service address (exactly, `0.0.0.0` or
    dual-stack `[::]` on its port) stops vsteerd before anything is pinned,
    with a sentence naming the address and `proxy.takeover` (or
    `services[0].takeover`); the process keeps its connections; with
    `"takeover": true` vsteerd starts and steers"""
    env.backend("1.0", "127.0.0.1:9001")
    cluster = {"version": "1.0", "servers": ["127.0.0.1:9001"]}
    cfg = env.config(cluster)
    args = ["--pin-dir", env.pin_dir, "--state", env.state, "--config", cfg]
    for addr in ("127.0.0.1:8080", "0.0.0.0:8080", "[::]:8080"):
        other = env.backend("other", addr)
        err = start_refused(args, "with %s listening" % addr)
        check("another process listens on %s" % addr in err and "127.0.0.1:8080" in err
              and "proxy.takeover" in err, "%s: %s" % (addr, err))
        print("%s: %s" % (addr, err.strip().splitlines()[-1]))
        check(not os.path.exists(env.pin_dir), "%s: refused, but pinned" % addr)
        check(pinned(env) == [], "left in bpffs: %s" % pinned(env))
        check(fetch() == "other", "%s: the listening process lost its connections" % addr)
        kill(other)

    other = env.backend("other", "127.0.0.1:8080")
    services = write_config(env, "services.json", {
        "configService": {"address": API[0], "port": API[1]},
        "services": [{"name": "web", "address": SVC[0], "port": SVC[1], "clusters": [cluster]}]})
    err = start_refused(["--pin-dir", env.pin_dir, "--state", env.state, "--config", services],
                        "services form")
    check("service web" in err and "services[0].takeover" in err, "services form: %s" % err)
    print("services form: %s" % err.strip().splitlines()[-1])
    env.vsteerd(env.config(cluster, {"proxy": {"address": SVC[0], "port": SVC[1],
                                               "takeover": True}}))
    check(versions_of(range(10)) == ["1.0"] * 10, "takeover: not steered to 1.0")
    kill(env.daemons[-1], signal.SIGTERM)
    # A restart over its own pins: the address is vsteerd's already.
    env.vsteerd(cfg)
    check(versions_of(range(10)) == ["1.0"] * 10, "restart without takeover")


@test
def second_vsteerd_refused(env):
    """a second vsteerd with another pin directory in the same network
    namespace is refused naming the first one's pin directory, also after the
    first stopped (its steering stays pinned); nothing of it is pinned, and
    the first keeps steering; a vsteerd started over the first's pins adopts
    them"""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    other = os.path.join(env.bpffs, "other")
    args = ["--pin-dir", other, "--state", os.path.join(env.dir, "other.json"), "--config",
            write_config(env, "other.json.cfg", {
                "proxy": {"address": "127.0.0.1", "port": 8081},
                "configService": {"address": "127.0.0.1", "port": 9901},
                "cluster": {"version": "1.0", "servers": ["127.0.0.1:9001"]}})]
    p = env.vsteerd(cfg)
    for when in ("while the first runs", "after the first stopped"):
        err = start_refused(args, when)
        check("another vsteerd steers this network namespace" in err and env.pin_dir in err
              and "--cleanup" in err, "%s: %s" % (when, err))
        print("%s: %s" % (when, err.strip().splitlines()[-1]))
        check(pinned(env) == ["vsteer"], "%s: pinned: %s" % (when, pinned(env)))
        check(steered_versions(when, 10) == ["1.0"] * 10, "%s: first one's steering" % when)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            check(p.wait(timeout=10) == 0, "first vsteerd's exit")
    env.vsteerd()
    check("adopted data plane" in env.vsteerd_log(), "did not adopt its own pins")
    check(steered_versions("after the restart", 10) == ["1.0"] * 10, "steering after the restart")


@test
def neighbour_out_of_sight(env):
    """a vsteerd whose pins are in a bpffs this one cannot see (another mount
    namespace) still counts: the second is refused with the first one's
    sk_lookup link id, and the first keeps steering"""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    hidden = os.path.join(env.dir, "hidden")
    os.mkdir(hidden)
    env.log = open(os.path.join(env.dir, "vsteerd.log"), "ab")
    first = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t bpf bpf "$1" && exec "$2" --pin-dir "$1/vsteer" --state "$3" --config "$4"',
         "sh", hidden, os.path.join(BUILD, "vsteerd"), os.path.join(env.dir, "hidden.json"), cfg],
        stdout=env.log, stderr=env.log)
    env.procs.append(first)
    env.daemons.append(first)
    wait_for(lambda: env.healthy() or first.poll() is not None, START_TIMEOUT,
             "the first vsteerd's API")
    check(first.poll() is None, "the first vsteerd exited: %s" % env.vsteerd_log())
    link = json.loads(subprocess.run(["bpftool", "-j", "link", "show"], capture_output=True,
                                     text=True, check=True).stdout)
    netns = os.stat("/proc/self/ns/net").st_ino
    ids = [x["id"] for x in link if x.get("attach_type") == "sk_lookup" and x["netns_ino"] == netns]
    check(len(ids) == 1, "sk_lookup links: %s" % link)
    second = write_config(env, "second.json", {
        "proxy": {"address": "127.0.0.1", "port": 8081},
        "configService": {"address": "127.0.0.1", "port": 9901},
        "cluster": {"version": "1.0", "servers": ["127.0.0.1:9001"]}})
    err = start_refused(["--pin-dir", env.pin_dir, "--state", env.state, "--config", second],
                        "with the first one's pins out of sight")
    check("another vsteerd steers this network namespace" in err
          and "link id %d" % ids[0] in err, "%s" % err)
    print(err.strip().splitlines()[-1])
    check(not os.path.exists(env.pin_dir), "pinned: %s" % pinned(env))
    check(steered_versions("after the refusal", 10) == ["1.0"] * 10, "first one's steering")
