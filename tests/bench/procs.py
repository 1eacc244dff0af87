"""The benchmark's world: real servers, proxies, vsteerd and load generators
on loopback inside the network and mount namespace bench.py runs in."""
import json
import os
import re
import resource
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
SVC = ("127.0.0.1", 8080)
API = "http://127.0.0.1:9900"
HAPROXY_PORT = 8081
NGINX_PROXY_PORT = 8082
BACKENDS = {"1.0": 9001, "2.0": 9002}

# wrk prints its summary as one JSON line (latency in microseconds).
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "p999_us": %d}\\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


# One poll-with-deadline for the tests and the bench; its failure is the
# bench's error too.
sys.path.insert(0, os.path.join(ROOT, "tests"))
from lib import TestFailure as BenchError, wait_for  # noqa: E402,F401


def spread(xs):
    """Median, min and max of several runs."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    # urllib calls a body a form unless told: vsteerd takes JSON only.
    req = urllib.request.Request(API + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def api_ok(method, path, body=None):
    st, resp = api(method, path, body)
    if st >= 300:
        raise BenchError("%s %s: %d %s" % (method, path, st, resp))
    return resp


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class World:
    """Processes by name, a private bpffs, a temp dir; stop() ends them all."""

    def __init__(self):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        self.dir = tempfile.mkdtemp(prefix="vsteer-bench-")
        self.bpffs = os.path.join(self.dir, "bpf")
        os.mkdir(self.bpffs)
        subprocess.run(["mount", "-t", "bpf", "bpf", self.bpffs], check=True)
        self.procs = {}
        self.nvsteerd = 0
        # thousands of listening sockets in the scale scenario
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def path(self, name):
        return os.path.join(self.dir, name)

    def remove(self):
        """The temp dir and its bpffs, once every process has stopped."""
        subprocess.run(["umount", self.bpffs], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, name, cmd, **kw):
        self.stop(name)
        log = open(self.path(name + ".log"), "ab")
        p = subprocess.Popen(cmd, stdout=kw.pop("stdout", log), stderr=log,
                             start_new_session=True, **kw)
        self.procs[name] = p
        return p

    def stop(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)
        self.cleanup_vsteer()

    def cleanup_vsteer(self):
        """Detach the last vsteerd's pinned program: an sk_lookup link left
        attached would keep steering (or refusing) the service's port in
        front of the next scenario's."""
        self.stop("vsteerd")
        if getattr(self, "pin", None) and os.path.exists(self.pin):
            subprocess.run([os.path.join(BUILD, "vsteerd"), "--cleanup", "-p", self.pin],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        self.pin = None

    # -- backends --
    def nginx_backends(self, body=None):
        """One nginx per version, one worker each, answering its version
        (or body, the same for both: a mirror compares them)."""
        for ver, port in BACKENDS.items():
            self.nginx("nginx-" + ver, "server { listen 127.0.0.1:%d reuseport backlog=4096; "
                       "location / { return 200 \"%s\\n\"; } }" % (port, body or ver), 1)
            wait_for(lambda: port_open(port), 5, "nginx %s" % ver)

    def nginx(self, name, servers, workers, extra_http="", wrap=()):
        """wrap: a command nginx runs under (`ip netns exec NAME`)."""
        conf = self.path(name + ".conf")
        with open(conf, "w") as f:
            f.write("worker_processes %s;\nworker_rlimit_nofile 65536;\npid %s;\n"
                    "error_log %s;\ndaemon off;\n"
                    "events { worker_connections 16384; }\n"
                    "http { access_log off; keepalive_requests 1000000;\n%s\n%s\n}\n"
                    % (workers, self.path(name + ".pid"), self.path(name + ".err"),
                       extra_http, servers))
        return self.start(name, list(wrap) + ["nginx", "-c", conf])

    def demo_backends(self):
        """The project's demo backend, where a fault has to be injected."""
        for ver, port in BACKENDS.items():
            self.demo(ver, port)

    def demo(self, ver, port):
        p = self.start("demo-" + ver, [os.path.join(BUILD, "vsteer-demo"), "--listen",
                                       "127.0.0.1:%d" % port, "--version", ver,
                                       "--workers", "2"])
        wait_for(lambda: port_open(port), 5, "vsteer-demo %s" % ver)
        return p

    # -- vsteer --
    def vsteerd(self, cfg, args=(), fresh=False):
        """vsteerd on SVC with cfg; fresh: a new pin dir and state file
        (otherwise a restart adopts the previous one's)."""
        self.stop("vsteerd")
        if fresh:
            self.cleanup_vsteer()
            self.nvsteerd += 1
        pin = os.path.join(self.bpffs, "v%d" % self.nvsteerd)
        state = self.path("state%d.json" % self.nvsteerd)
        conf = self.path("vsteerd%d.json" % self.nvsteerd)
        with open(conf, "w") as f:
            json.dump(cfg, f)
        p = self.start("vsteerd", [os.path.join(BUILD, "vsteerd"), "-c", conf, "-p", pin,
                                   "-s", state] + list(args))
        wait_for(lambda: p.poll() is not None or api_healthy(), 30, "vsteerd API")
        if p.poll() is not None:
            raise BenchError("vsteerd exited: see %s" % self.path("vsteerd.log"))
        self.pin = pin
        return p

    def two_version_config(self, weights=None):
        return {"proxy": {"address": SVC[0], "port": SVC[1], "protocol": "http"},
                "cluster": [{"version": v, "servers": ["127.0.0.1:%d" % p],
                             "upgradeTransition": {"mode": "Manual"}}
                            for v, p in BACKENDS.items()]}

    # -- peers --
    def haproxy(self, weights, backup=None, check=False):
        """HAProxy 2.6 in HTTP mode with its defaults, the two backends
        weighted; backup: that version only takes traffic when the other is
        down. The runtime API is on a Unix socket."""
        conf = self.path("haproxy.cfg")
        servers = []
        for ver, port in BACKENDS.items():
            opts = "weight %d" % weights.get(ver, 0)
            if check:
                opts += " check"
            if backup == ver:
                opts += " backup"
            servers.append("  server v%s 127.0.0.1:%d %s" % (ver[0], port, opts))
        with open(conf, "w") as f:
            f.write("global\n  maxconn 8000\n  stats socket %s level admin\n"
                    "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n"
                    "  timeout server 30s\n"
                    "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\n"
                    "backend be\n  balance roundrobin\n%s\n"
                    % (self.path("haproxy.sock"), HAPROXY_PORT, "\n".join(servers)))
        p = self.start("haproxy", ["haproxy", "-db", "-f", conf])
        wait_for(lambda: port_open(HAPROXY_PORT), 5, "haproxy")
        return p

    def haproxy_cmd(self, cmd):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.path("haproxy.sock"))
        s.sendall(cmd.encode() + b"\n")
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
        s.close()
        return out.decode()

    def nginx_proxy_servers(self, split):
        """NGINX as a reverse proxy: split_clients on the client address
        (vsteer's session key), upstream keep-alive as a tuned setup has."""
        ups = "\n".join("upstream v%s { server 127.0.0.1:%d; keepalive 64; }" % (v[0], p)
                        for v, p in BACKENDS.items())
        parts = " ".join("%g%% v%s;" % (w, v[0]) for v, w in split.items() if w > 0)
        return ("%s\nsplit_clients \"$remote_addr\" $upstream { %s }\n"
                "server { listen 127.0.0.1:%d reuseport backlog=4096;\n"
                "  location / { proxy_pass http://$upstream; proxy_http_version 1.1;\n"
                "    proxy_set_header Connection \"\"; } }" % (ups, parts, NGINX_PROXY_PORT))

    def nginx_proxy(self, split):
        p = self.nginx("nginx-proxy", self.nginx_proxy_servers(split), "auto")
        wait_for(lambda: port_open(NGINX_PROXY_PORT), 5, "nginx proxy")
        return p

    def nginx_proxy_reload(self, split):
        """Rewrite the proxy's config and reload it as `nginx -s reload`
        does (SIGHUP to the master); returns when the signal is sent."""
        conf = self.path("nginx-proxy.conf")
        text = open(conf).read()
        head = text[:text.index("upstream ")]
        with open(conf, "w") as f:
            f.write(head + self.nginx_proxy_servers(split) + "\n}\n")
        os.kill(self.procs["nginx-proxy"].pid, signal.SIGHUP)

    # -- load --
    def wrk(self, url, secs, close=False, conns=32, threads=2, span=1, wrap=(), src_base=None):
        """wrk through the source-address shim: every connection comes from
        a random 127.1.x.y (vsteer splits by client address), or from a
        random address of the local range src_base/16 whatever the
        destination; wrap: a command wrk runs under (`ip netns exec
        NAME`)."""
        lua = self.path("summary.lua")
        if not os.path.exists(lua):
            with open(lua, "w") as f:
                f.write(WRK_LUA)
        cmd = list(wrap) + ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%gs" % secs, "-s", lua]
        if close:
            cmd += ["-H", "Connection: close"]
        env = dict(os.environ, LD_PRELOAD=os.path.join(BUILD, "libsrcaddr.so"),
                   VSTEER_DST_SPAN=str(span))
        if src_base:
            env["VSTEER_SRC_BASE"] = src_base
        r = subprocess.run(cmd + [url], capture_output=True, text=True, env=env,
                           timeout=secs + 60)
        for line in reversed(r.stdout.splitlines()):
            if line.startswith("{"):
                out = json.loads(line)
                out["rps"] = out["requests"] / (out["duration_us"] / 1e6)
                return out
        raise BenchError("wrk %s: no summary: %s %s" % (url, r.stdout[-500:], r.stderr[-500:]))

    def connloop(self, name, addr, threads=1, secs=3600, rate=0, src="-s"):
        """Start connloop; finish_connloop() stops it and returns its records.
        src: connloop's source address option (-s random in 127.1/16, -n a
        new one each time), or None for 127.0.0.1 (one client)."""
        out = self.path(name + ".rec")
        cmd = [os.path.join(BUILD, "connloop"), "-a", "%s:%d" % addr, "-t", str(threads),
               "-d", str(secs), "-o", out] + ([src] if src else [])
        if rate:
            cmd += ["-r", str(rate)]
        if os.path.exists(out):
            os.unlink(out)
        p = self.start(name, cmd)
        wait_for(lambda: os.path.exists(out) or p.poll() is not None, 5, "connloop to start")
        return out

    def finish_connloop(self, name, out, wait=False):
        """wait: let it run its duration out; otherwise stop it now."""
        p = self.procs.pop(name)
        if not wait and p.poll() is None:
            p.send_signal(signal.SIGTERM)
        p.wait(None if wait else 30)
        if p.returncode:
            raise BenchError("connloop exited with %d" % p.returncode)
        recs = []
        with open(out) as f:
            for line in f:
                a, b, res = line.split()
                recs.append((int(a), int(b), res))
        recs.sort()
        return recs


