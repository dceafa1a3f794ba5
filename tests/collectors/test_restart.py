"""History: a restarted window collector answers the last minutes from SQLite."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from omphalos.pipeline import Pipeline

from ..conftest import REAL_LOG, wait_for


def config(tmp_path: Path, with_monitor: bool) -> dict[str, dict[str, Any]]:
    cfg: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "collector:window": {"plugin": "window", "clock": "event",
                             "history_path": str(tmp_path / "history.sqlite")},
    }
    if with_monitor:
        cfg["monitor:files"] = {"plugin": "file", "paths": str(tmp_path / "access.log"),
                                "follow": "no"}
    return cfg


def answers(pipeline: Pipeline) -> dict[str, Any]:
    return {"overview": pipeline.query("overview", window="1h"),
            "top": pipeline.query("top", window="1h", dimension="path", limit=5),
            "clients": pipeline.query("top", window="1h", dimension="client", limit=3),
            "series": pipeline.query("series", window="1h", step_secs=300),
            "hosts": pipeline.query("hosts", window="1h")}


@pytest.mark.timeout(120)
def test_restarted_collector_answers_the_last_minutes(tmp_path: Path) -> None:
    shutil.copy(REAL_LOG, tmp_path / "access.log")
    first = Pipeline.from_config(config(tmp_path, with_monitor=True))
    first.start()
    try:
        wait_for(lambda: first.query("overview", window="1h")["requests"] > 0 and
                 first.wait_idle(5), timeout=60)
        before = answers(first)
    finally:
        first.stop()
    # the log's last hour (its last 86 lines fall in its last minute, after a gap)
    assert before["overview"]["requests"] == 86
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        stored = db.execute("SELECT sum(json_extract(data, '$.requests')) FROM minutes "
                            "WHERE minute >= ?", (before["overview"]["head"] - 3600,)
                            ).fetchone()[0]
    assert stored == 86

    second = Pipeline.from_config(config(tmp_path, with_monitor=False))
    second.start()
    try:
        after = answers(second)
        day = second.query("series", window="1d", step_secs=3600)
    finally:
        second.stop()
    for key in ("requests", "bytes", "status_class", "hosts", "p95"):
        assert after["overview"][key] == before["overview"][key], key
    assert after["top"]["rows"] == before["top"]["rows"]
    assert after["clients"]["rows"] == before["clients"]["rows"]
    assert after["series"]["points"] == before["series"]["points"]
    assert after["hosts"]["rows"] == before["hosts"]["rows"]
    assert day["source"] == "history"
    assert sum(p["requests"] for p in day["points"]) >= before["overview"]["requests"]
