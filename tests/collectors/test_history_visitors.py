"""The per-minute history keeps each minute's unique-visitor HyperLogLog: a restarted window
collector shows the visitors of the minutes it restored, and a series read from the history
gives the unique visitors of each day, as GoAccess counts them, against a count made here
from the raw file."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from omphalos.lib.collectors.history import sketch_in, sketch_out
from omphalos.lib.hll import HyperLogLog, hash64, standard_error
from omphalos.pipeline import Pipeline

from ..conftest import REAL_LOG, wait_for
from ..report.test_dimensions import truth


def config(tmp_path: Path, with_monitor: bool) -> dict[str, dict[str, Any]]:
    cfg: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(tmp_path / "state")},
        # a day's window of minutes: a replayed batch spans hours of this log, and a line
        # older than the minutes' window when it arrives is late (counted, not in a minute)
        "collector:window": {"plugin": "window", "clock": "event", "windows": "1d/1m",
                             "alert_window": "1d", "baseline_window": "1d",
                             "history_path": str(tmp_path / "history.sqlite"),
                             "retention_secs": 7 * 86400},  # the log's four days
    }
    if with_monitor:
        cfg["monitor:files"] = {"plugin": "file", "paths": str(tmp_path / "access.log"),
                                "follow": "no"}
    return cfg


def visitors_per_day(pipeline: Pipeline) -> dict[str, int]:
    answer = pipeline.query("series", window="4d", step_secs=86400)
    assert answer["source"] == "history"
    return {time.strftime("%Y-%m-%d", time.gmtime(p["t"])): p["visitors"]
            for p in answer["points"]}


@pytest.mark.timeout(180)
def test_visitors_per_day_from_the_history_after_a_restart(tmp_path: Path) -> None:
    shutil.copy(REAL_LOG, tmp_path / "access.log")
    first = Pipeline.from_config(config(tmp_path, with_monitor=True))
    first.start()
    try:
        wait_for(lambda: first.query("overview", window="1d")["requests"] > 0 and
                 first.wait_idle(5), timeout=90)
        before = first.query("top", window="1d", dimension="visitors")
        first.wait_idle(5)
    finally:
        first.stop()
    assert before["rows"][0]["key"] == "2015-05-20" and before["rows"][0]["visitors"] > 0

    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        rows = [json.loads(d) for (d,) in db.execute("SELECT data FROM minutes")]
        late = json.loads(db.execute("SELECT value FROM meta WHERE key = 'late'").fetchone()[0])
    assert late == {"1d": 0}  # every line is in the minutes
    assert sum(r["requests"] for r in rows) == 10_000
    assert all(len(r["visitors"]) == 1 for r in rows)  # a minute is of one UTC date
    assert max(len(json.dumps(r["visitors"])) for r in rows) < 2000  # compressed, small

    second = Pipeline.from_config(config(tmp_path, with_monitor=False))
    second.start()
    try:
        after = second.query("top", window="1d", dimension="visitors")
        days = visitors_per_day(second)
    finally:
        second.stop()
    assert after["rows"] == before["rows"]  # the restored minutes' visitors, not 0
    exact = truth()["unique"]
    assert set(days) == set(exact)
    for day, n in exact.items():
        assert abs(days[day] - n) <= 3 * standard_error() * n, (day, days[day], n)


def test_a_stored_sketch_round_trips_and_damage_is_refused() -> None:
    sketch = HyperLogLog()
    sketch.add_hashes(hash64(f"v{i}") for i in range(50_000))
    stored = sketch_out(sketch)
    assert len(stored["z"]) < 4 * (1 << 14) // 3 + 4  # never more than the registers
    assert sketch_in(json.loads(json.dumps(stored))).registers == sketch.registers
    with pytest.raises(ValueError, match="damaged"):
        sketch_in({"p": 14, "z": "not base64!"})
    with pytest.raises(ValueError, match="precision"):
        sketch_in({**stored, "p": 12})
