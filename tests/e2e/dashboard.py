"""The dashboard (GET /ui/, docs/dashboard.md): its headers and paths, and
the page itself in headless Chromium against a rollout in progress:
what it shows, its buttons, the token, no console error or CSP
violation. Chromium runs in the test's network namespace (only lo), and
is driven over --remote-debugging-pipe: no port is opened for it."""
import base64
import json
import os
import re
import select
import shutil
import subprocess
import time

from common import Load, test, two_versions
from hardening_api import request
from lib import API, BUILD, ROOT, api, check, service, wait_for

CHROMIUM = "/usr/bin/chromium"
TOKEN = "dashboard-token-0123456789abcdef"
BASE = "http://%s:%d" % API
UI = BASE + "/ui/"
# Where the screenshots go: the test's output, kept after the run (the
# test's own directory is a temporary one).
OUT = os.environ.get("VSTEER_TEST_OUT") or os.path.join(ROOT, os.path.basename(BUILD),
                                                        "test-output", "dashboard")
# Chromium's start, a page's first render with its charts: seconds on a
# busy 2-core machine, more under the sanitizer build's slower vsteerd.
PAGE_TIMEOUT = 20
# The history the page holds for its charts (web/panel.js, history.js).
HIST = "vsteer.panel.services.get('default').hist"


