"""Durable collector state: ingest with it on against off, snapshot size, restore time.

1. Ingest, same run, rounds alternated (off then on, on then off...): a pipeline in this
   process reads a synthetic log (file monitor with checkpoints, combined parser, local
   transport, the ``summary`` and ``window`` collectors, history off in both) from its start
   to the last committed offset. "on": durable state with acknowledgements held until a
   save includes the batch (the defaults); "off": ``durable = no``. Two logs: a live one
   (the lines' times are the 30 s before the run, as a collector receives them) and an old
   one replayed at full speed (every window bucket changes between two saves: the worst
   case). Printed: lines/s of wall time and of CPU time per round, the on/off ratios, and
   for both wall and CPU time the median of the rounds' ratios with their spread (lowest,
   quartiles, highest). Each round's ratio pairs two runs made one right after the other,
   so that the machine's load, which moves by more than durability's cost on a shared
   machine, mostly cancels out; the order alternates (off then on, on then off) so that
   neither side always runs second. Last, the ratio of the fastest run of each side
   (the least disturbed).
2. Snapshot and restore at many distinct paths: the same pipeline reads a log of
   ``--paths`` distinct paths with durability on; printed: bytes of the saved parts per
   collector and of the SQLite file, then the time a pipeline without a monitor takes to
   start and answer its first query from that state (against the same with no state).

    python bench/durability.py [--lines 200000] [--rounds 6] [--paths 1000000]
                               [--logs live,old] [--no-restore]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import generate  # noqa: E402
from omphalos.pipeline import Pipeline  # noqa: E402


def config(state: Path, log: Path | None, durable: bool) -> dict[str, dict[str, Any]]:
    cfg: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(state), "log_level": "warning"},
        "parser:p": {"plugin": "combined"},
        "collector:summary": {"plugin": "summary", "durable": durable},
        "collector:window": {"plugin": "window", "history": False, "durable": durable},
    }
    if log is not None:
        cfg["monitor:files"] = {"plugin": "file", "paths": str(log), "follow": False}
    return cfg


def runqueue_ns() -> dict[int, int]:
    """Nanoseconds each thread of this process has waited, runnable, for a CPU (Linux
    ``/proc/self/task/*/schedstat``; empty elsewhere): time the machine's other work took."""
    waits: dict[int, int] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return waits
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as fh:
                waits[int(tid)] = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return waits


def ingest(log: Path, durable: bool, lines: int) -> tuple[float, float, dict[str, int]]:
    """Lines per second of wall time and of CPU time (this process, every thread) from start
    to the last offset committed, and counters: the collectors' save counters (summed),
    ``credit_wait_ms`` (the monitor out of credit: waiting for batches to be applied or
    acknowledged), ``credit_wait_for_saves_ms`` (of it, with every batch it may have
    unacknowledged waiting for a save), ``runqueue_ms`` (the threads' time runnable and
    waiting for a CPU the machine's other processes had: summed over threads, so it may
    exceed the wall time)."""
    state = Path(tempfile.mkdtemp(prefix="omphalos-bench-"))
    try:
        pipeline = Pipeline.from_config(config(state, log, durable))
        waited = runqueue_ns()
        started = time.perf_counter()
        cpu = time.process_time()
        pipeline.start()
        try:
            while True:
                status = pipeline.ask("monitor:files", _status(), timeout=10)
                if status.get("idle"):
                    break
                time.sleep(0.02)
            secs = time.perf_counter() - started
            cpu = time.process_time() - cpu
            now = runqueue_ns()
            counted = pipeline.query("summary")["requests"]
            assert counted == lines, (counted, lines)
            saves: dict[str, int] = {
                "runqueue_ms": sum(v - waited.get(t, 0) for t, v in now.items()) // 10**6,
                "credit_wait_ms": int(status["counters"].get("credit_wait_ms", 0)),
                "credit_wait_for_saves_ms": int(status["counters"].get(
                    "credit_wait_for_saves_ms", 0))}
            for actor in pipeline.status()["actors"].values():
                for key, value in actor.get("counters", {}).items():
                    if key.endswith("_max"):
                        saves[key] = max(saves.get(key, 0), int(value))
                    elif key.startswith("state_"):
                        saves[key] = saves.get(key, 0) + int(value)
        finally:
            pipeline.stop()
        return lines / secs, lines / cpu, saves
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _status() -> Any:
    from omphalos.messages import Query

    return Query("status")


def live_copy(log: Path, target: Path, span_secs: float = 30.0) -> Path:
    """``log`` with its lines' times moved to the last ``span_secs`` before now, in order:
    what a collector receives live (the window's head is the wall clock)."""
    lines = log.read_bytes().splitlines(keepends=True)
    end = time.time()
    step = span_secs / max(1, len(lines))
    out = []
    for i, line in enumerate(lines):
        left = line.index(b"[")
        right = line.index(b"]", left)
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000",
                              time.gmtime(end - span_secs + i * step)).encode()
        out.append(line[:left + 1] + stamp + line[right:])
    target.write_bytes(b"".join(out))
    return target


def restore_secs(state: Path, durable: bool) -> tuple[float, int]:
    """Seconds to start a pipeline (no monitor) and answer a query; requests it answers."""
    started = time.perf_counter()
    pipeline = Pipeline.from_config(config(state, None, durable))
    pipeline.start()
    try:
        requests = pipeline.query("summary")["requests"]
        pipeline.query("overview", window="1h")
        return time.perf_counter() - started, requests
    finally:
        pipeline.stop()


def spread(values: list[float], fmt: str = ".3f") -> str:
    """``median (range lowest - highest, quartiles lower - upper)`` of ``values``."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return format(ordered[0], fmt)
    low, _, high = statistics.quantiles(ordered, n=4, method="inclusive")
    return (f"{statistics.median(ordered):{fmt}} (range {ordered[0]:{fmt}} - "
            f"{ordered[-1]:{fmt}}, quartiles {low:{fmt}} - {high:{fmt}})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--distinct-lines", type=int, default=0,
                    help="lines of the many-paths log (default: --paths)")
    ap.add_argument("--logs", default="live,old",
                    help="part 1's logs, comma-separated: live, old (default: both)")
    ap.add_argument("--no-restore", action="store_true", help="skip part 2")
    args = ap.parse_args()

    log = generate(args.lines, "combined", paths=10_000)
    work = Path(tempfile.mkdtemp(prefix="omphalos-bench-"))
    scenarios = [("live: the lines' times are the last 30 s", True),
                 ("old log: genlog's times (10 ms apart), replayed at full speed", False)]
    wanted = {name.strip() for name in args.logs.split(",")}
    for label, live in scenarios:
        if ("live" if live else "old") not in wanted:
            continue
        print(f"1. ingest, {label}: {args.lines} lines ({log.stat().st_size >> 20} MiB), "
              f"summary + window, {args.rounds} rounds, off and on alternated")
        walls, cpus = [], []
        absolute: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for n in range(args.rounds):
            order = (False, True) if n % 2 == 0 else (True, False)
            got = {}
            for durable in order:
                source = live_copy(log, work / "live.log") if live else log
                got[durable] = ingest(source, durable, args.lines)
            (off, off_cpu, off_saves), (on, on_cpu, saves) = got[False], got[True]
            absolute[False].append((off, off_cpu))
            absolute[True].append((on, on_cpu))
            walls.append(on / off)
            cpus.append(on_cpu / off_cpu)
            print(f"   round {n + 1}: off {off:,.0f} lines/s ({off_cpu:,.0f} per CPU s), on "
                  f"{on:,.0f} lines/s ({on_cpu:,.0f} per CPU s): on/off {on / off:.3f} "
                  f"wall, {on_cpu / off_cpu:.3f} CPU; {saves.get('state_saves', 0)} saves, "
                  f"{saves.get('state_bytes_written', 0) / 1e6:.1f} MB, "
                  f"{saves.get('state_save_ms', 0)} ms ("
                  f"{saves.get('state_snapshot_ms', 0)} ms of snapshots in the actors), "
                  f"{saves.get('state_saves_senders_stopped', 0)} made at once as the "
                  f"senders had stopped; longest commit "
                  f"{saves.get('state_commit_ms_max', 0)} ms; monitor out of credit "
                  f"{off_saves['credit_wait_ms']} ms off, {saves['credit_wait_ms']} ms on "
                  f"({saves['credit_wait_for_saves_ms']} ms of it waiting for saves); "
                  f"threads waiting for a CPU {off_saves['runqueue_ms'] / 1000:.2f} s off, "
                  f"{saves['runqueue_ms'] / 1000:.2f} s on")
        for durable in (False, True):
            rates = absolute[durable]
            print(f"   {'on' if durable else 'off'}: lines/s of wall time "
                  f"{spread([r[0] for r in rates], ',.0f')}; of CPU time "
                  f"{spread([r[1] for r in rates], ',.0f')}")
        print(f"   on/off, wall time: {spread(walls)}")
        print(f"   on/off, CPU time:  {spread(cpus)}")
        best = [max(r[i] for r in absolute[True]) / max(r[i] for r in absolute[False])
                for i in (0, 1)]
        print(f"   on/off of the fastest round of each (the least disturbed): "
              f"{best[0]:.3f} wall time, {best[1]:.3f} CPU time")
    shutil.rmtree(work, ignore_errors=True)
    if args.no_restore:
        return

    distinct = args.distinct_lines or args.paths
    many = generate(distinct, "combined", paths=args.paths)
    state = Path(tempfile.mkdtemp(prefix="omphalos-bench-"))
    try:
        started = time.perf_counter()
        pipeline = Pipeline.from_config(config(state, many, True))
        pipeline.start()
        try:
            while not pipeline.ask("monitor:files", _status(), timeout=10).get("idle"):
                time.sleep(0.1)
            read_secs = time.perf_counter() - started
            top = pipeline.query("top", dimension="path", window="all", limit=1)
        finally:
            pipeline.stop()
        db = state / "collectors.sqlite"
        with sqlite3.connect(db) as conn:
            sizes = dict(conn.execute("SELECT collector, sum(length(data)) FROM parts GROUP "
                                      "BY collector"))
        file_bytes = sum(os.path.getsize(p) for p in state.glob("collectors.sqlite*"))
        print(f"2. {distinct:,} lines, {args.paths:,} distinct paths read in {read_secs:.1f}s "
              f"(summary's path error bound {top['error_bound']})")
        for name, size in sorted(sizes.items()):
            print(f"   saved parts of {name}: {size / 1e6:.2f} MB")
        print(f"   state file (with WAL): {file_bytes / 1e6:.2f} MB")
        restored, requests = restore_secs(state, True)
        empty = Path(tempfile.mkdtemp(prefix="omphalos-bench-"))
        try:
            fresh, _ = restore_secs(empty, True)
        finally:
            shutil.rmtree(empty, ignore_errors=True)
        print(f"   start + first answer: {restored:.3f}s from the state ({requests:,} "
              f"requests restored), {fresh:.3f}s with no state: restore costs "
              f"{restored - fresh:.3f}s")
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
