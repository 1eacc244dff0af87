"""The systemd unit (contrib/systemd/) under a real systemd 252 as PID 1,
in a privileged podman container of Debian 12 (tests/systemd/image.sh) on
a network of its own (`--network none`: its loopback only). The clients
are threads of this test that enter the container's network namespace
(lib.in_netns), so every connection stays inside it."""
import json
import os
import re
import subprocess
import time

from common import Load, test
from lib import (BUILD, ROOT, TestFailure, api, check, check_sanitizers, client_addr, fetch, in_netns,
                 wait_for)

PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "docker/containers.conf"))
UNITS = os.path.join(ROOT, "contrib", "systemd")
CONFIG = {
    "proxy": {"address": "127.0.0.1", "port": 8080, "protocol": "http"},
    "configService": {"address": "127.0.0.1", "port": 9900},
    "cluster": [{"version": "1.0", "servers": ["127.0.0.1:9001"]}],
}
# The shipped unit's WatchdogSec=: a SIGSTOPped vsteerd is killed within it,
# after the last ping (at most WATCHDOG_S/2 before the stop); then systemd
# sends SIGABRT (which SIGCONT lets through) and restarts it RestartSec=1
# later. The deadline allows that, and a loaded host, twice over.
WATCHDOG_S = 10


def podman(*args, timeout=120, ok=True):
    r = subprocess.run(["podman"] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=PODMAN_ENV)
    if ok:
        check(r.returncode == 0, "podman %s: %s" % (" ".join(args[:3]),
                                                     (r.stdout + r.stderr)[-1500:]))
    return r


class Box:
    """The container: commands run in it, its unit's properties, its
    network namespace for clients."""

    def __init__(self, image):
        self.name = "vsteer-sd-test-%d" % os.getpid()
        podman("run", "-d", "--name", self.name, "--privileged", "--network", "none",
               "--systemd=always", image, "/lib/systemd/systemd")
        pid = podman("inspect", "-f", "{{.State.Pid}}", self.name).stdout.strip()
        self.netns = "/proc/%s/ns/net" % pid

    def sh(self, cmd, ok=True, timeout=60):
        r = podman("exec", self.name, "sh", "-c", cmd, timeout=timeout, ok=False)
        if ok:
            check(r.returncode == 0, "in the container, `%s`: exit %d\n%s" % (
                cmd, r.returncode, (r.stdout + r.stderr)[-2000:]))
        return r.stdout

    def put(self, src, dst):
        podman("cp", src, "%s:%s" % (self.name, dst))

    def prop(self, name, unit="vsteerd"):
        return self.sh("systemctl show -P %s %s" % (name, unit)).strip()

    def journal(self):
        return self.sh("journalctl -b -o cat --no-pager -u vsteerd")

    def api(self, method, path, body=None):
        with in_netns(self.netns):
            return api(method, path, body)

    def remove(self):
        subprocess.run(["podman", "rm", "-f", "-t", "0", self.name], capture_output=True,
                       env=PODMAN_ENV, timeout=60)


def setup(box):
    """Binaries, the units (they make the user), a config and the backends (1.0 for the
    config's service, 2.0 for the one a reload adds; transient units);
    systemd booted and bpffs not mounted."""
    wait_for(lambda: box.sh("systemctl is-system-running", ok=False).strip()
             in ("running", "degraded"), 60, "systemd to boot in the container")
    # What the unit has to cope with: systemd does not mount bpffs in a
    # container (mount-setup's table marks it host-only).
    mounts = box.sh("cat /proc/self/mountinfo")
    check(" - bpf " not in mounts, "bpffs already mounted in the container:\n" + mounts)
    for name in ("vsteerd", "vsteer-demo"):
        box.put(os.path.join(BUILD, name), "/usr/local/bin/" + name)
    for unit in ("vsteerd.service", "vsteer-prepare.service"):
        box.put(os.path.join(UNITS, unit), "/etc/systemd/system/" + unit)
    box.sh("mkdir -p /etc/vsteer && cat > /etc/vsteer/config.json <<'EOF'\n%s\nEOF"
           % json.dumps(CONFIG))
    # Both files as systemd reads them: no warning at all.
    out = box.sh("systemd-analyze verify /etc/systemd/system/vsteerd.service "
                 "/etc/systemd/system/vsteer-prepare.service 2>&1")
    check(not out.strip(), "systemd-analyze verify:\n" + out)
    for v, port in (("1.0", 9001), ("2.0", 9002)):
        box.sh("systemd-run -q --unit demo-%s /usr/local/bin/vsteer-demo --listen 127.0.0.1:%d "
               "--version %s" % (port, port, v))
    # The unit as shipped, before any drop-in.
    box.sh("systemctl daemon-reload")
    score = box.sh("systemd-analyze security vsteerd.service | tail -1")
    m = re.search(r"Overall exposure level for vsteerd.service: (\d+\.\d+)", score)
    check(m and float(m.group(1)) <= 3.0, "systemd-analyze security: %s" % score)
    print("systemd-analyze security: %s" % m.group(1))
    if os.environ.get("VSTEER_BUILD") == "build-san":
        # LeakSanitizer stops vsteerd's threads with ptrace at exit, from a
        # task of its own: the system call, and the capability for a
        # process made non-dumpable by its ambient capabilities.
        box.sh("mkdir -p /etc/systemd/system/vsteerd.service.d && cat > "
               "/etc/systemd/system/vsteerd.service.d/san.conf <<'EOF'\n[Service]\n"
               "SystemCallFilter=ptrace\nCapabilityBoundingSet=CAP_SYS_PTRACE\n"
               "AmbientCapabilities=CAP_SYS_PTRACE\nEOF")
    box.sh("systemctl daemon-reload && systemctl log-level debug")


