"""Services and the config while vsteerd runs: services added and deleted
through the API, the config re-read on SIGHUP and POST /v1/reload and at
every start, by one rule (what runs wins for what exists, the config adds
what is new, every difference is a warning and an event)."""
import json
import os
import re
import signal
import socket

from common import test
from events import events, log_lines, new_events
from lib import SVC, api, check, client_addr, fetch, kill, service, wait_for

API_SVC = ("127.0.0.1", 8181)
V1 = {"version": "1.0", "servers": ["127.0.0.1:9001"]}
API_BODY = {"name": "api", "address": "127.0.0.1", "port": 8181, "protocol": "http"}


def write_config(env, cfg):
    path = os.path.join(env.dir, "config.json")
    with open(path + ".tmp", "w") as f:
        json.dump(cfg, f)
    os.rename(path + ".tmp", path)
    return path


def base_config(extra=None, clusters=(V1,), proxy=None):
    cfg = {"proxy": dict({"address": SVC[0], "port": SVC[1]}, **(proxy or {})),
           "configService": {"address": "127.0.0.1", "port": 9900},
           "cluster": list(clusters)}
    cfg.update(extra or {})
    return cfg


def api_service(clusters):
    return {"name": "api", "address": "127.0.0.1", "port": 8181, "clusters": clusters}


def served(svc, n=20, first=0):
    """What n clients (from client_addr(first)) get from svc: versions, or
    'refused' for a connection the kernel refused."""
    out = []
    for i in range(first, first + n):
        try:
            out.append(fetch(client_addr(i), timeout=2, svc=svc))
        except ConnectionRefusedError:
            out.append("refused")
    return out


def names():
    st, body = api("GET", "/v1/services")
    check(st == 200, "GET /v1/services: %s %s" % (st, body))
    return sorted(s["name"] for s in body["services"])


def kinds_since(last):
    return [e["kind"] for e in new_events(last)]


def after_sighup(p, since, kind):
    """The first event of kind after since, once vsteerd has taken the
    SIGHUP; a vsteerd that died of it fails here, with its exit status."""
    found = []

    def seen():
        check(p.poll() is None, "vsteerd exited (status %s) on SIGHUP" % p.poll())
        try:
            found.extend(e for e in new_events(since) if e["kind"] == kind)
        except OSError:  # dying: the next look says how
            pass
        return found
    wait_for(seen, 5, "a %s event after SIGHUP" % kind)
    return found[0]


def logged(env, level, text):
    """Log lines at level that contain text."""
    return [ln for ln in log_lines(env) if (" vsteerd %s: " % level) in ln and text in ln]


