"""Quick rotations: files that sit at the watched path only briefly, generations rotated
while the monitor was stopped, a file deleted and recreated at once (issue 14).

Every test uses real files and real renames and asserts exact counts: every number once,
none twice.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .helpers import Writer, exactly_once, monitor_status, pipeline, seen
from .writer import line


def _write(path: Path, first: int, last: int) -> None:
    with path.open("ab") as fh:
        fh.write(b"".join(line(n) for n in range(first, last + 1)))


@pytest.mark.timeout(90)
def test_ten_renames_30ms_apart_at_5000_lines_a_second(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    with pipeline(tmp_path, [str(log)]) as pipe:
        writer = Writer(log, 1, 6000, 5000.0, tmp_path)
        try:
            wait_for(lambda: log.exists() and log.stat().st_size > 0, timeout=30)
            time.sleep(0.2)
            for i in range(1, 11):
                os.rename(log, folder / f"access.log.{i}")
                writer.reopen()
                time.sleep(0.03)
            wait_for(writer.finished, timeout=60)
            last = writer.last()
            wait_for(lambda: sum(seen(pipe).values()) >= last, timeout=60)
            assert pipe.wait_idle(timeout=30)
            counts = seen(pipe)
        finally:
            writer.stop()
        status = monitor_status(pipe)
    assert last == 6000
    assert exactly_once(counts, 1, last) == []
    assert status["counters"]["rotations"] >= 1


@pytest.mark.timeout(60)
def test_file_at_the_watched_path_for_40ms_is_followed_to_its_new_name(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    _write(log, 1, 100)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 100)
        for gen in range(3):  # each generation sits at the path 40 ms, then moves on
            os.rename(log, folder / f"access.log.{gen + 1}")
            _write(log, 101 + gen * 100, 200 + gen * 100)
            time.sleep(0.04)
        wait_for(lambda: len(seen(pipe)) == 400, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
    assert exactly_once(counts, 1, 400) == []


@pytest.mark.timeout(60)
def test_renamed_twice_before_the_monitor_looked(tmp_path: Path) -> None:
    """The file moves on from its first rotated name too before the events are read."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    _write(log, 1, 100)
    with pipeline(tmp_path, [str(log)], event_gather_secs=0.2) as pipe:
        wait_for(lambda: len(seen(pipe)) == 100)
        time.sleep(0.3)  # quiet: the next event is read at once, the ones after it later
        os.rename(log, folder / "access.log.1")
        _write(log, 101, 200)
        os.rename(folder / "access.log.1", folder / "access.log.2")
        os.rename(log, folder / "access.log.1")
        _write(log, 201, 300)
        wait_for(lambda: len(seen(pipe)) == 300, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
    assert exactly_once(counts, 1, 300) == []


@pytest.mark.timeout(60)
def test_two_rotations_while_stopped_read_every_generation(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    _write(log, 1, 100)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 100)
        assert pipe.wait_idle(timeout=30)
    _write(log, 101, 150)  # the first generation grows after the stop
    os.rename(log, folder / "access.log.1")
    _write(log, 151, 250)  # the middle generation: never seen by the monitor
    os.rename(folder / "access.log.1", folder / "access.log.2")
    os.rename(log, folder / "access.log.1")
    _write(log, 251, 300)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 200, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert exactly_once(counts, 101, 300) == []  # a new collector: only what was re-sent
    assert status["counters"]["rotated_resumed"] == 2


@pytest.mark.timeout(60)
def test_old_rotated_siblings_are_not_read_again_at_start(tmp_path: Path) -> None:
    """Rotated files older than the last checkpoint are not generations of this run."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    _write(folder / "access.log.7", 9001, 9010)  # old, from before the monitor ever ran
    old = time.time() - 3600
    os.utime(folder / "access.log.7", (old, old))
    _write(log, 1, 100)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 100)
        assert pipe.wait_idle(timeout=30)
    os.rename(log, folder / "access.log.1")
    _write(log, 101, 150)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 50, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
    assert exactly_once(counts, 101, 150) == []


@pytest.mark.timeout(60)
def test_deleted_and_recreated_within_40ms_read_to_the_end(tmp_path: Path) -> None:
    """The open file gets lines the monitor has not read, is deleted and made again
    within 10 ms: the old file is read to its end through the open descriptor, the new
    one from its start. (A file deleted before the monitor ever opened it is gone for
    everyone: nothing can read it.)"""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    _write(log, 1, 100)
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 100)
        for gen in range(3):
            first = 101 + gen * 200
            with log.open("ab") as fh:  # lines the monitor has not read yet, then gone
                fh.write(b"".join(line(n) for n in range(first, first + 100)))
                fh.flush()
                os.unlink(log)
                _write(log, first + 100, first + 199)
            wait_for(lambda n=first + 199: len(seen(pipe)) == n, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, 700) == []
    assert status["counters"]["rotations"] == 3


@pytest.mark.timeout(60)
def test_glob_match_renamed_out_of_the_glob_at_once_is_read(tmp_path: Path) -> None:
    """A file that matched a glob for a moment (``*.log``) and was renamed to a name the
    glob does not match (``.1``), before any search found it, is followed and read."""
    folder = tmp_path / "logs"
    folder.mkdir()
    _write(folder / "seed.log", 1, 10)
    with pipeline(tmp_path, [str(folder / "*.log")], discover_interval_secs=60.0) as pipe:
        wait_for(lambda: len(seen(pipe)) == 10)
        for i in range(3):
            fresh = folder / f"app{i}.log"
            _write(fresh, 11 + i * 100, 110 + i * 100)
            os.rename(fresh, folder / f"app{i}.log.1")
        wait_for(lambda: len(seen(pipe)) == 310, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
    assert exactly_once(counts, 1, 310) == []
