#!/usr/bin/env python3
"""docs/dashboard.png, remade: the dashboard at 1280x800 during a gradual
rollout from 1.0 to 2.0 (2.0 a millisecond slower), a minute after it
started, with one promote on the way. As root, after `make`:

    scripts/dashboard-shot.py [OUT.png]

It runs in network and mount namespaces of its own (as the tests do:
vsteerd, the demo backends and Chromium see only their own loopback),
with the end-to-end tests' helpers (tests/e2e/dashboard.py). About 70 s.
"""
import http.client
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests", "e2e"), os.path.join(ROOT, "tests")]


def slow_down(port, ms):
    """The demo backend on port answers ms later (its /control)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/control?delay_ms=%d" % ms)
    c.getresponse().read()
    c.close()


def shoot(out):
    from dashboard import UI, Chromium, authed, gradual
    from lib import Env

    env = Env()
    try:
        load = gradual(env)
        slow_down(9002, 1)
        b = Chromium(env)
        b.open(UI)
        time.sleep(30)
        authed("POST", "/v1/services/default/rollout/promote", None, 200)
        time.sleep(30)
        with open(out, "wb") as f, open(b.screenshot("dashboard-1280x800.png"), "rb") as shot:
            f.write(shot.read())
        print("wrote %s" % out)
        load.finish()
    finally:
        env.close()


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "dashboard.png"))
    if os.environ.get("VSTEER_SHOT_INSIDE") != "1":
        if os.geteuid() != 0:
            print("dashboard-shot.py: run as root (vsteerd loads BPF programs)", file=sys.stderr)
            return 1
        return subprocess.call(["unshare", "--net", "--mount", "--propagation", "private",
                                sys.executable, os.path.abspath(__file__), out],
                               env=dict(os.environ, VSTEER_SHOT_INSIDE="1"))
    shoot(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