@test
def services_api_add(env):
    """`POST /v1/services` creates a service (201, its view: name, address,
    port, protocol, no versions) that refuses connections until a cluster
    is put in it; then 20 of 20 new connections to its address reach that
    cluster's backend while the config's service still gets its own; a
    `service_added` notice event names the address; a restart with a
    config that lacks it keeps it (still steered) and names it in a
    `config_differs` warning and a warning log line"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("7.0", "127.0.0.1:9101")
    env.vsteerd(write_config(env, base_config()))
    last = events()["last"]
    st, body = api("POST", "/v1/services", dict(API_BODY, sessionTimeout=30))
    check(st == 201, "POST /v1/services: %s %s" % (st, body))
    check((body["name"], body["address"], body["port"], body["protocol"], body["sessionTimeout"],
           body["versions"]) == ("api", "127.0.0.1", 8181, "http", 30, []), "view: %s" % body)
    check(served(API_SVC, 3) == ["refused"] * 3, "a service without versions refuses")
    st, body = api("PUT", "/v1/clusters", {"service": "api", "version": "7.0",
                                           "servers": ["127.0.0.1:9101"]})
    check(st == 201, "PUT cluster: %s %s" % (st, body))
    check(served(API_SVC) == ["7.0"] * 20, "api's clients: %s" % served(API_SVC))
    check(served(SVC) == ["1.0"] * 20, "default's clients")
    got = new_events(last)
    check([e["kind"] for e in got] == ["service_added", "cluster_added"], "events: %s" % got)
    check(got[0]["level"] == "notice" and got[0]["service"] == "api"
          and "127.0.0.1:8181 (http)" in got[0]["message"], "service_added: %s" % got[0])

    kill(env.daemons[-1], signal.SIGTERM)
    env.vsteerd(write_config(env, base_config()))
    check(served(API_SVC) == ["7.0"] * 20, "api after a restart")
    after = events()["events"]
    differs = [e for e in after if e["kind"] == "config_differs"]
    want = "service api runs but is not in the config: kept (DELETE /v1/services/api removes it)"
    check(differs and differs[0]["message"] == want and differs[0]["level"] == "warning",
          "config_differs: %s" % after[:4])
    check(logged(env, "warning", want), "no warning line %r" % want)


@test
def services_api_refused(env):
    """`POST /v1/services` with each field wrong (name missing, not a
    string, bad characters, 64 characters; address, port, protocol,
    sessionTimeout, sessions, takeover of the wrong type or out of range;
    an unknown field; not an object) is a 400 naming the field; a name or
    address in use, or the address of a server, is a 409; an address
    another process listens on is a 409 `address_in_use` naming
    `body.takeover`, and with `"takeover": true` it is created; nothing else
    is created and no other event is made"""
    env.backend("1.0", "127.0.0.1:9001")
    env.vsteerd(write_config(env, base_config()))
    last = events()["last"]
    cases = [
        ({"address": "127.0.0.1", "port": 8181}, 400, "bad_name", "body.name"),
        (dict(API_BODY, name=7), 400, "bad_name", "body.name"),
        (dict(API_BODY, name="a b"), 400, "bad_name", "'a b'"),
        (dict(API_BODY, name="x" * 64), 400, "bad_name", "body.name"),
        (dict(API_BODY, name=""), 400, "bad_name", "''"),
        (dict(API_BODY, address="nope"), 400, "bad_address", "body.address"),
        (dict(API_BODY, address=5), 400, "bad_address", "body.address"),
        (dict(API_BODY, port=0), 400, "bad_port", "body.port"),
        (dict(API_BODY, port=65536), 400, "bad_port", "body.port"),
        (dict(API_BODY, port="8181"), 400, "bad_port", "body.port"),
        (dict(API_BODY, port=8181.5), 400, "bad_port", "body.port"),
        (dict(API_BODY, protocol="udp"), 400, "bad_field", "body.protocol"),
        (dict(API_BODY, sessionTimeout=-1), 400, "bad_field", "body.sessionTimeout"),
        (dict(API_BODY, sessionTimeout=10 ** 9), 400, "bad_field", "body.sessionTimeout"),
        (dict(API_BODY, sessionTimeout="30"), 400, "bad_field", "body.sessionTimeout"),
        (dict(API_BODY, sessions={"quota": -1}), 400, "bad_field", "body.sessions.quota"),
        (dict(API_BODY, sessions={"bogus": 1}), 400, "unknown_field", "body.sessions"),
        (dict(API_BODY, sessions=[]), 400, "bad_field", "body.sessions"),
        (dict(API_BODY, takeover="yes"), 400, "bad_field", "body.takeover"),
        (dict(API_BODY, clusters=[]), 400, "unknown_field", "'clusters'"),
        ([API_BODY], 400, "bad_json", "JSON object"),
        (dict(API_BODY, name="default"), 409, "duplicate_service", "'default' already exists"),
        (dict(API_BODY, port=8080), 409, "duplicate_service", "127.0.0.1:8080 is already service"),
        (dict(API_BODY, port=9001), 409, "duplicate_server",
         "127.0.0.1:9001 is a server of version 1.0 of service 'default'"),
    ]
    for body, status, code, says in cases:
        st, reply = api("POST", "/v1/services", body)
        err = reply.get("error", {}) if isinstance(reply, dict) else {}
        check(st == status and err.get("code") == code and says in err.get("message", ""),
              "%s: %s %s, want %s %s naming %r" % (body, st, reply, status, code, says))
    st, reply = api("POST", "/v1/services", raw="{\"name\": \"api\",")
    check(st == 400 and reply["error"]["code"] == "bad_json", "truncated: %s %s" % (st, reply))
    # Another process listens on the address it asks for.
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.bind(("127.0.0.1", 8282))
    other.listen()
    st, reply = api("POST", "/v1/services", dict(API_BODY, port=8282))
    check(st == 409 and reply["error"]["code"] == "address_in_use"
          and "127.0.0.1:8282" in reply["error"]["message"]
          and "body.takeover" in reply["error"]["message"], "taken: %s %s" % (st, reply))
    check(names() == ["default"] and new_events(last) == [], "something was created: %s, %s"
          % (names(), new_events(last)))
    st, reply = api("POST", "/v1/services", dict(API_BODY, port=8282, takeover=True))
    check(st == 201, "takeover: %s %s" % (st, reply))
    check(names() == ["api", "default"] and kinds_since(last) == ["service_added"],
          "after takeover: %s %s" % (names(), kinds_since(last)))
    other.close()


@test
def services_api_delete(env):
    """`DELETE /v1/services/{name}` of a service with a cluster is a 409
    `has_clusters` and it keeps steering; `?force=yes` is a 400; with
    `?force=true` it is deleted (200), a `cluster_deleted` and a
    `service_deleted_forced` warning event say so, and new connections to
    its address are refused within a tick while its backend still answers
    on its own address; an empty service is deleted without force (a
    `service_deleted` notice); an unknown one is a 404"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("7.0", "127.0.0.1:9101")
    env.vsteerd(write_config(env, base_config(
        {"services": [api_service([{"version": "7.0", "servers": ["127.0.0.1:9101"]}])]})))
    check(served(API_SVC, 5) == ["7.0"] * 5, "api before the delete")
    last = events()["last"]
    st, reply = api("DELETE", "/v1/services/api")
    check(st == 409 and reply["error"]["code"] == "has_clusters"
          and "?force=true" in reply["error"]["message"], "no force: %s %s" % (st, reply))
    st, reply = api("DELETE", "/v1/services/api?force=yes")
    check(st == 400 and reply["error"]["code"] == "bad_field", "force=yes: %s %s" % (st, reply))
    check(served(API_SVC, 5) == ["7.0"] * 5 and new_events(last) == [], "refused deletes changed it")
    st, reply = api("DELETE", "/v1/services/api?force=true")
    check(st == 200 and reply == {"deleted": "api", "status": "ok"}, "force: %s %s" % (st, reply))
    check(served(API_SVC, 20) == ["refused"] * 20, "after the delete: %s" % served(API_SVC, 5))
    check(fetch(svc=("127.0.0.1", 9101)) == "7.0", "the backend itself")
    check(served(SVC, 5) == ["1.0"] * 5, "default untouched")
    got = new_events(last)
    check([(e["kind"], e["level"]) for e in got] == [("cluster_deleted", "notice"),
                                                     ("service_deleted_forced", "warning")]
          and "127.0.0.1:8181 are no longer steered" in got[1]["message"], "events: %s" % got)
    check(api("GET", "/v1/services/api")[0] == 404, "still shown")
    st, reply = api("POST", "/v1/services", API_BODY)
    check(st == 201, "again: %s %s" % (st, reply))
    st, reply = api("DELETE", "/v1/services/api")
    check(st == 200, "empty: %s %s" % (st, reply))
    check(new_events(got[-1]["id"])[-1]["kind"] == "service_deleted", "empty: event")
    st, reply = api("DELETE", "/v1/services/nope?force=true")
    check(st == 404 and reply["error"]["code"] == "unknown_service", "unknown: %s %s" % (st, reply))


