#!/usr/bin/env python3
"""The controller's layout rules, checked over user/ (docs/design.md):

- a file includes headers of its own layer or lower ones only:
  lib -> core -> codec -> kernel -> store -> ctl -> api -> cmd;
- outside a layer folder it may include only the contract (include/) and
  the BPF skeletons (build/);
- within ctl/, struct ctl sits above its subsystems: no header there
  includes ctl/ctl.h (a subsystem's header declares `struct ctl;`);
- every .c but the programs in cmd/ has a header of its own name, and a
  header declares only functions its .c defines, each named with the
  module's prefix;
- no file is over 600 lines;
- user/cli/, vsteerctl's client of the API, stands aside from the
  controller: it includes lib/ (and include/) only, only cmd/vsteerctl.c
  includes it, and its names start with cli_.

Prints one line per problem and exits 1 if there is any; no root, no
build needed.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = os.path.join(ROOT, "user")
LAYERS = ["lib", "core", "codec", "kernel", "store", "ctl", "api", "cmd"]
# vsteerctl's own folder: on lib/ alone, and only its program includes it.
CLI = "cli"
CLI_MAY_INCLUDE = {"lib", "cli"}
CLI_USERS = {"cmd/vsteerctl.c"}
CONTRACT = {"vsteer.h", "vsteer_hash.h", "vsteer_hist.h", "vsteer_idle.h"}
SKELETON = re.compile(r"^\w+\.skel\.h$")
MAX_LINES = 600

# Headers with no .c of their own: macros, limits.
HEADER_ONLY = {"lib/compiler.h", "core/limits.h"}
# Headers of a .c of another name: dp.c's functions for kernel/ only.
IMPL_OF = {"kernel/dp_internal.h": "dp"}
# A module's prefix is its file name and "_", but for these.
PREFIXES = {
    "lib/err.h": ("vs_err",),
    "lib/log.h": ("log_",),
    "core/addr.h": ("ep_",),
    "core/judge.h": ("judge",),
    "core/http1.h": ("h1_",),
    "core/rollout.h": ("ro_", "rollout_"),
    "core/rollout_text.h": ("ro_",),
    "codec/request.h": ("req_",),
    "codec/parse_notify.h": ("parse_",),
    "codec/parse_mirror.h": ("parse_", "mirror_spec_"),
    "codec/state_parse.h": ("state_",),
    "kernel/dp.h": ("dp_",),
    "kernel/dp_internal.h": ("dp_",),
    "kernel/dp_maps.h": ("dp_",),
    "kernel/dp_iter.h": ("dp_",),
    "kernel/dp_pins.h": ("dp_",),
    "kernel/dp_tc.h": ("dp_tc_",),
    "kernel/dp_mirror.h": ("dp_mirror_", "dp_capture_"),
    "codec/state_mirror.h": ("state_",),
    "ctl/mirror_compare.h": ("mirror_",),
    "ctl/mirror_flow.h": ("mirror_",),
    "ctl/ops.h": ("ctl_",),
    "ctl/reload.h": ("ctl_",),
    "ctl/services.h": ("ctl_",),
    "ctl/tick.h": ("ctl_",),
    "api/router.h": ("api_",),
    "api/handlers.h": ("handle_",),
    "store/etcd_watch.h": ("etcd_watch",),
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# A function declared at the top level of a header: its name is the last
# word before the first "(" of a line that starts in column 0.
DECL = re.compile(r"^(?!typedef|struct\s+\w+\s*\{|enum|#|static)[A-Za-z_][\w\s\*]*?\b(\w+)\(")


def files():
    for layer in LAYERS + [CLI]:
        d = os.path.join(USER, layer)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith((".c", ".h")):
                yield layer, name, os.path.join(d, name)
    for name in sorted(os.listdir(USER)):
        p = os.path.join(USER, name)
        if os.path.isfile(p):
            yield None, name, p


def check_includes(layer, rel, text, problems):
    rank = LAYERS.index(layer) if layer in LAYERS else None
    for n, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        top = inc.split("/")[0] if "/" in inc else None
        if layer == CLI and top not in CLI_MAY_INCLUDE and inc not in CONTRACT:
            problems.append("%s:%d: includes %s: cli/ includes lib/ and include/ only"
                            % (rel, n, inc))
            continue
        if top == CLI:
            if layer != CLI and os.path.relpath(os.path.join(layer, os.path.basename(rel))) \
                    not in CLI_USERS:
                problems.append("%s:%d: includes %s: only %s may include cli/"
                                % (rel, n, inc, ", ".join(sorted(CLI_USERS))))
            elif not os.path.exists(os.path.join(USER, inc)):
                problems.append("%s:%d: includes %s, which does not exist" % (rel, n, inc))
            continue
        if layer == CLI:
            if top and not os.path.exists(os.path.join(USER, inc)):
                problems.append("%s:%d: includes %s, which does not exist" % (rel, n, inc))
            continue
        if inc == "ctl/ctl.h" and rel.endswith(".h") and layer == "ctl":
            problems.append("%s:%d: a subsystem's header includes ctl/ctl.h: declare "
                            "`struct ctl;` instead" % (rel, n))
        if top in LAYERS:
            if LAYERS.index(top) > rank:
                problems.append("%s:%d: includes %s: %s is above %s" % (rel, n, inc, top, layer))
            elif not os.path.exists(os.path.join(USER, inc)):
                problems.append("%s:%d: includes %s, which does not exist" % (rel, n, inc))
        elif inc not in CONTRACT and not SKELETON.match(inc):
            problems.append('%s:%d: includes "%s": name its layer folder ("core/%s")'
                            % (rel, n, inc, inc))


def declared(text):
    names, depth = [], 0
    for line in text.splitlines():
        if depth == 0:
            m = DECL.match(line)
            if m and not line.rstrip().endswith("{"):
                names.append(m.group(1))
        depth += line.count("{") - line.count("}")
    return names


def defined(text):
    return set(re.findall(r"^[A-Za-z_][\w\s\*]*?\b(\w+)\([^;]*$", text, re.M))


def main():
    problems = []
    for layer, name, path in files():
        rel = os.path.relpath(path, ROOT)
        if layer is None:
            problems.append("%s: every file of user/ lives in a layer folder (%s)"
                            % (rel, ", ".join(LAYERS + [CLI])))
            continue
        with open(path) as f:
            text = f.read()
        nlines = text.count("\n")
        if nlines > MAX_LINES:
            problems.append("%s: %d lines, over %d: split it" % (rel, nlines, MAX_LINES))
        check_includes(layer, rel, text, problems)
        key = "%s/%s" % (layer, name)
        stem = os.path.join(os.path.dirname(path), name[:-2])
        if name.endswith(".c") and layer != "cmd" and not os.path.exists(stem + ".h"):
            problems.append("%s: no header %s.h of its own" % (rel, name[:-2]))
        if not name.endswith(".h") or key in HEADER_ONLY:
            continue
        if key in IMPL_OF:
            stem = os.path.join(os.path.dirname(path), IMPL_OF[key])
        if not os.path.exists(stem + ".c"):
            problems.append("%s: no %s.c defines what it declares" % (rel, name[:-2]))
            continue
        with open(stem + ".c") as f:
            impl = defined(f.read())
        prefixes = PREFIXES.get(key, ("cli_",) if layer == CLI else (name[:-2] + "_",))
        for fn in declared(text):
            if fn not in impl:
                problems.append("%s: declares %s(), which %s.c does not define"
                                % (rel, fn, name[:-2]))
            if not fn.startswith(prefixes):
                problems.append("%s: %s() lacks the module's prefix (%s)"
                                % (rel, fn, " or ".join(prefixes)))
    for p in problems:
        print(p)
    print("layers: %s" % ("%d problems" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