def notifications(box):
    """The notify messages systemd got from vsteerd, in order (its debug
    log: "Got notification message from PID N (READY=1, STATUS=...)"),
    but for the watchdog's pings."""
    msgs = re.findall(r"Got notification message from PID \d+ \((.*)\)$", box.journal(), re.M)
    return [m for m in msgs if m != "WATCHDOG=1"]


def restarted(box, before):
    """Until systemd has restarted vsteerd (NRestarts past before) and the
    new one is ready; its main pid."""
    wait_for(lambda: int(box.prop("NRestarts")) > before and box.prop("ActiveState") == "active"
             and box.prop("SubState") == "running", 3 * WATCHDOG_S, "systemd to restart vsteerd")
    return box.prop("MainPID")


def under_load(box, what, fn):
    """fn() while clients connect from inside the container; every
    connection must succeed (the kernel steers from the pins while vsteerd
    is down). Returns fn()'s value."""
    load = Load(netns=box.netns)
    load.start()
    try:
        load.wait_more(100)
        ret = fn()
        load.wait_more(200)
    finally:
        load.finish()
    check(load.failed == 0, "%s: %d of %d connections failed: %s" % (
        what, load.failed, load.ok + load.failed, load.errors[:3]))
    print("%s: %d connections, all served (%s)" % (what, load.ok, load.by_version))
    return ret


@test
def systemd_unit(env):
    """contrib/systemd under systemd 252 as PID 1 (a Debian 12 container):
    starts where bpffs is not mounted, as user vsteer; `systemctl start`
    returns only once the API answers; `systemd-analyze security` <= 3.0;
    a broken config fails the start with the error as its status line, and
    so do pins of the earlier unit's layout, saying what to do;
    kill -9 under load and a SIGSTOPped controller (the watchdog) each
    fail no connection and are restarted, the pins adopted; `systemctl
    reload` applies a config change between RELOADING=1 and READY=1;
    after `systemctl stop` steering goes on

    Timing: the image is made once per content of tests/systemd/image.sh
    (50-90 s cold, by debootstrap, measured here; scripts/deps.sh test makes
    it before the tests, as their namespaces cannot reach the mirror); then
    25-35 s, 10-12 of them the watchdog's."""
    r = subprocess.run([os.path.join(ROOT, "tests/systemd/image.sh")], capture_output=True,
                       text=True, timeout=900, env=PODMAN_ENV)
    check(r.returncode == 0, "tests/systemd/image.sh: %s\n(this test's network namespace cannot reach "
          "the Debian mirror: make the image first, outside it, with tests/systemd/image.sh, as "
          "scripts/deps.sh test does)" % (r.stdout + r.stderr)[-1500:])
    box = Box(r.stdout.strip().splitlines()[-1])
    try:
        run_cases(box)
    except TestFailure:
        print(box.sh("systemctl status --no-pager -n 0 vsteerd; journalctl -b --no-pager -u vsteerd"
                     " | grep -v 'bus\\|Bus\\|WATCHDOG=1' | tail -40", ok=False))
        raise
    finally:
        box.remove()