def reloaded_config(env):
    """The config the reload tests re-read: a new service api (7.0), a new
    version 2.0 of default (instant, as a first start would let take
    over), default's sessions.quota and protocol changed, and its
    analysis (which the config owns)."""
    return write_config(env, base_config(
        {"services": [api_service([{"version": "7.0", "servers": ["127.0.0.1:9101"]}])]},
        clusters=(V1, {"version": "2.0", "servers": ["127.0.0.1:9002"]}),
        proxy={"protocol": "http", "sessions": {"quota": 16}, "analysis": {"interval": 2}}))


def check_reloaded(env, last, how):
    """What a reload of reloaded_config() must have done."""
    check(served(API_SVC) == ["7.0"] * 20, "the new service: %s" % served(API_SVC))
    check(served(SVC, 50) == ["1.0"] * 50, "a client of default moved")
    svc = service()
    check(svc["protocol"] == "tcp" and svc["sessions"]["quota"] == 256,
          "a changed setting was applied: %s" % svc)
    check(svc["analysis"]["interval"] == 2, "the config's analysis: %s" % svc["analysis"])
    check([(v["version"], v["weight"], v["mode"]) for v in svc["versions"]]
          == [("2.0", 0, "manual"), ("1.0", 100, "instant")], "versions: %s" % svc["versions"])
    got = new_events(last)
    # Service by service, in the config's order: default's differences,
    # its analysis and new version, then the new service.
    check([e["kind"] for e in got] == ["config_differs", "config_differs", "analysis_set",
                                       "cluster_added", "service_added", "cluster_added",
                                       "reloaded"],
          "events: %s" % [(e["kind"], e["message"]) for e in got])
    check(got[2]["message"] == "analysis settings from the config, which owns them: interval 5 -> 2",
          "analysis_set: %s" % got[2])
    check("at 0%: a reload moves no client" in got[3]["message"], "2.0: %s" % got[3])
    want = ["protocol differs: the config says http, vsteerd runs tcp; kept as it runs "
            "(to change it: DELETE /v1/services/default, then POST /v1/services)",
            "sessions.quota differs: the config says 16, vsteerd runs 256"]
    for e, w in zip(got[0:2], want):
        check(e["level"] == "warning" and e["service"] == "default" and w in e["message"],
              "config_differs: %s, want %r" % (e, w))
        check(logged(env, "warning", w), "no warning log line with %r" % w)
    check(got[6]["level"] == "notice" and got[6]["message"] ==
          "config %s reloaded %s: 1 service added (api), 2 versions added, analysis set for 1 "
          "service, 2 differences kept as running (config_differs events)"
          % (os.path.join(env.dir, "config.json"), how), "reloaded: %s" % got[6])
    return got


