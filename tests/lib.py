"""Test helpers: a vsteerd, demo backends and TCP clients inside the
network and mount namespace that tests/run made for this one test."""
import contextlib
import ctypes
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# VSTEER_BUILD=build-san runs the suite against the sanitizer build.
BUILD = os.path.join(ROOT, os.environ.get("VSTEER_BUILD", "build"))
# What ASan, LSan (its fatal errors too: leaks unchecked are not "no
# leaks") and UBSan print; any of them in vsteerd's output fails a test.
SANITIZER_REPORT = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")
STOP_TIMEOUT = 15   # s from SIGTERM to vsteerd's exit, leak check included
# s from vsteerd's start to its API: under a second here, but creating the
# data plane took 9-13 s in the emulated 6.1 guest (vm/kernel-test.sh) on a
# busy host. A deadline: a normal start does not wait for it.
START_TIMEOUT = 30
SVC = ("127.0.0.1", 8080)
API = ("127.0.0.1", 9900)


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_sanitizers(text, what):
    """Fail on a sanitizer report in text, the output of `what`."""
    for marker in SANITIZER_REPORT:
        if marker in text:
            i = text.index(marker)
            raise TestFailure("sanitizer report in %s:\n%s" % (what, text[max(0, i - 200):i + 3000]))


def run_vsteerd(args, wrapper=(), timeout=20, env=None):
    """vsteerd run to its exit (a start meant to fail, --cleanup): the
    CompletedProcess, text. A sanitizer report in its stderr fails the
    test, as one in a long-running vsteerd's log does."""
    r = subprocess.run(list(wrapper) + [os.path.join(BUILD, "vsteerd")] + list(args),
                       capture_output=True, text=True, timeout=timeout, env=env)
    check_sanitizers(r.stderr, "the stderr of vsteerd %s" % " ".join(args))
    return r


