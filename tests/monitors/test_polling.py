"""Events and polling: inotify hints, ``mode = polling``, and the fall-back past a watch limit.

The kernel's inotify limits (``max_user_watches``, ``max_user_instances``) are shared by
every process of the user, so the test does not exhaust them: it sets the monitor's own
``max_watched_dirs`` limit, which goes through the same fall-back path (warning, the
directory polled, status saying so).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import omphalos_threads, wait_for

from .helpers import exactly_once, monitor_status, pipeline, seen
from .writer import line

SLOW = {"stat_interval_secs": 60.0, "discover_interval_secs": 60.0}


def _append(path: Path, first: int, last: int) -> None:
    with path.open("ab") as fh:
        fh.write(b"".join(line(n) for n in range(first, last + 1)))


@pytest.mark.timeout(60)
def test_inotify_hints_drive_reading_and_discovery(tmp_path: Path) -> None:
    """With the safety net a minute away, only events can explain the lines arriving."""
    (tmp_path / "logs").mkdir()
    pattern = str(tmp_path / "logs" / "*.log")
    with pipeline(tmp_path, [pattern], **SLOW) as pipe:
        _append(tmp_path / "logs" / "a.log", 1, 5)  # created after start: found by an event
        wait_for(lambda: len(seen(pipe)) == 5, timeout=30)
        _append(tmp_path / "logs" / "a.log", 6, 10)  # appended: read on the modify event
        wait_for(lambda: len(seen(pipe)) == 10, timeout=30)
        status = monitor_status(pipe)
    assert status["watch_mode"] == "events" and status["counters"]["wakeups"] >= 1
    assert not [t for t in omphalos_threads() if "watchdog" in t or "omphalos" in t]


@pytest.mark.timeout(60)
def test_polling_mode_reads_without_events(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _append(log, 1, 10)
    with pipeline(tmp_path, [str(tmp_path / "*.log")], mode="polling",
                  poll_interval_secs=0.1, discover_interval_secs=0.3) as pipe:
        wait_for(lambda: len(seen(pipe)) == 10)
        _append(log, 11, 20)
        _append(tmp_path / "other.log", 21, 30)
        wait_for(lambda: len(seen(pipe)) == 30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, 30) == []
    assert status["watch_mode"] == "polling" and "wakeups" not in status["counters"]


@pytest.mark.timeout(60)
def test_watch_limit_falls_back_to_polling_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    caplog.set_level(logging.WARNING, logger="omphalos")
    with pipeline(tmp_path, [str(one / "*.log"), str(two / "*.log")], max_watched_dirs=1,
                  poll_interval_secs=0.1, stat_interval_secs=60.0,
                  discover_interval_secs=0.3) as pipe:
        _append(one / "a.log", 1, 10)
        _append(two / "b.log", 11, 20)
        wait_for(lambda: len(seen(pipe)) == 20)
        _append(one / "a.log", 21, 25)
        _append(two / "b.log", 26, 30)
        wait_for(lambda: len(seen(pipe)) == 30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, 30) == []
    assert status["watch_mode"] == "events+polling"
    assert status["polled_dirs"] == [str(two)]
    assert any("polling" in r.getMessage() and "max_watched_dirs" in r.getMessage()
               for r in caplog.records)