@test
def reload_sighup(env):
    """SIGHUP re-reads the config and vsteerd keeps running (not exit
    129): a new service is added and steers (20 of 20 to its backend), a
    new version of a running service comes at 0% (`manual`: 50 of 50
    clients stay on 1.0), a changed setting (protocol, sessions.quota) is
    not applied and each is a `config_differs` warning event and log line
    naming both values, a changed `analysis` (the config's own) is taken
    with an `analysis_set` event, and a `reloaded` event says what changed; a
    SIGHUP with a config that does not parse changes nothing and is a
    `reload_failed` error event naming the file and where"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("7.0", "127.0.0.1:9101")
    p = env.vsteerd(write_config(env, base_config()))
    last = events()["last"]
    reloaded_config(env)
    p.send_signal(signal.SIGHUP)
    after_sighup(p, last, "reloaded")
    got = check_reloaded(env, last, "on SIGHUP")
    with open(os.path.join(env.dir, "config.json"), "w") as f:
        f.write('{"proxy": {"address": "127.0.0.1", "port": 8080},')
    p.send_signal(signal.SIGHUP)
    e = after_sighup(p, got[-1]["id"], "reload_failed")
    check(e["level"] == "error" and "reload on SIGHUP failed, nothing changed: config "
          in e["message"] and "config.json: line 1" in e["message"], "reload_failed: %s" % e)
    check(kinds_since(got[-1]["id"]) == ["reload_failed"] and names() == ["api", "default"],
          "a failed reload changed something")
    check(logged(env, "error", "reload on SIGHUP failed"), "no error log line")


@test
def reload_api(env):
    """`POST /v1/reload` does what SIGHUP does and answers 200 with what it
    added and the warnings; a body is a 400; a config that does not parse
    (400 `bad_json`), has a bad field (400 naming it) or adds a service at
    an address another process listens on (409 `address_in_use`) changes
    nothing (services, versions, steering) and is a `reload_failed`
    event; reloaded again unchanged it adds nothing and warns the same;
    a vsteerd started without `--config` answers 409 `no_config`"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("7.0", "127.0.0.1:9101")
    env.vsteerd(write_config(env, base_config()))
    last = events()["last"]
    st, reply = api("POST", "/v1/reload", {})
    check(st == 400 and reply["error"]["code"] == "unexpected_body", "body: %s %s" % (st, reply))
    bad = [('{"proxy": ', 400, "bad_json", "config.json: line 1"),
           (json.dumps(base_config(proxy={"port": 0})), 400, "bad_port", "proxy.port"),
           (json.dumps(base_config({"services": [{"name": "api", "address": "127.0.0.1",
                                                  "port": 8282}]})),
            409, "address_in_use", "127.0.0.1:8282")]
    other = socket.socket()
    other.bind(("127.0.0.1", 8282))
    other.listen()
    for text, status, code, says in bad:
        with open(os.path.join(env.dir, "config.json"), "w") as f:
            f.write(text)
        st, reply = api("POST", "/v1/reload")
        check(st == status and reply["error"]["code"] == code and says in reply["error"]["message"],
              "%s: %s %s, want %s %s %r" % (text, st, reply, status, code, says))
        check(names() == ["default"] and kinds_since(last) == ["reload_failed"],
              "after %s: %s %s" % (code, names(), kinds_since(last)))
        last = events()["last"]
    other.close()
    reloaded_config(env)
    st, reply = api("POST", "/v1/reload")
    check(st == 200, "reload: %s %s" % (st, reply))
    got = check_reloaded(env, last, "by POST /v1/reload")
    check(reply["added"]["services"] == ["api"]
          and [(c["service"], c["version"]) for c in reply["added"]["clusters"]]
          == [("default", "2.0"), ("api", "7.0")]
          and [w["message"] for w in reply["warnings"]] == [e["message"] for e in got[0:2]]
          and reply["message"] == got[6]["message"].split(": ", 1)[1], "reply: %s" % reply)
    st, reply = api("POST", "/v1/reload")
    check(st == 200 and reply["added"] == {"services": [], "clusters": []}
          and len(reply["warnings"]) == 2, "again: %s %s" % (st, reply))
    check(served(SVC, 20) == ["1.0"] * 20, "a second reload moved clients")
    kill(env.daemons[-1], signal.SIGTERM)
    env.vsteerd()
    st, reply = api("POST", "/v1/reload")
    check(st == 409 and reply["error"]["code"] == "no_config"
          and "--config" in reply["error"]["message"], "no --config: %s %s" % (st, reply))