def wait_for(pred, timeout, what, interval=0.01):
    """Poll pred() until it is truthy or the deadline passes. what names
    what is waited for; a callable is called for it at the timeout (to
    say what was seen by then)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.1fs waiting for %s"
                              % (timeout, what() if callable(what) else what))
        time.sleep(interval)


@contextlib.contextmanager
def network_step(what, limit, seen=None):
    """A step on the network that must finish within limit seconds (the
    socket timeout the block set): a timeout or socket error in it fails
    the test with what was waited for, how long, what went wrong and
    seen() (what had been seen until then), not with a bare traceback."""
    t0 = time.monotonic()
    try:
        yield
    except (OSError, http.client.HTTPException) as e:
        err = type(e).__name__ + (": %s" % e if str(e) else "")
        msg = "%s: %s after %.1f s (limit %g s)" % (what, err, time.monotonic() - t0, limit)
        if seen:
            msg += "; seen: %s" % seen()
        raise TestFailure(msg) from None


class Env:
    """One test's world: lo up, a private bpffs, a temp dir, processes."""

    def __init__(self):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        self.dir = tempfile.mkdtemp(prefix="vsteer-test-")
        self.bpffs = os.path.join(self.dir, "bpf")
        os.mkdir(self.bpffs)
        subprocess.run(["mount", "-t", "bpf", "bpf", self.bpffs], check=True)
        self.pin_dir = os.path.join(self.bpffs, "vsteer")
        self.state = os.path.join(self.dir, "state.json")
        self.procs = []
        self.daemons = []   # the vsteerd processes among procs
        self.clock_file = None

    def fake_clock(self, t=1_800_000_000):
        """vsteerd's wall clock becomes a file the test advances."""
        self.clock_file = os.path.join(self.dir, "clock")
        self.set_clock(t)

    def set_clock(self, t):
        with open(self.clock_file + ".tmp", "w") as f:
            f.write("%d\n" % t)
        os.rename(self.clock_file + ".tmp", self.clock_file)
        self.now = t

    def close(self):
        """Stop everything; a sanitizer report in vsteerd's log fails the
        test even if everything else passed. vsteerd gets SIGTERM, so that
        it exits through its own cleanup and LeakSanitizer checks it (SIGKILL
        would skip both); its steering stays pinned, in this test's own
        namespace and bpffs. Other processes are just killed."""
        stuck = []
        for p in self.daemons:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for p in self.daemons:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stuck.append(p.pid)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        log = os.path.join(self.dir, "vsteerd.log")
        if os.path.exists(log):
            check_sanitizers(open(log, errors="replace").read(), "vsteerd's log")
        check(not stuck, "vsteerd (pid %s) still running %d s after SIGTERM: killed" % (stuck, STOP_TIMEOUT))

    # -- processes --
    def backend(self, version, addr="127.0.0.1:9001", *extra, wrapper=()):
        """A demo backend answering its version; wrapper is a command it
        runs under (setpriv ..., another uid)."""
        p = subprocess.Popen(list(wrapper) + [os.path.join(BUILD, "vsteer-demo"), "--listen", addr,
                                              "--version", version] + list(extra),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append(p)
        line = read_line(p.stdout, 5, "vsteer-demo %s to listen" % version)
        check(b"listening" in line, "demo did not start: %r" % line)
        return p

    def spawn(self, cmd, ready):
        """Any backend: started in a session of its own, killed at the end;
        returns once it printed a line with `ready`."""
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append(p)
        line = read_line(p.stdout, 5, "%s to start" % os.path.basename(cmd[1]))
        check(ready.encode() in line, "%s did not start: %r" % (cmd, line))
        return p

    def config(self, clusters, extra=None):
        cfg = {"proxy": {"address": SVC[0], "port": SVC[1]},
               "configService": {"address": API[0], "port": API[1]},
               "cluster": clusters}
        cfg.update(extra or {})
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def vsteerd(self, config=None, args=(), wait=True, wrapper=(), journal=False):
        """vsteerd in the background, logging to vsteerd.log; wrapper is a
        command it runs under (setpriv ...); journal: JOURNAL_STREAM names
        the log file, as systemd names the journal's stream."""
        cmd = list(wrapper) + [os.path.join(BUILD, "vsteerd"), "--pin-dir", self.pin_dir,
                               "--state", self.state]
        if config:
            cmd += ["--config", config]
        self.log = open(os.path.join(self.dir, "vsteerd.log"), "ab")
        env = dict(os.environ)
        if self.clock_file:
            env["VSTEER_CLOCK_FILE"] = self.clock_file
        env.pop("JOURNAL_STREAM", None)
        if journal:
            st = os.fstat(self.log.fileno())
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        p = subprocess.Popen(cmd + list(args), stdout=self.log, stderr=self.log, env=env)
        self.procs.append(p)
        self.daemons.append(p)
        if wait:
            wait_for(lambda: self.healthy() or p.poll() is not None, START_TIMEOUT,
                     "vsteerd API")
            check(p.poll() is None, "vsteerd exited: %s" % self.vsteerd_log())
        return p

    def vsteerd_log(self):
        with open(os.path.join(self.dir, "vsteerd.log"), "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def healthy(self):
        try:
            return api("GET", "/healthz")[0] == 200
        except OSError:
            return False


def session_places(path):
    """The used places of a pinned session table (map `sessions`), as
    (tag, open connections): each 16-byte place starts with a little-endian
    word whose low half is the open count and high half the tag (0: free)."""
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path], capture_output=True,
                       text=True, check=True)
    out = []
    for e in json.loads(r.stdout):
        raw = bytes(int(b, 16) for b in e["value"])
        for w in range(0, len(raw), 16):
            word = int.from_bytes(raw[w:w + 8], "little")
            if word >> 32:
                out.append((word >> 32, word & 0xffffffff))
    return out


def sessions_in_table(path):
    """How many sessions a pinned session table holds."""
    return len(session_places(path))


def kill(p, sig=signal.SIGKILL):
    """Kill a process (a demo's whole group) and reap it."""
    try:
        os.killpg(p.pid, sig) if sig == signal.SIGKILL else p.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        p.send_signal(sig)
    p.wait(timeout=10)


def read_line(f, timeout, what):
    r, _, _ = select.select([f], [], [], timeout)
    if not r:
        raise TestFailure("timed out waiting for " + what)
    return f.readline()


def api(method, path, body=None, raw=None, source=None, netns=None):
    """(status, parsed JSON) from vsteerd's REST API, from source (an
    address) if given, to the one in the network namespace at netns if
    given. Every request says its body is JSON: the API refuses a change
    without that header (a cross-site form cannot send it)."""
    c = http.client.HTTPConnection(*API, timeout=10, source_address=(source, 0) if source else None)
    with in_netns(netns):
        c.connect()
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def wait_ticks(n=2):
    """Until vsteerd's control loop has run n more times."""
    t0 = api("GET", "/healthz")[1]["ticks"]
    wait_for(lambda: api("GET", "/healthz")[1]["ticks"] >= t0 + n, 5, "%d ticks" % n)


