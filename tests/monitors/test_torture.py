"""The monitor's torture test (issue 14): everything odd at once, in one run.

A writer process appends numbered lines at 5,000 lines/s. Meanwhile: ten rename rotations
30 ms apart; two rotations while the monitor is stopped; five SIGKILLs of the monitor's
process; the checkpoints' disk (a real tmpfs) full for 10 s; one poison line of each kind
(a 2 MB line, a byte count wider than 64 bits, deeply nested JSON, ``1e999``). Every
numbered line is counted exactly once, every poison line exactly once as parsed or
unparsed, and no monitor process exits by itself or reports itself degraded.

The whole pipeline (monitor, parser, collector) runs in the killed process; the test's
collector keeps what it applied and its de-duplication offsets in SQLite, in one
transaction per batch (``helpers.NumbersCollector``), so exactly-once is decided across
real crashes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .helpers import Writer, exactly_once, fill, tmpfs

ROOT = Path(__file__).resolve().parents[2]
RATE = 5000.0
COUNT = 110_000  # 22 s of writing

PREFIX = '10.0.0.9 - - [26/Nov/2026:12:00:00 +0000] "GET '
POISON = {
    "long": f'{PREFIX}/p/long?{"a" * (2 << 20)} HTTP/1.1" 200 5\n',
    "huge": f'{PREFIX}/p/huge HTTP/1.1" 200 100000000000000000000000000000\n',
    "nested": '{"a":' * 10_000 + "1" + "}" * 10_000 + "\n",
    "inf": f'{PREFIX}/p/inf HTTP/1.1" 200 1e999\n',
}


class MonitorProcess:
    """``monitor_proc`` as a real process, killed with SIGKILL."""

    def __init__(self, config: Path, tmp: Path, run: int) -> None:
        self.ready = tmp / f"ready-{run}"
        self.status_file = Path(f"{self.ready}.status")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.monitors.monitor_proc",
                                      str(config), str(self.ready)], cwd=ROOT)
        wait_for(lambda: self.status_file.exists() or self.proc.poll() is not None,
                 timeout=60)
        assert self.proc.poll() is None, "the monitor process died at start"

    def status(self) -> dict[str, object]:
        try:
            return dict(json.loads(self.status_file.read_text()))
        except (OSError, ValueError):
            return {}

    def kill(self) -> dict[str, object]:
        """SIGKILL it; its last status (it must still be running, and not degraded)."""
        assert self.proc.poll() is None, f"the monitor exited: {self.proc.returncode}"
        status = self.status()
        self.proc.kill()
        self.proc.wait(10)
        assert status.get("degraded") is False, status
        return status


def _counts(db: Path) -> tuple[Counter[int], list[str], int]:
    """Numbers applied, other paths applied, unparsed lines (as the collector saved them)."""
    if not db.exists():
        return Counter(), [], 0
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            rows = conn.execute("SELECT n, count(*) FROM seen GROUP BY n").fetchall()
            others = [p for (p,) in conn.execute("SELECT path FROM other")]
            (unparsed,) = conn.execute("SELECT coalesce(sum(lines), 0) FROM unparsed").fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return Counter(), [], 0
    return Counter(dict(rows)), others, int(unparsed)


def _append(path: Path, data: str) -> None:
    """One ``write`` with O_APPEND: never interleaved with the writer's lines."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_torture_everything_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    db = tmp_path / "numbers.sqlite"
    config = tmp_path / "config.json"
    with tmpfs(tmp_path / "state", size="8m") as state:
        config.write_text(json.dumps({
            "omphalos": {"state_dir": str(state), "restart_backoff_secs": 0.05},
            "monitor:logs": {"plugin": "file", "paths": [str(log)], "rotate_wait_secs": 1.0,
                             "stat_interval_secs": 0.25},
            "parser:main": {"plugin": "common"},
            "collector:numbers": {"plugin": "numbers", "db": str(db)},
        }))
        runs = iter(range(100))
        writer = Writer(log, 1, COUNT, RATE, tmp_path)
        monitor = MonitorProcess(config, tmp_path, next(runs))
        kills = 0
        paused_seen: list[object] = []
        try:
            wait_for(lambda: len(_counts(db)[0]) > 2000, timeout=60)
            for i in range(1, 11):  # ten rename rotations 30 ms apart
                os.rename(log, folder / f"access.log.r{i}")
                writer.reopen()
                time.sleep(0.03)
            time.sleep(1.0)
            monitor.kill()
            kills += 1
            monitor = MonitorProcess(config, tmp_path, next(runs))
            wait_for(lambda: log.exists(), timeout=10)
            for data in POISON.values():
                _append(log, data)
            time.sleep(1.0)
            monitor.kill()
            kills += 1
            for name in ("s1", "s2"):  # two rotations while no monitor runs
                time.sleep(0.3)
                os.rename(log, folder / f"access.log.{name}")
                writer.reopen()
            time.sleep(0.3)
            monitor = MonitorProcess(config, tmp_path, next(runs))
            time.sleep(1.0)
            filler = fill(state)  # the checkpoints' disk full for 10 s
            wait_for(lambda: monitor.status().get("paused"), timeout=30)
            time.sleep(10.0)
            paused_seen = list(monitor.status().get("problems", []))  # type: ignore[arg-type]
            filler.unlink()
            wait_for(lambda: monitor.status().get("paused") == "", timeout=30)
            while kills < 5:
                time.sleep(1.0)
                monitor.kill()
                kills += 1
                monitor = MonitorProcess(config, tmp_path, next(runs))
            wait_for(writer.finished, timeout=90)
            last = writer.last()
            try:
                wait_for(lambda: len(_counts(db)[0]) >= last, timeout=90)
            except AssertionError:
                raise AssertionError(exactly_once(_counts(db)[0], 1, last)) from None
            time.sleep(0.5)  # anything counted twice would show now
            numbers, others, unparsed = _counts(db)
            final = monitor.status()
            monitor.kill()
        finally:
            if monitor.proc.poll() is None:
                monitor.proc.kill()
            writer.stop()
    assert last == COUNT and kills == 5
    assert exactly_once(numbers, 1, last) == []
    # every poison line exactly once, as a record or as an unparsed line
    assert len(others) + unparsed == len(POISON), (others, unparsed)
    assert len(set(others)) == len(others) and all(p.startswith("/p/") for p in others)
    assert paused_seen == [f"disk full: {state / 'checkpoints.sqlite'}"]
    assert final["paused"] == "" and final["degraded"] is False
