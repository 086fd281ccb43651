#!/usr/bin/env python3
"""Writes the text layout: the functions each group of commands ran, group
by group, as lld's --symbol-ordering-file.

    order.py --groups G1,G2,... [--instrumented BIN DIR...] [--paged BIN PAGES_DIR]

BIN after --instrumented is the coverage build; each DIR holds G.map
files (scripts/text-layout/cov.c: one 8-byte address per function that
ran). --paged adds the functions on the text pages a plain build touched
(PAGES_DIR/G.pages, from pages.py) outside the functions coverage saw:
the precompiled standard library, and functions the coverage build inlined
where the plain build calls them. A few cold neighbours on those pages
come along; that costs far less than one missed function, which maps a
whole 64 KB fault-around window. A function is listed once, in
the first group that ran it; within a group, in address order, which
keeps each crate's code together.
"""
import argparse
import bisect
import functools
import mmap
import os
import struct
import subprocess
import sys


@functools.lru_cache(maxsize=None)
def functions(binary):
    """(start, end, name) of every function symbol, sorted by start."""
    out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW":
            start, size = int(p[0], 16), int(p[1], 16)
            syms.append((start, start + max(size, 1), p[3]))
    syms.sort()
    return tuple(syms)


def text_segments(binary):
    """(file offset, vaddr, size) of each executable PT_LOAD."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    segs = []
    for line in out.splitlines():
        p = line.split()
        if p and p[0] == "LOAD" and "E" in "".join(p[6:-1]):
            segs.append((int(p[1], 16), int(p[2], 16), int(p[4], 16)))
    return segs


def containing(syms, starts, addr):
    i = bisect.bisect_right(starts, addr) - 1
    names = []
    # Aliases share a start; list them all.
    while i >= 0 and syms[i][0] <= addr < syms[i][1]:
        names.append(syms[i])
        if i > 0 and syms[i - 1][0] == syms[i][0]:
            i -= 1
            continue
        break
    return names


def covered(binary, maps):
    syms = functions(binary)
    starts = [s[0] for s in syms]
    found = {}
    for path in maps:
        data = open(path, "rb").read()
        for (pc,) in struct.iter_unpack("<Q", data[: len(data) // 8 * 8]):
            if pc:
                # The recorded address is the return address of the guard
                # call, inside the function.
                for start, _, name in containing(syms, starts, pc - 1):
                    found[name] = start
    return found


def paged(binary, pages_file, outside):
    """Functions on the touched text pages of `pages_file` that lie outside
    the address range `outside` (the coverage-ordered functions)."""
    syms = [s for s in functions(binary) if not (outside[0] <= s[0] < outside[1])]
    segs = text_segments(binary)
    ranges = []
    for line in open(pages_file):
        if not line.strip():
            continue
        off = int(line) * mmap.PAGESIZE
        for fo, va, size in segs:
            lo, hi = max(off, fo), min(off + mmap.PAGESIZE, fo + size)
            if lo < hi:
                ranges.append((lo - fo + va, hi - fo + va))
    ranges.sort()
    lows = [r[0] for r in ranges]
    found = {}
    for start, end, name in syms:
        # The last touched range that starts before the function ends; the
        # ranges do not overlap, so no earlier one can reach further.
        i = bisect.bisect_left(lows, end) - 1
        if i >= 0 and ranges[i][1] > start:
            found[name] = start
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", required=True)
    ap.add_argument("--instrumented", nargs="+", metavar=("BIN", "DIR"))
    ap.add_argument("--paged", nargs=2, metavar=("BIN", "PAGES_DIR"))
    args = ap.parse_args()
    groups = args.groups.split(",")
    if not args.instrumented and not args.paged:
        sys.exit("error: give --instrumented, --paged or both")
    binary, dirs = (args.instrumented[0], args.instrumented[1:]) if args.instrumented else (None, [])
    if args.instrumented and not dirs:
        sys.exit("error: --instrumented: no profile directory")
    exact = {}
    for group in groups:
        maps = [os.path.join(d, group + ".map") for d in dirs]
        for path in maps:
            if not os.path.exists(path):
                sys.exit(f"error: {path}: missing")
        exact[group] = covered(binary, maps) if maps else {}
        if maps and not exact[group]:
            sys.exit(f"error: group {group}: no function recorded in {', '.join(maps)}")
        if len(dirs) > 1:
            each = ", ".join(f"{len(covered(binary, [m]))} in {m}" for m in maps)
            print(f"{group}: {each}", file=sys.stderr)
    everything = set().union(*exact.values())
    extra = {group: {} for group in groups}
    if args.paged:
        # The paged build was linked with the coverage layout alone: those
        # functions lead its .text. Anything touched beyond them ran
        # unseen, whether the standard library's, precompiled, or a
        # function the coverage build inlined where the plain one calls it.
        spans = [(start, end) for start, end, name in functions(args.paged[0]) if name in everything]
        region = (min(s for s, _ in spans), max(e for _, e in spans)) if spans else (0, 0)
        # Laid out, they fill their span (alignment aside); scattered, the
        # plain build was linked without the layout and the span is .text.
        if spans and region[1] - region[0] > 2 * sum(e - s for s, e in spans) + (1 << 16):
            sys.exit(f"error: {args.paged[0]}: the coverage layout was not applied (its functions span "
                     f"{(region[1] - region[0]) >> 10} KiB)")
        for group in groups:
            pages = os.path.join(args.paged[1], group + ".pages")
            if not os.path.exists(pages):
                sys.exit(f"error: {pages}: missing")
            extra[group] = {n: a for n, a in paged(args.paged[0], pages, region).items() if n not in everything}
            if not exact[group] and not extra[group]:
                sys.exit(f"error: group {group}: no page touched in {pages}")
    placed = set()
    for group in groups:
        for chosen in (exact[group], extra[group]):
            for name, _ in sorted(chosen.items(), key=lambda kv: kv[1]):
                if name not in placed:
                    placed.add(name)
                    print(name)
        print(f"{group}: {len(exact[group])} functions ran, {len(extra[group])} more on touched pages", file=sys.stderr)
    print(f"{len(placed)} functions in the layout", file=sys.stderr)


if __name__ == "__main__":
    main()
