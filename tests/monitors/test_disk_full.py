"""Checkpoints on a full disk: reading pauses, status and logs say ``disk full: PATH``, and
reading resumes by itself when space returns; not a line lost or counted twice.

The state directory is a real, small tmpfs filled to its last byte by a real file.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .helpers import Writer, exactly_once, fill, monitor_status, pipeline, seen, tmpfs
from .writer import line

RATE = 1000.0


def _reads(pipe) -> list[int]:  # type: ignore[no-untyped-def]
    return [f["read"] for f in monitor_status(pipe)["files"]]


@pytest.mark.timeout(90)
def test_checkpoint_disk_full_pauses_and_resumes(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omphalos")
    log = tmp_path / "access.log"
    with tmpfs(tmp_path / "state") as state:
        checkpoints = state / "checkpoints.sqlite"
        with pipeline(tmp_path, [str(log)], stat_interval_secs=0.2) as pipe:
            writer = Writer(log, 1, 4000, RATE, tmp_path)
            try:
                wait_for(lambda: len(seen(pipe)) > 200, timeout=30)
                filler = fill(state)
                wait_for(lambda: monitor_status(pipe)["paused"], timeout=30)
                status = monitor_status(pipe)
                assert status["paused"] == f"disk full: {checkpoints}"
                assert not status["idle"]
                first = _reads(pipe)
                wait_for(lambda: log.stat().st_size > first[0] + 20_000, timeout=30)
                assert _reads(pipe) == first  # paused: nothing more read
                assert monitor_status(pipe)["paused"]
                filler.unlink()  # space is back
                wait_for(lambda: monitor_status(pipe)["paused"] == "", timeout=30)
                wait_for(writer.finished, timeout=60)
                wait_for(lambda: len(seen(pipe)) == 4000, timeout=60)
                assert pipe.wait_idle(timeout=30)
                counts = seen(pipe)
                status = monitor_status(pipe)
            finally:
                writer.stop()
        with sqlite3.connect(checkpoints) as db:
            (offset,) = db.execute("SELECT offset FROM offsets").fetchone()
    assert exactly_once(counts, 1, 4000) == []
    assert status["paused"] == "" and status["counters"]["checkpoint_write_failures"] >= 1
    assert offset == log.stat().st_size  # every kept checkpoint was written once space came
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"disk full: {checkpoints} ") for m in messages), messages
    assert any(m.startswith(f"{checkpoints}: space is back") for m in messages), messages


@pytest.mark.timeout(60)
def test_started_on_a_full_disk_waits_for_space_then_reads(tmp_path: Path) -> None:
    """No checkpoint store can be made: the monitor does not know its offsets, so it waits
    (paused, ``disk full: PATH``) instead of reading or dying; then reads all."""
    log = tmp_path / "access.log"
    with log.open("wb") as fh:
        fh.write(b"".join(line(n) for n in range(1, 301)))
    with tmpfs(tmp_path / "state") as state:
        filler = fill(state)
        with pipeline(tmp_path, [str(log)], stat_interval_secs=0.2) as pipe:
            wait_for(lambda: monitor_status(pipe)["paused"], timeout=30)
            status = monitor_status(pipe)
            assert status["paused"] == f"disk full: {state / 'checkpoints.sqlite'}"
            assert status["files"] == [] and seen(pipe) == {}
            filler.unlink()
            wait_for(lambda: len(seen(pipe)) == 300, timeout=30)
            assert pipe.wait_idle(timeout=30)
            counts = seen(pipe)
            assert not pipe.degraded
    assert exactly_once(counts, 1, 300) == []
