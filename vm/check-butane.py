#!/usr/bin/python3
"""What can be checked of vm/vsteer.bu without Butane (which cannot be
fetched here): the Butane header, every file and unit entry's shape, the
Quadlet containers' keys, and that vsteerd's embedded config parses and
names the demo containers' addresses. Exit 0 when it holds, 1 otherwise.

    vm/check-butane.py [vm/vsteer.bu]
"""
import configparser
import json
import os
import sys

import yaml  # Debian: python3-yaml

# The [Container] keys vsteer.bu uses, all in Quadlet since podman 4.4
# (User= among them; FCOS ships a newer podman).
QUADLET_KEYS = {"Image", "ContainerName", "Network", "DropCapability", "AddCapability",
                "NoNewPrivileges", "ReadOnly", "Exec", "SecurityLabelDisable",
                "SeccompProfile", "Volume", "User"}


def check(path):
    errors = []
    with open(path) as f:
        bu = yaml.safe_load(f)
    if bu.get("variant") != "fcos" or bu.get("version") != "1.5.0":
        errors.append("not a Butane fcos 1.5.0 config: %s %s" % (bu.get("variant"), bu.get("version")))
    extra = set(bu) - {"variant", "version", "ignition", "passwd", "storage", "systemd",
                       "kernel_arguments", "boot_device", "grub"}
    if extra:
        errors.append("unknown top-level keys: %s" % sorted(extra))
    files = bu.get("storage", {}).get("files", [])
    paths = [f.get("path", "") for f in files]
    if len(set(paths)) != len(paths):
        errors.append("a path is written twice")
    listens, config = [], None
    for f in files:
        p, contents = f.get("path", ""), f.get("contents", {})
        if not p.startswith("/") or len(set(contents) & {"inline", "source", "local"}) != 1:
            errors.append("%s: needs an absolute path and one of inline/source/local" % p)
            continue
        if p == "/etc/vsteer/config.json":
            try:
                config = json.loads(contents["inline"])
            except (KeyError, ValueError) as e:
                errors.append("%s: not JSON: %s" % (p, e))
        if p.endswith(".container"):
            unit = configparser.ConfigParser(strict=False, interpolation=None)
            unit.optionxform = str
            unit.read_string(contents.get("inline", ""))
            if "Container" not in unit or "Image" not in unit["Container"]:
                errors.append("%s: no [Container] Image=" % p)
                continue
            unknown = set(unit["Container"]) - QUADLET_KEYS
            if unknown:
                errors.append("%s: keys Quadlet does not know: %s" % (p, sorted(unknown)))
            args = unit["Container"].get("Exec", "").split()
            if "--listen" in args:
                listens.append(args[args.index("--listen") + 1])
    for u in bu.get("systemd", {}).get("units", []):
        if "." not in u.get("name", "") or not (u.get("contents") or "enabled" in u):
            errors.append("unit %s: needs a name with a suffix and contents" % u.get("name"))
    if config is None:
        errors.append("no /etc/vsteer/config.json")
    else:
        clusters = config.get("cluster", [])
        servers = [s for c in (clusters if isinstance(clusters, list) else [clusters])
                   for s in c.get("servers", [])]
        missing = [s for s in servers if s not in listens]
        if not servers or missing:
            errors.append("config servers %s not all run by a demo container (%s)" % (servers, listens))
    return errors


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "vsteer.bu")
    errors = check(path)
    for e in errors:
        print("check-butane: %s: %s" % (path, e))
    if not errors:
        print("check-butane: %s: ok (Butane itself was not run)" % path)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
