"""How long a reload and a stop take while lines keep coming (``Pipeline.reload``/``stop``).

``python bench/reload.py [--rate 50000] [--rounds 5]``: one pipeline (file monitor,
combined parser, local transport, summary collector) tails a file that a writer thread
appends to at ``--rate`` lines/s. Each round times a reload that only adds a component (a
rewire: nothing stops), one that changes the parser (its monitor is paused until its batches
in flight are acknowledged, then restarted from its checkpoint), one that changes the
monitor itself, and, for comparison, a full restart (``stop()`` then ``start()`` of a new
pipeline, which also empties the collectors). Prints the median and worst wall times, and
each reload's ratio to the full restart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omphalos import Pipeline

LINE = ('10.0.0.{n} - - [26/Nov/2026:13:00:00 +0000] "GET /p/{n} HTTP/1.1" 200 512 "-" '
        '"bench/1.0"\n')


def writer(path: Path, rate: int, stop: threading.Event) -> None:
    chunk = max(rate // 100, 1)
    n = 0
    with path.open("a") as fh:
        while not stop.is_set():
            fh.write("".join(LINE.format(n=(n + i) % 250) for i in range(chunk)))
            fh.flush()
            n += chunk
            stop.wait(0.01)


def config(tmp: Path, *, parser_sample: int = 20, poll: float = 0.25,
           extra: bool = False) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(tmp / "state")},
        "monitor:a": {"plugin": "file", "paths": str(tmp / "a.log"),
                      "poll_interval_secs": poll},
        "parser:p": {"plugin": "combined", "bad_sample": parser_sample},
        "transport:local": {},
        "collector:summary": {},
    }
    if extra:
        sections["collector:second"] = {"plugin": "summary"}
    return sections


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=50_000, help="lines/s appended")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"rewire (collector added)": [],
                                     "parser changed (monitor paused)": [],
                                     "monitor changed": [], "full restart": []}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "a.log").write_text("")
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(tmp / "a.log", args.rate, stop))
        thread.start()
        pipeline = Pipeline.from_config(config(tmp)).start()
        try:
            for _ in range(args.rounds):
                time.sleep(0.3)
                times["rewire (collector added)"].append(
                    timed(lambda: pipeline.reload(config(tmp, extra=True))))
                time.sleep(0.3)
                times["parser changed (monitor paused)"].append(
                    timed(lambda: pipeline.reload(config(tmp, parser_sample=5))))
                time.sleep(0.3)
                times["monitor changed"].append(
                    timed(lambda: pipeline.reload(config(tmp, parser_sample=5, poll=0.2))))
                time.sleep(0.3)

                def restart() -> None:
                    nonlocal pipeline
                    pipeline.stop()
                    pipeline = Pipeline.from_config(config(tmp)).start()

                times["full restart"].append(timed(restart))
        finally:
            pipeline.stop()
            stop.set()
            thread.join()
    full = statistics.median(times["full restart"])
    print(f"reload timings at {args.rate:,} lines/s appended, {args.rounds} rounds")
    print(f"{'change':<34} {'median ms':>10} {'worst ms':>10} {'vs restart':>11}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<34} {median * 1000:>10.1f} {max(values) * 1000:>10.1f} "
              f"{median / full:>10.2f}x")


if __name__ == "__main__":
    main()