def client_addr(i):
    """The i-th distinct client address: 127.1.0.1, 127.1.0.2, ... (all of
    127/8 is local, so each is its own session for the session hash)."""
    n = 0x7f010001 + i
    return socket.inet_ntoa(n.to_bytes(4, "big"))


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET):
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


@contextlib.contextmanager
def in_netns(path):
    """The calling thread in the network namespace at path (None: where it
    is) for the block: a socket made in it stays there after. setns()
    moves one thread only, so the others (the API's) stay where they are."""
    if not path:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(path)
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)


def connection(src=None, timeout=3.0, svc=SVC, netns=None):
    """A new connection from src (None: unbound) to svc, made in the
    network namespace at netns (None: this thread's)."""
    with in_netns(netns):
        s = socket.socket(socket.AF_INET6 if ":" in svc[0] else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if src:
            s.bind((src, 0))
        s.connect(svc)
    except BaseException:
        s.close()
        raise
    return s


def fetch(src=None, timeout=3.0, svc=SVC, netns=None):
    """One HTTP/1.0 request on a new connection (from the network namespace
    at netns: a remote client's); returns the version line."""
    return answer(connection(src, timeout, svc, netns))


def answer(s):
    """The version line of the answer to one HTTP/1.0 request on connection
    s, which it closes."""
    try:
        s.sendall(b"GET / HTTP/1.0\r\nHost: svc\r\n\r\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise TestFailure("bad response %r" % buf[:80])
    return body.split(b"\n", 1)[0].decode()


def versions_of(clients, src=client_addr, svc=SVC):
    """The version that answers each client in turn, on a new connection
    from src(i) to svc."""
    return [fetch(src(i), svc=svc) for i in clients]


def service(name="default"):
    st, body = api("GET", "/v1/services/" + name)
    check(st == 200, "GET service: %s %s" % (st, body))
    return body


def counted(want, name="default"):
    """Each version's counters once they show exactly want[version]
    requests. A request is counted when its response has been sent, and a
    client can read the response before the server's send returns: so
    wait for the last one (5 s without it is a request lost), then check
    that no more were counted."""
    seen = []

    def by_version():
        seen.append({v["version"]: v["counters"] for v in service(name)["versions"]})
        return seen[-1]

    def say():
        return "requests %s, expected %s" % ({v: c["requests"] for v, c in seen[-1].items()}, want)
    wait_for(lambda: all(by_version()[v]["requests"] >= n for v, n in want.items()), 5, say)
    got = by_version()
    check(all(got[v]["requests"] == n for v, n in want.items()), say())
    return got


def binomial_bound(n, p, z=4.5):
    """Allowed |count - n*p| for a binomial(n, p) count: z standard
    deviations. z = 4.5 makes a false failure a ~1e-5 event per check."""
    return z * (n * p * (1 - p)) ** 0.5


# A local client range for clients of containers: all of it is an address
# of the test's namespace (`ip route add local ... dev lo`). 127/8 cannot
# be used: the kernel refuses (EINVAL) to route from a loopback address to
# one outside lo, so a 127.x-bound client cannot reach a container. IPv6
# too: fd77::/32, bound to with net.ipv6.ip_nonlocal_bind (an IPv6 bind()
# checks the interfaces' addresses, not the local routes).
LOCAL_NET, LOCAL_NET6 = "10.77.0.0/16", "fd77::/32"


def local_addr(i):
    """The i-th distinct local client address 10.77.0.1, 10.77.0.2, ...
    (i < 65000; 10.77.255.254 is left for a service address)."""
    n = 0x0a4d0001 + i
    return socket.inet_ntoa(n.to_bytes(4, "big"))


def local_addr6(i):
    """The i-th distinct local IPv6 client fd77:0:1::1, fd77:0:2::1, ...:
    each in a /64 of its own, as a service keys IPv6 clients by their /64
    (its sessions' ipv6Prefix)."""
    return "fd77:0:%x::1" % (i + 1)


_run_netns = []


def private_run_netns():
    """A tmpfs of this test's mount namespace on /run/netns, once (a test
    is a process of its own): the namespaces `ip netns add` names there
    are this test's only. (The host's /run/netns may be a mount point
    already: that says nothing about this test's.)"""
    if _run_netns:
        return
    os.makedirs("/run/netns", exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/netns"], check=True)
    _run_netns.append("/run/netns")


class Container:
    """A network namespace on the bridge, the i-th (1-based): its addresses
    10.88.0.(1+i) and fd88::(1+i), the path of its namespace and, when a
    process holds it (kind "pid", or a podman container's), that pid."""

    def __init__(self, name, i, netns, pid=None):
        self.name, self.i, self.netns, self.pid = name, i, netns, pid
        self.addr, self.addr6 = "10.88.0.%d" % (1 + i), "fd88::%x" % (1 + i)

    def enter(self):
        """The command prefix that runs a command inside it."""
        return ["nsenter", "--net=" + self.netns]

    def run(self, cmd, **kw):
        """A command run inside it to its end (checked)."""
        return subprocess.run(self.enter() + list(cmd), check=True, capture_output=True, text=True, **kw)

    def endpoint(self, port, ipv6=False):
        return "[%s]:%d" % (self.addr6, port) if ipv6 else "%s:%d" % (self.addr, port)

    def server(self, port, ipv6=False, **where):
        """A server object for the API or the config: its address and port
        and where its sockets live (`netns` path by default, or `pid=N`,
        `container=NAME`)."""
        return dict({"address": self.endpoint(port, ipv6)}, **(where or {"netns": self.netns}))


class Bridge:
    """Containers on a bridge inside the test's own network namespace, as
    podman's bridge network makes them: the bridge vsbr0 10.88.0.1/24 and
    fd88::1/64; container i (1-based) a namespace with eth0 (a veth whose
    other end, vshI, is on the bridge) at 10.88.0.(1+i)/24 and
    fd88::(1+i)/64, lo up and default routes via the bridge. Each
    container's namespace is either named (kind "netns": `ip netns add
    vs-cI`, its path /run/netns/vs-cI, on a tmpfs of this test's mount
    namespace) or held by a process (kind "pid": `unshare --net sleep`,
    its path /proc/PID/ns/net). The test's namespace gets the local client
    ranges LOCAL_NET and LOCAL_NET6.

    Nothing to remove afterwards: the namespaces, the veths and the tmpfs
    die with the test's network and mount namespaces."""

    NAME = "vsbr0"
    GATEWAY, GATEWAY6 = "10.88.0.1", "fd88::1"

    def __init__(self, env, kinds=("netns", "netns")):
        self.env = env
        self.containers = []
        if "netns" in kinds:
            private_run_netns()
        # No duplicate address detection on the interfaces made here (nor
        # on their addresses: nodad): their addresses, link-local ones too,
        # would stay tentative for a second or two, and with them IPv6
        # neighbour discovery.
        subprocess.run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.ip_nonlocal_bind=1"],
                       check=True)
        # A MAC address of its own: a bridge without one takes its ports'
        # lowest, and changes it when a port goes (a killed container's
        # veth); the containers' neighbour entry for the gateway is then
        # stale and their replies to clients off the bridge are lost for
        # seconds (bridged_container_form timed out once in CI so).
        for cmd in ("link add %s address 02:76:73:00:00:01 type bridge" % self.NAME,
                    "addr add %s/24 dev %s" % (self.GATEWAY, self.NAME),
                    "addr add %s/64 dev %s nodad" % (self.GATEWAY6, self.NAME),
                    "link set %s up" % self.NAME, "route add local %s dev lo" % LOCAL_NET,
                    "-6 route add local %s dev lo" % LOCAL_NET6):
            subprocess.run(["ip"] + cmd.split(), check=True)
        for i, kind in enumerate(kinds, 1):
            self.containers.append(self.add(i, kind))

    def add(self, i, kind):
        name = "vs-c%d" % i
        if kind == "netns":
            subprocess.run(["ip", "netns", "add", name], check=True)
            return self.wire(Container(name, i, "/run/netns/" + name), name)
        holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"], start_new_session=True)
        self.env.procs.append(holder)
        own = os.stat("/proc/self/ns/net").st_ino
        path = "/proc/%d/ns/net" % holder.pid
        wait_for(lambda: os.stat(path).st_ino != own, 5, "%s's holder to unshare" % name)
        return self.wire(Container(name, i, path, holder.pid), str(holder.pid))

    def attach(self, pid, name):
        """The network namespace of process pid (a podman container's),
        made the next container: its veth, addresses and routes."""
        c = self.wire(Container(name, len(self.containers) + 1, "/proc/%d/ns/net" % pid, pid), str(pid))
        self.containers.append(c)
        return c

    def wire(self, c, target):
        """c's eth0 on the bridge (target: its namespace's name or a pid in
        it), with its addresses and routes."""
        c.run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])  # as in __init__
        for cmd in ("link add vsh%d type veth peer name eth0 netns %s" % (c.i, target),
                    "link set vsh%d master %s" % (c.i, self.NAME), "link set vsh%d up" % c.i):
            subprocess.run(["ip"] + cmd.split(), check=True)
        for cmd in ("addr add %s/24 dev eth0" % c.addr, "addr add %s/64 dev eth0 nodad" % c.addr6,
                    "link set eth0 up", "link set lo up", "route add default via %s" % self.GATEWAY,
                    "-6 route add default via %s" % self.GATEWAY6):
            c.run(["ip"] + cmd.split())
        return c

    def __getitem__(self, i):
        """Container i, 1-based as their names."""
        return self.containers[i - 1]

    def backend(self, c, version, port, *extra, ipv6=False):
        """A demo backend answering version on c's address:port (its IPv6
        one with ipv6), inside c's namespace; returns once it listens
        (Env.backend)."""
        return self.env.backend(version, c.endpoint(port, ipv6), *extra, wrapper=c.enter())


