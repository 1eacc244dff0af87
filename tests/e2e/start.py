"""A start that fails leaves the host as it found it: on a fresh host no pin directory, link, state file or TC filter; over the pins of a stopped vsteerd the same pins, link, program, map contents, state file and steering. `vsteerd --check-config` checks a config and touches nothing."""
import json
import os
import signal
import socket
import subprocess

from common import set_weights, test
from lib import API, SVC, TestFailure, check, fetch, kill, run_vsteerd, versions_of

NOBODY = 65534
START_LIMIT = 10    # s: a refused start exits at once
CLIENTS = 60        # at 50/50, P(all on one version) = 2^-59: steering is visibly both
CLUSTERS = [{"version": "1.0", "servers": ["127.0.0.1:9001"]},
            {"version": "2.0", "servers": ["127.0.0.1:9002"],
             "upgradeTransition": {"mode": "manual"}}]


def write_json(env, name, obj):
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def config(env, name="config.json", api=None, proxy=None):
    """The usual config (1.0, and 2.0 at 0%) with configService and proxy
    replaced by what is given."""
    return write_json(env, name, {
        "proxy": proxy or {"address": SVC[0], "port": SVC[1]},
        "configService": api or {"address": API[0], "port": API[1]},
        "cluster": CLUSTERS})