def api_healthy():
    try:
        return api("GET", "/healthz")[0] == 200
    except OSError:
        return False


# -- BPF run statistics (kernel.bpf_stats_enabled) --
class BpfStats:
    """Turns run-time accounting on (off: on=False) for the duration; back
    to what it was after."""

    def __init__(self, on=True):
        self.on = on

    def __enter__(self):
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            self.old = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1" if self.on else "0")
        return self

    def __exit__(self, *exc):
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(self.old)


# vsteerd's pinned links: sk_lookup, the watch hooks, the connect hooks.
LINKS = ("link", "track", "req", "resp", "rst", "connect4", "connect6", "peer4", "peer6")


def prog_stats(pin, wraps=((),)):
    """{program name: (run_cnt, run_time_ns)} for the programs behind the
    links pinned in pin (this vsteerd's, not every vsteer on the host) and
    for vsteer's TC filters (no link to pin: the HTTP status reader, the
    packet steering) on the interfaces of the namespace each of wraps
    runs bpftool in (() this one; only one vsteerd runs at a time). A
    program attached to several interfaces counts once."""
    ids = set()
    for link in LINKS:
        path = os.path.join(pin, link)
        if os.path.exists(path):
            r = subprocess.run(["bpftool", "-j", "link", "show", "pinned", path],
                               capture_output=True, text=True, check=True)
            ids.add(json.loads(r.stdout)["prog_id"])
    for wrap in wraps:
        r = subprocess.run(list(wrap) + ["bpftool", "-j", "net", "show"], capture_output=True,
                           text=True)
        for dev in (json.loads(r.stdout or "[]") or [{}])[0].get("tc", []):
            if dev.get("name", "").startswith("vsteer"):
                ids.add(dev["id"])
    out = {}
    for i in sorted(ids):
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(i)],
                           capture_output=True, text=True, check=True)
        p = json.loads(r.stdout)
        cnt, ns = out.get(p["name"], (0, 0))
        out[p["name"]] = (cnt + p.get("run_cnt", 0), ns + p.get("run_time_ns", 0))
    return out


