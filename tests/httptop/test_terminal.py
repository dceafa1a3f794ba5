"""The whole console in a real terminal (tmux): ``omphalos httptop`` on a growing log,
alerts cleared with ``c``/``C``, and a collector that takes 5 s to answer every query."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import REAL_LOG
from .terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not any(os.access(os.path.join(p, "tmux"), os.X_OK)
            for p in os.environ.get("PATH", "").split(os.pathsep)),
    reason="needs tmux")]

LINES = REAL_LOG.read_text(encoding="utf-8").splitlines(keepends=True)


class Writer(threading.Thread):
    """Appends the real log's lines to ``path``, ``per_step`` every ``every`` seconds."""

    def __init__(self, path: Path, start: int, per_step: int = 40, every: float = 0.1) -> None:
        super().__init__(name="log-writer", daemon=True)
        self.path, self.next, self.per_step, self.every = path, start, per_step, every
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every) and self.next < len(LINES):
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.writelines(LINES[self.next:self.next + self.per_step])
            self.next += self.per_step


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"OMPHALOS_NO_DEFAULT_CONFIG": "1", "HOME": str(tmp_path / "home"),
            "XDG_STATE_HOME": str(tmp_path / "state"), "COLORFGBG": "15;0",
            "PYTHONPATH": str(ROOT)}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_text("".join(LINES[:1000]), encoding="utf-8")
    return path


@pytest.fixture
def writer(log: Path) -> Iterator[Writer]:
    thread = Writer(log, 1000)
    thread.start()
    yield thread
    thread.stop.set()
    thread.join(5)


def total(lines: list[str]) -> int:
    """The request total of the header (second line): ``... 1234 since start ...``."""
    match = re.search(r"(\d+(?:\.\d+)?)(k?) since start\b", lines[1] if len(lines) > 1 else "")
    if not match:
        return -1
    return int(float(match.group(1)) * (1000 if match.group(2) else 1))


def table(lines: list[str]) -> list[str]:
    """The table's rows (between the column titles and the alerts panel)."""
    out = []
    for line in lines[4:]:
        if not line.strip() or line.startswith(("alerts", "●", "…")):
            break
        out.append(line)
    return out


@pytest.mark.timeout(120)
def test_omphalos_httptop_on_a_growing_log(tmp_path: Path, log: Path, writer: Writer) -> None:
    term = Terminal(["omphalos", "httptop", str(log)], tmp_path, env=env_for(tmp_path),
                    cwd=ROOT)
    try:
        first = total(term.wait_screen(lambda s: total(s) > 0))
        grown = term.wait_screen(lambda s: total(s) > first)
        assert total(grown) > first  # the writer's lines show up

        term.keys("2")  # clients
        screen = term.wait_screen(lambda s: "view clients" in s[0] and table(s)
                                  and re.match(r"\d+\.\d+\.\d+\.\d+ ", table(s)[0]))
        term.keys("4")  # status codes, sorted by hits: 200 first
        screen = term.wait_screen(lambda s: "view status codes" in s[0] and table(s)
                                  and table(s)[0].startswith("200 "))
        term.keys(">", ">", ">", ">")  # hits -> req/s -> 2xx -> 3xx -> 4xx
        screen = term.wait_screen(lambda s: "▼4xx" in s[3] and table(s)
                                  and table(s)[0].startswith("404 "))

        term.keys("1", "/")  # paths, filtered by a regular expression
        term.literal(r"\.png$")
        term.keys("Enter")
        screen = term.wait_screen(lambda s: "filter /\\.png$/" in s[0] and table(s)
                                  and all(r.split()[0].endswith((".png", "…")) for r in table(s)))
        assert "view paths" in screen[0]

        term.resize(10, 3)
        small = term.wait_screen(lambda s: any("small" in line for line in s))
        assert len(small) <= 3
        term.resize(120, 40)
        screen = term.wait_screen(lambda s: s and s[0].startswith("httptop") and table(s))
        term.keys("w")  # window 5m -> 1h
        screen = term.wait_screen(lambda s: "window 1h" in s[0])
        term.keys("q")
        assert term.exit_status() == 0
    finally:
        term.close()


