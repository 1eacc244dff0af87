"""Packaging: the deploy script, containers, Puppet, Fedora CoreOS."""
import json
import os
import re
import shlex
import shutil
import subprocess

from common import Load, kill_under_load, port_closed, test
from lib import BUILD, ROOT, api, binomial_bound, check, client_addr, fetch, service, versions_of, wait_for


DEPLOY = os.path.join(ROOT, "examples", "deploy.sh")


def deploy(*args, timeout=60):
    r = subprocess.run([DEPLOY] + list(args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


@test
def deploy_script(env):
    """`examples/deploy.sh`: a healthy instant upgrade exits 0 and reports 1.0
    drained; a 50 ms slower version under load is rolled back (exit 1, the
    reason printed, no failed connection); changed servers, an unknown service
    and a bad strategy exit 2 and change nothing

    examples/deploy.sh: 0 and "drained" for a healthy upgrade, 1 and the
    reason for one rolled back, 2 and the API's error for a bad one; a
    rerun reuses a registered version."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003", "--delay-ms", "50")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    rc, out, err = deploy("-s", "instant", "-A", "none", "-d", "10", "default", "2.0",
                          "127.0.0.1:9002")
    check(rc == 0, "healthy deploy: exit %d\n%s%s" % (rc, out, err))
    check("default 2.0 deployed" in out and "1.0 is drained" in out, "output:\n" + out)
    check(versions_of(range(20)) == ["2.0"] * 20, "new connections not on 2.0")
    # 3.0 answers 50 ms late: the judge rolls it back, the script says why.
    load = Load()
    load.start()
    try:
        rc, out, err = deploy("-s", "gradual", "-S", '[{"weight": 50}]', "-A",
                              '{"interval": 1, "minRequests": 5, "failureLimit": 2}',
                              "default", "3.0", "127.0.0.1:9003")
    finally:
        load.finish()
    check(rc == 1, "slow version: exit %d\n%s%s" % (rc, out, err))
    check("rolled_back" in err and "latency" in err, "no reason given:\n" + err)
    check(load.failed == 0, "%d connections failed during the rollback" % load.failed)
    # Rerun for 3.0 with other servers: refused before anything changes.
    rc, out, err = deploy("default", "3.0", "127.0.0.1:9009")
    check(rc == 2 and "already has 3.0" in err, "changed servers: exit %d %s" % (rc, err))
    rc, out, err = deploy("nope", "3.0", "127.0.0.1:9003")
    check(rc == 2 and "unknown_service" in err, "unknown service: exit %d %s" % (rc, err))
    rc, out, err = deploy("-s", "sideways", "default", "3.0", "127.0.0.1:9003")
    check(rc == 2 and "sideways" in err, "bad strategy: exit %d %s" % (rc, err))
    check(service()["rollout"]["phase"] == "rolled_back", "bad runs changed the rollout")


# What KEEP=1 demo.sh says it left: each process by name, and the stop command.
LEFT = (r"left running: vsteer-demo 1\.0 pid (\d+), 2\.0 pid (\d+), vsteerd pid (\d+); "
        r"stop them with: (\S+)$")


def demo_tallies(out):
    """The demo's output as {step number: {answer: count}}, the answers
    tallied after each step's last "new connections" line (step 4: the 400
    made while 2.0 was killed)."""
    steps, step, tally = {}, None, False
    for line in out.splitlines():
        m = re.match(r"(?:\x1b\[1m)?== (\d)\. ", line)
        if m:
            step, tally = int(m.group(1)), False
            continue
        if "new connections:" in line or "those 400 connections" in line:
            steps[step], tally = {}, True
            continue
        m = re.match(r"\s+(\d+) (\S+)$", line)
        if tally and m:
            steps[step][m.group(2)] = int(m.group(1))
        elif tally:
            tally = False
    return steps


@test
def demo_script(env):
    """`KEEP=1 scripts/demo.sh`, the README's first command, exits 0 and shows
    what it says: 1.0 takes 100 of 100 new sessions, about half at 50/50,
    2.0 all at 100%, none of 400 connections refused while 2.0 is killed (at
    most the one open on 2.0 reset), the restarted 2.0 answering and then
    all of 100, 1.0 all of 100 at the end; its output is plain (no job
    notice, no escape codes in a pipe) and its curl commands paste as
    printed; the stop command it prints, run from /, ends every process it
    named (each named once) and removes its pins and work folder"""
    # The demo pins in /sys/fs/bpf: this test's mount namespace gets its own.
    subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
    demo_env = dict(os.environ, VSTEER_BUILD=os.path.relpath(BUILD, ROOT), KEEP="1")
    r = subprocess.run([os.path.join(ROOT, "scripts", "demo.sh")], capture_output=True, text=True,
                       timeout=300, env=demo_env)
    m = re.search(LEFT, r.stdout, re.M)
    stop = None
    try:
        demo_checks(r)
    finally:
        # Whatever failed, the demo's processes do not outlive the test.
        if m and os.path.exists(m.group(4)):
            stop = subprocess.run(["sh", "-c", m.group(4)], cwd="/", capture_output=True,
                                  text=True, timeout=30)
    check(m, "no stop command in:\n" + r.stdout[-1000:])
    pids = [int(p) for p in m.group(1, 2, 3)]
    check(len(pids) == 3 and len(set(pids)) == 3, "pids named: %s" % pids)
    check(stop, "no stop command at %s" % m.group(4))
    check(stop.returncode == 0 and not stop.stderr and len(stop.stdout.splitlines()) == 1,
          "stop: exit %d\n%s%s" % (stop.returncode, stop.stdout, stop.stderr))
    # Exited (a zombie has no exe link) by the time stop returns: it waits.
    check(not any(os.path.exists("/proc/%d/exe" % p) for p in pids), "running after stop")
    check(not os.path.exists("/sys/fs/bpf/vsteer-demo"), "the demo left its pins behind")
    check(not os.path.exists(os.path.dirname(m.group(4))), "the demo left its work folder behind")


def demo_checks(r):
    """What KEEP=1 scripts/demo.sh's run r showed, and that what it left
    runs."""
    check(r.returncode == 0, "demo exited %d:\n%s\n%s" % (r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    got = demo_tallies(r.stdout)
    check(got.get(1) == {"1.0": 100} and got.get(3) == {"2.0": 100} and got.get(6) == {"1.0": 100},
          "steps 1, 3, 6 (want all of 100 on 1.0, 2.0, 1.0): %s" % got)
    half = got.get(2, {})
    check(sum(half.values()) == 100 and all(abs(half.get(v, 0) - 50) <= binomial_bound(100, 0.5)
                                            for v in ("1.0", "2.0")),
          "step 2, 50/50: %s (allowed 50 +- %.0f each)" % (half, binomial_bound(100, 0.5)))
    # The demo's load makes one connection at a time, so at most one is open
    # on 2.0 when it is killed: that one is reset (its process died with
    # it), and nothing is refused.
    killed = got.get(4, {})
    check(set(killed) <= {"1.0", "2.0", "RESET"} and killed.get("RESET", 0) <= 1
          and sum(killed.values()) == 400,
          "step 4, 2.0 killed: %s (want 400 answered by 1.0 or 2.0, none REFUSED, at most the one "
          "open on 2.0 RESET)" % killed)
    check(re.search(r"2\.0 answering again after \d+ ms", r.stdout) and got.get(5) == {"2.0": 100},
          "step 5, 2.0 restarted: %s\n%s" % (got.get(5), r.stdout[-2000:]))
    check(not r.stderr and "\x1b" not in r.stdout,
          "not plain: stderr %r, escape codes: %s" % (r.stderr[-1000:], "\x1b" in r.stdout))
    # Each printed command, split as a shell would, is the curl the demo ran.
    curls = [shlex.split(line[2:]) for line in r.stdout.splitlines() if line.startswith("$ curl")]
    check(len(curls) == 5, "want 5 printed curl commands, got %d" % len(curls))
    for argv in curls:
        check(all(a in argv for a in ("-s", "http://127.0.0.1:8080/")) or
              ("Content-Type: application/json" in argv and r"%{http_code}\n" in argv
               and json.loads(argv[argv.index("-d") + 1])), "printed curl: %s" % argv)

    m = re.search(LEFT, r.stdout, re.M)
    check(m and all(os.path.exists("/proc/%s/exe" % p) for p in m.group(1, 2, 3)),
          "not all it named are running: %s" % (m and m.group(0)))


PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "docker/containers.conf"))
SECCOMP = os.path.join(ROOT, "docker/seccomp.json")
VSTEERD_UID = 10001         # docker/Dockerfile's user for vsteerd
CAPS = 1 << 12 | 1 << 38 | 1 << 39      # CAP_NET_ADMIN, CAP_PERFMON, CAP_BPF


def podman(*args, timeout=180):
    """podman with the project's settings (runc, no default ulimits)."""
    r = subprocess.run(["podman"] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=PODMAN_ENV)
    check(r.returncode == 0, "podman %s: %s" % (" ".join(args[:2]), (r.stdout + r.stderr)[-1500:]))
    return r.stdout.strip()


IMAGES = {"vsteerd": "localhost/vsteerd", "demo": "localhost/vsteer-demo"}


def build_images(tag, which=("vsteerd", "demo"), root=ROOT):
    """The images named in which (both by default), built by docker/build.sh
    from the source in root (this clone by default) on the local bases
    (docker/base.sh); their names, in that order."""
    r = subprocess.run([os.path.join(root, "docker/build.sh"), tag] + list(which),
                       capture_output=True, text=True, timeout=600, env=PODMAN_ENV)
    check(r.returncode == 0, "docker/build.sh: %s" % (r.stdout + r.stderr)[-2500:])
    return ["%s:%s" % (IMAGES[w], tag) for w in which]


def container_status(name):
    """The container's main process: its /proc status fields."""
    pid = podman("inspect", "--format", "{{.State.Pid}}", name)
    with open("/proc/%s/status" % pid) as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def check_confined(name):
    """vsteerd's container as docker/ means it to run: its user, its three
    capabilities only, a seccomp filter; and its HEALTHCHECK passing."""
    st = container_status(name)
    check(st["Uid"].split()[0] == str(VSTEERD_UID), "vsteerd runs as uid %s" % st["Uid"])
    check(int(st["CapEff"], 16) == CAPS and int(st["CapBnd"], 16) == CAPS,
          "capabilities: effective %s, bounding %s" % (st["CapEff"], st["CapBnd"]))
    check(st["Seccomp"].strip() == "2", "seccomp mode %s, not a filter" % st["Seccomp"])
    podman("healthcheck", "run", name)     # exit 0: healthy
    state = json.loads(podman("inspect", name))[0]["State"]
    health = state.get("Health") or state.get("Healthcheck") or {}
    check(health.get("Status") == "healthy", "health after a check: %s" % health)


@test
def containers_build(env):
    """`docker/build.sh` from a copy of the clone that holds a decoy build/:
    both images compile from source (the decoy never gets in), link only
    their own libraries, run as uid 10001 and 65534, carry OCI labels and a
    HEALTHCHECK that fails with no API; without .containerignore the build
    fails and says why"""
    # docker/base.sh's bases must hold what the Dockerfile would install.
    with open(os.path.join(ROOT, "docker/Dockerfile")) as f, \
            open(os.path.join(ROOT, "docker/base.sh")) as g:
        want = [set(m.split()) - {"\\"} for m in re.findall(r'pkgs="([^"]*)"', f.read())]
        have = [set(m.split()) - {"\\"} for m in re.findall(r'_pkgs="([^"]*)"', g.read())]
    check(len(want) == 2 and want == have, "package lists: Dockerfile %s, base.sh %s" % (want, have))
    src = os.path.join(env.dir, "src")
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, text=True, check=True)
    for rel in filter(None, files.stdout.split("\0")):
        if os.path.isfile(os.path.join(ROOT, rel)):
            os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(src, rel))
    os.makedirs(os.path.join(src, "build"))
    for name in ("vsteerd", "vsteer-demo"):
        with open(os.path.join(src, "build", name), "w") as f:
            f.write("#!/bin/sh\necho decoy from the host\n")
        os.chmod(os.path.join(src, "build", name), 0o755)
    tag = "test%d" % os.getpid()
    images = []
    try:
        images = build_images(tag, root=src)
        with open(os.path.join(ROOT, "VERSION")) as f:
            version = f.read().strip()
        out = podman("run", "--rm", "--network", "none", images[0], "--version")
        check(version in out and "decoy" not in out, "vsteerd --version: %r" % out)
        for image, binary, user in ((images[0], "vsteerd", "%d:%d" % (VSTEERD_UID, VSTEERD_UID)),
                                    (images[1], "vsteer-demo", "65534:65534")):
            libs = podman("run", "--rm", "--network", "none", "--entrypoint", "/usr/bin/ldd",
                          image, "/usr/local/bin/" + binary)
            check("not found" not in libs and "libmicrohttpd" in libs, "%s: ldd:\n%s" % (binary, libs))
            info = json.loads(podman("image", "inspect", image))[0]
            labels = info["Labels"]
            check(labels.get("org.opencontainers.image.version") == version
                  and labels.get("org.opencontainers.image.title") == binary
                  and labels.get("org.opencontainers.image.licenses"), "%s labels: %s" % (binary, labels))
            check(info["User"] == user, "%s runs as %r" % (binary, info["User"]))
        health = json.loads(podman("image", "inspect", images[0]))[0].get("Healthcheck") or {}
        check("/healthz" in " ".join(health.get("Test", [])), "vsteerd's HEALTHCHECK: %s" % health)
        # Nothing answering on the API's address: the check fails.
        idle = "%s-idle" % tag
        podman("run", "-d", "--name", idle, "--network", "none", "--entrypoint", "/bin/sleep",
               images[0], "60")
        r = subprocess.run(["podman", "healthcheck", "run", idle], capture_output=True, text=True,
                           timeout=30, env=PODMAN_ENV)
        subprocess.run(["podman", "rm", "-f", "-i", "-t", "0", idle], capture_output=True, env=PODMAN_ENV)
        check(r.returncode != 0 and "unhealthy" in r.stdout + r.stderr,
              "health check with no API: exit %d %s" % (r.returncode, r.stdout + r.stderr))
        # Without the ignore file the decoy is in the context: refused.
        os.unlink(os.path.join(src, ".containerignore"))
        r = subprocess.run([os.path.join(src, "docker/build.sh"), tag + "-leak", "demo"],
                           capture_output=True, text=True, timeout=300, env=PODMAN_ENV)
        check(r.returncode != 0 and "build/ is in the build context" in r.stderr,
              "a context with build/ in it: exit %d\n%s" % (r.returncode, r.stderr[-1500:]))
    finally:
        subprocess.run(["podman", "rmi", "-f"] + images, capture_output=True, env=PODMAN_ENV)


