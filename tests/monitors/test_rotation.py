"""Rotation torture: a real writer process, real renames, copies, truncations and deletes.

The writer appends numbered lines at a steady rate while the test rotates the file with each
strategy, several times over; the collector must see every number exactly once, except what
the docs say copytruncate may lose: lines written after the copy was taken and before the
truncation, that the monitor had not read yet. Never anything twice.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .helpers import Writer, exactly_once, monitor_status, pipeline, seen

RATE = 400.0


def _numbers(path: Path) -> list[int]:
    """Numbers of the complete lines in ``path``."""
    data = path.read_bytes()
    lines = data[: data.rfind(b"\n") + 1].splitlines()
    return [int(line.split(b"/n/")[1].split(b" ")[0]) for line in lines]


def _rotate(strategy: str, log: Path, writer: Writer, pipe, i: int,  # type: ignore[no-untyped-def]
            windows: list[tuple[int, int]]) -> None:
    folder = log.parent
    if strategy == "rename":  # logrotate's default: rename, create, tell the writer
        os.rename(log, folder / f"access.log.{i}")
        writer.reopen()
    elif strategy == "copytruncate":
        copy = folder / f"access.log.ct{i}"
        shutil.copyfile(log, copy)
        copied = _numbers(copy)
        os.truncate(log, 0)
        first_after = wait_for(lambda: _numbers(log)[:1], timeout=30)[0]
        windows.append((copied[-1] if copied else 0, first_after))
    elif strategy == "truncate":  # ': > access.log' once every line was read
        writer.pause()
        try:
            written = _numbers(log)
            if written:  # wait until the monitor read every line written so far
                lost = {n for lo, hi in windows for n in range(lo + 1, hi)}
                wait_for(lambda: _has_all(pipe, written[-1], lost), timeout=30)
            os.truncate(log, 0)
        finally:
            writer.resume()
    elif strategy == "delete":  # delete, then the writer re-creates it
        os.unlink(log)
        writer.reopen()
    else:
        raise AssertionError(strategy)


def _has_all(pipe, last: int, lost: set[int]) -> bool:  # type: ignore[no-untyped-def]
    counts = seen(pipe)
    return all(counts.get(n) for n in range(1, last + 1) if n not in lost)


def _run_torture(tmp_path: Path, strategies: list[str], rounds: int, **monitor: object) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    count = int(RATE * 0.45 * rounds * len(strategies)) + 200
    with pipeline(tmp_path, [str(log)], **monitor) as pipe:
        writer = Writer(log, 1, count, RATE, tmp_path)
        windows: list[tuple[int, int]] = []
        try:
            wait_for(lambda: log.exists() and _numbers(log), timeout=30)
            i = 0
            for _ in range(rounds):
                for strategy in strategies:
                    i += 1
                    time.sleep(0.3)
                    _rotate(strategy, log, writer, pipe, i, windows)
            wait_for(writer.finished, timeout=60)
            last = writer.last()
            allowed_loss = {n for lo, hi in windows for n in range(lo + 1, hi)}

            try:
                wait_for(lambda: _has_all(pipe, last, allowed_loss), timeout=60)
            except AssertionError:
                problems = exactly_once(seen(pipe), 1, last)
                raise AssertionError(f"{problems}; copytruncate windows {windows}; "
                                     f"{monitor_status(pipe)}") from None
            assert pipe.wait_idle(timeout=30)
            counts = seen(pipe)
        finally:
            writer.stop()
        status = monitor_status(pipe)
    lost = {n for n in range(1, last + 1) if not counts.get(n)}
    assert lost <= allowed_loss, sorted(lost - allowed_loss)[:10]
    kept = Counter({n: c for n, c in counts.items()})
    for n in lost:
        kept[n] = 1  # accounted for by the copytruncate window
    assert exactly_once(kept, 1, last) == []
    assert status["counters"].get("rotations", 0) >= rounds * strategies.count("rename")
    if "truncate" in strategies or "copytruncate" in strategies:
        assert status["counters"].get("truncations", 0) >= rounds


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_every_strategy_many_times_exactly_once(tmp_path: Path) -> None:
    _run_torture(tmp_path, ["rename", "copytruncate", "truncate", "delete"], rounds=6)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_polling_mode_survives_rotations(tmp_path: Path) -> None:
    _run_torture(tmp_path, ["rename", "truncate", "delete"], rounds=3, mode="polling")


@pytest.mark.timeout(90)
def test_symlink_whose_target_changes(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    link = tmp_path / "current.log"
    os.symlink(folder / "a0.log", link)
    count = int(RATE * 2.5)
    with pipeline(tmp_path, [str(link)]) as pipe:
        writer = Writer(link, 1, count, RATE, tmp_path)
        try:
            for i in range(1, 5):
                time.sleep(0.4)
                tmp_link = tmp_path / "next.log"
                os.symlink(folder / f"a{i}.log", tmp_link)
                os.replace(tmp_link, link)  # atomic switch to a new target
                writer.reopen()
            wait_for(writer.finished, timeout=60)
            last = writer.last()
            try:
                wait_for(lambda: sum(seen(pipe).values()) >= last, timeout=60)
            except AssertionError:
                raise AssertionError(f"{exactly_once(seen(pipe), 1, last)} "
                                     f"{monitor_status(pipe)}") from None
            assert pipe.wait_idle(timeout=30)
            counts = seen(pipe)
        finally:
            writer.stop()
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, last) == []
    assert status["counters"]["rotations"] >= 4


@pytest.mark.timeout(90)
def test_rotated_names_matched_by_the_pattern_are_not_read_twice(tmp_path: Path) -> None:
    """Reading a directory: ``access.log.1`` is the file already being read, renamed."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    count = int(RATE * 2.5)
    with pipeline(tmp_path, [str(folder)]) as pipe:
        writer = Writer(log, 1, count, RATE, tmp_path)
        try:
            wait_for(lambda: log.exists() and _numbers(log), timeout=30)
            for _ in range(4):
                time.sleep(0.4)
                for n in range(3, 0, -1):  # logrotate's numbering: .2 -> .3, .1 -> .2, ...
                    if (folder / f"access.log.{n}").exists():
                        os.rename(folder / f"access.log.{n}", folder / f"access.log.{n + 1}")
                os.rename(log, folder / "access.log.1")
                writer.reopen()
            wait_for(writer.finished, timeout=60)
            last = writer.last()
            wait_for(lambda: _has_all(pipe, last, set()), timeout=60)
            assert pipe.wait_idle(timeout=30)
            counts = seen(pipe)
        finally:
            writer.stop()
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, last) == []
    assert status["files_watched"] == 5  # access.log and its four rotated names
