"""File offsets that survive restarts, in SQLite (WAL mode).

A row says: monitor ``monitor`` has every byte of the file ``file_id`` before ``offset``
safely downstream; the file was last seen at ``path``. Rows are keyed by file identity, not
by path, because a rotated file keeps being read under its new name while a new file takes
the old one: both have offsets at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass

SCHEMA = """CREATE TABLE IF NOT EXISTS offsets (
    monitor TEXT NOT NULL, file_id TEXT NOT NULL, path TEXT NOT NULL,
    offset INTEGER NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (monitor, file_id))"""


def _create(path: str) -> None:
    """Make the database under another name, then link it into place: whoever opens
    ``path`` finds the table, never an empty file (a hard link fails if someone was first)."""
    tmp = f"{path}.new-{os.getpid()}-{threading.get_ident()}"
    db = sqlite3.connect(tmp)
    try:
        db.execute(SCHEMA)
        db.commit()
    finally:
        db.close()
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One committed offset."""

    file_id: str
    path: str
    offset: int
    updated: float


class CheckpointStore:
    """Committed offsets per (monitor, file identity).

    One connection per store, guarded by a lock, so any actor thread may use it. WAL mode
    with ``synchronous=NORMAL`` makes a commit cheap and durable across process crashes
    (a power loss may forget the last commits: the lines are then read again, and
    collectors skip what they already applied).
    """

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            if not os.path.exists(path):
                _create(path)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._migrate()
        self._db.execute(SCHEMA)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def _migrate(self) -> None:
        """Re-key a first-version table (one row per path) by file identity."""
        pk = [row[1] for row in self._db.execute("PRAGMA table_info(offsets)") if row[5]]
        if pk != ["monitor", "path"]:
            return
        self._db.execute("BEGIN")
        self._db.execute("ALTER TABLE offsets RENAME TO offsets_by_path")
        self._db.execute(SCHEMA)
        self._db.execute("INSERT OR REPLACE INTO offsets SELECT monitor, file_id, path, offset, "
                         "updated FROM offsets_by_path ORDER BY updated")
        self._db.execute("DROP TABLE offsets_by_path")
        self._db.execute("COMMIT")

    def load(self, monitor: str) -> list[Checkpoint]:
        """Every offset ``monitor`` committed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT file_id, path, offset, updated FROM offsets WHERE monitor = ? "
                "ORDER BY updated", (monitor,)).fetchall()
        return [Checkpoint(*row) for row in rows]

    def commit(self, monitor: str, file_id: str, path: str, offset: int) -> None:
        """Record that ``file_id`` (last seen at ``path``) is safe up to ``offset``."""
        with self._lock:
            self._db.execute(
                "INSERT INTO offsets VALUES (?, ?, ?, ?, ?) ON CONFLICT (monitor, file_id) DO "
                "UPDATE SET path = excluded.path, offset = excluded.offset, "
                "updated = excluded.updated", (monitor, file_id, path, offset, time.time()))

    def forget(self, monitor: str, file_id: str) -> None:
        """Drop the offset of a file that is gone for good."""
        with self._lock:
            self._db.execute("DELETE FROM offsets WHERE monitor = ? AND file_id = ?",
                             (monitor, file_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()
