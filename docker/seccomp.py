#!/usr/bin/python3
"""Write docker/seccomp.json, the seccomp profile vsteerd's container runs
with: the container runtime's default profile, changed only so that bpf()
is allowed to a container given CAP_BPF and perf_event_open() to one given
CAP_PERFMON (the default allows both only with CAP_SYS_ADMIN, which vsteerd
does not need and should not get).

    docker/seccomp.py [DEFAULT [OUT]]   DEFAULT: the runtime's profile,
                                        /usr/share/containers/seccomp.json;
                                        OUT: docker/seccomp.json

docker/seccomp.json was made from Debian 12's golang-github-containers-common
0.50.1 (podman 4.3's default); run this again against a newer default."""
import json
import os
import sys

DEFAULT = "/usr/share/containers/seccomp.json"
OURS = {"bpf": "CAP_BPF", "perf_event_open": "CAP_PERFMON"}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    with open(src) as f:
        profile = json.load(f)
    gated = [r for r in profile["syscalls"] if set(OURS) & set(r["names"])]
    # The default's two rules for them: allowed with CAP_SYS_ADMIN, EPERM
    # without. A rule that allowed them without CAP_SYS_ADMIN next to the
    # second would conflict, so they leave both and get rules of their own.
    if len(gated) != 2 or not all(set(OURS) <= set(r["names"]) for r in gated):
        sys.exit("seccomp.py: %s does not gate bpf and perf_event_open on CAP_SYS_ADMIN "
                 "as podman 4.3's default does; check it by hand" % src)
    for r in gated:
        r["names"] = [n for n in r["names"] if n not in OURS]
    why = "vsteer (docker/seccomp.py, from %s): %%s with %%s or CAP_SYS_ADMIN" % src
    for name, cap in OURS.items():
        # Two rules that never both apply (libseccomp refuses a duplicate).
        for inc, exc in (([cap], {}), (["CAP_SYS_ADMIN"], {"caps": [cap]})):
            profile["syscalls"].append({"names": [name], "action": "SCMP_ACT_ALLOW", "args": [],
                                        "comment": why % (name, cap), "includes": {"caps": inc},
                                        "excludes": exc})
        # Without either, EPERM as the default gives, not ENOSYS.
        profile["syscalls"].append({"names": [name], "action": "SCMP_ACT_ERRNO", "args": [],
                                    "comment": why % (name, cap), "includes": {},
                                    "excludes": {"caps": [cap, "CAP_SYS_ADMIN"]},
                                    "errnoRet": 1, "errno": "EPERM"})
    out = sys.argv[2] if len(sys.argv) > 2 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "seccomp.json")
    with open(out, "w") as f:
        # One rule a line: diffs against a regenerated profile stay readable.
        rules = profile.pop("syscalls")
        head = json.dumps(profile)[:-1]
        f.write(head + ', "syscalls": [\n' + ",\n".join(json.dumps(r) for r in rules) + "\n]}\n")
    print("seccomp.py: wrote %s from %s" % (out, src))


main()
