#!/usr/bin/env python3
"""Memory and query time of the collectors under many distinct paths, with GoAccess beside.

Makes a combined log with ../shared/bench/genlog.py (default 2,000,000 lines, 1,000,000
distinct paths), runs it in a child process through a pipeline of the file monitor, the
combined parser, the ``summary`` collector and a ``window`` collector holding one 5-minute
window, and reports the child's peak RSS and the time of ``top`` queries (top-20 paths,
the window's and the summary's) asked while the lines stream in and once they are all in
(and, for comparison, of a ``status`` query, which has nothing to compute).
Then GoAccess (if installed) reads the same file, and its peak RSS is reported beside.
Targets (issue 5): peak RSS under 200 MB, a top-20 query under 10 ms.

    python bench/memory.py [--lines 2000000] [--paths 1000000] [--no-goaccess]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ensure_goaccess, generate

CHILD = r"""
import json, resource, sys, threading, time
from omphalos.messages import Query
from omphalos.pipeline import Pipeline

log, state = sys.argv[1], sys.argv[2]
cfg = {
    "omphalos": {"state_dir": state},
    "monitor:files": {"plugin": "file", "paths": log, "follow": "no"},
    "parser:main": {"plugin": "combined"},
    "collector:summary": {"plugin": "summary"},
    "collector:window": {"plugin": "window", "windows": "5m/5s", "alert_window": "5m",
                         "baseline_window": "5m", "clock": "event"},
}
pipeline = Pipeline.from_config(cfg)
# busy_status: a status query (no work to answer) shows what waiting alone costs
timings = {"busy_window": [], "busy_summary": [], "busy_status": [], "idle_window": [],
           "idle_summary": []}
done = threading.Event()

def ask(kind):
    t = time.perf_counter()
    if kind == "busy_status":
        pipeline.ask("collector:window", Query("status"), 30)
    elif kind.endswith("window"):
        pipeline.query("top", collector="window", window="5m", limit=20, timeout=30)
    else:
        pipeline.query("top", collector="summary", window="all", limit=20, timeout=30)
    timings[kind].append((time.perf_counter() - t) * 1000)

def busy():
    # the first query after the pause waits longest (the threads ran with Python's 5 ms
    # switch interval until it asked): each kind goes first in turn
    kinds = ["busy_window", "busy_summary", "busy_status"]
    while not done.is_set():
        kinds.append(kinds.pop(0))
        try:
            for kind in kinds:
                ask(kind)
        except Exception as exc:  # the pipeline may be starting
            print("query:", exc, file=sys.stderr)
        time.sleep(0.1)

started = time.perf_counter()
pipeline.start()
thread = threading.Thread(target=busy, daemon=True)
thread.start()
try:
    target = None
    while True:
        s = pipeline.query("summary", collector="summary", limit=1, timeout=30)
        if s["lines"] and pipeline.wait_idle(2.0) and s["lines"] == pipeline.query(
                "summary", collector="summary", limit=1, timeout=30)["lines"]:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    done.set()
    thread.join(30)
    for _ in range(50):
        ask("idle_window"); ask("idle_summary")
    summary = pipeline.query("summary", collector="summary", limit=20, timeout=30)
    top = pipeline.query("top", collector="window", window="5m", limit=20, timeout=30)
finally:
    pipeline.stop()
print(json.dumps({"elapsed": elapsed, "lines": summary["lines"],
                  "requests": summary["requests"], "error_bounds": summary["error_bounds"],
                  "window_error_bound": top["error_bound"],
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "timings": timings}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))] if ordered else 0.0


def run_child(log: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(log), state],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pipeline failed: {proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def peak_rss_of(argv: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a command, from wait4's resource usage."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed with {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--no-goaccess", action="store_true")
    args = ap.parse_args()

    log = generate(args.lines, "combined", paths=args.paths)
    print(f"input: {args.lines:,} combined lines, {args.paths:,} distinct paths "
          f"(genlog --paths), {log.stat().st_size / 1e6:.0f} MB")
    ours = run_child(log)
    if ours["requests"] != args.lines:
        raise SystemExit(f"counted {ours['requests']} of {args.lines} lines")
    rss = ours["peak_rss_kb"] / 1024
    print(f"omphalos (summary + 5m window): peak RSS {rss:.0f} MB, "
          f"{ours['elapsed']:.1f} s for the lines ({args.lines / ours['elapsed']:,.0f}/s)")
    print(f"  error bounds: summary paths {ours['error_bounds']['path']}, clients "
          f"{ours['error_bounds']['client']}; 5m window paths {ours['window_error_bound']}")
    for name, values in ours["timings"].items():
        if values:
            label = "status" if name == "busy_status" else "top-20"
            print(f"  {label:6s} {name:13s} n={len(values):3d}  median "
                  f"{statistics.median(values):6.2f} ms  p95 "
                  f"{percentile(values, 0.95):6.2f} ms  max {max(values):6.2f} ms")
    goaccess = None if args.no_goaccess else ensure_goaccess()
    if goaccess:
        with tempfile.TemporaryDirectory() as tmp:
            peak, wall = peak_rss_of([goaccess, str(log), "--log-format=COMBINED",
                                      "-o", str(Path(tmp) / "report.json")])
        print(f"goaccess (same file): peak RSS {peak:.0f} MB, {wall:.1f} s; "
              f"omphalos/goaccess RSS ratio {rss / peak:.2f}")
    else:
        print("goaccess: not available")


if __name__ == "__main__":
    main()