@test
def containers_seccomp_profile(env):
    """`docker/seccomp.py` makes docker/seccomp.json as committed from
    podman's default profile; a default that does not gate bpf and
    perf_event_open on CAP_SYS_ADMIN is refused, not silently patched"""
    tool, default = os.path.join(ROOT, "docker/seccomp.py"), "/usr/share/containers/seccomp.json"
    out = os.path.join(env.dir, "seccomp.json")
    r = subprocess.run([tool, default, out], capture_output=True, text=True)
    check(r.returncode == 0, "seccomp.py: %s" % r.stderr)
    with open(out) as f, open(SECCOMP) as g:
        check(f.read() == g.read(), "docker/seccomp.json is not what docker/seccomp.py makes: run it")
    with open(default) as f:
        profile = json.load(f)
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "perf_event_open"]
    with open(os.path.join(env.dir, "other.json"), "w") as f:
        json.dump(profile, f)
    r = subprocess.run([tool, f.name, out + ".2"], capture_output=True, text=True)
    check(r.returncode == 1 and "does not gate bpf and perf_event_open" in r.stderr
          and not os.path.exists(out + ".2"), "another default: exit %d %s" % (r.returncode, r.stderr))


@test
def containers_pod(env):
    """`podman kube play docker/vsteer-pod.yaml` as it is: vsteerd as uid
    10001 under docker/seccomp.json, healthy; 1.0 served, a rollout moves new
    connections to 2.0

    docker/vsteer-pod.yaml as it is: `podman kube play --seccomp-profile-root
    docker` brings up vsteerd and demo 1.0 and 2.0 on host networking with
    the host paths it names (here this test's own bpffs and tmpfs mounts);
    vsteerd runs as uid 10001 with its three capabilities and the shipped
    seccomp profile, and `podman healthcheck run` says healthy; 1.0 is
    served, a rollout moves new connections to 2.0."""
    build_images("latest")
    os.makedirs("/etc/vsteer", exist_ok=True)
    os.makedirs("/var/lib/vsteer", exist_ok=True)
    # this test's namespace only; the state directory is vsteerd's user's
    # (it refuses one that others can write)
    own = "uid=%d,gid=%d" % (VSTEERD_UID, VSTEERD_UID)
    for what, where, opts in (("bpf", "/sys/fs/bpf", "mode=0700"), ("tmpfs", "/etc/vsteer", "mode=0755"),
                              ("tmpfs", "/var/lib/vsteer", "mode=0700," + own)):
        subprocess.run(["mount", "-t", what, "-o", opts, what, where], check=True)
    os.mkdir("/sys/fs/bpf/vsteerd", 0o700)
    os.chown("/sys/fs/bpf/vsteerd", VSTEERD_UID, VSTEERD_UID)
    with open(os.path.join(ROOT, "docker/vsteer.json")) as f, open("/etc/vsteer/config.json", "w") as g:
        g.write(f.read())
    pod = os.path.join(ROOT, "docker/vsteer-pod.yaml")
    try:
        podman("kube", "play", "--seccomp-profile-root", os.path.join(ROOT, "docker"), pod)
        wait_for(env.healthy, 20, "vsteerd in the pod")
        check_confined("vsteer-vsteerd")
        check(fetch() == "1.0", "1.0 not served")
        st, body = api("POST", "/v1/services/default/rollout", {"to": "2.0", "strategy": "instant"})
        check(st == 201, "rollout: %s %s" % (st, body))
        check(set(versions_of(range(30))) == {"2.0"}, "not on 2.0 after the rollout")
    finally:
        subprocess.run(["podman", "kube", "down", pod], capture_output=True, env=PODMAN_ENV)