def bpftool(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True)
    check(r.returncode == 0, "bpftool %s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout)


def netns_links():
    """The sk_lookup links attached to this network namespace, id -> the
    program's id (bpftool lists every namespace's links)."""
    ino = os.stat("/proc/self/ns/net").st_ino
    return {x["id"]: x["prog_id"] for x in bpftool("link", "show")
            if x.get("type") == "netns" and x.get("attach_type") == "sk_lookup"
            and x.get("netns_ino") == ino}


def tc_lo():
    """The qdiscs and egress filters of lo (vsteer's TC meter lives there)."""
    def tc(*args):
        out = subprocess.run(["tc", "-j"] + list(args), capture_output=True, text=True).stdout
        return json.loads(out or "[]")
    return tc("qdisc", "show", "dev", "lo"), tc("filter", "show", "dev", "lo", "egress")


def listeners():
    """This namespace's listening TCP sockets, as (address, port) in hex."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":
                    found.add(fields[1])
    return sorted(found)


def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def host(env, state):
    """What a start could leave on a host: the bpffs (pin directory,
    `_tmp` directories), links, TC, listeners, the state directory."""
    return {"bpffs": listing(env.bpffs), "links": netns_links(), "tc": tc_lo(),
            "listeners": listeners(), "state dir": listing(os.path.dirname(state))}


def refused_start(args, needles, what):
    """vsteerd with args exits 1 at once with a message holding every
    needle; returns that message."""
    try:
        r = run_vsteerd(args, timeout=START_LIMIT)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s: vsteerd still running %d s after its start" % (what, START_LIMIT)) from None
    check(r.returncode == 1 and all(n in r.stderr for n in needles),
          "%s: exit %d, want 1 and a message with %s: %s" % (what, r.returncode, needles, r.stderr))
    msg = r.stderr.strip().splitlines()[-1]
    print("%s: %s" % (what, msg))
    return msg


def not_steered(what):
    try:
        fetch(timeout=2)
    except ConnectionRefusedError:
        return
    raise TestFailure("%s: the service address answers" % what)


def fresh_failure(env, what, args, needles, state=None):
    """On a host without pins: the start refused leaves no pin directory
    (nor a temporary one), no sk_lookup link in this namespace, no TC
    filter, no state file (nor its directory, if it had none) and the
    service address unanswered."""
    state = state or env.state
    before = host(env, state)
    check(not before["links"], "%s: a link before the start: %s" % (what, before["links"]))
    refused_start(["--pin-dir", env.pin_dir, "--state", state] + args, needles, what)
    after = host(env, state)
    check(after == before, "%s: the host changed:\nbefore %s\nafter  %s" % (what, before, after))
    check(not os.path.exists(state), "%s: a state file was written" % what)
    not_steered(what)


def pinned(env):
    """Every pin with the id of what it holds, the sk_lookup link's
    program, the contents of the maps vsteerd writes at a start, and the
    state file (bytes, inode, mtime)."""
    pins = {}
    for name in sorted(os.listdir(env.pin_dir)):
        path = os.path.join(env.pin_dir, name)
        if name in ("link", "track", "req", "resp", "rst"):
            x = bpftool("link", "show", "pinned", path)
            pins[name] = (x["id"], x["prog_id"])
        elif name == "lookup" or name.endswith("_prog"):
            pins[name] = bpftool("prog", "show", "pinned", path)["id"]
        else:
            pins[name] = bpftool("map", "show", "pinned", path)["id"]
    maps = {m: bpftool("map", "dump", "pinned", os.path.join(env.pin_dir, m))
            for m in ("svcs", "socks", "ports", "sopts")}
    st = os.stat(env.state)
    with open(env.state, "rb") as f:
        state = (f.read(), st.st_ino, st.st_mtime_ns)
    return {"pins": pins, "maps": maps, "state": state, "tc": tc_lo(), "links": netns_links()}


def stopped_vsteerd(env, cfg):
    """1.0 and 2.0 at 50/50 by a vsteerd stopped with SIGTERM: its steering
    stays pinned. Returns what is pinned and where each client goes."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    p = env.vsteerd(cfg)
    set_weights(50)
    kill(p, signal.SIGTERM)
    clients = versions_of(range(CLIENTS))
    check(set(clients) == {"1.0", "2.0"}, "50/50 before: %s" % clients)
    return pinned(env), clients


def restart_failure(env, what, before, clients, args, needles):
    """Over the pins of a stopped vsteerd: the start refused leaves every
    pin holding the same object (the link's id and program included), the
    maps' contents, TC, the state file (bytes, inode, mtime) and every
    client's version as they were."""
    refused_start(["--pin-dir", env.pin_dir, "--state", env.state] + args, needles, what)
    after = pinned(env)
    for k in before:
        check(after[k] == before[k], "%s: %s changed:\nbefore %s\nafter  %s"
              % (what, k, before[k], after[k]))
    check(versions_of(range(CLIENTS)) == clients, "%s: clients moved" % what)


def listen(addr):
    """A listener on addr (SO_REUSEADDR: the port may be in TIME_WAIT from
    the API's own connections)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen()
    return s


def read_only(path):
    """A directory root cannot write either: a read-only bind mount."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "--bind", path, path], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", path], check=True)


