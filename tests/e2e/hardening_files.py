"""vsteerd's files: state and token files that are not regular files or not vsteerd's, state directories others can write, links planted where the state file is written, a crash's temp files."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess

from common import set_weights, test, two_versions
from lib import ROOT, TestFailure, api, check, kill, run_vsteerd, versions_of

NOBODY = 65534
START_LIMIT = 10    # s: a refused start exits at once; one that hangs fails the test
TMP_NAME = re.compile(r"state\.json\.tmp\.[A-Za-z0-9]{6}$")


def pinned_steering(env):
    """1.0 steered, by a vsteerd stopped with SIGTERM: its steering stays
    pinned for the refused starts to leave alone. The config's path."""
    env.backend("1.0", "127.0.0.1:9001")
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]})
    kill(env.vsteerd(cfg), signal.SIGTERM)
    return cfg


def pins(env):
    """What is pinned: the names, and the svcs map as bpftool dumps it."""
    dump = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", env.pin_dir + "/svcs"],
                          capture_output=True, text=True, check=True).stdout
    return sorted(os.listdir(env.pin_dir)), json.loads(dump)


def refused(env, what, args, needles):
    """vsteerd started with args exits 1 within START_LIMIT with a message
    holding every needle, and leaves the pins and steering as they were."""
    before = pins(env)
    try:
        r = run_vsteerd(["--pin-dir", env.pin_dir] + args, timeout=START_LIMIT)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s: vsteerd still running %d s after its start (killed): it hung, "
                          "or started" % (what, START_LIMIT)) from None
    check(r.returncode == 1 and all(n in r.stderr for n in needles),
          "%s: exit %d, want 1 and a message with %s: %s" % (what, r.returncode, needles, r.stderr))
    check(pins(env) == before, "%s: the pins changed" % what)
    check(versions_of(range(10)) == ["1.0"] * 10, "%s: steering changed" % what)
    print("%s: %s" % (what, r.stderr.strip().splitlines()[-1]))


def tmp_names(env):
    d = os.path.dirname(env.state)
    return sorted(n for n in os.listdir(d) if n.startswith(os.path.basename(env.state) + ".tmp"))


@test
def files_state_fifo(env):
    """a FIFO as the state file: vsteerd exits 1 at once (no hang) saying
    "not a regular file" and naming it; pins and steering untouched"""
    pinned_steering(env)
    os.unlink(env.state)
    os.mkfifo(env.state, 0o600)
    refused(env, "FIFO", ["--state", env.state], [env.state, "not a regular file"])


@test
def files_state_directory(env):
    """a directory as the state file: vsteerd exits 1 saying "not a regular
    file" and naming it; pins and steering untouched"""
    pinned_steering(env)
    os.unlink(env.state)
    os.mkdir(env.state, 0o700)
    refused(env, "directory", ["--state", env.state], [env.state, "not a regular file"])


@test
def files_state_symlink(env):
    """a symbolic link as the state file (to a good state file elsewhere):
    vsteerd exits 1 naming it and saying to give the file itself (a change
    would replace the link, not write its target); pins and steering
    untouched"""
    pinned_steering(env)
    elsewhere = os.path.join(env.dir, "elsewhere.json")
    os.rename(env.state, elsewhere)
    os.symlink(elsewhere, env.state)
    refused(env, "symbolic link", ["--state", env.state],
            [env.state, "a symbolic link", "the file itself"])


@test
def files_token_fifo(env):
    """a FIFO as the token file: vsteerd exits 1 at once (no hang) saying
    "not a regular file" and naming it; pins and steering untouched"""
    pinned_steering(env)
    token = os.path.join(env.dir, "token")
    os.mkfifo(token, 0o600)
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]},
                     {"configService": {"address": "127.0.0.1", "port": 9900, "tokenFile": token}})
    refused(env, "FIFO token", ["--state", env.state, "-c", cfg], [token, "not a regular file"])


@test
def files_token_owner(env):
    """a token file of mode 0600 owned by uid 65534, not root (vsteerd's
    user): vsteerd exits 1 naming it, its owner and `chown`; pins and
    steering untouched"""
    pinned_steering(env)
    token = os.path.join(env.dir, "token")
    with open(token, "w") as f:
        f.write("s3cret-token-0123456789\n")
    os.chmod(token, 0o600)
    os.chown(token, NOBODY, NOBODY)
    cfg = env.config({"version": "1.0", "servers": ["127.0.0.1:9001"]},
                     {"configService": {"address": "127.0.0.1", "port": 9900, "tokenFile": token}})
    refused(env, "token of uid %d" % NOBODY, ["--state", env.state, "-c", cfg],
            [token, "uid %d" % NOBODY, "chown"])


