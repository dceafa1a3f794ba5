"""Following: start positions, resuming after a restart, status, stale acknowledgements."""

from __future__ import annotations

from pathlib import Path

import pytest

from omphalos.pipeline import Pipeline
from tests.conftest import wait_for

from .helpers import exactly_once, monitor_status, pipeline, seen
from .writer import line


def _append(path: Path, first: int, last: int) -> None:
    with path.open("ab") as fh:
        fh.write(b"".join(line(n) for n in range(first, last + 1)))


@pytest.mark.timeout(60)
def test_start_at_end_skips_old_lines_but_not_new_files(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _append(log, 1, 100)
    with pipeline(tmp_path, [str(tmp_path / "*.log")], start_at="end") as pipe:
        assert pipe.wait_idle(timeout=30)
        _append(log, 101, 110)
        _append(tmp_path / "new.log", 111, 120)  # appears later: read from its start
        wait_for(lambda: len(seen(pipe)) == 20)
        counts = seen(pipe)
    assert exactly_once(counts, 101, 120) == []


@pytest.mark.timeout(60)
def test_restart_resumes_exactly_where_it_stopped(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _append(log, 1, 300)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 300)
        assert pipe.wait_idle(timeout=30)
    _append(log, 301, 350)  # while stopped
    with pipeline(tmp_path, [str(log)], start_at="end") as pipe:
        wait_for(lambda: len(seen(pipe)) == 50)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)  # a new collector: it sees only what the monitor re-sent
        status = monitor_status(pipe)
    assert exactly_once(counts, 301, 350) == []
    (entry,) = status["files"]
    assert entry["committed"] == entry["size"] == log.stat().st_size
    assert status["bytes_behind"] == 0 and status["idle"]


@pytest.mark.timeout(60)
def test_truncated_while_stopped_starts_a_new_generation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _append(log, 1, 200)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 200)
        assert pipe.wait_idle(timeout=30)
        first_id = monitor_status(pipe)["files"][0]["file_id"]
    log.write_bytes(b"")
    _append(log, 1, 10)  # same first line, shorter than the committed offset
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 10)
        status = monitor_status(pipe)
    assert status["files"][0]["file_id"] != first_id
    assert status["counters"]["truncations"] == 1


@pytest.mark.timeout(60)
def test_status_reports_reading_state_and_bytes_behind(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _append(log, 1, 2000)
    size = log.stat().st_size
    config = {"omphalos": {"state_dir": str(tmp_path / "state")},
              "monitor:logs": {"plugin": "file", "paths": [str(log)], "max_in_flight": 2,
                               "read_bytes": 4096, "max_line_bytes": 1024},
              "parser:main": {"plugin": "common"}}
    # no transport: nothing is ever acknowledged, so the monitor stays behind, out of credit
    pipe = Pipeline.from_config(config, kinds=("monitor", "parser")).start()
    try:
        status = wait_for(lambda: (s := monitor_status(pipe))["in_flight"] == 2 and s)
    finally:
        pipe.stop(timeout=1.0)  # unacknowledged: nothing to wait for
    assert status["files_watched"] == 1 and not status["idle"]
    assert status["bytes_behind"] == size  # nothing committed
    (entry,) = status["files"]
    assert entry["state"] == "reading" and 0 < entry["read"] <= 8192 and entry["committed"] == 0
    assert status["counters"]["chunks_sent"] == 2
