#!/usr/bin/env python3
"""Replay speed: ``omphalos replay`` against the pure-Python floor, GoAccess and ngxtop.

Makes a combined log with ../shared/bench/genlog.py, then times, in the same run on the same
file, each tool parsing and counting it, and prints each time and its ratio to the floor.
``omphalos replay`` runs in one process (``--workers 1``) and on every core (``--workers``
the machine's core count, :mod:`omphalos.replaying`). Targets (issue 22): one process at
most 1.3x the floor's time, all cores of a 2-core machine at most 0.75x. ``--big-lines N``
also replays N lines on every core and compares the time per million lines with the first
run's (target: within 10%, the cost grows linearly). The load average is printed: on a
shared machine wall times measure the neighbours too, so each figure is the **median** of
``--runs`` alternated rounds, for wall and CPU time alike, and CPU time counts every
process of a run: this script is a child subreaper (``prctl``), so the workers, children
of multiprocessing's fork server, are reaped here and their CPU time counted. The sources
are byte-compiled first, as an installed package is.

``--baseline DIR`` also times the replay of another source tree (a checkout of an older
commit: ``git worktree add /tmp/before main``) in the same rounds, for before/after figures
from one run, run in DIR (``python -m`` imports from the working directory first) with
``DIR/.venv/bin/python`` when the tree has its own virtualenv (else ``PYTHONPATH``). The
parse core of each (compiled or pure Python, :mod:`omphalos.speedups`) is printed first.

    python bench/replay.py [--lines 1000000] [--runs 3] [--no-peers] [--big-lines 10000000]
                           [--baseline DIR]
"""

from __future__ import annotations

