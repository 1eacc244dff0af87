"""The API from a browser, HTTP framing and slow clients: cross-site requests,
DNS rebinding, ambiguous framing, encoded slashes, trickling floods."""
import http.client
import json
import multiprocessing
import os
import select
import socket
import time

from common import snapshot, test, two_versions
from lib import API, TestFailure, api, check, network_step, run_vsteerd, service, versions_of

JSON = "application/json"
FRAMING_LIMIT = 1.0     # s: a framing error is answered at once, not after a timeout


def request(method, path, body=None, headers=None, addr=API, source=None, timeout=5):
    """(status, parsed JSON or raw bytes, response headers) for a request with
    exactly these headers (http.client adds Host unless one is given, and
    Content-Length for a body)."""
    c = http.client.HTTPConnection(*addr, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        hdrs = dict(headers or {})
        c.putrequest(method, path, skip_host="Host" in hdrs, skip_accept_encoding=True)
        for k, v in hdrs.items():
            c.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        if data is not None:
            c.putheader("Content-Length", str(len(data)))
        c.endheaders(data)
        r = c.getresponse()
        text = r.read()
        try:
            return r.status, json.loads(text), r
        except ValueError:
            return r.status, text, r
    finally:
        c.close()


def error_code(resp):
    return resp["error"]["code"] if isinstance(resp, dict) and "error" in resp else None


def weights():
    return {v["version"]: v["weight"] for v in service()["versions"]}


@test
def cross_site_refused(env):
    """without a token, 16 requests of the kinds a web page can make
    (text/plain, form and multipart bodies, a DELETE and a bodiless POST
    without `Content-Type` or with a form type, near misses of JSON, a
    foreign, `null` or other-port `Origin`, a DNS-rebinding `Host` on GET and
    PUT, another port in `Host`) get 415 or 403 with a code and a message
    naming the header, and change neither the API state nor any client's
    version; `application/json; charset=utf-8`, `Origin` and `Host` of the
    API's own address (`127.0.0.1`, `localhost`, `[::1]`) are served"""
    _, _, cid = two_versions(env, "manual")
    before, clients = snapshot(), versions_of(range(100))
    w = json.dumps({"2.0": 50, "1.0": 50})
    weights_path = "/v1/services/default/weights"
    rollout = json.dumps({"to": "2.0", "strategy": "instant"})
    cases = [
        # What a cross-site <form> or fetch() without a preflight can send.
        ("PUT", weights_path, w, {"Content-Type": "text/plain"}, 415, "unsupported_media_type",
         "Content-Type"),
        ("POST", "/v1/services/default/rollout", rollout,
         {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type",
         "Content-Type"),
        ("POST", "/v1/services/default/rollout",
         "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n%s\r\n--x--\r\n" % rollout,
         {"Content-Type": "multipart/form-data; boundary=x"}, 415, "unsupported_media_type",
         "Content-Type"),
        ("DELETE", "/v1/clusters/" + cid, None, {}, 415, "unsupported_media_type", "Content-Type"),
        ("POST", "/v1/services/default/rollout/rollback", None, {}, 415, "unsupported_media_type",
         "Content-Type"),
        ("POST", "/v1/services/default/rollout/rollback", None,
         {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type",
         "Content-Type"),
        ("PUT", weights_path, w, {"Content-Type": "application/jsonp"}, 415,
         "unsupported_media_type", "Content-Type"),
        ("PUT", weights_path, w, {"Content-Type": "application/json; charset=latin1"}, 415,
         "unsupported_media_type", "charset"),
        # A page of another origin with a JSON body (a browser would
        # preflight it; a non-browser client forging it gets the same).
        ("PUT", weights_path, w, {"Content-Type": JSON, "Origin": "http://evil.example"}, 403,
         "origin_not_allowed", "Origin"),
        ("PUT", weights_path, w, {"Content-Type": JSON, "Origin": "null"}, 403,
         "origin_not_allowed", "Origin"),
        ("PUT", weights_path, w, {"Content-Type": JSON, "Origin": "http://127.0.0.1:9901"}, 403,
         "origin_not_allowed", "Origin"),
        ("GET", "/v1/services/default", None, {"Origin": "https://evil.example"}, 403,
         "origin_not_allowed", "Origin"),
        # DNS rebinding: evil.example resolves to 127.0.0.1, the browser
        # thinks it talks to its own origin and sends its name as Host.
        ("GET", "/v1/services/default", None, {"Host": "evil.example:9900"}, 403,
         "host_not_allowed", "Host"),
        ("PUT", weights_path, w, {"Host": "evil.example:9900", "Content-Type": JSON}, 403,
         "host_not_allowed", "Host"),
        ("GET", "/v1/services", None, {"Host": "127.0.0.1:80"}, 403, "host_not_allowed", "Host"),
        ("GET", "/v1/services", None, {"Host": "localhost"}, 403, "host_not_allowed", "Host"),
    ]
    for method, path, body, headers, want, code, named in cases:
        what = "%s %s %s" % (method, path, headers)
        st, resp, _ = request(method, path, body, headers)
        check(st == want and error_code(resp) == code and named in resp["error"]["message"],
              "%s: %s %s, want %d %s naming %s" % (what, st, resp, want, code, named))
    check(snapshot() == before, "state changed by cross-site requests")
    check(versions_of(range(100)) == clients, "steering changed by cross-site requests")

    # The API's own names, and JSON with a charset, are served.
    for host in ("127.0.0.1:9900", "localhost:9900", "LOCALHOST:9900", "[::1]:9900"):
        st, resp, _ = request("GET", "/v1/services", headers={"Host": host})
        check(st == 200, "Host %s: %s %s" % (host, st, resp))
    for origin in ("http://127.0.0.1:9900", "http://localhost:9900", "https://[::1]:9900"):
        st, resp, _ = request("GET", "/v1/services", headers={"Origin": origin})
        check(st == 200, "Origin %s: %s %s" % (origin, st, resp))
    st, resp, _ = request("PUT", weights_path, w, {"Content-Type": "application/json; charset=utf-8",
                                                   "Origin": "http://localhost:9900"})
    check(st == 200 and weights() == {"2.0": 50, "1.0": 50}, "JSON with a charset: %s %s" % (st, resp))
    st, resp, _ = request("POST", "/v1/services/default/rollout/rollback", None, {"Content-Type": JSON})
    check(st == 409 and error_code(resp) == "no_rollout", "a bodiless POST with JSON: %s %s" % (st, resp))


TOKEN = "s3cret-token-0123456789"


@test
def cross_site_with_token(env):
    """with a token and `allowedHosts`/`allowedOrigins` on a wildcard API: a
    foreign `Origin` or `Host` with the valid token is served (weights and a
    cluster delete applied), without it a GET is 403; a configured host or
    origin and an IP-literal `Host` are served without the token; a wrong
    `Content-Type` is 415 even with the token; bad `allowedHosts` or
    `allowedOrigins` entries stop vsteerd naming the field"""
    p1 = env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    token = os.path.join(env.dir, "token")
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token, 0o600)
    clusters = [{"version": "1.0", "servers": ["127.0.0.1:9001"]},
                {"version": "2.0", "servers": ["127.0.0.1:9002"], "upgradeTransition": {"mode": "manual"}}]
    api_cfg = {"address": "0.0.0.0", "port": 9900, "tokenFile": token,
               "allowedHosts": ["vsteer.example:9900", "10.1.2.3:9900"],
               "allowedOrigins": ["https://dash.example"]}
    for bad, field in ((["vsteer example:9900"], "allowedHosts[0]"), (["a:99999"], "allowedHosts[0]"),
                       ("vsteer.example", "allowedHosts")):
        cfg = env.config(clusters, {"configService": dict(api_cfg, allowedHosts=bad)})
        r = run_vsteerd(["-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state])
        check(r.returncode != 0 and "configService." + field in r.stderr,
              "allowedHosts %r: exit %d, no '%s' in %s" % (bad, r.returncode, field, r.stderr))
    for bad in (["dash.example"], ["https://dash.example/"], ["ftp://dash.example"]):
        cfg = env.config(clusters, {"configService": dict(api_cfg, allowedOrigins=bad)})
        r = run_vsteerd(["-c", cfg, "--pin-dir", env.pin_dir, "--state", env.state])
        check(r.returncode != 0 and "configService.allowedOrigins[0]" in r.stderr,
              "allowedOrigins %r: exit %d, %s" % (bad, r.returncode, r.stderr))
    env.vsteerd(env.config(clusters, {"configService": api_cfg}))
    auth = {"Authorization": "Bearer " + TOKEN}
    w = json.dumps({"2.0": 30, "1.0": 70})
    for headers, want, code in [
        ({"Origin": "http://evil.example"}, 403, "origin_not_allowed"),
        ({"Host": "evil.example:9900"}, 403, "host_not_allowed"),
        ({"Host": "vsteer.example:9901"}, 403, "host_not_allowed"),
        ({"Origin": "http://dash.example"}, 403, "origin_not_allowed"),   # https only
        ({"Origin": "http://evil.example", "Authorization": "Bearer wrong-token-0123456"}, 403,
         "origin_not_allowed"),
        ({"Host": "vsteer.example:9900"}, 200, None),
        ({"Host": "10.1.2.3:9900"}, 200, None),
        ({"Host": "192.0.2.7:9900"}, 200, None),        # an IP literal cannot be rebound
        ({"Origin": "https://dash.example"}, 200, None),
        ({"Origin": "https://vsteer.example:9900"}, 200, None),
        (dict(auth, Origin="http://evil.example"), 200, None),
        (dict(auth, Host="evil.example:9900"), 200, None),
    ]:
        st, resp, _ = request("GET", "/v1/services", headers=headers)
        check(st == want and error_code(resp) == code, "GET %s: %s %s, want %s %s"
              % (headers, st, resp, want, code))
    before = snapshot()
    st, resp, _ = request("PUT", "/v1/services/default/weights", w, dict(auth, **{"Content-Type": "text/plain"}))
    check(st == 415 and error_code(resp) == "unsupported_media_type", "text/plain with the token: %s %s" % (st, resp))
    st, resp, _ = request("PUT", "/v1/services/default/weights", w,
                          {"Content-Type": JSON, "Origin": "https://dash.example"})
    check(st == 401, "a mutation from an allowed origin still needs the token: %s %s" % (st, resp))
    check(snapshot() == before, "refused requests changed state")
    st, resp, _ = request("PUT", "/v1/services/default/weights", w,
                          dict(auth, **{"Content-Type": JSON, "Origin": "http://evil.example",
                                        "Host": "evil.example:9900"}))
    check(st == 200 and weights() == {"2.0": 30, "1.0": 70}, "weights with the token: %s %s" % (st, resp))
    cid = [v["id"] for v in service()["versions"] if v["version"] == "2.0"][0]
    st, resp, _ = request("DELETE", "/v1/clusters/" + cid, None,
                          dict(auth, **{"Content-Type": JSON, "Host": "vsteer.example:9900"}))
    check(st == 200 and list(weights()) == ["1.0"], "delete with the token: %s %s" % (st, resp))
    check(p1.poll() is None and set(versions_of(range(20))) == {"1.0"}, "steering after the delete")


def raw(data, timeout=12, addr=API, shut=False):
    """Send bytes on a new connection and read until the server closes it or
    a whole response is in: (status, headers, body, seconds, how it ended)."""
    s = socket.create_connection(addr, timeout=timeout)
    t0 = time.monotonic()
    buf, how = b"", "timeout"
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass        # refused before it was all sent: the answer may be in
        if shut:
            s.shutdown(socket.SHUT_WR)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                how = "reset"
                break
            if not chunk:
                how = "closed"
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                lens = [ln.split(b":", 1)[1] for ln in head.split(b"\r\n")
                        if ln.lower().startswith(b"content-length:")]
                if lens and len(body) >= int(lens[0]):
                    how = "answered"
                    break
    except socket.timeout:
        pass
    finally:
        s.close()
    dt = time.monotonic() - t0
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines[0].startswith(b"HTTP/1.") else None
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
    return status, headers, body, dt, how


H = b"Host: 127.0.0.1:9900\r\n"
CT = b"Content-Type: application/json\r\n"
PUT_W = b"PUT /v1/services/default/weights HTTP/1.1\r\n" + H + CT
W100 = b'{"2.0": 100}'           # 12 bytes: every version named gets its share, 1.0 none


@test
def framing_refused(env):
    """each of 15 ambiguous or over-long requests gets a 4xx within 1 s and
    changes nothing; 12 get a JSON error with its code and `Connection:
    close`: conflicting `Content-Length` in either order (400),
    `Content-Length` with `Transfer-Encoding` (400), a chunked body with an
    over-range chunk size and any other `Transfer-Encoding` (411), HTTP/1.1
    without `Host` or with two (400), a space before a header's colon (400), a
    9 KiB request target (414), 2000 query parameters (400), 40 kB of headers
    (431) and a `Content-Length` over 64 KiB (413); 3 that libmicrohttpd
    refuses before vsteerd sees them get the status with its HTML body: a 70
    kB request line (414), 70 kB of headers (431), a malformed
    `Content-Length` (400)"""
    two_versions(env, "manual")
    before = weights()
    json_cases = [
        ("conflicting Content-Length", PUT_W + b"Content-Length: 12\r\nContent-Length: 3\r\n\r\n" + W100,
         400, "bad_framing", "Content-Length"),
        ("conflicting Content-Length, short first",
         PUT_W + b"Content-Length: 3\r\nContent-Length: 12\r\n\r\n" + W100, 400, "bad_framing",
         "Content-Length"),
        ("Content-Length and Transfer-Encoding",
         PUT_W + b"Content-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n" + W100 + b"\r\n0\r\n\r\n",
         400, "bad_framing", "Transfer-Encoding"),
        ("an over-range chunk size", PUT_W + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n" + W100,
         411, "length_required", "Transfer-Encoding"),
        ("another transfer coding", PUT_W + b"Transfer-Encoding: gzip\r\n\r\n" + W100,
         411, "length_required", "Transfer-Encoding"),
        ("HTTP/1.1 without Host", b"GET /v1/services HTTP/1.1\r\n\r\n", 400, "bad_host", "Host"),
        ("two Hosts", b"GET /v1/services HTTP/1.1\r\n" + H + b"Host: evil.example:9900\r\n\r\n",
         400, "bad_host", "Host"),
        ("a space before a colon", PUT_W + b"Content-Length : 12\r\n\r\n" + W100, 400, "bad_framing",
         "Content-Length "),
        ("a 9 KiB request target", b"GET /v1/services/" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n",
         414, "uri_too_long", "8192"),
        # libmicrohttpd 0.9.75 keeps each parameter in the connection's
        # memory pool and, when they overflow it, never answers.
        ("2000 query parameters", b"GET /v1/events?" + b"a&" * 2000 + b" HTTP/1.1\r\n" + H + b"\r\n",
         400, "bad_field", "16 query parameters"),
        ("40 kB of headers", b"GET /v1/services HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 40000 + b"\r\n\r\n",
         431, "headers_too_large", "32768"),
        ("Content-Length over 64 KiB", PUT_W + b"Content-Length: 100000\r\n\r\n" + W100,
         413, "body_too_large", "65536"),
    ]
    mhd_cases = [
        ("a 70 kB request line", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
        ("70 kB of headers", b"GET /v1/services HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        ("a malformed Content-Length", PUT_W + b"Content-Length: 12, 12\r\n\r\n" + W100, 400),
    ]
    for what, data, want, code, named in json_cases:
        with network_step(what, 12):
            st, hdrs, body, dt, how = raw(data)
        check(st == want and dt < FRAMING_LIMIT, "%s: %s after %.2f s (%s), want %d within %.0f s: %r"
              % (what, st, dt, how, want, FRAMING_LIMIT, body[:200]))
        check(hdrs.get("content-type") == JSON, "%s: not JSON: %s %r" % (what, hdrs, body[:200]))
        err = json.loads(body)["error"]
        check(err["code"] == code and named in err["message"],
              "%s: %s, want %s naming %s" % (what, err, code, named))
        check(hdrs.get("connection", "").lower() == "close", "%s: connection not closed: %s" % (what, hdrs))
    for what, data, want in mhd_cases:
        with network_step(what, 12):
            st, hdrs, body, dt, how = raw(data)
        check(st == want and dt < FRAMING_LIMIT, "%s: %s after %.2f s (%s), want %d within %.0f s"
              % (what, st, dt, how, want, FRAMING_LIMIT))
    check(weights() == before, "framing errors changed the weights: %s" % weights())
    # The well-framed request right after is served.
    st, _, body, dt, _ = raw(PUT_W + b"Content-Length: 12\r\n\r\n" + W100)
    check(st == 200 and weights() == {"2.0": 100, "1.0": 0}, "a good PUT: %s %r" % (st, body[:200]))


@test
def encoded_slash_not_separator(env):
    """`%2F` in a path is not a separator: `PUT
    /v1/services/default%2Fweights` and its GET are 404 and the weights stay;
    an encoded letter (`/v1/services/%64efault`) is decoded within its segment
    and served"""
    two_versions(env, "manual")
    before = weights()
    for method, path in (("PUT", "/v1/services/default%2Fweights"), ("PUT", "/v1/services/default%2fweights"),
                         ("GET", "/v1/services/default%2Fweights"), ("PUT", "/v1%2Fservices/default/weights")):
        st, resp = api(method, path, {"2.0": 100, "1.0": 0} if method == "PUT" else None)
        check(st == 404 and error_code(resp) in ("not_found", "unknown_service"),
              "%s %s: %s %s" % (method, path, st, resp))
    check(weights() == before, "an encoded slash changed the weights: %s" % weights())
    st, resp = api("GET", "/v1/services/%64efault")
    check(st == 200 and resp["name"] == "default", "an encoded letter: %s %s" % (st, resp))


FLOOD = 100           # trickling connections from 127.0.0.1
FLOOD_S = 15          # how long the well-behaved client asks
GOOD_SHARE = 0.95     # of its requests answered


def trickle_flood(n, seconds, stats):
    """n connections from 127.0.0.1 that send a request head a line a second
    and never end it, each re-opened as soon as the server cuts it."""
    socks, opened = {}, 0
    deadline = time.monotonic() + seconds
    line = 0

    def open_one():
        nonlocal opened
        try:
            s = socket.create_connection(API, timeout=2, source_address=("127.0.0.1", 0))
            s.sendall(b"GET /v1/services HTTP/1.1\r\nHost: 127.0.0.1:9900\r\n")
            s.setblocking(False)
            socks[s] = time.monotonic()
            opened += 1
        except OSError:
            time.sleep(0.01)
    while len(socks) < n:
        open_one()
    next_line = time.monotonic() + 1
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(socks), [], [], max(0, min(next_line, deadline) - time.monotonic()))
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                del socks[s]
                s.close()
        while len(socks) < n and time.monotonic() < deadline:
            open_one()
        if time.monotonic() >= next_line:
            line += 1
            for s in list(socks):
                try:
                    s.send(b"X-Trickle-%d: y\r\n" % line)
                except OSError:
                    del socks[s]
                    s.close()
            next_line += 1
    stats.value = opened
    for s in socks:
        s.close()


@test
def trickle_flood_served(env):
    """100 connections from 127.0.0.1 trickling request heads a line a second,
    each re-opened as soon as it is cut: a well-behaved client on 127.0.0.2
    asking every 0.1 s for 15 s (a new connection each, 2 s to answer) gets at
    least 95% of its answers"""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]}))
    stats = multiprocessing.Value("i", 0)
    flood = multiprocessing.Process(target=trickle_flood, args=(FLOOD, FLOOD_S + 5, stats), daemon=True)
    flood.start()
    try:
        time.sleep(3)               # the flood at full strength first
        asked = answered = 0
        slowest, errors = 0.0, {}
        t_end = time.monotonic() + FLOOD_S
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            asked += 1
            try:
                st, _, _ = request("GET", "/v1/services", source="127.0.0.2", timeout=2)
                if st == 200:
                    answered += 1
                    slowest = max(slowest, time.monotonic() - t0)
                else:
                    errors[st] = errors.get(st, 0) + 1
            except (OSError, http.client.HTTPException) as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            time.sleep(max(0, 0.1 - (time.monotonic() - t0)))
    finally:
        flood.join(FLOOD_S + 15)
        if flood.is_alive():
            flood.kill()
    share = answered / asked
    print("well-behaved client: %d of %d answered (%.1f%%), the slowest in %.2f s; failures %s; "
          "the flood opened %d connections" % (answered, asked, 100 * share, slowest, errors, stats.value))
    check(share >= GOOD_SHARE, "only %d of %d requests (%.1f%%) answered under the flood, want %.0f%%: %s"
          % (answered, asked, 100 * share, 100 * GOOD_SHARE, errors))
    if not env.healthy():
        raise TestFailure("the API does not answer after the flood")
