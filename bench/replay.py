#!/usr/bin/env python3
"""Replay speed: ``omphalos replay`` against the pure-Python floor, GoAccess and ngxtop.

Makes a combined log with ../shared/bench/genlog.py, then times, in the same run on the same
file, each tool parsing and counting it, and prints each time and its ratio to the floor.
Target (issue 2): ``omphalos replay`` within 2x the floor's time.

    python bench/replay.py [--lines 1000000] [--runs 3] [--no-peers]
"""

from __future__ import annotations

import argparse
import json
import sys

from common import (
    FLOOR,
    Timing,
    alternated,
    ensure_goaccess,
    ensure_ngxtop,
    generate,
    report,
    timed,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="runs per tool; the fastest counts")
    ap.add_argument("--no-peers", action="store_true", help="skip GoAccess and ngxtop")
    args = ap.parse_args()

    log = generate(args.lines, "combined")
    print(f"input: {args.lines:,} combined lines, {log.stat().st_size / 1e6:.0f} MB ({log})")
    omphalos = [sys.executable, "-m", "omphalos.cli.main", "replay", "--json"]
    best = alternated({
        "floor.py": [sys.executable, str(FLOOR), str(log)],
        "omphalos replay": [*omphalos, "--format", "combined", str(log)],
        "omphalos replay (auto)": [*omphalos, str(log)],
    }, args.runs)
    floor, ours = best["floor.py"], best["omphalos replay"]
    expected = int(floor.output.split()[0])
    for name in ("omphalos replay", "omphalos replay (auto)"):
        counted = json.loads(best[name].output)["requests"]
        if counted != expected:
            raise SystemExit(f"{name} counted {counted}, floor.py {expected}")
    rows: list[Timing] = list(best.values())
    if not args.no_peers:
        goaccess = ensure_goaccess()
        if goaccess:
            out = log.with_suffix(".goaccess.json")
            rows.append(timed("goaccess", [goaccess, str(log), "--log-format=COMBINED",
                                           "--no-progress", "-o", str(out)], 1))
        else:
            print("goaccess: not available")
        ngxtop = ensure_ngxtop()
        if ngxtop:
            rows.append(timed("ngxtop", [ngxtop, "--no-follow", "-l", str(log)], 1))
        else:
            print("ngxtop: not available")
    print(report(rows, floor, f"replay of {args.lines:,} lines (best of {args.runs}, alternated)"))
    ratio = ours.wall / floor.wall
    print(f"omphalos replay / floor = {ratio:.2f}x (target <= 2.0x): "
          f"{'met' if ratio <= 2.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
