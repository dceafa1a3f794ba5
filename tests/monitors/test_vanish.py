"""The watched file or directory vanishes (unmounted, removed, moved away) and comes back.

While it is gone the monitor reports it ``missing`` in its status and keeps retrying; when
it returns, reading resumes without losing or repeating a line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .helpers import Writer, exactly_once, monitor_status, pipeline, seen

RATE = 300.0


def _last_written(log: Path) -> int:
    data = log.read_bytes()
    lines = data[: data.rfind(b"\n") + 1].splitlines()
    return int(lines[-1].split(b"/n/")[1].split(b" ")[0]) if lines else 0


def _has_all(pipe, last: int) -> bool:  # type: ignore[no-untyped-def]
    counts = seen(pipe)
    return all(counts.get(n) for n in range(1, last + 1))


def _states(pipe, path: Path) -> set[str]:  # type: ignore[no-untyped-def]
    return {f["state"] for f in monitor_status(pipe)["files"] if f["path"] == str(path)}


def _finish(pipe, writer: Writer) -> None:  # type: ignore[no-untyped-def]
    wait_for(writer.finished, timeout=60)
    last = writer.last()
    wait_for(lambda: _has_all(pipe, last), timeout=60)
    assert pipe.wait_idle(timeout=30)
    assert exactly_once(seen(pipe), 1, last) == []


@pytest.mark.timeout(90)
def test_directory_moved_away_and_back_resumes(tmp_path: Path) -> None:
    """Like an unmount and remount of a disk: same device and inodes when it returns."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    with pipeline(tmp_path, [str(log)], rotate_wait_secs=0.3) as pipe:
        writer = Writer(log, 1, int(RATE * 3), RATE, tmp_path)
        try:
            wait_for(lambda: log.exists() and _last_written(log) > 50, timeout=30)
            away = tmp_path / "away"
            os.rename(folder, away)  # the writer keeps writing through its descriptor
            wait_for(lambda: "missing" in _states(pipe, log), timeout=30)
            time.sleep(0.6)  # long enough for the monitor to close the vanished file
            os.rename(away, folder)
            wait_for(lambda: "missing" not in _states(pipe, log), timeout=30)
            _finish(pipe, writer)
        finally:
            writer.stop()


@pytest.mark.timeout(90)
def test_directory_removed_and_recreated_resumes(tmp_path: Path) -> None:
    """The directory (given as the path: all its files) is deleted, then made again."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    with pipeline(tmp_path, [str(folder)], rotate_wait_secs=0.3) as pipe:
        writer = Writer(log, 1, int(RATE * 3), RATE, tmp_path)
        try:
            wait_for(lambda: log.exists() and _last_written(log) > 50, timeout=30)
            writer.pause()
            wait_for(lambda: _has_all(pipe, _last_written(log)), timeout=30)
            shutil.rmtree(folder)
            wait_for(lambda: "missing" in _states(pipe, folder), timeout=30)
            folder.mkdir()
            writer.reopen()
            writer.resume()
            wait_for(lambda: "missing" not in _states(pipe, folder), timeout=30)
            _finish(pipe, writer)
        finally:
            writer.stop()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs mount point (root and mount permission needed, else skipped)."""
    point = tmp_path / "mnt"
    point.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "omphalos-test", str(point)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.mark.timeout(90)
def test_tmpfs_unmounted_and_mounted_again(tmpfs: Path, tmp_path: Path) -> None:
    log = tmpfs / "access.log"
    with pipeline(tmp_path, [str(log)], rotate_wait_secs=0.3) as pipe:
        writer = Writer(log, 1, int(RATE * 3), RATE, tmp_path)
        try:
            wait_for(lambda: log.exists() and _last_written(log) > 50, timeout=30)
            writer.pause()
            wait_for(lambda: _has_all(pipe, _last_written(log)), timeout=30)
            # lazily: the writer and the monitor still hold the file open
            subprocess.run(["umount", "-l", str(tmpfs)], check=True)
            wait_for(lambda: "missing" in _states(pipe, log), timeout=30)
            subprocess.run(["mount", "-t", "tmpfs", "omphalos-test", str(tmpfs)], check=True)
            writer.reopen()
            writer.resume()
            wait_for(lambda: "missing" not in _states(pipe, log), timeout=30)
            _finish(pipe, writer)
        finally:
            writer.stop()
