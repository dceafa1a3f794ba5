"""File offsets that survive restarts, in SQLite (WAL mode)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time


class CheckpointStore:
    """Committed offsets per (monitor, path): which file identity, and how far it was read.

    One connection per store, guarded by a lock, so any actor thread may use it. WAL mode
    with ``synchronous=NORMAL`` makes a commit cheap and durable across process crashes.
    """

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("""CREATE TABLE IF NOT EXISTS offsets (
            monitor TEXT NOT NULL, path TEXT NOT NULL, file_id TEXT NOT NULL,
            offset INTEGER NOT NULL, updated REAL NOT NULL,
            PRIMARY KEY (monitor, path))""")

    def load(self, monitor: str) -> dict[str, tuple[str, int]]:
        """path -> (file_id, offset) for every file ``monitor`` committed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, file_id, offset FROM offsets WHERE monitor = ?", (monitor,))
            return {path: (file_id, offset) for path, file_id, offset in rows}

    def commit(self, monitor: str, path: str, file_id: str, offset: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO offsets VALUES (?, ?, ?, ?, ?) ON CONFLICT (monitor, path) DO "
                "UPDATE SET file_id = excluded.file_id, offset = excluded.offset, "
                "updated = excluded.updated", (monitor, path, file_id, offset, time.time()))

    def forget(self, monitor: str, path: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM offsets WHERE monitor = ? AND path = ?",
                             (monitor, path))

    def close(self) -> None:
        with self._lock:
            self._db.close()
