"""Network and worker benchmarks: one monitor process -> one collector process over ZeroMQ with
CURVE, against the in-process pipeline on the same file; ``workers = 2`` against
``workers = 1`` on one host.

    python bench/network.py --lines 1000000 --runs 3

Prints lines/s and the ratios (targets: network >= 0.6x in-process, workers=2 >= 1.6x
workers=1). The log is made by ../shared/bench/genlog.py (cached, see bench/common.py).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import generate  # bench/ is not a package: found through sys.path

from omphalos.messages import Query

#: The ``omphalos`` command of this interpreter (works from a virtualenv not on PATH).
OMPHALOS = [sys.executable, "-m", "omphalos.cli.main"]


def counted(pipeline: Any) -> int:
    """Records the summary collector has taken in, from its status: a cheap question (a
    ``summary`` query sorts every top table, which asked 50 times a second would cost the
    pipeline measured a tenth of a core)."""
    status = pipeline.ask("collector:summary", Query("status"), 30.0)
    return int(status["counters"].get("records", 0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_process(path: Path, lines: int, state: Path) -> float:
    """Seconds for the in-process pipeline to read, parse and count ``path``."""
    from omphalos.pipeline import Pipeline

    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(state)},
        "monitor:web": {"paths": str(path), "follow": False, "checkpoints": False},
        "collector:summary": {}})
    started = time.perf_counter()
    pipeline.start()
    try:
        while counted(pipeline) < lines:
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        pipeline.stop()


def collector_role(port: int, keys: str, state: str, lines: int) -> None:
    """Run in a child process: CURVE receiver + summary; print the time all lines arrived."""
    from omphalos.pipeline import Pipeline

    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": state},
        "transport:zmq": {"bind": f"tcp://127.0.0.1:{port}",
                          "secret_key_file": f"{keys}/collector.key_secret",
                          "allowed_keys_dir": f"{keys}/allowed"},
        "collector:summary": {}}).start()
    print("ready", flush=True)
    try:
        while counted(pipeline) < lines:
            time.sleep(0.01)
        print(json.dumps({"done": time.time()}), flush=True)
    finally:
        pipeline.stop()


def network(path: Path, lines: int, tmp: Path) -> float:
    """Seconds from starting the monitor process until the collector process has all lines."""
    keys = tmp / "keys"
    for name in ("collector", "monitor"):
        subprocess.run([*OMPHALOS, "keys", "generate", name, "--dir", str(keys)], check=True,
                       capture_output=True)
    (keys / "allowed").mkdir(exist_ok=True)
    (keys / "allowed" / "monitor.key").write_bytes((keys / "monitor.key").read_bytes())
    port = free_port()
    collector = subprocess.Popen([sys.executable, __file__, "--role", "collector", "--port",
                                  str(port), "--keys", str(keys), "--state",
                                  str(tmp / "collector"), "--lines", str(lines)],
                                 stdout=subprocess.PIPE, text=True)
    assert collector.stdout is not None
    assert collector.stdout.readline().strip() == "ready"
    conf = tmp / "monitor.conf"
    conf.write_text(f"""[omphalos]
host = bench
state_dir = {tmp / 'monitor'}
[monitor:web]
paths = {path}
follow = no
checkpoints = no
[transport:zmq]
connect = tcp://127.0.0.1:{port}
secret_key_file = {keys / 'monitor.key_secret'}
server_key_file = {keys / 'collector.key'}
""")
    started = time.time()
    monitor = subprocess.Popen([*OMPHALOS, "run", "-c", str(conf)],
                               stderr=subprocess.DEVNULL)
    try:
        done = json.loads(collector.stdout.readline())["done"]
    finally:
        monitor.terminate()
        monitor.wait(30)
        collector.wait(30)
    return float(done - started)


def workers(paths: list[Path], lines: int, n: int, state: Path) -> float:
    """Seconds for a ``workers = n`` pipeline to read, parse and count ``paths``."""
    from omphalos.workers import pipeline_from_config

    pipeline = pipeline_from_config({
        "omphalos": {"state_dir": str(state), "workers": n},
        "monitor:web": {"paths": [str(p) for p in paths], "follow": False,
                        "checkpoints": False},
        "collector:summary": {}})
    started = time.perf_counter()
    pipeline.start()
    first = None
    try:
        while (got := counted(pipeline)) < lines:
            if pipeline.degraded:
                raise RuntimeError("pipeline degraded")
            if got and first is None:
                first = (time.perf_counter(), got)
            time.sleep(0.02)
        end = time.perf_counter()
        STEADY[n] = max(STEADY.get(n, 0.0), (lines - first[1]) / (end - first[0])
                        if first else 0.0)
        return end - started
    finally:
        pipeline.stop()


#: workers -> best lines/s from the first counted line to the last (start-up excluded).
STEADY: dict[int, float] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--role", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--keys", default="")
    parser.add_argument("--state", default="")
    args = parser.parse_args()
    if args.role == "collector":
        collector_role(args.port, args.keys, args.state, args.lines)
        return
    lines = args.lines
    log = generate(lines)
    halves = [generate(lines // 2, seed=s) for s in (2, 3)]
    os.environ.setdefault("OMPHALOS_NO_DEFAULT_CONFIG", "1")
    setups: dict[str, Callable[[Path], float]] = {
        "local": lambda tmp: in_process(log, lines, tmp / f"local-{time.monotonic_ns()}"),
        "net": lambda tmp: network(log, lines, tmp / f"net-{time.monotonic_ns()}"),
        "one": lambda tmp: workers(halves, 2 * (lines // 2), 1, tmp / "w1"),
        "two": lambda tmp: workers(halves, 2 * (lines // 2), 2, tmp / "w2"),
    }
    # alternated rounds (each setup once per round): the machine's drift hits all alike
    secs: dict[str, list[float]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory() as tmp_name:
        for _ in range(args.runs):
            for name, run in setups.items():
                secs[name].append(run(Path(tmp_name)))
    rows = [("in-process pipeline, 1 file", "local", lines),
            ("monitor process -> zmq+CURVE -> collector process", "net", lines),
            ("workers = 1, 2 files", "one", 2 * (lines // 2)),
            ("workers = 2, 2 files", "two", 2 * (lines // 2))]
    print(f"{args.runs} alternated rounds (each setup once per round)")
    print(f"{'setup':<52} {'lines':>8} {'best s':>7} {'median s':>9} {'lines/s':>9}  rounds")
    for label, name, n in rows:
        runs = secs[name]
        print(f"{label:<52} {n:>8} {min(runs):>7.2f} {statistics.median(runs):>9.2f} "
              f"{n / min(runs):>9,.0f}  {', '.join(f'{x:.2f}' for x in runs)}")

    def ratios(a: str, b: str) -> str:
        per_round = [x / y for x, y in zip(secs[a], secs[b], strict=True)]
        return (f"median of rounds {statistics.median(per_round):.2f}x, best to best "
                f"{min(secs[a]) / min(secs[b]):.2f}x (rounds: "
                f"{', '.join(f'{r:.2f}' for r in per_round)})")

    print(f"network / in-process: {ratios('local', 'net')}; target >= 0.6x")
    print(f"workers=2 / workers=1: {ratios('one', 'two')}; target >= 1.6x")
    if STEADY.get(1) and STEADY.get(2):
        print(f"workers, start-up excluded (first to last line counted): workers=1 "
              f"{STEADY[1]:,.0f} lines/s, workers=2 {STEADY[2]:,.0f} lines/s, "
              f"{STEADY[2] / STEADY[1]:.2f}x")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
