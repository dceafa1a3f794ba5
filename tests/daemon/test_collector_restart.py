"""A collector restarted 5 times, by SIGKILL or by a clean stop, counts every line once.

Three real monitor processes (``omphalos run -c``, ZeroMQ senders with their spools) send
to a real collector process (``omphalos collector``: a ZeroMQ receiver, the ``summary`` and
``window`` collectors with their durable state, the web output to ask them). Test threads
append lines to the three logs meanwhile; the collector is stopped at random moments and
started again each time. At the end every figure must equal what was written: totals, per
host, per status, top paths, the 5-minute window and the alerts firing, including an alert
cleared by hand before the restarts (it must stay cleared: the alert state is durable).

The lines' event times all lie within 200 seconds and the window's clock is the event
time, so the 5-minute window holds every line whatever order they arrive in.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.transports.cluster import Cluster, free_port, ini
from tests.web.conftest import http

HOSTS = ("web1", "web2", "web3")
LINES = 6000  # per host
SPAN_SECS = 200.0  # of event time, in each log
BASE = 1_700_000_000  # 2023-11-14 22:13:20 UTC
TOKEN = "restart-test-token"
RESTARTS = 5


def line(host: int, i: int) -> tuple[str, str, int]:
    """Line ``i`` of host number ``host``: its text, path and status."""
    if i % 10 == 3:
        path, status = "/boom", 500
    else:
        path = f"/p{(i * 7 + host) % 40}"
        status = 404 if i % 13 == 0 else 200
    t = time.gmtime(BASE + int(i * SPAN_SECS / LINES))
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", t)
    text = (f'10.0.{host}.{i % 200} - - [{stamp}] "GET {path} HTTP/1.1" {status} '
            f'{100 + i % 50} "-" "agent/{i % 5}"\n')
    return text, path, status


def expected() -> dict[str, Any]:
    paths: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for h in range(len(HOSTS)):
        for i in range(LINES):
            _, path, status = line(h, i)
            paths[path] += 1
            statuses[str(status)] += 1
    return {"requests": LINES * len(HOSTS), "hosts": dict.fromkeys(HOSTS, LINES),
            "status": dict(statuses), "paths": dict(paths)}


class Collector:
    """The collector process: ``omphalos collector -c collector.conf``, asked over HTTP."""

    def __init__(self, cluster: Cluster, port: int) -> None:
        self.cluster = cluster
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.config = cluster.tmp / "collector.conf"
        self.config.write_text(ini({
            "omphalos": {"state_dir": cluster.tmp / "collector-state"},
            "transport:zmq": {"bind": f"tcp://127.0.0.1:{port}"},
            "collector:summary": {"plugin": "summary"},
            "collector:window": {"plugin": "window", "clock": "event", "windows": "1m/1s, 5m/5s",
                                 "alert_window": "5m", "baseline_window": "5m",
                                 "spike_factor": 0, "drop_ratio": 0, "silent_host_secs": 0},
            "output:web": {"port": self.web_port, "token": TOKEN},
        }))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = self.cluster._start(
            ["omphalos", "collector", "-c", str(self.config)],
            "collector.log")
        wait_for(lambda: self._answers() or self.proc is None or self.proc.poll() is not None,
                 60, 0.1)
        assert self.proc.poll() is None, self.cluster.log("collector.log")[-3000:]

    def _answers(self) -> bool:
        try:
            return http(self.url + "/api/v1/status", headers=self.auth, timeout=2).status == 200
        except OSError:
            return False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def stop(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(30)
        self.proc = None

    def query(self, kind: str, **params: Any) -> Any:
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        reply = http(f"{self.url}/api/v1/query/{kind}?{qs}", headers=self.auth)
        assert reply.status == 200, reply.body[:500]
        return reply.json()

    def clear_alerts(self, path: str) -> Any:
        reply = http(self.url + "/api/v1/alerts/clear", "POST",
                     {**self.auth, "Content-Type": "application/json"},
                     json.dumps({"path": path}).encode())
        assert reply.status == 200, reply.body[:500]
        return reply.json()

    def firing(self) -> set[str]:
        return {row["id"] for row in self.query("alerts", collector="window")["firing"]}


def write(path: Path, host: int, start: int, stop: int, rate: float) -> None:
    """Append lines ``[start, stop)`` of ``host`` to ``path``, about ``rate`` a second."""
    step = max(1, int(rate / 20))
    with open(path, "a", encoding="ascii") as fh:
        for i in range(start, stop, step):
            fh.write("".join(line(host, j)[0] for j in range(i, min(stop, i + step))))
            fh.flush()
            time.sleep(0.05)


def run_restarts(tmp_path: Path, sig: int) -> None:
    cluster = Cluster(tmp_path)
    port = free_port()
    collector = Collector(cluster, port)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    try:
        collector.start()
        logs = [cluster.start_monitor(host, {
            "parser:p": {"plugin": "combined"},
            "transport:zmq": {"connect": f"tcp://127.0.0.1:{port}", "ack_timeout_secs": 2}})
            for host in HOSTS]
        # a first part, until both alerts fire; the one of /boom is then cleared by hand
        first = LINES // 5
        for h, log in enumerate(logs):
            write(log, h, 0, first, 1e6)
        wait_for(lambda: collector.firing() == {"error_rate", "path_error_rate:/boom"}, 60,
                 0.2)
        assert collector.clear_alerts("/boom") == {"cleared": 1}
        assert collector.firing() == {"error_rate"}
        writers = [threading.Thread(target=write, args=(log, h, first, LINES, 250.0),
                                    name=f"writer-{h}") for h, log in enumerate(logs)]
        for w in writers:
            w.start()
        for _ in range(RESTARTS):
            time.sleep(rng.uniform(0.5, 3.0))
            collector.stop(sig)
            collector.start()
        for w in writers:
            w.join()
        want = expected()
        wait_for(lambda: collector.query("summary", limit=1, collector="summary")[
            "requests"] >= want["requests"], 120, 0.5)
        # the window applies in slices and may still be catching up after the summary
        wait_for(lambda: collector.query("overview", window="5m", collector="window")[
            "requests"] >= want["requests"], 60, 0.5)
        time.sleep(1.0)  # anything counted twice would arrive now
        summary = collector.query("summary", limit=100, collector="summary")
        context = f"seed {seed}, signal {signal.Signals(sig).name}"
        assert summary["requests"] == want["requests"], context
        assert summary["lines"] == want["requests"], context
        assert summary["hosts"] == want["hosts"], context
        assert summary["status"] == want["status"], context
        assert {r["path"]: r["hits"] for r in summary["top_paths"]} == want["paths"], context
        assert summary["error_bounds"]["path"] == 0
        overview = collector.query("overview", window="5m", collector="window")
        assert overview["requests"] == want["requests"], context
        assert overview["late"] == 0, context
        assert overview["status_class"] == {"1xx": 0, "3xx": 0, "2xx": want["status"]["200"],
                                            "4xx": want["status"]["404"],
                                            "5xx": want["status"]["500"]}, context
        top = collector.query("top", window="5m", dimension="path", limit=100,
                              collector="window")
        assert {r["key"]: r["hits"] for r in top["rows"]} == want["paths"], context
        hosts = collector.query("hosts", window="5m", collector="window")
        assert {r["host"]: r["requests"] for r in hosts["rows"]} == want["hosts"], context
        assert collector.firing() == {"error_rate"}, context
    finally:
        cluster.stop_all()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_collector_killed_five_times_counts_every_line_once(tmp_path: Path) -> None:
    run_restarts(tmp_path, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_collector_stopped_and_started_five_times_counts_every_line_once(tmp_path: Path
                                                                         ) -> None:
    run_restarts(tmp_path, signal.SIGTERM)