@test
def files_state_dir_writable(env):
    """a state directory of mode 0777, 1777 (sticky, as /tmp) or 0770: vsteerd
    exits 1 naming it, its mode, who may write and `chmod go-w`, with a good
    state file in it; pins and steering untouched"""
    pinned_steering(env)
    for mode, who in ((0o777, "others"), (0o1777, "others"), (0o770, "its group")):
        d = os.path.join(env.dir, "st%o" % mode)
        os.mkdir(d)
        os.chmod(d, mode)
        state = os.path.join(d, "state.json")
        shutil.copy(env.state, state)
        refused(env, "mode %04o" % mode, ["--state", state],
                [d, "mode %04o" % mode, "writable by " + who, "chmod go-w"])


@test
def files_state_dir_owner(env):
    """a state directory of mode 0700 owned by uid 65534: vsteerd exits 1
    naming it, its owner and `chown`, with a good state file in it; pins and
    steering untouched"""
    pinned_steering(env)
    d = os.path.join(env.dir, "theirs")
    os.mkdir(d, 0o700)
    state = os.path.join(d, "state.json")
    shutil.copy(env.state, state)
    os.chown(d, NOBODY, NOBODY)
    refused(env, "directory of uid %d" % NOBODY, ["--state", state],
            [d, "uid %d" % NOBODY, "chown"])


@test
def files_planted_temp_link(env):
    """a symbolic link planted at the old fixed temp name `state.json.tmp`,
    to a victim file: a start and 2 changes through the API leave the victim
    and the link as they were; the state file is a regular file holding the
    change

    Before, the temp file was opened at that name without O_EXCL: the
    start wrote the state into the victim and renamed the link into the
    state file's place."""
    victim = os.path.join(env.dir, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.symlink(victim, env.state + ".tmp")
    two_versions(env, "manual")
    set_weights(30)
    with open(victim) as f:
        check(f.read() == "precious\n", "the victim was written")
    check(os.readlink(env.state + ".tmp") == victim, "the planted link was changed")
    check(stat.S_ISREG(os.lstat(env.state).st_mode), "the state file is not a regular file")
    with open(env.state) as f:
        weights = {c["version"]: c["weight"] for c in json.load(f)["clusters"]}
    check(weights == {"1.0": 7000, "2.0": 3000}, "state file weights %s" % weights)


@test
def files_crash_litter(env):
    """vsteerd SIGKILLed before the rename that commits a change leaves one
    temp file `state.json.tmp.XXXXXX`; the next start removes it and another
    regular file of root's so named, and keeps a link so named, uid 65534's
    file so named, `state.json.tmp.keep-me` and the link's target

    Only one vsteerd writes a state file (the pin directory's flock), so
    a temp file of vsteerd's user found at start is a dead one's."""
    two_versions(env, "manual")
    shim = os.path.join(ROOT, "build", "libkillat.so")
    kill(env.procs[-1])
    # ASan wants its runtime first; the shim only wraps rename().
    p = env.vsteerd(wrapper=["env", "LD_PRELOAD=" + shim, "ASAN_OPTIONS=" +
                             os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0",
                             "VSTEER_KILL_RENAME=state.json", "VSTEER_KILL_NTH=2",
                             "VSTEER_KILL_WHEN=before"])
    try:
        api("PUT", "/v1/services/default/weights", {"2.0": 30, "1.0": 70})
    except OSError:
        pass    # the answer dies with vsteerd
    check(p.wait(timeout=10) == -signal.SIGKILL, "vsteerd not killed at the rename")
    litter = tmp_names(env)
    check(len(litter) == 1 and TMP_NAME.match(litter[0]), "after the kill: %s" % litter)

    victim = os.path.join(env.dir, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    base = env.state + ".tmp."
    with open(base + "Zz9Yy8", "w") as f:
        f.write("{}")
    os.symlink(victim, base + "L1nk00")
    with open(base + "nobody", "w") as f:
        f.write("{}")
    os.chown(base + "nobody", NOBODY, NOBODY)
    with open(base + "keep-me", "w") as f:
        f.write("{}")
    env.vsteerd()
    left = tmp_names(env)
    want = ["state.json.tmp.L1nk00", "state.json.tmp.keep-me", "state.json.tmp.nobody"]
    check(left == want, "left after the start: %s, want %s" % (left, want))
    with open(victim) as f:
        check(f.read() == "precious\n", "the link's target was written")
    check("removed 2 temporary state files" in env.vsteerd_log(), "no line saying what was removed")
