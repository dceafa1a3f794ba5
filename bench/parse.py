#!/usr/bin/env python3
"""Parser throughput: lines per second for each format, and the ratio to the pure-Python floor.

  python bench/parse.py [-n 1000000] [--formats combined,common,combined_rt,w3c,json]

Generates the logs with ``../shared/bench/genlog.py`` (relative to the project root) into a
temporary directory, parses each one the way the pipeline does (the file read in 1 MiB chunks
of complete lines, each chunk given to the parser), then runs ``../shared/bench/floor.py``
on the same combined file in the same run. Times are CPU seconds (user + system, of this
process or of the floor's child process): on a shared, loaded machine wall time mostly
measures the neighbours. The target: the combined parser alone within 1.3x the floor's time.
JSON lines are derived from the combined log (genlog has no JSON).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT))

from omphalos.plugins.parsers.auto import candidates  # noqa: E402
from omphalos.plugins.parsers.clf import COMBINED_TOKENS, COMMON_TOKENS  # noqa: E402
from omphalos.plugins.parsers.jsonl import JsonFormat  # noqa: E402
from omphalos.plugins.parsers.nginx import compile_nginx  # noqa: E402
from omphalos.plugins.parsers.w3c import W3CStream  # noqa: E402

from omphalos.lib.parsers.linefmt import LineFormat  # noqa: E402

CHUNK = 1 << 20


def chunks(path: Path) -> Iterator[tuple[bytes, int]]:
    """The file as the monitor hands it over: chunks of complete lines, with offsets."""
    with open(path, "rb") as fh:
        rest, offset = b"", 0
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            block = rest + block
            end = block.rfind(b"\n") + 1
            yield block[:end], offset
            offset += end
            rest = block[end:]
        if rest:
            yield rest, offset


def parser_for(name: str) -> Any:
    if name == "combined":
        return LineFormat("combined", COMBINED_TOKENS)
    if name == "common":
        return LineFormat("common", COMMON_TOKENS)
    if name == "combined_rt":
        return compile_nginx("combined_rt")
    if name == "w3c":
        return W3CStream()
    if name == "json":
        return JsonFormat()
    raise ValueError(name)


def run(parser: Any, path: Path) -> tuple[float, float, int, int]:
    """(CPU seconds, wall seconds, records, unparsed) for parsing ``path`` with ``parser``."""
    c0, t0 = time.process_time(), time.perf_counter()
    records = unparsed = 0
    for data, start in chunks(path):
        columns, _, _, reasons = parser.parse(data, start)
        records += len(columns)
        unparsed += sum(reasons.values())
    return time.process_time() - c0, time.perf_counter() - t0, records, unparsed


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def floor(path: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``floor.py`` on ``path``."""
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, str(SHARED / "floor.py"), str(path)], check=True,
                   stdout=subprocess.DEVNULL)
    return _children_cpu() - c0, time.perf_counter() - t0


def make_json(combined: Path, out: Path) -> None:
    """JSON lines carrying the same requests as the combined log, nginx escape=json keys."""
    fmt = LineFormat("combined", COMBINED_TOKENS)
    with open(out, "w") as fh:
        for data, start in chunks(combined):
            for r in fmt.parse(data, start)[0].rows():
                fh.write(json.dumps({
                    "msec": r.time, "remote_addr": r.client, "request_method": r.method,
                    "request_uri": r.path + (f"?{r.query}" if r.query else ""),
                    "server_protocol": r.protocol, "status": r.status,
                    "body_bytes_sent": r.bytes, "http_referer": r.referer,
                    "http_user_agent": r.agent}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000, help="lines per generated log")
    ap.add_argument("--formats", default="combined,common,combined_rt,w3c,json")
    ap.add_argument("--repeat", type=int, default=3,
                    help="combined/floor.py runs, alternated; the best of each is compared")
    a = ap.parse_args()
    formats = a.formats.split(",")
    with tempfile.TemporaryDirectory(prefix="omphalos-bench-") as tmp:
        logs: dict[str, Path] = {}
        for name in {"combined", *formats} - {"json"}:
            logs[name] = Path(tmp) / f"{name}.log"
            with open(logs[name], "wb") as fh:
                subprocess.run([sys.executable, str(SHARED / "genlog.py"), "-n", str(a.n),
                                "--format", name], stdout=fh, check=True)
        if "json" in formats:
            logs["json"] = Path(tmp) / "json.log"
            make_json(logs["combined"], logs["json"])
        assert candidates()  # the auto parser's formats compile
        print(f"parser throughput, {a.n:,} generated lines per format, Python "
              f"{sys.version.split()[0]}\n")
        print("CPU seconds (user+sys; the machine is shared, wall time in brackets)\n")
        print(f"{'format':<12} {'cpu s':>7} {'lines/s':>11} {'(wall s)':>9} {'records':>10} "
              f"{'unparsed':>9}")
        results: dict[str, float] = {}
        for name in formats:
            cpu, wall, records, unparsed = run(parser_for(name), logs[name])
            results[name] = cpu
            print(f"{name:<12} {cpu:7.2f} {a.n / cpu:11,.0f} {f'({wall:.2f})':>9} "
                  f"{records:10,} {unparsed:9,}")
        floor_runs: list[float] = []
        combined_runs = [results["combined"]] if "combined" in results else []
        for _ in range(a.repeat):
            floor_runs.append(floor(logs["combined"])[0])
            if len(combined_runs) < a.repeat:
                combined_runs.append(run(parser_for("combined"), logs["combined"])[0])
        floor_cpu, combined = min(floor_runs), min(combined_runs)
        listed = ", ".join(f"{x:.2f}" for x in combined_runs)
        print(f"{'combined*':<12} {combined:7.2f} {a.n / combined:11,.0f}   (best of "
              f"{len(combined_runs)}: {listed})")
        listed = ", ".join(f"{x:.2f}" for x in floor_runs)
        print(f"{'floor.py':<12} {floor_cpu:7.2f} {a.n / floor_cpu:11,.0f}   (best of "
              f"{len(floor_runs)}: {listed}; one regex match + two Counter updates per line)")
        print(f"\ncombined parser / floor.py CPU time: {combined / floor_cpu:.2f}x "
              f"(target: within 1.3x)")


if __name__ == "__main__":
    main()
