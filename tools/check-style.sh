#!/usr/bin/env bash
# check-style.sh - make style: the mechanical rules of STYLE.md for our C.
#
# Every .c and .h under core bus actors http-edge tools tests (build/ and
# var/ are not ours): at most 80 columns (characters, not bytes), no tabs,
# no trailing blanks, no bare XXX/FIXME/HACK. Prints file:line: reason for
# each, exits 1 if any.
set -euo pipefail

cd "$(dirname "$0")/.."
exec /usr/bin/python3 - core bus actors http-edge tools tests <<'EOF_PY'
import os
import re
import sys

MARK = re.compile(r"(?<![A-Za-z0-9_])(XXX|FIXME|HACK)(?![A-Za-z0-9_])")


def sources(roots):
    for root in roots:
        for top, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "build")
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(top, f)


def check(path):
    bad = []
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8", errors="replace")
    for n, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if len(line) > 80:
            bad.append((n, "line of %d columns (max 80)" % len(line)))
        if "\t" in line:
            bad.append((n, "tab"))
        if line != line.rstrip(" \t"):
            bad.append((n, "trailing whitespace"))
        if MARK.search(line):
            bad.append((n, "XXX/FIXME/HACK: write 'TODO: what is missing "
                           "and why it is safe for now'"))
    return bad


errors = 0
for path in sources(r for r in sys.argv[1:] if os.path.isdir(r)):
    for n, why in check(path):
        print("%s:%d: %s" % (path, n, why))
        errors += 1
sys.exit(1 if errors else 0)
EOF_PY