@test
def restart_adds_config_service(env):
    """a restart with a config that has a new service adds it (it was
    ignored: the issue's first complaint), with `service_added`,
    `cluster_added` and a `reloaded` event "read at start"; the running
    service keeps the version a rollout made stable (2.0, which the config
    does not name: 50 of 50 clients stay on it) and names it in a
    `config_differs` warning; a new service whose address another process
    listens on stops the start, naming it, with steering untouched"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    env.backend("7.0", "127.0.0.1:9101")
    env.vsteerd(write_config(env, base_config()))
    st, reply = api("PUT", "/v1/clusters", {"version": "2.0", "servers": ["127.0.0.1:9002"]})
    check(st == 201, "PUT 2.0: %s %s" % (st, reply))
    check(served(SVC, 50) == ["2.0"] * 50, "2.0 took over")
    kill(env.daemons[-1], signal.SIGTERM)
    # A new service whose address is taken: the start is refused.
    other = socket.socket()
    other.bind(("127.0.0.1", 8181))
    other.listen()
    cfg = write_config(env, base_config(
        {"services": [api_service([{"version": "7.0", "servers": ["127.0.0.1:9101"]}])]}))
    p = env.vsteerd(cfg, wait=False)
    wait_for(lambda: p.poll() is not None, 10, "vsteerd to refuse the start (it ran)")
    check(p.returncode == 1 and re.search(r"service api: another process listens on "
                                          r"127\.0\.0\.1:8181.*services\[0\]\.takeover",
                                          env.vsteerd_log()), "taken: %s" % env.vsteerd_log())
    check(served(SVC, 20) == ["2.0"] * 20, "the refused start changed steering")
    other.close()
    env.vsteerd(cfg)
    check(served(API_SVC) == ["7.0"] * 20, "the new service: %s" % served(API_SVC))
    check(served(SVC, 50) == ["2.0"] * 50, "a client of default moved")
    got = [e for e in reversed(events()["events"])]
    kinds = [e["kind"] for e in got]
    check(kinds[-4:] == ["config_differs", "service_added", "cluster_added", "reloaded"],
          "events: %s" % [(e["kind"], e["message"]) for e in got[-6:]])
    differs = [e["message"] for e in got if e["kind"] == "config_differs"]
    check(any(m.startswith("version 2.0 (cluster ") and "runs but is not in the config" in m
              for m in differs), "no warning about 2.0: %s" % differs)
    check(got[-1]["message"].startswith("config %s read at start: 1 service added (api), "
                                        "1 version added" % cfg), "reloaded: %s" % got[-1])


@test
def lost_state_says_so(env):
    """a restart without its state file (deleted), over pins that steer
    every client to 2.0, starts from the config, whose 1.0 takes every
    client back (50 of 50), and says so: a `steering_replaced` warning
    event and log line name the pinned weights (2.0 100%) and the config's
    (1.0 100%); a restart with the state file moves nobody and says
    nothing of the kind"""
    env.backend("1.0", "127.0.0.1:9001")
    env.backend("2.0", "127.0.0.1:9002")
    cfg = write_config(env, base_config(clusters=(V1, {
        "version": "2.0", "servers": ["127.0.0.1:9002"], "upgradeTransition": {"mode": "manual"}})))
    env.vsteerd(cfg)
    st, reply = api("PUT", "/v1/services/default/weights", {"2.0": 100, "1.0": 0})
    check(st == 200, "weights: %s %s" % (st, reply))
    check(served(SVC, 50) == ["2.0"] * 50, "2.0 took over")
    kill(env.daemons[-1], signal.SIGTERM)
    env.vsteerd(cfg)
    check(served(SVC, 50) == ["2.0"] * 50, "a restart with the state file moved clients")
    check(not [e for e in events()["events"] if e["kind"] == "steering_replaced"],
          "steering_replaced with the state file")
    kill(env.daemons[-1], signal.SIGTERM)
    os.unlink(env.state)
    env.vsteerd(cfg)
    check(served(SVC, 50) == ["1.0"] * 50, "the config's 1.0 does not serve")
    got = [e for e in events()["events"] if e["kind"] == "steering_replaced"]
    want = ("the pinned maps steered 2.0 100.00%, 1.0 0.00%; the state vsteerd starts from says "
            "2.0 0.00%, 1.0 100.00%: clients may change version")
    check(len(got) == 1 and got[0]["level"] == "warning" and got[0]["message"] == want
          and got[0]["service"] == "default", "steering_replaced: %s" % got)
    check(logged(env, "warning", want), "no warning log line")
