"""Installing: `make install` and `make uninstall`, the man pages."""
import fcntl
import glob
import os
import re
import shutil
import subprocess
import time

from common import test
from lib import API, BUILD, ROOT, check, fetch, read_line, versions_of, wait_for


# What `make install` puts under PREFIX (and SYSCONFDIR, /etc), besides the
# units of contrib/systemd/ and the pages of docs/.
INSTALLED = ["bin/vsteerd", "bin/vsteer-demo", "bin/vsteerctl", "lib/vsteer/deploy.sh",
             "share/man/man1/vsteer-demo.1", "share/man/man8/vsteerd.8",
             "share/man/man1/vsteerctl.1", "share/bash-completion/completions/vsteerctl",
             "share/puppet/modules/vsteer/manifests/version.pp",
             "share/doc/vsteer/README.md", "share/doc/vsteer/examples/config.json"]
# The directories uninstall leaves: shared with other software, so not
# vsteer's to remove even when empty (they may have been there before).
SHARED_DIRS = ["bin", "lib", "lib/systemd", "lib/systemd/system", "share", "share/doc",
               "share/man", "share/man/man1", "share/man/man8", "share/puppet",
               "share/puppet/modules", "share/bash-completion",
               "share/bash-completion/completions"]


def make(*args):
    """make in the source tree. It installs the plain build (build/) even
    when the suite runs against build-san, which has no man pages."""
    r = subprocess.run(["make", "-C", ROOT, "--no-print-directory"] + list(args),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "make %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                       r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout + r.stderr


def tree(top):
    """The files and the directories under top, relative to it."""
    files, dirs = set(), set()
    for d, ds, fs in os.walk(top):
        rel = os.path.relpath(d, top)
        dirs.update(os.path.normpath(os.path.join(rel, x)) for x in ds)
        files.update(os.path.normpath(os.path.join(rel, x)) for x in fs)
    return files, dirs


def expected(prefix):
    units = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "contrib/systemd/*"))
                   if p.endswith((".service", ".mount")))
    docs = [os.path.relpath(p, os.path.join(ROOT, "docs"))
            for p in glob.glob(os.path.join(ROOT, "docs/*.md")) + glob.glob(os.path.join(ROOT, "docs/*.png"))
            + glob.glob(os.path.join(ROOT, "docs/bench/*.png"))
            + glob.glob(os.path.join(ROOT, "docs/bench/*.json"))]
    contrib = [os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "contrib/prometheus/*.yml"))
               + glob.glob(os.path.join(ROOT, "contrib/grafana/*.json"))]
    p = prefix.strip("/")
    return ({os.path.join(p, f) for f in INSTALLED}
            | {os.path.join(p, "share/doc/vsteer", c) for c in contrib}
            | {os.path.join(p, "lib/systemd/system", u) for u in units}
            | {os.path.join(p, "share/doc/vsteer/docs", d) for d in docs}
            | {"etc/vsteer/config.json"}), units


def build_stamps():
    return {f: os.stat(os.path.join(ROOT, "build", f)).st_mtime_ns
            for f in ("vsteerd", "vsteer-demo", "vsteerctl", "man/vsteerd.8", "man/vsteer-demo.1",
                      "man/vsteerctl.1")}


