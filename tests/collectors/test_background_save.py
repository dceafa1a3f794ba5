"""Saves committed in a writer thread: a SIGKILL in the middle of a commit loses nothing
and counts nothing twice.

A durable collector takes each save's snapshot in its actor thread and a writer thread
commits it (:mod:`omphalos.state_writer`); the acknowledgements the save holds are sent
only once the commit is done. A real process (``tests/collectors/durable_proc.py``: file
monitor with checkpoints, ``combined`` parser, local transport, durable ``summary`` and
``window``) reads the real Apache log and is killed with SIGKILL five times, each time
while the writer thread is inside a commit's transaction (it marks each commit's start
and end in a file; the commits are slowed by an injected fault, named in that module, so
that the moment can be hit), and restarted. The last run reads to the end: its answers
must be exactly those of a collector that read the log once without durability.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omphalos.state import PreparedSave, StateStore
from omphalos.state_writer import StateWriter

from ..conftest import REAL_LOG

ROOT = Path(__file__).resolve().parents[2]
LINES = 10_000
KILLS = 5


def config(tmp_path: Path, durable: bool) -> dict[str, dict[str, Any]]:
    options = {"durable": durable}
    return {
        "omphalos": {"state_dir": str(tmp_path / "state"), "log_level": "warning"},
        "monitor:files": {"plugin": "file", "paths": str(tmp_path / "access.log"),
                          "follow": False, "max_in_flight": 2, "read_bytes": 65536},
        "parser:p": {"plugin": "combined"},
        "collector:summary": {"plugin": "summary", **options},
        "collector:window": {"plugin": "window", "clock": "event", "history": False,
                             **options},
    }


def start(tmp_path: Path, durable: bool, run: int, slow_steps: int) -> tuple[
        subprocess.Popen[bytes], Path, Path]:
    """The process of run ``run``; its answers file and its commit marks."""
    conf = tmp_path / "config.json"
    conf.write_text(json.dumps(config(tmp_path, durable)))
    answers, marks = tmp_path / f"answers-{run}.json", tmp_path / f"marks-{run}"
    marks.touch()
    proc = subprocess.Popen([sys.executable, "-m", "tests.collectors.durable_proc", str(conf),
                             str(answers), str(marks), str(slow_steps)], cwd=ROOT)
    return proc, answers, marks


def commit_under_way(marks: Path) -> int | None:
    """The number of the commit begun and not ended, per ``marks``; None if none is."""
    lines = marks.read_text().split()
    if len(lines) >= 2 and lines[-2] == "begin":
        return int(lines[-1])
    return None


def read_once(tmp_path: Path, durable: bool) -> dict[str, Any]:
    proc, answers, _ = start(tmp_path, durable, 0, 0)
    assert proc.wait(timeout=240) == 0
    return dict(json.loads(answers.read_text()))


@pytest.mark.timeout(600)
def test_sigkill_during_a_background_commit_loses_nothing_and_counts_nothing_twice(
        tmp_path: Path) -> None:
    shutil.copy(REAL_LOG, tmp_path / "access.log")
    rng = random.Random(16)
    kills = attempts = 0
    while kills < KILLS:
        attempts += 1
        assert attempts <= 40, f"only {kills} kills landed inside a commit"
        proc, answers, marks = start(tmp_path, True, attempts, slow_steps=200)
        target = rng.randint(1, 4)  # the commit to kill in: each run makes some progress
        try:
            while proc.poll() is None:
                under_way = commit_under_way(marks)
                if under_way is not None and under_way >= target:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.002)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
        if proc.returncode == 0:  # it read to the end before the commit chosen: again
            continue
        assert proc.returncode == -signal.SIGKILL
        if commit_under_way(marks) is not None:  # still not ended: killed inside it
            kills += 1
    proc, answers, marks = start(tmp_path, True, attempts + 1, slow_steps=0)
    assert proc.wait(timeout=240) == 0
    got = json.loads(answers.read_text())
    assert got["summary"]["requests"] + got["summary"]["unparsed"] == LINES
    (tmp_path / "memory").mkdir()
    shutil.copy(REAL_LOG, tmp_path / "memory" / "access.log")
    memory = read_once(tmp_path / "memory", durable=False)
    assert {**got["summary"], "since": None} == {**memory["summary"], "since": None}
    assert got["top"] == memory["top"]
    # every figure of the 5-minute window but ``late``: the window counts a line late by
    # the newest time of the slice it arrives in, and a restarted collector cuts its
    # first batches into slices anew (the same with saves made in the actor thread)
    assert {**got["overview"], "late": None} == {**memory["overview"], "late": None}
    assert got["overview"]["requests"] > 0


def test_the_writer_commits_in_order_and_nothing_after_a_failed_commit(
        tmp_path: Path) -> None:
    store = StateStore(str(tmp_path / "s.sqlite"))
    writer = StateWriter(store, "collector:test")
    done: list[tuple[str, int]] = []
    failures: list[str] = []
    first = store.prepare("c", {"a": 1, "b": [1, 2]}, applied={"f": 10})
    second = store.prepare("c", {"a": 2}, dropped=["b"], applied={"f": 20})
    # an injected fault: a row SQLite cannot store (a list where a blob goes), so that
    # the third commit fails inside its transaction
    broken = PreparedSave("c", [("c", "a", [3])], [], [], [], False, time.time())  # type: ignore[list-item]
    fourth = store.prepare("c", {"a": 4}, applied={"f": 40})
    def on_done(name: str) -> Callable[[int, float], None]:
        return lambda written, secs: done.append((name, written))

    def on_failure(name: str) -> Callable[[BaseException], None]:
        return lambda error: failures.append(name)

    for name, prepared in (("1", first), ("2", second), ("3", broken), ("4", fourth)):
        writer.submit(prepared, on_done(name), on_failure(name))
    writer.drain()
    assert writer.waiting == 0
    writer.close()
    assert [n for n, _ in done] == ["1", "2"] and failures == ["3", "4"]
    assert done[1][1] == len(store.prepare("c", {"a": 2}).blobs[0][2])
    assert isinstance(writer.error, Exception)
    saved = store.load("c")
    assert saved.parts == {"a": 2} and saved.applied == [("f", 20)]  # the second, whole
    assert saved.generation == 2
    store.close()