@test
def containers_upgrade(env):
    """both images built with podman; vsteerd (uid 10001, three capabilities,
    docker/seccomp.json; refused by the default profile) and demo 1.0 and 2.0
    as containers on host networking: rollout to 2.0, a restart of vsteerd
    adopts its pins, `podman kill` of 2.0 fails no connection started after
    its sockets closed and all go to 1.0, `podman start` of 2.0 is steered
    to again"""
    tag = "test%d" % os.getpid()
    images = build_images(tag)
    names = {v: "%s-%s" % (tag, v) for v in ("vsteerd", "1.0", "2.0", "refused")}
    # As on a host whose bpffs is systemd's (0700, no way in for uid
    # 10001): a directory of vsteerd's user, its /sys/fs/bpf. vsteerd pins
    # in a sibling of its pin directory and renames it into place, so it
    # needs the parent, not the pin directory, to be its own.
    os.chmod(env.bpffs, 0o700)
    bpf = os.path.join(env.bpffs, "vsteerd")
    os.mkdir(bpf, 0o700)
    os.chown(bpf, VSTEERD_UID, VSTEERD_UID)
    state, etc = os.path.join(env.dir, "state"), os.path.join(env.dir, "etc")
    os.mkdir(state, 0o700)
    os.chown(state, VSTEERD_UID, VSTEERD_UID)
    os.mkdir(etc, 0o755)
    shutil.copy(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}), etc)
    run_vsteerd = ["run", "--network", "host", "--cap-drop", "all", "--cap-add", "bpf,perfmon,net_admin",
                   "-v", "%s:/sys/fs/bpf" % bpf, "-v", "%s:/etc/vsteer:ro" % etc,
                   "-v", "%s:/var/lib/vsteer" % state]
    try:
        for v, port in (("1.0", 9001), ("2.0", 9002)):
            podman("run", "-d", "--name", names[v], "--network", "host", images[1],
                   "--listen", "127.0.0.1:%d" % port, "--version", v)
            wait_for(lambda: not port_closed(port), 10, "demo %s container" % v)
        # The runtime's default profile refuses bpf() without CAP_SYS_ADMIN.
        r = subprocess.run(["podman"] + run_vsteerd + ["--name", names["refused"], images[0],
                                                       "--config", "/etc/vsteer/config.json"],
                           capture_output=True, text=True, timeout=60, env=PODMAN_ENV)
        check(r.returncode == 1 and "cannot load BPF programs" in r.stderr,
              "default seccomp profile: exit %d\n%s" % (r.returncode, r.stderr[-1500:]))
        podman(*run_vsteerd[:1], "-d", "--name", names["vsteerd"], "--security-opt",
               "seccomp=" + SECCOMP, *run_vsteerd[1:], images[0], "--config", "/etc/vsteer/config.json")
        wait_for(env.healthy, 20, "vsteerd container API")
        check_confined(names["vsteerd"])
        check(fetch() == "1.0", "1.0 not served")
        st, body = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                               "upgradeTransition": {"mode": "manual"}})
        check(st == 201, "register 2.0: %s %s" % (st, body))
        st, body = api("POST", "/v1/services/default/rollout", {"to": "2.0", "strategy": "instant"})
        check(st == 201, "rollout: %s %s" % (st, body))
        check(set(versions_of(range(50))) == {"2.0"}, "not all on 2.0 after the rollout")
        # A restart adopts its pins with the same three capabilities.
        podman("restart", names["vsteerd"])
        wait_for(env.healthy, 20, "vsteerd container API after a restart")
        r = subprocess.run(["podman", "logs", names["vsteerd"]], capture_output=True, text=True,
                           timeout=30, env=PODMAN_ENV)
        logs = r.stdout + r.stderr  # vsteerd logs to stderr
        check("adopted data plane" in logs, "the restart did not adopt its pins:\n" + logs[-1500:])
        check(set(versions_of(range(50))) == {"2.0"}, "not all on 2.0 after the restart")

        kill_under_load(lambda: podman("kill", names["2.0"]), 9002)

        podman("start", names["2.0"])
        wait_for(lambda: fetch(client_addr(3)) == "2.0", 10, "restarted 2.0 steered to")
    finally:
        subprocess.run(["podman", "rm", "-f", "-i", "-t", "0"] + list(names.values()),
                       capture_output=True, env=PODMAN_ENV)
        subprocess.run(["podman", "rmi", "-f"] + images, capture_output=True, env=PODMAN_ENV)