@test
def install_tree(env):
    """`make install DESTDIR=… PREFIX=/usr` installs exactly the listed tree
    and builds nothing; the installed vsteerd, with the installed example
    config, steers to the installed vsteer-demo 1.0; the installed deploy.sh
    (the installed Puppet module's default) rolls out 2.0; `man --warnings -l`
    renders the three pages silently; the unit names the installed binary; the
    default PREFIX is /usr/local; an existing config is kept by install and
    uninstall; `make uninstall` leaves no file and only shared directories"""
    dest = os.path.join(env.dir, "dest")
    before = build_stamps()
    out = make("install", "DESTDIR=" + dest, "PREFIX=/usr")
    check(before == build_stamps(), "make install rebuilt something:\n" + out)
    want, units = expected("/usr")
    files, _ = tree(dest)
    check(files == want, "installed tree differs: missing %s, extra %s"
          % (sorted(want - files), sorted(files - want)))
    check(units, "no unit in contrib/systemd to install")
    for u in units:
        text = open(os.path.join(dest, "usr/lib/systemd/system", u)).read()
        check("/usr/local/bin" not in text, "%s still names /usr/local/bin" % u)
        if u == "vsteerd.service":
            check(re.search(r"^ExecStart=/usr/bin/vsteerd ", text, re.M),
                  "vsteerd.service does not run /usr/bin/vsteerd:\n" + text)
    pp = open(os.path.join(dest, "usr/share/puppet/modules/vsteer/manifests/version.pp")).read()
    default = re.search(r"\$deploy\s*=\s*'([^']+)'", pp)
    check(default and default.group(1) == "/usr/lib/vsteer/deploy.sh",
          "the installed Puppet module's deploy default: %s" % (default and default.group(1)))
    for page in ("usr/share/man/man8/vsteerd.8", "usr/share/man/man1/vsteer-demo.1",
                 "usr/share/man/man1/vsteerctl.1"):
        r = subprocess.run(["man", "--warnings", "-l", os.path.join(dest, page)],
                           capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
        check(r.returncode == 0 and not r.stderr and "SYNOPSIS" in r.stdout,
              "man -l %s: exit %d, warnings:\n%s" % (page, r.returncode, r.stderr))

    # The installed programs, config and script, run as the unit would.
    usr = os.path.join(dest, "usr")
    for v, port in (("1.0", 9001), ("2.0", 9002)):
        env.spawn([os.path.join(usr, "bin/vsteer-demo"), "--listen", "127.0.0.1:%d" % port,
                   "--version", v], "listening")
    log = open(os.path.join(env.dir, "vsteerd.log"), "ab")
    p = subprocess.Popen([os.path.join(usr, "bin/vsteerd"), "--config",
                          os.path.join(dest, "etc/vsteer/config.json"), "--pin-dir", env.pin_dir,
                          "--state", env.state], stdout=log, stderr=log)
    env.procs.append(p)
    env.daemons.append(p)
    wait_for(lambda: env.healthy() or p.poll() is not None, 30, "the installed vsteerd's API")
    check(p.poll() is None, "the installed vsteerd exited: %s" % env.vsteerd_log())
    check(fetch() == "1.0", "not steered to 1.0")
    r = subprocess.run([os.path.join(dest, default.group(1).lstrip("/")), "-a",
                        "http://%s:%d" % API, "-s", "instant", "-A", "none", "-d", "10",
                        "default", "2.0", "127.0.0.1:9002"], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and "default 2.0 deployed" in r.stdout,
          "installed deploy.sh: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    check(set(versions_of(range(20))) == {"2.0"}, "new connections not on 2.0 after deploy.sh")

    out = make("uninstall", "DESTDIR=" + dest, "PREFIX=/usr")
    files, dirs = tree(dest)
    check(not files, "left after uninstall: %s" % sorted(files))
    left = dirs - {os.path.normpath(os.path.join("usr", d)) for d in SHARED_DIRS} - {"usr", "etc"}
    check(not left, "vsteer's directories left after uninstall: %s" % sorted(left))

    # The default prefix, over a config of the administrator's.
    dest2 = os.path.join(env.dir, "dest2")
    os.makedirs(os.path.join(dest2, "etc/vsteer"))
    mine = os.path.join(dest2, "etc/vsteer/config.json")
    with open(mine, "w") as f:
        f.write('{"mine": true}\n')
    out = make("install", "DESTDIR=" + dest2)
    want, _ = expected("/usr/local")
    files, _ = tree(dest2)
    check(files == want, "PREFIX=/usr/local tree differs: missing %s, extra %s"
          % (sorted(want - files), sorted(files - want)))
    check(open(mine).read() == '{"mine": true}\n' and "kept " + mine in out,
          "install replaced or did not report an existing config:\n" + out)
    unit = open(os.path.join(dest2, "usr/local/lib/systemd/system/vsteerd.service")).read()
    check(re.search(r"^ExecStart=/usr/local/bin/vsteerd ", unit, re.M), "unit:\n" + unit)
    out = make("uninstall", "DESTDIR=" + dest2)
    files, _ = tree(dest2)
    check(files == {"etc/vsteer/config.json"} and "kept " + mine in out,
          "uninstall with the administrator's config: left %s\n%s" % (sorted(files), out))
    shutil.rmtree(dest)
    shutil.rmtree(dest2)


def help_options(text):
    """The long options (--x) and short ones (-x) a text names."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", text))


@test
def man_pages(env):
    """every option `vsteerd --help`, `vsteer-demo --help` and `vsteerctl
    --help` name is in the man page's OPTIONS, and every option there is in
    --help"""
    for prog, page in (("vsteerd", "vsteerd.8"), ("vsteer-demo", "vsteer-demo.1"),
                       ("vsteerctl", "vsteerctl.1")):
        r = subprocess.run([os.path.join(BUILD, prog), "--help"], capture_output=True, text=True)
        check(r.returncode == 0, "%s --help: exit %d" % (prog, r.returncode))
        src = open(os.path.join(ROOT, "docs/man", page + ".scd")).read()
        opts = src[src.index("\n# OPTIONS"):]
        opts = opts[:opts.index("\n# ", 1)]
        # An option's entry: a line that starts with its name in bold.
        listed = help_options(" ".join(re.findall(r"^(\*-.*)$", opts, re.M)).replace("*", ""))
        given = help_options(r.stdout)
        check(given <= listed, "%s --help names %s, not in %s's OPTIONS"
              % (prog, sorted(given - listed), page))
        check(listed <= given, "%s's OPTIONS has %s, which %s --help does not name"
              % (page, sorted(listed - given), prog))


def held(path):
    """An exclusive fcntl lock on path, as apt and dpkg take theirs; the fd
    (closing it releases the lock)."""
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


@test
def deps_waits_for_apt(env):
    """`scripts/deps.sh --dry-run` with dpkg's frontend lock held (a real
    fcntl lock, on an overlay of /var/lib/dpkg: the host's lock is never
    taken): says once that it waits and for whom, is still waiting 2 s
    later, and ends within 3 s of the release with nothing installed; with
    DEPS_LOCK_WAIT=1 and dpkg's lock held it gives up, exit 1, naming it"""
    # This test's mount namespace only: locks taken here are on the
    # overlay's upper files, not the host's.
    upper = os.path.join(env.dir, "dpkg")
    os.mkdir(upper)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", upper], check=True)
    os.mkdir(os.path.join(upper, "up"))
    os.mkdir(os.path.join(upper, "work"))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=/var/lib/dpkg,upperdir=%s/up,workdir=%s/work" % (upper, upper),
                    "/var/lib/dpkg"], check=True)
    deps = os.path.join(ROOT, "scripts/deps.sh")
    fd = held("/var/lib/dpkg/lock-frontend")
    try:
        p = subprocess.Popen([deps, "--dry-run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        env.procs.append(p)
        line = read_line(p.stdout, 10, "deps.sh to say it waits")
        check("waiting up to 600 s for /var/lib/dpkg/lock-frontend, held by pid %d ("
              % os.getpid() in line, "deps.sh's first line: %r" % line)
        # deps.sh looks once a second: two looks must still see the lock.
        time.sleep(2)
        check(p.poll() is None, "deps.sh did not wait: exit %s" % p.poll())
    finally:
        os.close(fd)
    out, _ = p.communicate(timeout=3)
    check(p.returncode == 0, "deps.sh after the release: exit %d\n%s" % (p.returncode, out))
    check(re.match(r"deps.sh: the lock is free after \d+ s\ndeps.sh: would install", out),
          "deps.sh after the release:\n" + out)
    fd = held("/var/lib/dpkg/lock")
    try:
        r = subprocess.run([deps, "--dry-run"], capture_output=True, text=True, timeout=5,
                           env=dict(os.environ, DEPS_LOCK_WAIT="1"))
    finally:
        os.close(fd)
    check(r.returncode == 1 and "/var/lib/dpkg/lock is still held by pid %d ("
          % os.getpid() in r.stderr, "deps.sh giving up: exit %d\n%s%s"
          % (r.returncode, r.stdout, r.stderr))