class Chromium:
    """Headless Chromium, driven over the DevTools protocol on a pipe (fd 3
    in, fd 4 out, messages ending in a NUL): one page, its console
    errors, exceptions and CSP violations collected as they come."""

    def __init__(self, env, width=1280, height=800):
        self.dir = os.path.join(env.dir, "chromium")
        os.mkdir(self.dir)
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + self.dir, "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-sync", "--disable-component-update",
                "--disable-extensions", "--disable-dev-shm-usage", "--disable-breakpad",
                "--password-store=basic", "--use-mock-keychain", "--mute-audio",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        # The pipe's ends as fds 3 and 4, whatever numbers they have here
        # (bash: dash takes a single digit in 3<&N).
        self.log = open(os.path.join(env.dir, "chromium.log"), "wb")
        self.p = subprocess.Popen(["bash", "-c", 'exec "$0" "$@" 3<&%d 4>&%d' % (cmd_r, out_w),
                                   CHROMIUM] + args, pass_fds=(cmd_r, out_w),
                                  stdout=self.log, stderr=self.log, start_new_session=True,
                                  env=dict(os.environ, HOME=self.dir))
        env.procs.append(self.p)
        os.close(cmd_r)
        os.close(out_w)
        self.buf, self.next_id, self.events = b"", 0, []
        self.errors = []   # console errors, exceptions, failed loads
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        # Injected by the protocol, so the page's CSP does not apply to it:
        # each violation the page causes is recorded.
        self.call("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', "
            "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"))
        self.resize(width, height)

    def _read(self, timeout):
        r, _, _ = select.select([self.out_r], [], [], timeout)
        if not r:
            return None
        chunk = os.read(self.out_r, 1 << 20)
        check(chunk, "chromium exited: %s" % self.tail())
        self.buf += chunk
        return True

    def _message(self, deadline):
        while b"\0" not in self.buf:
            if self._read(max(0.0, deadline - time.monotonic())) is None:
                return None
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def _note(self, m):
        """An event: keep what says the page went wrong."""
        p, method = m.get("params", {}), m.get("method")
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append("exception: %s" % d.get("exception", {}).get("description", d["text"]))
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            self.errors.append("console.%s: %s" % (p["type"], [a.get("value") for a in p["args"]]))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append("log: %s %s" % (p["entry"]["text"], p["entry"].get("url", "")))
        self.events.append(m)

    def send(self, method, session=None, timeout=PAGE_TIMEOUT, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._message(deadline)
            check(m is not None, "no answer from chromium to %s in %d s" % (method, timeout))
            if m.get("id") == self.next_id:
                check("error" not in m, "%s: %s" % (method, m.get("error")))
                return m["result"]
            if "method" in m:
                self._note(m)

    def call(self, method, **params):
        return self.send(method, session=self.session, **params)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        check("exceptionDetails" not in r, "%s: %s" % (expr, r.get("exceptionDetails")))
        return r["result"].get("value")

    def wait(self, expr, what, timeout=PAGE_TIMEOUT):
        return wait_for(lambda: self.eval(expr), timeout,
                        lambda: "%s (page: %s)" % (what, self.eval("document.body.innerText")[:1500]),
                        interval=0.2)

    def resize(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def open(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && !!window.uPlot", "the page to load")

    def screenshot(self, name):
        os.makedirs(OUT, exist_ok=True)
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        print("screenshot: %s" % path)
        return path

    def click(self, selector):
        check(self.eval("(() => { const b = document.querySelector(%s); if (!b || b.disabled) "
                        "return false; b.click(); return true; })()" % json.dumps(selector)),
              "%s: no such button, or disabled" % selector)

    def check_clean(self, allowed=()):
        """No console error, exception or CSP violation so far, but for
        errors containing one of allowed."""
        self.call("Runtime.evaluate", expression="0")   # collect what is pending
        csp = self.eval("window.__csp")
        check(not csp, "CSP violations: %s" % csp)
        errors = [e for e in self.errors if not any(a in e for a in allowed)]
        check(not errors, "the page logged errors: %s" % errors)

    def tail(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()[-2000:]


def svc(sel):
    return "section[data-service=\"default\"] " + sel


def gradual(env, extra=None):
    """1.0 and 2.0 under load (a window of numbers for each), and a
    gradual rollout to 2.0 at its first step, 10%."""
    check(shutil.which(CHROMIUM), "%s is missing: scripts/deps.sh installs chromium" % CHROMIUM)
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.vsteerd(env.config([{"version": "1.0", "servers": ["127.0.0.1:9001"]}], extra))
    authed("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"],
                                   "upgradeTransition": {"mode": "manual"}}, 201)
    load = Load()
    load.start()
    authed("POST", "/v1/services/default/rollout", {
        "to": "2.0", "strategy": "gradual",
        "steps": [{"weight": 10, "hold": 3600}, {"weight": 50, "hold": 3600}, {"weight": 100}]}, 201)
    return load


def authed(method, path, body, want):
    """A change, with the token (which a vsteerd without one ignores)."""
    st, resp = request(method, path, None if body is None else json.dumps(body),
                       {"Content-Type": "application/json",
                        "Authorization": "Bearer " + TOKEN})[:2]
    check(st == want, "%s %s: %s %s" % (method, path, st, resp))


def shows_rollout(b):
    """The page shows both versions, the rollout at step 1 and its events."""
    b.wait("document.querySelectorAll(%s).length === 2" % json.dumps(svc("table.versions tbody tr")),
           "both versions in the table")
    rows = b.eval("[...document.querySelectorAll(%s)].map(r => [...r.cells].map(c => c.textContent))"
                  % json.dumps(svc("table.versions tbody tr")))
    check([r[0] for r in rows] == ["2.0", "1.0"], "versions: %s" % rows)
    check([r[2] for r in rows] == ["10.00%", "90.00%"], "weights: %s" % rows)
    check(b.eval("document.querySelector(%s).textContent" % json.dumps(svc(".phase"))) == "progressing",
          "phase")
    check("step 1 of 3" in b.eval("document.querySelector(%s).textContent" % json.dumps(svc(".ro-step"))),
          "step")
    b.wait("[...document.querySelectorAll('#events .kind')].some(k => k.textContent === 'started')",
           "the rollout's start in the events")


@test
def dashboard_page(env):
    """headless Chromium on `/ui/` during a gradual rollout: the page shows
    both versions with their weights, the phase and step, charts with data
    (a canvas per chart, samples of both versions) and the events; Promote,
    confirmed in its dialog, moves the rollout to step 2 (the API says so,
    and the page follows); Cancel in the dialog changes nothing; no console
    error and no CSP violation. Screenshots at 1280x800 and 1920x1080, and
    of the dialog, go to build/test-output/dashboard/"""
    load = gradual(env)
    b = Chromium(env)
    b.open(UI)
    shows_rollout(b)
    # Charts: one canvas each, drawn from at least 3 samples of
    # GET .../history (one every 5 s since vsteerd started).
    b.wait(HIST + ".time.length >= 3", "3 samples of history", timeout=30)
    check(b.eval("document.querySelectorAll(%s).length" % json.dumps(svc("figure.chart canvas"))) == 4,
          "a canvas per chart")
    check(b.eval("Object.keys(" + HIST + ".versions).sort().join()") == "1.0,2.0",
          "both versions' samples")
    check(b.eval(HIST + ".versions['1.0'].requestsPerSecond.some(x => x > 0)"),
          "1.0's request rate in the history")
    b.wait("document.querySelector(%s).textContent.includes('judged')" % json.dumps(svc(".ro-judge")),
           "the analysis")
    b.screenshot("dashboard-1280x800.png")
    b.resize(1920, 1080)
    time.sleep(0.5)   # the charts follow their boxes' width
    b.screenshot("dashboard-1920x1080.png")
    b.resize(1280, 800)

    # Cancel asks and does nothing.
    b.click(svc("button[data-action=promote]"))
    b.wait("document.getElementById('confirm').open", "the confirmation dialog")
    b.click("#confirm [data-answer=no]")
    time.sleep(0.5)
    check(service()["rollout"]["step"] == 1, "cancelled promote moved the rollout")
    # Confirmed: the rollout moves, the page follows (from the events).
    b.click(svc("button[data-action=promote]"))
    b.wait("document.getElementById('confirm').open", "the confirmation dialog")
    check("Promote the rollout of default" in b.eval("document.querySelector('#confirm .dlg-title').textContent"),
          "the dialog says what it does")
    b.screenshot("dashboard-confirm.png")
    b.click("#confirm [data-answer=yes]")
    wait_for(lambda: service()["rollout"]["step"] == 2, 5, "the rollout at step 2")
    b.wait("document.querySelector(%s).textContent.includes('step 2 of 3')" % json.dumps(svc(".ro-step")),
           "the page to show step 2", timeout=5)
    b.wait("[...document.querySelectorAll('#events .kind')].some(k => k.textContent === 'promoted')",
           "the promote in the events", timeout=5)
    check(b.eval("document.querySelector(%s).hidden" % json.dumps(svc(".ro-error"))), "an error shown")
    # refreshes from events and the timer never append a sample twice
    check(b.eval(HIST + ".time.every((t, i, a) => !i || t > a[i - 1])"),
          "history times not increasing: %s" % b.eval(HIST + ".time"))
    b.check_clean()
    load.finish()


@test
def dashboard_token(env):
    """with a token configured the page reads without one; Pause asks for
    the token after its 401, a wrong one shows the API's `unauthorized`
    error and asks again, the right one pauses the rollout and stays in
    sessionStorage only; nothing logged to the console, no CSP violation"""
    with open(os.path.join(env.dir, "token"), "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(os.path.join(env.dir, "token"), 0o600)
    load = gradual(env, {"configService": {"address": API[0], "port": API[1],
                                           "tokenFile": os.path.join(env.dir, "token")}})
    b = Chromium(env)
    b.open(UI)
    shows_rollout(b)
    b.click(svc("button[data-action=pause]"))
    b.wait("document.getElementById('confirm').open", "the confirmation dialog")
    b.click("#confirm [data-answer=yes]")
    b.wait("document.getElementById('token').open", "the token dialog after the 401")
    check(b.eval("document.querySelector('#token .dlg-error').hidden"), "an error before any token")
    b.eval("document.querySelector('#token input').value = 'wrong-token'")
    b.click("#token [data-answer=yes]")
    b.wait("document.getElementById('token').open && "
           "!document.querySelector('#token .dlg-error').hidden", "the token asked for again")
    b.screenshot("dashboard-token.png")
    err = b.eval("document.querySelector('#token .dlg-error').textContent")
    check(err.startswith("unauthorized: ") and "Authorization: Bearer TOKEN" in err, "error: %r" % err)
    check(service()["rollout"]["phase"] == "progressing", "a wrong token paused the rollout")
    b.eval("document.querySelector('#token input').value = %s" % json.dumps(TOKEN))
    b.click("#token [data-answer=yes]")
    wait_for(lambda: service()["rollout"]["phase"] == "paused", 5, "the rollout paused")
    b.wait("document.querySelector(%s).textContent === 'paused'" % json.dumps(svc(".phase")),
           "the page to show it paused", timeout=5)
    check(b.eval("sessionStorage.getItem('vsteer.token')") == TOKEN, "the token in sessionStorage")
    check(b.eval("localStorage.length") == 0 and b.eval("document.cookie") == "",
          "the token kept elsewhere")
    # The 401s are the test's own doing (the console reports each refused
    # request), not the page's.
    b.check_clean(("status of 401 (Unauthorized) %s/v1/services/default/rollout/pause" % BASE,))
    load.finish()


def ui_get(path, method="GET", headers=None):
    return request(method, path, headers=headers)


STRICT = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
          "X-Frame-Options": "DENY"}


def strict_headers(r, what):
    csp = r.getheader("Content-Security-Policy") or ""
    for d in ("default-src 'self'", "frame-ancestors 'none'", "script-src 'self'",
              "style-src 'self'", "object-src 'none'"):
        check(d in csp, "%s: no %s in its CSP %r" % (what, d, csp))
    check("unsafe-inline" not in csp and "unsafe-eval" not in csp, "%s: CSP %r" % (what, csp))
    for k, v in STRICT.items():
        check(r.getheader(k) == v, "%s: %s is %r" % (what, k, r.getheader(k)))


@test
def dashboard_paths(env):
    """`/ui/` and its files with their Content-Types and strict headers
    (CSP `default-src 'self'` without inline script or style,
    `frame-ancestors 'none'`, `nosniff`, `no-referrer`), errors under /ui
    too; `/ui` redirects to `/ui/`; HEAD has the headers and no body; a
    query is ignored; POST is 405 with `Allow: GET, HEAD`; `/ui/x`,
    `/ui/../v1/services`, `%2e%2e`, `//`, an encoded name and a
    directory are 404; a 9 KiB path is 414; a foreign `Host` is 403; the
    API's own replies are as before; index.html loads every script of
    web/, and none writes markup (no `innerHTML` and the like)"""
    two_versions(env)
    types = {"": "text/html; charset=utf-8", "index.html": "text/html; charset=utf-8",
             "app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
             "vendor/uplot/uPlot.iife.min.js": "text/javascript; charset=utf-8",
             "vendor/uplot/uPlot.min.css": "text/css; charset=utf-8",
             "vendor/uplot/LICENSE": "text/plain; charset=utf-8"}
    for name, ctype in types.items():
        st, body, r = ui_get("/ui/" + name)
        check(st == 200 and r.getheader("Content-Type") == ctype,
              "/ui/%s: %s %s" % (name, st, r.getheader("Content-Type")))
        check(len(body) == int(r.getheader("Content-Length")) and len(body) > 100, "/ui/%s body" % name)
        strict_headers(r, "/ui/" + name)
    page = ui_get("/ui/")[1]
    check(b"app.js" in page and b"<script>" not in page and b"style=" not in page,
          "index.html: inline script or style")
    # the API's strings (names, event messages) go in as text, never
    # markup: in every script of the page's own (uPlot's are not)
    scripts = [s.decode() for s in re.findall(rb'<script src="([^"]+\.js)"', page)
               if not s.startswith(b"vendor/")]
    # each of web/'s scripts is loaded, and so is looked at here
    ours = sorted(f for f in os.listdir(os.path.join(ROOT, "web")) if f.endswith(".js"))
    check("app.js" in scripts and sorted(scripts) == ours,
          "index.html loads %s, web/ has %s" % (scripts, ours))
    for name in scripts:
        st, js, r = ui_get("/ui/" + name)
        check(st == 200 and r.getheader("Content-Type") == "text/javascript; charset=utf-8",
              "/ui/%s: %s %s" % (name, st, r.getheader("Content-Type")))
        for sink in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write", b"eval("):
            check(sink not in js, "%s uses %s" % (name, sink.decode()))
    st, body, r = ui_get("/ui")
    check(st == 301 and r.getheader("Location") == "/ui/", "/ui: %s %s" % (st, r.getheader("Location")))
    st, body, r = ui_get("/ui/", "HEAD")
    check(st == 200 and body == b"" and r.getheader("Content-Type").startswith("text/html"),
          "HEAD /ui/: %s %r" % (st, body[:100]))
    strict_headers(r, "HEAD /ui/")
    st, body, r = ui_get("/ui/app.js?v=1&x")
    check(st == 200 and r.getheader("Content-Type").startswith("text/javascript"), "query: %s" % st)
    st, body, r = request("POST", "/ui/", "{}", {"Content-Type": "application/json"})
    check(st == 405 and r.getheader("Allow") == "GET, HEAD", "POST /ui/: %s %s" % (st, body))
    strict_headers(r, "POST /ui/")
    for path in ("/ui/x", "/ui/../v1/services", "/ui/%2e%2e/v1/services", "/ui//app.js",
                 "/ui/%61pp.js", "/ui/vendor/", "/ui/vendor/uplot", "/ui/app.js/", "/ui/.",
                 "/ui/VERSION.md", "/ui/vendor/uplot/VERSION.md", "//ui/", "/uix"):
        st, body, r = ui_get(path)
        check(st == 404 and isinstance(body, dict) and body["error"]["code"] == "not_found",
              "%s: %s %s" % (path, st, body))
        if path.startswith("/ui/"):
            strict_headers(r, path)
    st, body, r = ui_get("/ui/" + "a" * 9000)
    check(st == 414, "a long path: %s" % st)
    st, body, r = ui_get("/ui/", headers={"Host": "evil.example:9900"})
    check(st == 403 and body["error"]["code"] == "host_not_allowed", "foreign Host: %s %s" % (st, body))
    st, body, r = ui_get("/ui/", headers={"Origin": "http://evil.example"})
    check(st == 403, "foreign Origin: %s %s" % (st, body))
    # the API as before: JSON, HEAD not taken, no page headers
    st, body, r = ui_get("/v1/services")
    check(st == 200 and r.getheader("Content-Type") == "application/json"
          and r.getheader("Content-Security-Policy") is None, "/v1/services: %s" % st)
    st, body, r = ui_get("/v1/services", "HEAD")
    check(st == 405, "HEAD /v1/services: %s" % st)
    st, body = api("GET", "/healthz")
    check(st == 200, "healthz: %s" % st)
