#!/usr/bin/python3
"""Check the layout rules of docs/architecture.md on every .c and .h file git knows:

- which folder may include which (a folder's own headers are always allowed);
- which third-party headers each folder may include (dbaasd's folders never reach the engines'
  clients, libvirt or libcgroup; dbaasctl's never libpq or libmicrohttpd; the scheduler only the
  C library headers that do no I/O);
- no .c or .h file outside tests/ longer than 900 lines.

Prints one line per violation and exits 1 if there is any. Run by `make test` (make check-layout).
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# folder -> the other project folders whose headers it may include.
ALLOWED = {
    "lib": set(),
    "scheduler": {"lib"},
    "isolation": {"lib"},
    "engines": {"lib"},
    "ha": {"lib", "engines"},
    "agent": {"lib", "engines", "isolation", "ha"},
    "store": {"lib"},
    "control": {"lib", "store", "scheduler", "ha"},
    "api": {"lib", "store", "control", "scheduler", "ha"},
    "cli": {"lib"},
    # test tools and benchmarks may reach anything
    "tests": None,
    "bench": None,
}

# Only these lib/ headers in the pure libraries (no I/O): the scheduler, and the HA
# controller's decisions (ha/failover.*; ha/ may later hold the agent's probes beside them).
SCHEDULER_LIB = {"lib/err.h"}


def pure(path):
    return path.startswith("scheduler/") or path.startswith("ha/failover")

# System headers that a pure library may use.
PURE_SYSTEM = {"stdbool.h", "stddef.h", "stdint.h", "stdlib.h", "string.h", "stdio.h", "math.h",
               "limits.h", "inttypes.h", "stdarg.h", "assert.h"}

# Third-party headers and the folders that may include them.
THIRD_PARTY = [
    (re.compile(r"^(mysql|mariadb/)"), {"engines", "ha", "tests", "bench"}),
    (re.compile(r"^(hiredis/|hiredis\.h)"), {"engines", "ha", "tests", "bench"}),
    (re.compile(r"^libvirt/"), {"isolation", "tests", "bench"}),
    (re.compile(r"^libcgroup"), {"isolation", "tests", "bench"}),
    (re.compile(r"^microhttpd\.h"), {"api", "tests", "bench"}),
    (re.compile(r"^libpq-fe\.h"), {"store", "api", "control", "engines", "ha", "tests", "bench"}),
    (re.compile(r"^curl/"), {"lib", "tests", "bench"}),
]

MAX_LINES = 900

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.c", "*.h"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [f for f in out.split("\n") if f and os.path.exists(os.path.join(ROOT, f))]


def check(path):
    problems = []
    folder = path.split("/", 1)[0]
    if folder not in ALLOWED:
        return ["%s: folder \"%s\" is not described in docs/architecture.md "
                "(add it to scripts/check-layout.py)" % (path, folder)]
    allowed = ALLOWED[folder]
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    if folder != "tests" and len(lines) > MAX_LINES:
        problems.append("%s: %d lines, more than %d" % (path, len(lines), MAX_LINES))
    for n, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        where = "%s:%d" % (path, n)
        if kind == '"':
            target = name.split("/", 1)[0] if "/" in name else folder
            if allowed is not None and target != folder and target not in allowed:
                problems.append("%s: %s/ may not include \"%s\"" % (where, folder, name))
            if pure(path) and target not in (folder, "lib"):
                problems.append("%s: %s is a pure library; it may not include \"%s\""
                                % (where, folder, name))
            if pure(path) and target == "lib" and name not in SCHEDULER_LIB:
                problems.append("%s: %s is a pure library; it may not include \"%s\""
                                % (where, folder, name))
            continue
        if pure(path) and name not in PURE_SYSTEM:
            problems.append("%s: %s is a pure library; it may not include <%s>"
                            % (where, folder, name))
        for pattern, folders in THIRD_PARTY:
            if pattern.match(name) and folder not in folders:
                problems.append("%s: %s/ may not include <%s>" % (where, folder, name))
    return problems


def main():
    problems = []
    for path in sorted(files()):
        problems.extend(check(path))
    for p in problems:
        print("check-layout: " + p)
    if problems:
        print("check-layout: %d problem(s); see docs/architecture.md" % len(problems))
        return 1
    print("check-layout: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
