"""The query API through a running pipeline: sorts, windows refused, alerts cleared."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from omphalos.pipeline import Pipeline, QueryError

from ..conftest import REAL_LOG


def line(t: int, path: str, status: int, client: str = "10.0.0.1") -> str:
    stamp = f"{t:02d}"
    return (f'{client} - - [01/Nov/2026:10:00:{stamp} +0000] "GET {path} HTTP/1.1" {status} '
            f'100 "-" "test"\n')


def start(tmp_path: Path, log: Path, **window: Any) -> Pipeline:
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:files": {"plugin": "file", "paths": str(log), "follow": "no"},
        "collector:summary": {"plugin": "summary"},
        "collector:window": {"plugin": "window", "clock": "event", "history": "no",
                             **window}})
    pipeline.start()
    assert pipeline.wait_idle(60)
    return pipeline


@pytest.mark.timeout(120)
def test_sorts_and_filters_match_exact_answers(tmp_path: Path) -> None:
    pipeline = start(tmp_path, REAL_LOG)
    try:
        rows = {sort: pipeline.query("top", dimension="path", sort=sort, limit=5)["rows"]
                for sort in ("hits", "bytes", "errors", "4xx", "3xx")}
        filtered = pipeline.query("top", dimension="path", filter=r"\.png$", limit=3)["rows"]
        agents = pipeline.query("top", dimension="agent", limit=3)
        with pytest.raises(QueryError, match="window"):
            pipeline.query("top", window="7m")
    finally:
        pipeline.stop()
    hits: Counter[str] = Counter()
    sizes: defaultdict[str, int] = defaultdict(int)
    classes: dict[str, Counter[str]] = defaultdict(Counter)
    for raw in REAL_LOG.read_text().splitlines():
        request = raw.split('"')[1].split()
        path = request[1].split("?")[0]
        status, size = raw.split('"')[2].split()
        hits[path] += 1
        sizes[path] += int(size) if size != "-" else 0
        classes[f"{status[0]}xx"][path] += 1
    assert [(r["key"], r["hits"]) for r in rows["hits"]][:2] == hits.most_common(2)
    assert [r["bytes"] for r in rows["bytes"]] == sorted(sizes.values(), reverse=True)[:5]
    assert [r["errors"] for r in rows["errors"]][:2] == [n for _, n in
                                                         classes["5xx"].most_common(2)]
    assert [r["status"]["4xx"] for r in rows["4xx"]] == [
        n for _, n in classes["4xx"].most_common(5)]
    assert rows["3xx"][0]["status"]["3xx"] == classes["3xx"].most_common(1)[0][1]
    assert all(r["key"].endswith(".png") for r in filtered) and len(filtered) == 3
    assert agents["error_bound"] == 0 and agents["rows"][0]["bytes"] is None


@pytest.mark.timeout(120)
def test_alerts_fire_and_are_cleared_through_the_api(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = [line(s, "/ok", 200) for s in range(40)]
    lines += [line(40 + s % 20, "/api", 500 if s % 2 else 200) for s in range(40)]
    log.write_text("".join(lines))
    pipeline = start(tmp_path, log, error_rate_pct=5, path_error_rate_pct=20, min_requests=5,
                     spike_factor=0, drop_ratio=0)
    try:
        firing = {a["id"] for a in pipeline.query("alerts")["firing"]}
        assert firing == {"error_rate", "path_error_rate:/api"}
        assert pipeline.query("clear_alert", path="/api") == {"cleared": 1}
        assert [a["id"] for a in pipeline.query("alerts")["firing"]] == ["error_rate"]
        assert pipeline.query("clear_alert", all="true") == {"cleared": 1}
        answer = pipeline.query("alerts")
        drill = pipeline.query("drill", path="/api", window="1m")
        overview = pipeline.query("overview", window="1m")
    finally:
        pipeline.stop()
    assert answer["firing"] == []
    events = [(e["event"], e["id"]) for e in answer["history"]]
    assert sorted(events[:2]) == [("fired", "error_rate"), ("fired", "path_error_rate:/api")]
    assert events[2:] == [("cleared", "path_error_rate:/api"), ("cleared", "error_rate")]
    assert drill["status"] == {"200": 20, "500": 20} and drill["clients"][0]["hits"] == 40
    assert overview["requests"] == 80 and overview["late"] == 0  # seconds 0..59: one minute