import argparse
import compileall
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import (
    FLOOR,
    ROOT,
    Timing,
    ensure_goaccess,
    ensure_ngxtop,
    generate,
    report,
)

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Orphaned descendants (a fork server and its workers) become our children, so that
    their CPU time reaches ``RUSAGE_CHILDREN`` once reaped (Linux only)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap() -> None:
    """Wait for every remaining descendant (the fork server ends with its parent)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def compile_sources(root: Path = ROOT) -> None:
    """Byte-compile Omphalos as an installation is (``pip install`` writes the ``.pyc``
    files): with ``PYTHONDONTWRITEBYTECODE`` set and an editable checkout, every run would
    compile every module again, about 0.15 s of CPU per process that users do not pay."""
    for package in ("omphalos", "plugins"):
        compileall.compile_dir(str(root / package), quiet=1)


def baseline_python(tree: Path) -> list[str]:
    """How to run the Python of the source tree ``tree``, in ``tree`` (``python -m`` puts
    the working directory first on the path: run from this checkout, the "before" would
    import this checkout's code): its own virtualenv's python when it has one
    (``DIR/.venv``), else this python with ``tree`` first on ``PYTHONPATH`` (which an
    editable install of this checkout may still override)."""
    python = tree / ".venv" / "bin" / "python"
    if python.exists():
        return ["env", "-C", str(tree), str(python)]
    return ["env", "-C", str(tree), f"PYTHONPATH={tree}", sys.executable]


def core_of(python: list[str]) -> str:
    """Which parse core ``python`` runs Omphalos with (:mod:`omphalos.speedups`)."""
    code = ("try:\n from omphalos.speedups import core_line; print(core_line())\n"
            "except ImportError:\n print('parse core: pure Python (no omphalos.speedups)')")
    return subprocess.run([*python, "-c", code], capture_output=True, text=True,
                          check=False).stdout.strip()


def run_once(name: str, argv: list[str]) -> Timing:
    """Wall time of ``argv``, and the CPU time of it and all its descendants."""
    _reap()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    _reap()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(name, wall, cpu, proc.stdout)


def medians(commands: dict[str, list[str]], runs: int) -> dict[str, Timing]:
    """Every command once per round, ``runs`` rounds; the median wall and the median CPU
    time of each (a noisy neighbour's bursts spread over every tool)."""
    seen: dict[str, list[Timing]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            seen[name].append(run_once(name, argv))
    return {name: Timing(name, statistics.median(t.wall for t in got),
                         statistics.median(t.cpu for t in got), got[-1].output)
            for name, got in seen.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="alternated rounds; medians count")
    ap.add_argument("--no-peers", action="store_true", help="skip GoAccess and ngxtop")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes of the all-cores replay (default: the core count)")
    ap.add_argument("--big-lines", type=int, default=0,
                    help="also replay this many lines on every core (0: skip)")
    ap.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                    help="also time the omphalos of this source tree (before/after)")
    args = ap.parse_args()
    if not become_subreaper():
        print("not a subreaper: the CPU time of -w N misses its workers")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")

    print(f"this checkout: {core_of([sys.executable])}")
    compile_sources()
    if args.baseline is not None:
        compile_sources(args.baseline.resolve())
        print(f"baseline: {' '.join(baseline_python(args.baseline.resolve()))}: "
              f"{core_of(baseline_python(args.baseline.resolve()))}")
    log = generate(args.lines, "combined")
    print(f"input: {args.lines:,} combined lines, {log.stat().st_size / 1e6:.0f} MB ({log})")
    omphalos = [sys.executable, "-m", "omphalos.cli.main", "replay", "--json"]
    one, every = "omphalos replay -w 1", f"omphalos replay -w {args.workers}"
    commands = {
        "floor.py": [sys.executable, str(FLOOR), str(log)],
        one: [*omphalos, "-w", "1", "--format", "combined", str(log)],
        "omphalos -w 1 (auto)": [*omphalos, "-w", "1", str(log)],
        every: [*omphalos, "-w", str(args.workers), "--format", "combined", str(log)],
        f"omphalos -w {args.workers} (auto)": [*omphalos, "-w", str(args.workers), str(log)],
    }
    if args.baseline is not None:
        before = [*baseline_python(args.baseline.resolve()), *omphalos[1:]]
        commands["before: replay -w 1"] = [*before, "-w", "1", "--format", "combined",
                                           str(log)]
        commands[f"before: replay -w {args.workers}"] = [
            *before, "-w", str(args.workers), "--format", "combined", str(log)]
    best = medians(commands, args.runs)
    floor, ours, all_cores = best["floor.py"], best[one], best[every]
    expected = int(floor.output.split()[0])
    for name, timing in best.items():
        if name != "floor.py":
            counted = json.loads(timing.output)["requests"]
            if counted != expected:
                raise SystemExit(f"{name} counted {counted}, floor.py {expected}")
    same = ("requests", "bytes", "status", "top_paths", "methods", "first_time", "last_time")
    a, b = json.loads(ours.output), json.loads(all_cores.output)
    differ = [k for k in same if a[k] != b[k]]
    if differ:
        raise SystemExit(f"{every} and {one} differ in {differ}")
    rows: list[Timing] = list(best.values())
    if not args.no_peers:
        goaccess = ensure_goaccess()
        if goaccess:
            out = log.with_suffix(".goaccess.json")
            rows.append(run_once("goaccess", [goaccess, str(log), "--log-format=COMBINED",
                                              "--no-progress", "-o", str(out)]))
        else:
            print("goaccess: not available")
        ngxtop = ensure_ngxtop()
        if ngxtop:
            rows.append(run_once("ngxtop", [ngxtop, "--no-follow", "-l", str(log)]))
        else:
            print("ngxtop: not available")
    print(report(rows, floor, f"replay of {args.lines:,} lines (medians of {args.runs} "
                              "alternated rounds; peers: one run)"))
    for name, timing, target in ((one, ours, 1.3), (every, all_cores, 0.75)):
        ratio = timing.wall / floor.wall
        print(f"{name} / floor = {ratio:.2f}x wall, {timing.cpu / floor.cpu:.2f}x cpu "
              f"(target <= {target}x): {'met' if ratio <= target else 'NOT met'} by wall")
    if args.big_lines:
        big = generate(args.big_lines, "combined")
        run = run_once(f"{every} ({args.big_lines:,})",
                       [*omphalos, "-w", str(args.workers), "--format", "combined", str(big)])
        if json.loads(run.output)["requests"] != args.big_lines:
            raise SystemExit(f"{run.name} counted {json.loads(run.output)['requests']}")
        for what, small, large in (("wall", all_cores.wall, run.wall),
                                   ("cpu", all_cores.cpu, run.cpu)):
            per_small = small / (args.lines / 1e6)
            per_big = large / (args.big_lines / 1e6)
            print(f"{run.name}: {large:.2f}s {what}; per million lines {per_big:.2f}s "
                  f"against {per_small:.2f}s for {args.lines:,} "
                  f"({per_big / per_small - 1:+.0%}; target within 10%)")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
