"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
REAL_LOG = DATA / "apache_logs.combined.log"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# The tests run the project's commands (omphalos, httptop) as real processes: those of the
# environment running the tests (a virtualenv's bin/, beside its python), even when that
# environment is not on PATH (``.venv/bin/python -m pytest``).
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                      os.environ.get("PATH", os.defpath)])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the machine's config files or writes state outside its tmp dir."""
    monkeypatch.setenv("OMPHALOS_NO_DEFAULT_CONFIG", "1")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("OMPHALOS_STATE_DIR", str(tmp_path / "state" / "omphalos"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)
    yield


@pytest.fixture
def real_log() -> Path:
    return REAL_LOG


def applied_lines(pipeline: Any, collector: str = "summary") -> int:
    """Lines a summary collector has wholly applied: a record batch's line count goes with
    its first slice, its records (hosts, statuses, ...) slice by slice, so ``lines`` alone
    runs ahead of what the other answers show yet."""
    summary = pipeline.query(collector)
    return min(int(summary["lines"]), int(summary["requests"]) + int(summary["unparsed"]))


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def omphalos_threads() -> list[str]:
    """Names of live non-main threads (pykka actors, scheduler, observers)."""
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()
            and t.is_alive()]
