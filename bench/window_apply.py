"""The window collector's own apply rate (CPU time, one process), beside the summary's.

    python bench/window_apply.py [--lines 20000] [--rounds 3] [--slice 200] [--memory N]

The batches of ``bench/fleet.py`` (5,000 parsed lines of a generated combined log, 100
lines per second of event time) are applied by ``summary`` and ``window`` plugin objects in
this thread, from one host and dealt to 20 hosts (each bucket then holds 20 hosts' parts,
as at a fleet collector). The window is fed whole batches (``receive``, the in-process
reference of ``bench/fleet.py``) and in slices of ``--slice`` lines, the way its actor
applies a batch between queries, with the slices ending where a second of event time
ends (``slice_stop``) or cut at the size only (the previous behaviour), in the same run.

``--memory N`` instead prints the growth of this process's peak RSS while a window store
takes every batch from each of N hosts, each host's copy decoded apart (a pickle round
trip, as the receiver decodes each sender's batches: equal keys, new objects), and its
CPU rate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleet  # bench/ is not a package: found through sys.path


def feed(collector: Any, batch: Any, mode: str, size: int) -> None:
    """Apply ``batch``: whole, or in slices ending at a second ("aligned") or anywhere."""
    from omphalos.lib.collectors.interleave import slice_batch

    if mode == "whole":
        collector.receive(batch)
        return
    admitted = collector.admit(batch)
    if admitted is None:
        return
    total = len(admitted.records)
    position = 0
    while position < total:
        stop = min(total, position + size)
        if mode == "aligned":
            stop = collector.slice_stop(admitted, position, stop)
        collector.apply(slice_batch(admitted, position, stop))
        position = stop


def rate(name: str, batches: list[Any], hosts: int, mode: str, size: int, state: str
         ) -> float:
    """Lines per CPU second of a fresh ``name`` collector fed every batch from ``hosts``."""
    collector = fleet._plugin("collector", name, state)
    lines = 0
    cpu = time.process_time()
    for n, b in enumerate(batches):
        for h in range(hosts):
            source = replace(b.source, host=f"web{h:03d}", file_id=f"1:{h}:{n}")
            feed(collector, replace(b, source=source), mode, size)
            lines += len(b.records)
    return lines / (time.process_time() - cpu)


def memory(batches: list[Any], hosts: int) -> None:
    """Peak RSS growth and lines per CPU second of a window store fed ``hosts`` copies,
    decoded apart, of every batch (expired after each round, as the actor's tick does)."""
    import gc
    import pickle
    import resource

    from omphalos.plugins.collectors.window import WindowConfig, WindowStore

    blobs = [pickle.dumps(b.records) for b in batches]
    store = WindowStore(WindowConfig(), clock=lambda: 0.0)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    lines = 0
    for blob in blobs:
        for h in range(hosts):
            records = pickle.loads(blob)
            store.add(records, f"web{h:03d}", len(records))
            lines += len(records)
        store.expire()
    rate = lines / (time.process_time() - cpu)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"{hosts} hosts, batches decoded apart: window peak RSS growth {grown:.0f} MB, "
          f"{rate:,.0f} lines per CPU s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slice", type=int, default=200,
                    help="lines per slice (the actor's smallest: min_slice_lines)")
    ap.add_argument("--memory", type=int, default=0, metavar="N",
                    help="print the window's memory with N hosts' batches decoded apart")
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="window-apply-")
    batches = fleet.templates(args.lines, state)
    if args.memory:
        memory(batches, args.memory)
        return
    runs = [("summary", "whole"), ("window", "whole"), ("window", "aligned"),
            ("window", "cut")]
    for hosts in (1, 20):
        got: dict[tuple[str, str], list[float]] = {r: [] for r in runs}
        for _ in range(args.rounds):  # alternated: each round runs every variant once
            for name, mode in runs:
                got[(name, mode)].append(rate(name, batches, hosts, mode, args.slice, state))
        med = {r: statistics.median(v) for r, v in got.items()}
        print(f"{hosts} host(s), {args.lines:,} lines each, median of {args.rounds}:")
        for (name, mode), value in med.items():
            print(f"   {name:8s} {mode:8s} {value:>10,.0f} lines per CPU s")
        both = 1 / (1 / med[("summary", "whole")] + 1 / med[("window", "whole")])
        print(f"   summary + window, whole batches: {both:,.0f} lines per CPU s; window "
              f"slices aligned / cut: {med[('window', 'aligned')] / med[('window', 'cut')]:.2f}"
              f"x")


if __name__ == "__main__":
    main()
