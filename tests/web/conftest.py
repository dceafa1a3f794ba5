"""Fixtures of the web tests: a running pipeline with the web output, a log writer, HTTP."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from omphalos.registry import default_registry
from tests.conftest import REAL_LOG

#: Collectors that answer the windowed kinds (issue 5), used when installed.
WINDOWED = ("windows", "window", "sliding", "live")


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes | None = None, timeout: float = 10.0) -> Reply:
    """A real HTTP request (urllib); error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())


def windowed_collector() -> str | None:
    """The registry name of a collector answering top/series/overview, if one is installed."""
    registry = default_registry()
    for name in WINDOWED:
        if registry.has("collector", name):
            return name
    return None


@dataclass
class WebRun:
    """A started pipeline with a web output, reading ``log``."""

    pipeline: Pipeline
    url: str
    log: Path
    token: str = ""
    writers: list[Any] = field(default_factory=list)  # Writer threads to stop at the end

    def get(self, path: str, **kwargs: Any) -> Reply:
        return http(self.url + path, **kwargs)

    def post_json(self, path: str, data: Any, token: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return http(self.url + path, "POST", headers, json.dumps(data).encode())


def combined_line(path: str = "/index.html", status: int = 200, size: int = 512,
                  when: float | None = None, client: str = "10.0.0.7") -> str:
    """One combined-format line stamped ``when`` (default: now)."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(when or time.time()))
    return (f'{client} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "-" '
            f'"omphalos-test/1.0"\n')


class Writer(threading.Thread):
    """Appends lines to a log until stopped (a web server writing its access log)."""

    def __init__(self, log: Path, lines: Callable[[int], list[str]],
                 interval: float = 0.2) -> None:
        super().__init__(name="test-log-writer", daemon=True)
        self.log, self.lines, self.interval = log, lines, interval
        self.stopped = threading.Event()
        self.written = 0

    def run(self) -> None:
        n = 0
        while not self.stopped.wait(self.interval):
            with self.log.open("a") as fh:
                for line in self.lines(n):
                    fh.write(line)
                    self.written += 1
            n += 1

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)


@pytest.fixture
def start_web(tmp_path: Path) -> Iterator[Callable[..., WebRun]]:
    """Start a pipeline (file monitor -> summary, metrics [, windowed] -> web); stop after."""
    runs: list[WebRun] = []

    def start(web: dict[str, Any] | None = None, *, copy_real_log: bool = True,
              windowed: dict[str, Any] | None = None,
              parser: dict[str, dict[str, Any]] | None = None,
              summary: dict[str, Any] | None = None) -> WebRun:
        log = tmp_path / f"access{len(runs)}.log"
        if copy_real_log:
            shutil.copy(REAL_LOG, log)
        else:
            log.write_text("")
        config: dict[str, dict[str, Any]] = {
            "monitor:web": {"paths": str(log), "checkpoints": False,
                            "poll_interval_secs": 0.1},
        }
        for parser_name, options in (parser or {}).items():
            config[f"parser:{parser_name}"] = options
        name = windowed_collector()
        if name is not None:
            config[f"collector:{name}"] = {"history": False, **(windowed or {})}
        config["collector:summary"] = dict(summary or {})
        config["collector:metrics"] = {}
        config["output:web"] = {"port": 0, **(web or {})}
        pipeline = Pipeline.from_config(config)
        pipeline.start()
        status = pipeline.ask("output:web", Query("status"))
        run = WebRun(pipeline, f"http://127.0.0.1:{status['port']}", log,
                     token=str((web or {}).get("token", "")))
        runs.append(run)
        return run

    yield start
    for run in runs:
        for writer in run.writers:
            writer.stop()
        run.pipeline.stop()