def run_cases(box):
    setup(box)

    # A broken config: the start fails, and `systemctl status` says why.
    good = box.sh("cat /etc/vsteer/config.json")
    box.sh("echo '{\"proxy\": ' > /etc/vsteer/config.json")
    r = podman("exec", box.name, "systemctl", "start", "vsteerd", ok=False, timeout=90)
    check(r.returncode != 0, "started with a broken config")
    status = box.prop("StatusText")
    check(status.startswith("failed to start: ") and "/etc/vsteer/config.json" in status,
          "status after a failed start: %r" % status)
    print("status of a failed start: %s" % status)
    box.sh("cat > /etc/vsteer/config.json <<'EOF'\n%sEOF" % good)
    box.sh("systemctl stop vsteerd && systemctl reset-failed vsteerd")
    # Pins of the earlier unit's layout (a directory stands in for the
    # link: bpffs makes nothing else without bpf()): refused, and said why.
    box.sh("mkdir /sys/fs/bpf/vsteer/link")
    r = podman("exec", box.name, "systemctl", "start", "vsteerd", ok=False, timeout=90)
    check(r.returncode != 0, "started beside the earlier unit's pins")
    check("vsteerd --cleanup --pin-dir /sys/fs/bpf/vsteer" in box.journal(),
          "no word of the earlier pins in the journal")
    box.sh("rmdir /sys/fs/bpf/vsteer/link && systemctl stop vsteerd && systemctl reset-failed vsteerd")

    # Blocks until READY=1: the API must answer at once, no retry.
    box.sh("systemctl start vsteerd", timeout=90)
    st, body = box.api("GET", "/healthz")
    check(st == 200, "API right after `systemctl start`: %s %s" % (st, body))
    check(" - bpf " in box.sh("cat /proc/self/mountinfo"), "bpffs not mounted by the unit")
    check(box.sh("ps -o user= -p %s" % box.prop("MainPID")).strip() == "vsteer",
          "vsteerd does not run as the user vsteer")
    check("(created)" in box.prop("StatusText"), "status: %s" % box.prop("StatusText"))
    check(fetch(client_addr(0), netns=box.netns) == "1.0", "not steered to 1.0")

    # kill -9: systemd restarts it, it adopts the pins; meanwhile the
    # kernel steers on from them.
    pid, n = box.prop("MainPID"), int(box.prop("NRestarts"))
    new = under_load(box, "kill -9", lambda: (box.sh("kill -9 %s" % pid), restarted(box, n))[1])
    check(new != pid, "same main pid %s after kill -9" % pid)
    check("(adopted)" in box.prop("StatusText"), "status: %s" % box.prop("StatusText"))

    # Reload: a second service in the config, live after `systemctl reload`.
    cfg = dict(CONFIG, services=[{"name": "other", "address": "127.0.0.1", "port": 8081,
                                  "clusters": [{"version": "2.0", "servers": ["127.0.0.1:9002"]}]}])
    box.sh("cat > /etc/vsteer/config.json <<'EOF'\n%s\nEOF" % json.dumps(cfg))
    seen = len(notifications(box))
    box.sh("systemctl reload vsteerd")
    # Usually applied when the command returns (systemd waits for READY=1
    # once RELOADING=1 has come), but kill(1)'s exit is not ordered with
    # vsteerd's RELOADING=1 (docs/operations.md#under-systemd): polled.
    wait_for(lambda: box.api("GET", "/v1/services/other")[0] == 200, 10,
             "the config's new service after `systemctl reload`")
    wait_for(lambda: len(notifications(box)) >= seen + 2, 10, "RELOADING=1 and READY=1")
    msgs = notifications(box)[seen:]
    check(len(msgs) >= 2 and msgs[0].startswith("RELOADING=1") and msgs[1].startswith("READY=1")
          and "config reloaded" in msgs[1], "notifications around the reload: %s" % msgs)
    check(fetch(client_addr(1), svc=("127.0.0.1", 8081), netns=box.netns) == "2.0",
          "the reloaded service is not steered")
    # A broken config fails the reload itself (checked before the signal),
    # and what runs goes on.
    box.sh("cp /etc/vsteer/config.json /etc/vsteer/good.json && echo '{\"proxy\": ' > /etc/vsteer/config.json")
    seen = len(notifications(box))
    r = podman("exec", box.name, "systemctl", "reload", "vsteerd", ok=False)
    check(r.returncode != 0, "a broken config reloaded: exit %d" % r.returncode)
    check("unexpected token" in box.journal(), "the reason is not in the journal:\n" + box.journal()[-1500:])
    check(len(notifications(box)) == seen and box.prop("ActiveState") == "active",
          "a refused reload signalled vsteerd: %s" % notifications(box)[seen:])
    check(fetch(client_addr(1), svc=("127.0.0.1", 8081), netns=box.netns) == "2.0",
          "steering changed by a refused reload")
    box.sh("mv /etc/vsteer/good.json /etc/vsteer/config.json")

    # A stuck control loop: no more WATCHDOG=1, so systemd kills it.
    pid, n = box.prop("MainPID"), int(box.prop("NRestarts"))
    t0 = time.monotonic()
    new = under_load(box, "SIGSTOP (watchdog)",
                     lambda: (box.sh("kill -STOP %s" % pid), restarted(box, n))[1])
    check(new != pid, "same main pid %s after the watchdog" % pid)
    print("watchdog restart after %.1f s (WatchdogSec=%d)" % (time.monotonic() - t0, WATCHDOG_S))
    check("Watchdog timeout" in box.journal(), "no watchdog timeout in the journal")

    # Stop: the controller goes, steering stays.
    box.sh("systemctl stop vsteerd", timeout=60)
    check(box.prop("ActiveState") == "inactive", "vsteerd still %s" % box.prop("ActiveState"))
    check(notifications(box)[-1].startswith("STOPPING=1"), "no STOPPING=1: %s"
          % notifications(box)[-1:])
    check([fetch(client_addr(i), netns=box.netns) for i in range(20)] == ["1.0"] * 20,
          "not steered after `systemctl stop`")
    # VSTEER_BUILD=build-san: every vsteerd of the run, in the journal.
    check_sanitizers(box.journal(), "vsteerd's journal")
