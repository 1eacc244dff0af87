#!/usr/bin/env python3
"""End-to-end tests: the real BPF programs in the real kernel, real
backends, real TCP connections. tests/run starts each test in its own
network and mount namespace (`unshare --net --mount`), so each has its own
loopback, its own bpffs pin directory and nothing to clean up. One module
per area: steering, lifecycle, api, hardening_api, rollout, watch,
metrics, packaging, hardening_identity, hardening_sessions, hardening_files,
hardening_pins, events, start, judged, drain, notify, services, mirror,
bridged, install, systemd, history, vsteerctl, dashboard, fleet, fleet_rollout.

    python3 tests/e2e --list
    unshare --net --mount --propagation private python3 tests/e2e NAME
"""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

# The test modules, in the order --list gives their tests. Importing one
# registers its @test functions in common.TESTS (tests/catalogue.py reads
# the same list).
MODULES = ("steering", "lifecycle", "api", "hardening_api", "rollout", "watch", "metrics", "packaging",
           "hardening_identity", "hardening_sessions", "hardening_files", "hardening_pins", "events",
           "start", "judged", "drain", "notify",
           "services", "mirror", "bridged", "install", "systemd", "history",
           "vsteerctl", "dashboard", "fleet", "fleet_rollout")
for _name in MODULES:
    importlib.import_module(_name)

from common import TESTS  # noqa: E402
from lib import TestFailure  # noqa: E402


def in_fresh_netns():
    """A test mounts bpffs, /etc/vsteer and more over what it finds: only
    inside the namespaces tests/run makes for it, where `lo` is the only
    interface. (/proc/1/ns is not readable in every container.)"""
    with open("/proc/self/net/dev") as f:
        names = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    return names == ["lo"]


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(TESTS))
        return 0
    if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
        print("usage: tests/e2e --list | NAME (one of --list)", file=sys.stderr)
        return 2
    if not in_fresh_netns():
        print("refusing to run %s in the host's network namespace: use tests/run" % sys.argv[1],
              file=sys.stderr)
        return 2
    from lib import Env
    env = Env()
    try:
        try:
            TESTS[sys.argv[1]](env)
        finally:
            env.close()
    except TestFailure as e:
        print("FAIL: %s" % e)
        print("--- vsteerd log ---\n%s" % (env.vsteerd_log() if os.path.exists(
            os.path.join(env.dir, "vsteerd.log")) else "(none)"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