def puppet_apply(code, timeout=120):
    r = subprocess.run(["puppet", "apply", "--detailed-exitcodes", "--color=false",
                        "--modulepath", os.path.join(ROOT, "examples/puppet/modules"), "-e", code],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


@test
def puppet_converges(env):
    """`puppet apply` of `vsteer::version` rolls out 2.0 (exit 2), a second
    apply changes nothing (exit 0), a version rolled back by the judge fails
    the run with the reason and 2.0 stays stable

    examples/puppet: `puppet apply` of vsteer::version rolls the service
    out to 2.0 (exit 2: changed); a second apply changes nothing (exit 0); a
    version the judge rolls back fails the run (exit 4 or 6) with the
    reason, and 2.0 stays stable."""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("3.0", "127.0.0.1:9003", "--delay-ms", "50")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    def manifest(**params):
        params["deploy"] = DEPLOY
        return "vsteer::version { 'default': %s }" % ", ".join(
            "%s => %s" % (k, "[%s]" % ", ".join("'%s'" % x for x in v) if isinstance(v, list)
                          else "'%s'" % v) for k, v in params.items())
    to_2 = manifest(version="2.0", servers=["127.0.0.1:9002"], strategy="instant",
                    analysis="none")
    rc, out = puppet_apply(to_2)
    check(rc == 2, "first apply: exit %d\n%s" % (rc, out[-2000:]))
    check(set(versions_of(range(20))) == {"2.0"}, "not on 2.0 after the apply")
    rc, out = puppet_apply(to_2)
    check(rc == 0, "second apply changed something: exit %d\n%s" % (rc, out[-2000:]))
    load = Load()
    load.start()
    try:
        rc, out = puppet_apply(manifest(version="3.0", servers=["127.0.0.1:9003"],
                                        strategy="gradual", steps='[{"weight": 50}]',
                                        analysis='{"interval": 1, "minRequests": 5, "failureLimit": 2}'))
    finally:
        load.finish()
    check(rc in (4, 6) and "rolled_back" in out and "latency" in out,
          "slow version: exit %d\n%s" % (rc, out[-2000:]))
    check(set(versions_of(range(20))) == {"2.0"}, "2.0 not stable after the failed run")


@test
def coreos_config(env):
    """`vm/vsteer.bu` passes the offline Butane checks; copies with a container
    without an image, or config servers no demo runs, fail"""
    tool, bu = os.path.join(ROOT, "vm/check-butane.py"), os.path.join(ROOT, "vm/vsteer.bu")
    r = subprocess.run([tool, bu], capture_output=True, text=True)
    check(r.returncode == 0, "vm/vsteer.bu: %s" % (r.stdout + r.stderr))
    text = open(bu).read()
    for broken, needle in ((text.replace("Image=localhost/vsteerd", "Img=x"), "no [Container] Image="),
                           (text.replace('"127.0.0.1:9002"]', '"127.0.0.1:9005"]'), "not all run")):
        path = os.path.join(env.dir, "broken.bu")
        with open(path, "w") as f:
            f.write(broken)
        r = subprocess.run([tool, path], capture_output=True, text=True)
        check(r.returncode == 1 and needle in r.stdout, "broken copy passed: %s" % r.stdout)