def per_request(before, after, requests):
    """What each vsteer program ran per request between two prog_stats()."""
    per = {}
    for name, (cnt, ns) in after.items():
        b = before.get(name, (0, 0))
        if name.startswith("vsteer") and cnt > b[0] and requests:
            per[name] = {"runs_per_request": (cnt - b[0]) / requests,
                         "ns_per_run": (ns - b[1]) / (cnt - b[0]),
                         "ns_per_request": (ns - b[1]) / requests}
    return per


def map_info(pin):
    r = subprocess.run(["bpftool", "-j", "map", "show", "pinned", pin], capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))

    def version(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "missing"
    return {"kernel": os.uname().release, "cpu": cpu, "cpus": os.cpu_count(),
            "memory_gib": round(mem / 2**20, 1),
            "haproxy": version(["haproxy", "-v"]), "nginx": version(["nginx", "-v"]),
            "wrk": version(["wrk", "-v"])}


_SYS_BPF = 321   # x86-64
BPF_PROG_LOAD, BPF_OBJ_GET, BPF_PROG_TEST_RUN, BPF_LINK_CREATE = 5, 7, 10, 28


def bpf(cmd, attr):
    """The bpf() syscall with a 128-byte union bpf_attr: attr as bytes, or
    a ctypes buffer of 128 the kernel's answer can be read back from.
    Returns what the call returns (an fd, or 0); OSError if it fails."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    buf = attr if isinstance(attr, ctypes.Array) else ctypes.create_string_buffer(bytes(attr), 128)
    ret = libc.syscall(_SYS_BPF, cmd, buf, 128)
    if ret < 0:
        raise OSError(ctypes.get_errno(), "bpf(%d)" % cmd)
    return ret


def obj_get(path):
    """An fd of the BPF object pinned at path."""
    import ctypes
    import struct
    pb = ctypes.create_string_buffer(path.encode())
    return bpf(BPF_OBJ_GET, struct.pack("<QII", ctypes.addressof(pb), 0, 0))


def _insn(code, dst=0, src=0, off=0, imm=0):
    import struct
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


class FloorProgram:
    """An sk_lookup program that returns at once (SK_PASS), attached to
    this network namespace beside vsteerd's for the duration: what running
    any sk_lookup program costs here, the floor the data plane's own cost
    is read against. Loaded with the bpf() syscall directly: a few
    instructions need no object file."""

    NAME = "vsteer_floor"   # one a run: bpftool finds it by name
    _SK_LOOKUP_PROG, _SK_LOOKUP_ATTACH = 30, 36

    def __init__(self, name=None):
        if name:
            self.NAME = name

    def insns(self):
        return _insn(0xb7, 0, imm=1) + _insn(0x95)      # r0 = SK_PASS; exit

    def __enter__(self):
        import ctypes
        import struct
        code = self.insns()
        self._insns = ctypes.create_string_buffer(code, len(code))
        self._lic = ctypes.create_string_buffer(b"GPL")
        attr = struct.pack("<IIQQIIQII16sII", self._SK_LOOKUP_PROG, len(code) // 8,
                           ctypes.addressof(self._insns), ctypes.addressof(self._lic),
                           0, 0, 0, 0, 0, self.NAME.encode(), 0, self._SK_LOOKUP_ATTACH)
        self.prog = bpf(BPF_PROG_LOAD, attr)
        self.ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.link = bpf(BPF_LINK_CREATE,
                              struct.pack("<IIII", self.prog, self.ns, self._SK_LOOKUP_ATTACH, 0))
        return self

    def stats(self):
        """(run_cnt, run_time_ns) so far."""
        r = subprocess.run(["bpftool", "-j", "prog", "show", "name", self.NAME],
                           capture_output=True, text=True, check=True)
        p = json.loads(r.stdout)
        p = p[0] if isinstance(p, list) else p
        return p.get("run_cnt", 0), p.get("run_time_ns", 0)

    def __exit__(self, *exc):
        for fd in (self.link, self.ns, self.prog):
            os.close(fd)


def sk_lookup_ctx(remote, local_port, local="127.0.0.1", remote_port=40000):
    """A struct bpf_sk_lookup (72 bytes) for BPF_PROG_TEST_RUN: a TCP SYN
    from remote:remote_port to local:local_port, IPv4."""
    import socket
    import struct
    ip = lambda a: struct.unpack("<I", socket.inet_aton(a))[0]  # noqa: E731
    return struct.pack("<QIII4IHHI4IIII", 0, socket.AF_INET, socket.IPPROTO_TCP, ip(remote),
                       0, 0, 0, 0, socket.htons(remote_port), 0, ip(local), 0, 0, 0, 0,
                       local_port, 0, 0)


class TestRun:
    """BPF_PROG_TEST_RUN of an sk_lookup program (a pinned one, or a fd):
    the kernel runs it repeat times on one context, warm, and reports the
    mean ns a run (its own clock around the loop only: no syscall, no
    run-time accounting). Far steadier here than bpf_stats under traffic."""

    def __init__(self, pinned=None, fd=None):
        self.owned = fd is None
        self.fd = fd if fd is not None else obj_get(pinned)

    def ns(self, ctx, repeat):
        """Mean ns a run over repeat runs on ctx."""
        import ctypes
        import struct
        cin = ctypes.create_string_buffer(ctx, len(ctx))
        attr = ctypes.create_string_buffer(struct.pack(
            "<IIIIQQIIIIQQIII", self.fd, 0, 0, 0, 0, 0, repeat, 0, len(ctx), 0,
            ctypes.addressof(cin), 0, 0, 0, 0), 128)
        bpf(BPF_PROG_TEST_RUN, attr)
        return struct.unpack_from("<I", attr, 36)[0]

    def close(self):
        if self.owned:
            os.close(self.fd)


class PortCheckProgram(FloorProgram):
    """The floor plus what vsteer's program does for a port no service
    uses: look the connection's local port up in vsteer's port bitmap
    (the pinned map `ports`) and return. The cost of that one read, in
    the same run."""

    NAME = "vsteer_portchk"

    def __init__(self, pin):
        super().__init__()
        self.pin = pin

    def insns(self):
        self.map = obj_get(os.path.join(self.pin, "ports"))
        return b"".join([
            _insn(0x61, 6, 1, off=60),              # r6 = ctx->local_port
            _insn(0x62, 10, off=-4, imm=0),         # *(u32 *)(r10 - 4) = 0
            _insn(0x18, 1, 1, imm=self.map), _insn(0),  # r1 = &ports
            _insn(0xbf, 2, 10),                     # r2 = r10
            _insn(0x07, 2, imm=-4),                 # r2 += -4
            _insn(0x85, imm=1),                     # call bpf_map_lookup_elem
            _insn(0x15, 0, off=6),                  # if r0 == 0 goto out
            _insn(0xbf, 1, 6),                      # r1 = port
            _insn(0x77, 1, imm=6),                  # r1 >>= 6
            _insn(0x57, 1, imm=1023),               # r1 &= 1023
            _insn(0x67, 1, imm=3),                  # r1 <<= 3
            _insn(0x0f, 0, 1),                      # r0 += r1
            _insn(0x79, 0, 0),                      # r0 = *(u64 *)r0: the word
            _insn(0xb7, 0, imm=1),                  # out: r0 = SK_PASS
            _insn(0x95)])                           # exit

    def __exit__(self, *exc):
        super().__exit__(*exc)
        os.close(self.map)
