"""What the monitor tests share: a collector that records line numbers, a writer process."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from omphalos.config import option
from omphalos.messages import Batch, Query
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin
from omphalos.registry import Registry, default_registry

HERE = Path(__file__).parent
WRITER = HERE / "writer.py"


@dataclass(frozen=True)
class NumbersConfig:
    """Options of the numbers collector."""

    db: str = option("", "SQLite file the numbers and applied offsets are kept in (so they "
                         "survive a SIGKILL); empty: memory only.")


class NumbersCollector(CollectorPlugin):
    """Test collector: records the number in each ``/n/NUMBER`` path it applies, and the
    other paths and the unparsed lines (the poison lines of the torture test).

    With ``db`` it writes the numbers and the applied end offset per file identity in one
    SQLite transaction per batch, and reloads the offsets at start into the base class's
    de-duplication memory: a batch re-sent after a crash of the whole process is skipped,
    exactly as the in-process de-duplication does. That is where exactly-once is decided.
    """

    name = "numbers"
    description = "Test collector: records line numbers, durably with db"
    Config: ClassVar[type] = NumbersConfig
    answers: ClassVar[frozenset[str]] = frozenset({"numbers"})

    def setup(self) -> None:
        self.seen: Counter[int] = Counter()
        self.unparsed = 0
        self.others: list[str] = []
        self.db: sqlite3.Connection | None = None
        if self.config.db:
            self.db = sqlite3.connect(self.config.db, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS seen (n INTEGER NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS other (path TEXT NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS unparsed (lines INTEGER NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS applied (file_id TEXT PRIMARY KEY, "
                            "end INTEGER NOT NULL)")
            for file_id, end in self.db.execute("SELECT file_id, end FROM applied"):
                self._applied[file_id] = end

    def teardown(self) -> None:
        if getattr(self, "db", None) is not None:
            assert self.db is not None
            self.db.close()
            self.db = None

    def apply(self, batch: Batch) -> None:
        paths = [p or "" for p in batch.records.path]
        numbers = [int(p.rsplit("/", 1)[1]) for p in paths if p.startswith("/n/")]
        others = [p for p in paths if not p.startswith("/n/")]  # poison lines that parsed
        self.unparsed += batch.unparsed
        self.seen.update(numbers)
        self.others.extend(others)
        if self.db is not None:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO seen VALUES (?)", [(n,) for n in numbers])
            self.db.executemany("INSERT INTO other VALUES (?)", [(p[:64],) for p in others])
            if batch.unparsed:
                self.db.execute("INSERT INTO unparsed VALUES (?)", (batch.unparsed,))
            self.db.execute("INSERT INTO applied VALUES (?, ?) ON CONFLICT (file_id) DO UPDATE "
                            "SET end = excluded.end", (batch.source.file_id, batch.end))
            self.db.execute("COMMIT")

    def answer(self, query: Query) -> Any:
        if query.kind == "numbers":
            return {"seen": dict(self.seen), "unparsed": self.unparsed}
        return super().answer(query)


def registry() -> Registry:
    """The installed plugins plus the numbers collector."""
    reg = Registry()
    for cls in default_registry().all():
        reg.add(cls)
    reg.add(NumbersCollector)
    return reg


def pipeline(tmp: Path, paths: list[str], **monitor: Any) -> Pipeline:
    """file monitor -> common parser -> numbers collector, state kept under ``tmp``."""
    options = {"plugin": "file", "paths": paths, "rotate_wait_secs": 1.0, **monitor}
    config = {
        "omphalos": {"state_dir": str(tmp / "state"), "restart_backoff_secs": 0.05},
        "monitor:logs": options,
        "parser:main": {"plugin": "common"},
        "collector:numbers": {"plugin": "numbers"},
    }
    return Pipeline.from_config(config, registry=registry())


def seen(pipe: Pipeline) -> Counter[int]:
    answer = pipe.query("numbers", collector="numbers")
    assert answer["unparsed"] == 0
    return Counter({int(k): v for k, v in answer["seen"].items()})


def monitor_status(pipe: Pipeline) -> dict[str, Any]:
    status: dict[str, Any] = pipe.ask("monitor:logs", Query("status"))
    return status


class Writer:
    """The writer process (``writer.py``): numbered lines at a steady rate."""

    def __init__(self, path: Path, first: int, count: int, rate: float, tmp: Path) -> None:
        self.status = tmp / f"writer-{first}.done"
        self.first, self.count = first, count
        self.proc = subprocess.Popen([sys.executable, str(WRITER), str(path), str(first),
                                      str(count), str(rate), str(self.status)])

    def reopen(self) -> None:
        self.proc.send_signal(signal.SIGUSR1)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def finished(self) -> bool:
        return self.status.exists()

    def last(self) -> int:
        return int(self.status.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(10)


def exactly_once(counts: Counter[int], first: int, last: int) -> list[str]:
    """Problems with ``counts`` against every number in [first, last] exactly once."""
    problems = []
    dup = sorted(n for n, c in counts.items() if c > 1)
    if dup:
        problems.append(f"{len(dup)} numbers counted twice or more: {dup[:10]}")
    missing = [n for n in range(first, last + 1) if counts.get(n, 0) == 0]
    if missing:
        problems.append(f"{len(missing)} numbers missing: {missing[:10]}")
    extra = sorted(n for n in counts if not first <= n <= last)
    if extra:
        problems.append(f"unexpected numbers: {extra[:10]}")
    return problems


@contextlib.contextmanager
def tmpfs(point: Path, size: str = "4m") -> Iterator[Path]:
    """A real, small tmpfs mounted at ``point`` (needs root and mount permission, else the
    test is skipped): a disk that really fills up."""
    point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "omphalos-test", str(point)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; the filler file's path."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (1 << 16, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler
