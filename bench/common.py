"""Helpers shared by the benchmarks: finding ../shared, making logs, timing commands."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ../shared beside the checkout; OMPHALOS_SHARED names it for a checkout elsewhere.
SHARED = Path(os.environ.get("OMPHALOS_SHARED", ROOT.parent / "shared"))
GENLOG = SHARED / "bench" / "genlog.py"
FLOOR = SHARED / "bench" / "floor.py"
CACHE = Path(os.environ.get("OMPHALOS_BENCH_CACHE", Path.home() / ".cache" / "omphalos-bench"))


@dataclass
class Timing:
    """Best wall time of several runs, and the CPU time (user + sys) of that run."""

    name: str
    wall: float
    cpu: float
    output: str


def generate(lines: int, fmt: str = "combined", paths: int = 10, seed: int = 1) -> Path:
    """A deterministic synthetic log from ../shared/bench/genlog.py (cached by arguments)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"{fmt}-{lines}-{paths}-{seed}.log"
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as out:
            subprocess.run([sys.executable, str(GENLOG), "-n", str(lines), "--format", fmt,
                            "--paths", str(paths), "--seed", str(seed)], stdout=out, check=True)
        tmp.rename(target)
    return target


def timed(name: str, argv: list[str], runs: int = 3, **kwargs: object) -> Timing:
    """Run ``argv`` ``runs`` times; keep the fastest wall time (the least disturbed run)."""
    best: Timing | None = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              **kwargs)  # type: ignore[call-overload]
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if best is None or wall < best.wall:
            best = Timing(name, wall, cpu, proc.stdout)
    assert best is not None
    return best


def alternated(commands: dict[str, list[str]], runs: int = 3) -> dict[str, Timing]:
    """Run every command once per round, ``runs`` rounds, keeping each one's best run.

    Alternating spreads a noisy neighbour's bursts over every tool instead of letting one
    tool's block of runs take them all.
    """
    best: dict[str, Timing] = {}
    for _ in range(runs):
        for name, argv in commands.items():
            timing = timed(name, argv, 1)
            if name not in best or timing.wall < best[name].wall:
                best[name] = timing
    return best


def ensure_goaccess() -> str | None:
    """Debian's goaccess, installed when missing and we are root; None if unavailable."""
    found = shutil.which("goaccess")
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "goaccess"], check=False,
                       capture_output=True)
        found = shutil.which("goaccess")
    return found


def ensure_ngxtop() -> str | None:
    """ngxtop from PyPI in a venv of its own (it pins old libraries)."""
    venv = CACHE / "ngxtop-venv"
    exe = venv / "bin" / "ngxtop"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "ngxtop"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None
    return str(exe)


def report(rows: list[Timing], floor: Timing, title: str) -> str:
    """A table of each tool's time and its ratio to the floor."""
    lines = [title, f"{'tool':<22}{'wall s':>9}{'cpu s':>9}{'wall/floor':>12}{'cpu/floor':>11}"]
    for row in rows:
        lines.append(f"{row.name:<22}{row.wall:>9.2f}{row.cpu:>9.2f}"
                     f"{row.wall / floor.wall:>12.2f}{row.cpu / max(floor.cpu, 1e-9):>11.2f}")
    return "\n".join(lines)
