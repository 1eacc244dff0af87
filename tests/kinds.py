#!/usr/bin/env python3
"""Every event kind is declared once and documented once:

- each kind the code records (a string literal given to model_event(),
  txn_event() or fleet_event(), and the rollout marks of core/rollout.c) is in event_kinds[]
  (core/event.c), which gives it its level;
- each kind of event_kinds[] is recorded somewhere;
- docs/api.md's table of kinds lists exactly event_kinds[], each with the
  level the code gives it.

Prints one line per problem and exits 1 if there is any; no build needed.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEVELS = {"VS_LOG_ERR": "error", "VS_LOG_WARN": "warning", "VS_LOG_NOTICE": "notice",
          "VS_LOG_INFO": "info", "VS_LOG_DEBUG": "debug"}


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def declared():
    src = read("user/core/event.c")
    table = src[src.index("event_kinds[] = {"):]
    table = table[:table.index("};")]
    return {k: LEVELS[lv] for k, lv in re.findall(r'\{\s*"(\w+)",\s*(VS_LOG_\w+)\s*\}', table)}


def recorded():
    kinds = set()
    for d, _, files in os.walk(os.path.join(ROOT, "user")):
        for name in files:
            if not name.endswith(".c"):
                continue
            src = read(os.path.join(d, name))
            # model_event(m, now, svc, KIND, ...), txn_event(c, svc, KIND, ...):
            # a kind given as a literal (the rollout marks come from a table)
            kinds.update(re.findall(r'\bmodel_event\((?:[^,;]+,){3}\s*"(\w+)"', src))
            kinds.update(re.findall(r'\btxn_event\((?:[^,;]+,){2}\s*"(\w+)"', src))
            # fleet_event(c, KIND, ...): ctl/fleet.c's, a txn_event() under the lock
            kinds.update(re.findall(r'\bfleet_event\(\s*[^,;]+,\s*"(\w+)"', src))
            kinds.update(re.findall(r'\bfleet_event_svc\((?:[^,;]+,){2}\s*"(\w+)"', src))
    marks = read("user/core/rollout_text.c")
    marks = marks[marks.index("mark_names[ROM_TYPES] = {"):]
    kinds.update(re.findall(r'\[ROM_\w+\]\s*=\s*"(\w+)"', marks[:marks.index("};")]))
    return kinds


def documented():
    doc = read("docs/api.md")
    start = doc.index("| kind | level |")
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", doc[start:].split("\n\n")[0], re.M)
    return dict(rows)


def main():
    problems = []
    decl, rec, doc = declared(), recorded(), documented()
    for k in sorted(rec - set(decl)):
        problems.append("kind %s is recorded but not in event_kinds[] (user/core/event.c)" % k)
    for k in sorted(set(decl) - rec):
        problems.append("kind %s is in event_kinds[] but nothing records it" % k)
    for k in sorted(set(decl) - set(doc)):
        problems.append("kind %s is not in docs/api.md's table of kinds" % k)
    for k in sorted(set(doc) - set(decl)):
        problems.append("docs/api.md lists kind %s, which the code does not have" % k)
    for k in sorted(set(doc) & set(decl)):
        if doc[k] != decl[k]:
            problems.append("kind %s: docs/api.md says %s, the code %s" % (k, doc[k], decl[k]))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