# Remote clients' addresses: on the client namespace's lo (a local route),
# routed by the test's namespace to it.
REMOTE_NET = "10.99.128.0/17"


def remote_addr(i):
    """The i-th distinct remote client address 10.99.128.1, 10.99.128.2,
    ... (i < 32000)."""
    n = 0x0a638001 + i
    return socket.inet_ntoa(n.to_bytes(4, "big"))


class Remote:
    """Remote clients: a network namespace `vs-client` (/run/netns) joined to
    the test's namespace by a veth, vscl0 10.99.0.1/24 and fd99::1/64 on
    the test's side, eth0 10.99.0.2/24 and fd99::2/64 on the client's, its
    default routes via the test's namespace, which routes REMOTE_NET (on
    the client's lo) back to it and forwards (ip_forward=1). A client is
    a socket made inside it (lib.in_netns: fetch(netns=...)), so its
    packets arrive at the test's namespace by vscl0 as a remote host's do
    by a NIC; run() runs a command there."""

    NAME, HOST_IF = "vs-client", "vscl0"
    HOST, HOST6, ADDR, ADDR6 = "10.99.0.1", "fd99::1", "10.99.0.2", "fd99::2"

    def __init__(self):
        private_run_netns()
        self.netns = "/run/netns/" + self.NAME
        subprocess.run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                        "net.ipv6.conf.default.accept_dad=0"],
                       check=True)
        subprocess.run(["ip", "netns", "add", self.NAME], check=True)
        self.run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
        for cmd in ("link add %s type veth peer name eth0 netns %s" % (self.HOST_IF, self.NAME),
                    "addr add %s/24 dev %s" % (self.HOST, self.HOST_IF),
                    "addr add %s/64 dev %s nodad" % (self.HOST6, self.HOST_IF),
                    "link set %s up" % self.HOST_IF,
                    "route add %s via %s" % (REMOTE_NET, self.ADDR)):
            subprocess.run(["ip"] + cmd.split(), check=True)
        for cmd in ("addr add %s/24 dev eth0" % self.ADDR, "addr add %s/64 dev eth0 nodad" % self.ADDR6,
                    "link set eth0 up", "link set lo up", "route add default via %s" % self.HOST,
                    "-6 route add default via %s" % self.HOST6, "route add local %s dev lo" % REMOTE_NET):
            self.run(["ip"] + cmd.split())

    def run(self, cmd, check=True, **kw):
        """A command run inside the client namespace to its end."""
        return subprocess.run(["nsenter", "--net=" + self.netns] + list(cmd), check=check,
                              capture_output=True, text=True, **kw)
