#!/usr/bin/env python3
"""What the console costs its UI thread, on real answers of a loaded pipeline.

A pipeline (window collector when installed, summary) reads a synthetic log made by
``../shared/bench/genlog.py`` to the end; then, on the console object itself (no terminal):

1. a query's round trip through ``LocalSource`` (submit -> callback on a worker), per kind;
2. a full redraw (header, table, alerts, footer) as an urwid canvas, at two sizes;
3. taking one answer into the screen (the ``watch_pipe`` callback: drain + rebuild the rows);
4. a key (switch view) to its redrawn canvas: what the UI thread does before anything is
   asked (the answer comes later, on a worker).

    python bench/httptop.py [--lines 200000] [--paths 5000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import generate
from omphalos.console.app import HttptopApp
from omphalos.console.config import HttptopConfig
from omphalos.console.source import LocalSource, Reply
from omphalos.pipeline import Pipeline
from omphalos.registry import default_registry


def per_call(fn: Any, repeat: int) -> tuple[float, float]:
    """Median and p95 of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def round_trip(source: LocalSource, kind: str, params: dict[str, Any]) -> None:
    done = threading.Event()
    replies: list[Reply] = []
    source.submit(kind, params, lambda r: (replies.append(r), done.set()))
    if not done.wait(60) or not replies[0].ok:
        raise SystemExit(f"{kind}: {replies[0].error if replies else 'no answer'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--paths", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    log = generate(args.lines, paths=args.paths)
    collectors: dict[str, dict[str, Any]] = {}
    if default_registry().has("collector", "window"):
        collectors["collector:window"] = {"plugin": "window", "history": False,
                                          "clock": "event"}
    collectors["collector:summary"] = {"plugin": "summary"}
    config = {"monitor:files": {"plugin": "file", "paths": [str(log)], "follow": False,
                                "checkpoints": False}, **collectors}
    with Pipeline.from_config(config) as pipeline:
        start = time.perf_counter()
        if not pipeline.wait_idle(timeout=600):
            raise SystemExit("the pipeline did not finish reading")
        print(f"{args.lines:,} lines ({args.paths:,} paths) read in "
              f"{time.perf_counter() - start:.1f}s; collectors: {', '.join(collectors)}")
        source = LocalSource(pipeline)
        window = "5m" if "collector:window" in collectors else "all"
        kinds = {"top": {"dimension": "path", "window": window, "limit": 200, "sort": "hits"},
                 "summary": {"limit": 1}, "alerts": {}}
        if "collector:window" in collectors:
            kinds["overview"] = {"window": "1m"}
        print("\nquery round trip through LocalSource (ms)      median     p95")
        for kind, params in kinds.items():
            med, p95 = per_call(lambda k=kind, p=params: round_trip(source, k, p),
                                max(20, args.repeat // 5))
            print(f"  {kind:<44} {med:7.2f} {p95:7.2f}")

        app = HttptopApp(source, HttptopConfig(window=window, theme="mono"))
        app.poller.poll()
        deadline = time.monotonic() + 60
        while not app.widget.drawn and time.monotonic() < deadline:
            if app.poller.drain():
                app.widget.refresh()
            app.poller.poll()
            time.sleep(0.05)
        rows = len(app.widget.drawn)
        print(f"\nUI thread (ms), {rows} rows in the table        median     p95")
        for size in ((120, 40), (240, 70)):
            med, p95 = per_call(lambda s=size: (app.widget._invalidate(),
                                                app.widget.render(s, focus=True)), args.repeat)
            print(f"  full redraw {size[0]}x{size[1]:<30} {med:7.2f} {p95:7.2f}")
        med, p95 = per_call(lambda: app.widget.refresh(), args.repeat)
        print(f"  {'one answer into the screen (rebuild rows)':<44} {med:7.2f} {p95:7.2f}")

        views = iter(["2", "1"] * args.repeat)

        def key() -> None:
            left = app.widget.keypress((120, 40), next(views))
            if left is not None:
                app.on_key(left)
            app.widget.render((120, 40), focus=True)

        med, p95 = per_call(key, args.repeat)
        print(f"  {'key (switch view) to its redrawn canvas':<44} {med:7.2f} {p95:7.2f}")
        app.close()
        source.close()


if __name__ == "__main__":
    main()