@pytest.mark.timeout(90)
def test_alerts_cleared_from_the_console(tmp_path: Path, log: Path) -> None:
    """The test alerts collector fires for paths with 3 404s; ``c`` clears the selected
    path's alert, ``C`` all of them."""
    term = Terminal([sys.executable, "-m", "tests.httptop.console_driver", str(log),
                     "--alerts", "3", "--state-dir", str(tmp_path / "state")], tmp_path,
                    env=env_for(tmp_path), cwd=ROOT)
    try:
        # the panel's title and its rows can land on different redraws: wait for both
        screen = term.wait_screen(lambda s: any(re.match(r"alerts: \d+ firing", x) for x in s)
                                  and any(x.startswith("● not-found ") for x in s))
        firing = int(next(re.match(r"alerts: (\d+)", x).group(1)  # type: ignore[union-attr]
                          for x in screen if x.startswith("alerts: ")))
        path = next(x.split()[2] for x in screen if x.startswith("● not-found "))
        term.keys("/")
        term.literal("^" + re.escape(path) + "$")
        term.keys("Enter")
        term.wait_screen(lambda s: len(table(s)) == 1  # the path (clipped when long)
                         and path.startswith(table(s)[0].split()[0].rstrip("…")))
        term.keys("c")
        screen = term.wait_screen(lambda s: any("cleared 1" in x for x in s))
        if firing > 1:
            term.wait_screen(lambda s: any(x.startswith(f"alerts: {firing - 1} firing")
                                           for x in s))
        term.wait_screen(lambda s: not any(x.startswith(f"● not-found {path} ") for x in s))
        term.keys("C")
        term.wait_screen(lambda s: any(f"cleared {firing - 1}" in x for x in s))
        term.wait_screen(lambda s: any(x.startswith("alerts: none firing") for x in s))
        term.keys("/")  # in the filter prompt q is text: ctrl-c quits from there
        term.literal("q")
        term.wait_screen(lambda s: s[-1].startswith("/") and s[-1].rstrip().endswith("q"))
        term.keys("C-c")
        assert term.exit_status() == 0
    finally:
        term.close()


@pytest.mark.timeout(120)
def test_slow_collector_keeps_keys_responsive(tmp_path: Path, log: Path) -> None:
    """Every query takes 5 s: a key is on screen before any answer to it, the data is
    marked stale, pausing works, and ``q`` leaves the console."""
    record = tmp_path / "answers.jsonl"
    events = tmp_path / "events.jsonl"
    term = Terminal([sys.executable, "-m", "tests.httptop.console_driver", str(log),
                     "--slow", "5", "--record", str(record), "--events", str(events),
                     "--state-dir", str(tmp_path / "state")], tmp_path,
                    env=env_for(tmp_path), cwd=ROOT)
    try:
        term.wait_screen(lambda s: s and s[0].startswith("httptop") and "view paths" in s[0])
        term.keys("2")
        term.wait_screen(lambda s: "view clients" in s[0])
        shown_at = time.time()
        answered = [json.loads(x) for x in record.read_text().splitlines()] \
            if record.exists() else []
        client_answers = [a for a in answered if a["params"].get("dimension") == "client"]
        assert not client_answers, "the screen waited for the collector"
        key_at = next(e["time"] for e in map(json.loads, events.read_text().splitlines())
                      if e["event"] == "key 2")
        print(f"key 2 handled {shown_at - key_at:.3f}s before the test saw it on screen")
        term.wait_screen(lambda s: "STALE" in s[0])
        term.keys("p")
        term.wait_screen(lambda s: "PAUSED" in s[0])
        term.keys("p", "q")
        term.wait_screen(lambda s: not any("httptop" in x for x in s), timeout=10)
        assert term.exit_status(timeout=60) == 0
        quit_at = next(e["time"] for e in map(json.loads, events.read_text().splitlines())
                       if e["event"] == "quit")
        assert quit_at >= key_at
    finally:
        term.close()
