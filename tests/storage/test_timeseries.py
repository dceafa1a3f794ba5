"""The ``timeseries`` collector against a REAL InfluxDB 1.x server (Debian's ``influxd``),
started for these tests on free ports with its own data directory, and stopped after."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from omphalos.plugins.collectors.timeseries import TimeseriesCollector, TimeseriesConfig
from omphalos.plugins.collectors.timeseries.rollup import percentile

from omphalos import Pipeline
from omphalos.messages import Deliver, Query, Stop
from tests.conftest import REAL_LOG, wait_for

from .helpers import Replies, batch, context, free_port

pytestmark = pytest.mark.skipif(shutil.which("influxd") is None,
                                reason="needs InfluxDB 1.x (Debian package influxdb)")


class Influx:
    """An influxd process of our own."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Influx:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "influxdb.conf"
        config.write_text(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{self.root}/meta"
  logging-enabled = false
[data]
  dir = "{self.root}/data"
  wal-dir = "{self.root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[continuous_queries]
  enabled = false
""")
        self.log = open(self.root / "influxd.log", "wb")
        self.process = subprocess.Popen(["influxd", "-config", str(config)],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.ready, timeout=30, interval=0.1)
        return self

    def ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, \
            (self.root / "influxd.log").read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return response.status == 204
        except OSError:
            return False

    def query(self, q: str, db: str = "omphalos") -> list[dict[str, Any]]:
        """InfluxQL; the series of the first statement's result."""
        url = f"{self.url}/query?" + urllib.parse.urlencode({"db": db, "q": q})
        with urllib.request.urlopen(url, timeout=10) as response:
            result = json.loads(response.read())["results"][0]
        assert "error" not in result, result
        return list(result.get("series", []))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.log.close()
            self.process = None


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[Influx]:
    server = Influx(tmp_path / "influx", free_port()).start()
    yield server
    server.stop()


def by_tag(series: list[dict[str, Any]], tag: str) -> dict[str, Any]:
    """``{tag value: first value}`` of a GROUP BY tag answer."""
    return {s["tags"][tag]: s["values"][0][1] for s in series}


@pytest.mark.timeout(120)
def test_rollups_written_to_influxdb_match_the_summary(tmp_path: Path, influx: Influx) -> None:
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:web": {"paths": [str(REAL_LOG)], "follow": False},
        "collector:summary": {},
        "collector:ts": {"plugin": "timeseries", "url": influx.url, "interval_secs": 60,
                         "top_paths": 100_000, "flush_interval_secs": 0.2},
    })
    pipeline.start()
    try:
        assert pipeline.wait_idle(60)
        summary = pipeline.query("summary", collector="summary")

        def written() -> dict[str, Any] | None:
            status: dict[str, Any] = pipeline.query("status", collector="ts")
            return None if status["pending_payloads"] or status["spool"]["items"] else status
        status = wait_for(written, timeout=30)
    finally:
        pipeline.stop()
    assert status["counters"].get("points_refused", 0) == 0
    classes = by_tag(influx.query('SELECT sum("requests") FROM "http_requests" GROUP BY "class"'),
                     "class")
    assert classes == summary["status_class"]
    hosts = by_tag(influx.query('SELECT sum("requests") FROM "http_requests" GROUP BY "host"'),
                   "host")
    assert hosts == summary["hosts"]
    (total,) = influx.query('SELECT sum("bytes"), sum("requests") FROM "http_requests"')
    assert total["values"][0][1:] == [summary["bytes"], summary["requests"]]
    paths = by_tag(influx.query('SELECT sum("requests") FROM "http_paths" GROUP BY "path"'),
                   "path")
    assert sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:10] == sorted(
        ((p["path"], p["hits"]) for p in summary["top_paths"]), key=lambda kv: (-kv[1], kv[0]))[:10]
    per_minute = influx.query('SELECT sum("requests") FROM "http_requests" WHERE time >= '
                              f'{int(summary["first_time"])}s AND time <= '
                              f'{int(summary["last_time"])}s GROUP BY time(1h) fill(none)')
    assert sum(v[1] for v in per_minute[0]["values"]) == summary["requests"]


def start_collector(tmp_path: Path, url: str, **options: Any) -> Any:
    config = TimeseriesConfig(**{"url": url, "interval_secs": 10, "retry_backoff_secs": 0.05,
                                 "max_backoff_secs": 0.3, "max_retries": 2, **options})
    return TimeseriesCollector.start(context(tmp_path, "collector:ts"), config)


@pytest.mark.timeout(120)
def test_durations_and_a_database_that_comes_late(tmp_path: Path) -> None:
    """Written while InfluxDB is down: spooled and acknowledged; written once it is up."""
    port = free_port()
    replies = Replies.start()
    ref = start_collector(tmp_path, f"http://127.0.0.1:{port}")
    durations = [0.001 * (i + 1) for i in range(200)]
    influx = None
    try:
        ref.tell(Deliver(batch(1, 0, [1.7e9 + i / 100 for i in range(200)],
                               durations=list(durations)), replies))
        ref.tell(Deliver(batch(2, 20_000, [1.7e9 + 10 + i for i in range(5)], status=503),
                         replies))
        ref.ask(Stop(), timeout=5)  # no scheduler here: Stop makes it write now
        wait_for(lambda: replies.ask("n", timeout=2) == 2, timeout=30)
        status = ref.ask(Query("status"), timeout=5)
        assert status["down"] and status["spool"]["items"] >= 1
        influx = Influx(tmp_path / "influx", port).start()
        wait_for(lambda: not ref.ask(Query("status"), timeout=5)["down"], timeout=30)
        (series,) = influx.query('SELECT "count", "p50", "p95", "p99" FROM "http_duration"')
        ordered = sorted(durations)
        assert series["values"][0][1:] == [200, percentile(ordered, 50),
                                           percentile(ordered, 95), percentile(ordered, 99)]
        (errors,) = influx.query('SELECT sum("requests") FROM "http_requests" '
                                 "WHERE \"class\" = '5xx'")
        assert errors["values"][0][1] == 5
    finally:
        ref.stop(timeout=15)
        replies.stop()
        if influx is not None:
            influx.stop()

