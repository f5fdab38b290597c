#!/usr/bin/env python3
"""Where the instructions of the counted requests go: run B's callgrind
counts minus run A's (the pair bench/callgrind.sh makes with KEEP=DIR),
divided by the number of requests B made more, by source (SQLite, each
crate, the server's own code, libc) and by function. Two pairs (say the
builds before and after a change) side by side show where they differ.

    bench/callgrind_diff.py N A B [A2 B2]

A and B are callgrind.out files (one each: one node); N is REQUESTS.
"""

import re
import subprocess
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*?):(.*?)(?: \[(.*)\])?$")


def exclusive(path):
    """Exclusive Ir per (source file, function) of one callgrind.out."""
    out = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100", path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    counts = defaultdict(int)
    started = False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        m = LINE.match(line) if started else None
        if m:
            counts[(m.group(2), m.group(3))] += int(m.group(1).replace(",", ""))
    return counts


def source(path):
    if path.endswith("sqlite3.c"):
        return "SQLite (C)"
    m = re.search(r"index\.crates\.io-[^/]+/([A-Za-z0-9_\-]+?)-\d+\.\d+[^/]*/", path)
    if m:
        return "crate " + m.group(1)
    m = re.search(r"(?:^|/)crates/(upivia[^/]*)/src/", path)
    if m:
        return m.group(1) + " (this repo)"
    if path.startswith("/rustc/"):
        return "Rust std/core (inlined into callers)"
    if path.startswith("./") or path == "???":
        return "libc and unknown (memcpy, memset, malloc, locks)"
    return path


def per_request(a, b, n):
    ca, cb = exclusive(a), exclusive(b)
    return {k: (cb.get(k, 0) - ca.get(k, 0)) / n for k in set(ca) | set(cb)}


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    n = int(sys.argv[1])
    pairs = [per_request(sys.argv[2], sys.argv[3], n)]
    if len(sys.argv) == 6:
        pairs.append(per_request(sys.argv[4], sys.argv[5], n))
    heads = " | ".join(f"pair {i + 1}" for i in range(len(pairs)))
    seps = "|".join("---:" for _ in pairs)

    by_source = [defaultdict(float) for _ in pairs]
    by_function = [defaultdict(float) for _ in pairs]
    for i, d in enumerate(pairs):
        for (path, fn), v in d.items():
            by_source[i][source(path)] += v
            by_function[i][re.sub(r"'\d+$", "", fn)] += v

    def table(title, groups, top):
        keys = sorted(set().union(*groups), key=lambda k: -abs(groups[0].get(k, 0)))
        print(f"\n| {title} | {heads} |\n|---|{seps}|")
        for k in keys[:top]:
            cells = " | ".join(f"{g.get(k, 0):,.0f}" for g in groups)
            print(f"| {k} | {cells} |")

    print("instructions per request:", " / ".join(f"{sum(d.values()):,.0f}" for d in pairs))
    table("source", by_source, 20)
    table("function (exclusive)", by_function, 25)


if __name__ == "__main__":
    main()