def cert_pair(env, name):
    """A self-signed certificate and its key (EC: quick to make)."""
    key, cert = (os.path.join(env.dir, name + s) for s in ("-key.pem", "-cert.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def token_file(env, mode=0o600, name="token"):
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        f.write("s3cret-token-0123456789\n")
    os.chmod(path, mode)
    return path


@test
def failed_start_api_taken(env):
    """the API address taken (another socket listens on it): vsteerd exits 1
    naming the address and "in use"; on a fresh host it leaves no pin
    directory, no sk_lookup link (`bpftool link`), no TC filter, no state
    file nor the state directory it would have made, and the service address
    refuses connections; over the pins of a stopped vsteerd, every pin holds
    the same object (link id, its program, map ids), svcs, socks, ports and
    sopts hold the same, the state file is byte-identical and not rewritten
    (same inode and mtime), and all 60 clients keep their version

    Before, the API was bound last: the maps were pinned, the link
    attached, the TC meter put on lo and the state file written, and the
    service answered with nothing running to manage it."""
    cfg = config(env)
    needles = ["127.0.0.1:9900", "in use"]
    taken = listen(API)
    fresh_failure(env, "fresh host", ["-c", cfg], needles,
                  state=os.path.join(env.dir, "new", "state.json"))
    taken.close()
    before, clients = stopped_vsteerd(env, cfg)
    taken = listen(API)
    restart_failure(env, "restart", before, clients, ["-c", cfg], needles)
    restart_failure(env, "restart without config", before, clients, [], needles)
    taken.close()


@test
def failed_start_bad_tls(env):
    """a TLS certificate whose key is another's: vsteerd exits 1 naming both
    files; on a fresh host nothing is left (no pins, link, TC filter, state
    file) and the service refuses; over the pins of a stopped vsteerd pins,
    link, program, maps, state file and every client's version are as they
    were"""
    cert, _ = cert_pair(env, "a")
    _, other_key = cert_pair(env, "b")
    bad = config(env, "tls.json", api={"address": API[0], "port": API[1],
                                       "tlsCert": cert, "tlsKey": other_key})
    needles = [cert, other_key, "tlsCert"]
    fresh_failure(env, "fresh host", ["-c", bad], needles)
    before, clients = stopped_vsteerd(env, config(env))
    restart_failure(env, "restart", before, clients, ["-c", bad], needles)


@test
def failed_start_state_unwritable(env):
    """a state directory vsteerd cannot write (a read-only mount): vsteerd
    exits 1 saying it cannot write the state file; on a fresh host nothing is
    left (no pins, link, TC filter, state file) and the service refuses; over
    the pins of a stopped vsteerd pins, link, program, maps, the state file
    and every client's version are as they were"""
    cfg = config(env)
    ro = os.path.join(env.dir, "ro")
    read_only(ro)
    needles = ["cannot write state file", "Read-only file system"]
    fresh_failure(env, "fresh host", ["-c", cfg], needles, state=os.path.join(ro, "state.json"))
    env.state = os.path.join(env.dir, "st", "state.json")
    before, clients = stopped_vsteerd(env, cfg)
    read_only(os.path.dirname(env.state))
    restart_failure(env, "restart", before, clients, ["-c", cfg], needles)


@test
def failed_start_bad_token(env):
    """a token file others can read (0644): vsteerd exits 1 naming it and
    `chmod 600`; on a fresh host nothing is left (the state directory it
    would have made included) and the service refuses; over the pins of a
    stopped vsteerd everything is as it was"""
    bad = config(env, "token.json", api={"address": API[0], "port": API[1],
                                         "tokenFile": token_file(env, 0o644)})
    needles = ["token", "chmod 600"]
    fresh_failure(env, "fresh host", ["-c", bad], needles,
                  state=os.path.join(env.dir, "new", "state.json"))
    before, clients = stopped_vsteerd(env, config(env))
    restart_failure(env, "restart", before, clients, ["-c", bad], needles)


@test
def failed_restart_map_write(env):
    """a restart whose map write fails (svcs frozen with bpftool, the state
    file lost and a config with 2.0 only, so the start must rewrite svcs and
    place 2.0's socket in slot 0): vsteerd exits 1 and the sockets it had
    placed are taken out again, the link runs its old program, no state file
    is written, and every client keeps its version

    Before, the start had already moved the sockets (2.0's put where 1.0's
    was, strays removed) when the write failed, and left them so."""
    before, clients = stopped_vsteerd(env, config(env))
    os.unlink(env.state)
    before.pop("state")
    subprocess.run(["bpftool", "map", "freeze", "pinned", env.pin_dir + "/svcs"], check=True)
    only2 = write_json(env, "only2.json", {"proxy": {"address": SVC[0], "port": SVC[1]},
                                           "configService": {"address": API[0], "port": API[1]},
                                           "cluster": [CLUSTERS[1]]})
    refused_start(["--pin-dir", env.pin_dir, "--state", env.state, "-c", only2],
                  ["map update failed"], "frozen svcs")
    check(not os.path.exists(env.state), "a state file was written")
    after = pinned_no_state(env)
    for k in before:
        check(after[k] == before[k], "%s changed:\nbefore %s\nafter  %s" % (k, before[k], after[k]))
    check(versions_of(range(CLIENTS)) == clients, "clients moved")


def pinned_no_state(env):
    state, env.state = env.state, os.path.join(env.dir, "placeholder")
    with open(env.state, "w"):
        pass
    try:
        p = pinned(env)
    finally:
        os.unlink(env.state)
        env.state = state
    p.pop("state")
    return p


def check_config(args, wrapper=()):
    return run_vsteerd(["--check-config"] + list(args), wrapper=wrapper, timeout=START_LIMIT)


def untouched(env, state):
    """What --check-config must not touch: the bpffs, links, TC, listening
    sockets, the state directory, and the default pin and state paths."""
    return dict(host(env, state), defaults=[os.path.exists(p) for p in
                                            ("/sys/fs/bpf/vsteer", "/var/lib/vsteer/state.json")])


@test
def check_config_valid(env):
    """`vsteerd --check-config FILE` on a valid config (2 services, 3 versions,
    a token, TLS, owners, sessions, takeover) exits 0 and prints one line
    naming each service with its address and versions, and the API; it
    touches nothing (bpffs, links, TC, listening sockets, the state
    directory it is given, which does not exist, stay as they were); as uid
    65534 on a config it can read it exits 0 too"""
    cert, key = cert_pair(env, "a")
    os.chmod(env.dir, 0o755)
    tok = token_file(env)
    cfg = write_json(env, "multi.json", {
        "configService": {"address": "0.0.0.0", "port": 9900, "tokenFile": tok,
                          "tlsCert": cert, "tlsKey": key},
        "proxy": {"address": SVC[0], "port": SVC[1], "takeover": True,
                  "sessions": {"ipv6Prefix": 64, "quota": 16}},
        "cluster": CLUSTERS,
        "services": [{"name": "web", "address": "0.0.0.0", "port": 8081, "protocol": "http",
                      "clusters": [{"version": "3.0", "servers": ["127.0.0.1:9003"],
                                    "owner": {"uid": 0, "cgroup": "/"}}]}]})
    state = os.path.join(env.dir, "nostate", "state.json")
    before = untouched(env, state)
    r = check_config([cfg, "--pin-dir", env.pin_dir, "--state", state])
    check(r.returncode == 0, "exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    out = r.stdout.strip()
    check(len(out.splitlines()) == 1, "not one line: %r" % out)
    for n in (cfg, "default on 127.0.0.1:8080 (2.0, 1.0)", "web on 0.0.0.0:8081 (3.0)",
              "https://0.0.0.0:9900", "token"):
        check(n in out, "%r not in %r" % (n, out))
    print(out)
    check(untouched(env, state) == before, "--check-config changed the host")

    mine = os.path.join(env.dir, "nobody")
    os.mkdir(mine, 0o755)
    plain = os.path.join(mine, "plain.json")
    with open(cfg) as f, open(plain, "w") as g:
        c = json.load(f)
        c["configService"] = {"address": API[0], "port": API[1]}
        json.dump(c, g)
    r = check_config([plain], wrapper=["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY),
                                       "--clear-groups", "--"])
    check(r.returncode == 0 and "default on 127.0.0.1:8080" in r.stdout,
          "as uid %d: exit %d: %s%s" % (NOBODY, r.returncode, r.stdout, r.stderr))
    check(untouched(env, state) == before, "--check-config as uid %d changed the host" % NOBODY)


@test
def check_config_invalid(env):
    """`vsteerd --check-config` exits 2 with the sentence a start gives (the
    start exits 1 with the same) for each of 14 bad configs: an unknown key,
    a port out of range, a bad server, a cluster without a proxy, takeover
    and sessions of the wrong type, a bad owner, a missing, 0644 or FIFO token
    file, an API beyond loopback without a token, a certificate that is not
    one, a key that is another's, tlsCert without tlsKey; a missing config
    file, a bad state file given with --state and a state directory whose
    parent is missing exit 2; nothing is created
    and a bad option exits 2 too"""
    cert, key = cert_pair(env, "a")
    _, other_key = cert_pair(env, "b")
    # Not PEM at all: a PEM block of garbage makes GnuTLS 3.7 leak the
    # certificate it was parsing (168 bytes, in the library), which the
    # sanitizer build's leak check would report.
    garbage = os.path.join(env.dir, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    fifo = os.path.join(env.dir, "fifo")
    os.mkfifo(fifo, 0o600)
    api = {"address": API[0], "port": API[1]}
    proxy = {"address": SVC[0], "port": SVC[1]}
    cases = [
        ({"proxy": proxy, "clustr": []}, "clustr"),
        ({"proxy": {"address": SVC[0], "port": 80800}}, "proxy.port"),
        ({"proxy": proxy, "cluster": [{"servers": ["x"]}]}, "cluster[0].servers[0]"),
        ({"cluster": CLUSTERS}, "needs a proxy"),
        ({"proxy": dict(proxy, takeover="yes")}, "proxy.takeover"),
        ({"proxy": dict(proxy, sessions={"quota": -1})}, "proxy.sessions"),
        ({"proxy": proxy, "cluster": [dict(CLUSTERS[0], owner={"uid": "root"})]}, "owner"),
        ({"configService": dict(api, tokenFile=os.path.join(env.dir, "none"))}, "No such file"),
        ({"configService": dict(api, tokenFile=token_file(env, 0o644, "t644"))}, "chmod 600"),
        ({"configService": dict(api, tokenFile=fifo)}, "not a regular file"),
        ({"configService": {"address": "0.0.0.0", "port": 9900}}, "without a token"),
        ({"configService": dict(api, tlsCert=garbage, tlsKey=key)}, garbage),
        ({"configService": dict(api, tlsCert=cert, tlsKey=other_key)}, other_key),
        ({"configService": dict(api, tlsCert=cert)}, "tlsCert and tlsKey go together"),
    ]
    state = os.path.join(env.dir, "nostate", "state.json")
    before = untouched(env, state)
    for i, (cfg, needle) in enumerate(cases):
        path = write_json(env, "bad%d.json" % i, cfg)
        r = check_config([path, "--state", state, "--pin-dir", env.pin_dir])
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        check(r.returncode == 2 and needle in msg and r.stdout == "",
              "%s: exit %d, want 2 and %r: %s%s" % (cfg, r.returncode, needle, r.stdout, r.stderr))
        s = run_vsteerd(["-c", path, "--state", state, "--pin-dir", env.pin_dir],
                        timeout=START_LIMIT)
        check(s.returncode == 1 and msg.split("vsteerd: ", 1)[1] in s.stderr,
              "%s: the start's message differs:\n%s\n%s" % (cfg, msg, s.stderr))
        print("%s: %s" % (needle, msg))
    check(untouched(env, state) == before, "the host changed")

    good = config(env)
    r = check_config([os.path.join(env.dir, "missing.json")])
    check(r.returncode == 2 and "missing.json" in r.stderr, "missing config: %d %s"
          % (r.returncode, r.stderr))
    os.makedirs(os.path.dirname(state), mode=0o700)
    with open(state, "w") as f:
        f.write("{")
    r = check_config([good, "--state", state])
    check(r.returncode == 2 and state in r.stderr, "bad state file: %d %s" % (r.returncode, r.stderr))
    nowhere = os.path.join(env.dir, "none", "dir", "state.json")
    r = check_config([good, "--state", nowhere])
    check(r.returncode == 2 and "cannot create %s" % os.path.dirname(nowhere) in r.stderr,
          "a state directory that cannot be made: %d %s" % (r.returncode, r.stderr))
    r = check_config([good, "--cleanup"])
    check(r.returncode == 2, "--check-config with --cleanup: %d %s" % (r.returncode, r.stderr))
