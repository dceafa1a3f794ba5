#!/usr/bin/env python3
"""Tail latency and idle cost of the ``file`` monitor.

1. Latency: a writer process appends access-log lines at ``--rate`` lines/s (default 5,000),
   each carrying the wall-clock time of its ``write``; a collector records, for every line
   it applies, how long ago it was written. A line is visible to a collector query as soon
   as it is applied (queries are answered by the same actor, in order), so this is the time
   from append to visible. Printed: p50, p99, max, for ``mode = events`` (inotify) and
   ``mode = polling``. Target (issue 3): p99 under 250 ms.
2. Idle cost: ``--files`` (default 1,000) files watched with nothing written; the CPU time
   of the whole process (every thread: actors, observer, scheduler) over ``--idle-secs``,
   as a percentage of one core, next to the same pipeline watching one file (the
   framework's own timers). Target: under 2%.

    python bench/tail_latency.py [--rate 5000] [--secs 5] [--files 1000] [--idle-secs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.messages import Batch, Query
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin
from omphalos.registry import Registry, default_registry

WRITER = r"""
import os, sys, time
path, rate, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
start = time.monotonic()
n = 0
while n < rate * secs:
    line = ('10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET /t/%d HTTP/1.1" 200 512\n'
            % time.time_ns()).encode()
    os.write(fd, line)
    n += 1
    delay = start + n / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
os.close(fd)
"""


@dataclass(frozen=True)
class LatencyConfig:
    """Options of the latency collector."""

    keep: int = option(1_000_000, "Most latencies kept.")


class LatencyCollector(CollectorPlugin):
    """Bench collector: for each applied line, now minus the write time in its path."""

    name = "latency"
    description = "Bench collector: append-to-visible latency of each line"
    Config: ClassVar[type] = LatencyConfig

    def setup(self) -> None:
        self.latencies_ms: list[float] = []

    def apply(self, batch: Batch) -> None:
        now = time.time_ns()
        self.latencies_ms.extend((now - int(p[3:])) / 1e6 for p in batch.records.path)

    def answer(self, query: Query) -> Any:
        if query.kind == "latency":
            return list(self.latencies_ms)
        return super().answer(query)


def registry() -> Registry:
    reg = Registry()
    for cls in default_registry().all():
        reg.add(cls)
    reg.add(LatencyCollector)
    return reg


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_secs() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def latency(tmp: Path, label: str, rate: float, secs: float, **options: Any
            ) -> dict[str, float]:
    log = tmp / f"latency-{label}.log"
    log.write_bytes(b"")
    config = {"omphalos": {"state_dir": str(tmp / f"state-{label}")},
              "monitor:logs": {"plugin": "file", "paths": [str(log)],
                               **options},
              "parser:main": {"plugin": "common"},
              "collector:latency": {"plugin": "latency"}}
    with Pipeline.from_config(config, registry=registry()) as pipe:
        time.sleep(0.5)
        cpu0 = cpu_secs()
        subprocess.run([sys.executable, "-c", WRITER, str(log), str(rate), str(secs)],
                       check=True)
        expected = int(rate * secs)
        deadline = time.monotonic() + 30
        values: list[float] = []
        while time.monotonic() < deadline:
            values = pipe.query("latency", collector="latency")
            if len(values) >= expected:
                break
            time.sleep(0.05)
        cpu = cpu_secs() - cpu0
        counters = pipe.ask("monitor:logs", Query("status"))["counters"]
    if len(values) < expected:
        raise SystemExit(f"{label}: only {len(values)} of {expected} lines arrived")
    return {"p50": percentile(values, 0.50), "p99": percentile(values, 0.99),
            "max": max(values), "lines": len(values), "cpu_us_per_line": cpu / len(values) * 1e6,
            "lines_per_batch": len(values) / max(1, counters.get("chunks_sent", 1))}


def idle_cpu(tmp: Path, mode: str, files: int, secs: float) -> float:
    root = tmp / f"idle-{mode}-{files}"
    for i in range(files):
        folder = root / f"site{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"access{i}.log").write_bytes(
            b'10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5\n')
    config = {"omphalos": {"state_dir": str(tmp / f"state-idle-{mode}-{files}")},
              "monitor:logs": {"plugin": "file", "paths": [str(root / "*" / "*.log")],
                               "mode": mode},
              "parser:main": {"plugin": "common"},
              "collector:summary": {}}
    with Pipeline.from_config(config) as pipe:
        if not pipe.wait_idle(timeout=120):
            raise SystemExit("the monitor did not read the idle files")
        watched = pipe.ask("monitor:logs", Query("status"))["files_watched"]
        if watched != files:
            raise SystemExit(f"{watched} files watched, {files} expected")
        time.sleep(1.0)
        cpu0, wall0 = cpu_secs(), time.monotonic()
        time.sleep(secs)
        cpu, wall = cpu_secs() - cpu0, time.monotonic() - wall0
    return cpu / wall * 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=5000.0, help="lines per second written")
    ap.add_argument("--secs", type=float, default=5.0, help="seconds of writing")
    ap.add_argument("--files", type=int, default=1000, help="idle files watched")
    ap.add_argument("--idle-secs", type=float, default=10.0, help="seconds of idle measuring")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="omphalos-bench-") as name:
        tmp = Path(name)
        print(f"latency: writer at {args.rate:,.0f} lines/s for {args.secs:g} s; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print(f"{'mode':<22}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'CPU us/line':>14}"
              f"{'lines/batch':>13}")
        runs: list[tuple[str, dict[str, Any]]] = [
            ("events, gather 20 ms", {"mode": "events", "event_gather_secs": 0.02}),
            ("events, gather 50 ms", {"mode": "events", "event_gather_secs": 0.05}),
            ("polling, every 250 ms", {"mode": "polling", "poll_interval_secs": 0.25})]
        for label, options in runs:
            r = latency(tmp, label.replace(",", "").replace(" ", "-"), args.rate, args.secs,
                        **options)
            print(f"{label:<22}{r['p50']:>10.1f}{r['p99']:>10.1f}{r['max']:>10.1f}"
                  f"{r['cpu_us_per_line']:>14.1f}{r['lines_per_batch']:>13.0f}")
        print(f"idle: {args.files:,} files watched for {args.idle_secs:g} s")
        for mode, files in (("events", 1), ("events", args.files), ("polling", args.files)):
            pct = idle_cpu(tmp, mode, files, args.idle_secs)
            label = f"{mode}, {files:,} file{'s' if files > 1 else ''}"
            print(f"{label:<22}{pct:>9.2f}% of one core (whole process)")


if __name__ == "__main__":
    main()
