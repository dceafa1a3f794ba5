"""File offsets that survive restarts, in SQLite (WAL mode).

A row says: monitor ``monitor`` has every byte of the file ``file_id`` before ``offset``
safely downstream; the file was last seen at ``path``. Rows are keyed by file identity, not
by path, because a rotated file keeps being read under its new name while a new file takes
the old one: both have offsets at once.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

SCHEMA = """CREATE TABLE IF NOT EXISTS offsets (
    monitor TEXT NOT NULL, file_id TEXT NOT NULL, path TEXT NOT NULL,
    offset INTEGER NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (monitor, file_id))"""


def create_database(path: str, schema: str = SCHEMA) -> None:
    """Make the database with ``schema`` under another name, then link it into place:
    whoever opens ``path`` finds the tables, never an empty file (a hard link fails if
    someone was first). Shared with :mod:`omphalos.state`."""
    tmp = f"{path}.new-{os.getpid()}-{threading.get_ident()}"
    db = sqlite3.connect(tmp)
    try:
        db.executescript(schema)
        db.commit()
    finally:
        db.close()
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


#: SQLite's primary result codes for "disk full" and "disk I/O error".
SQLITE_FULL = 13
SQLITE_IOERR = 10


class CheckpointWriteError(OSError):
    """A checkpoint could not be written because the disk is full or failing (ENOSPC,
    EIO, SQLite's SQLITE_FULL / SQLITE_IOERR). Nothing was recorded; the caller keeps the
    offset and writes it again later. ``str()`` is ``disk full: PATH``, the wording every
    status and log line uses."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(errno.ENOSPC, f"disk full: {path}")
        self.path = path
        self.cause = cause

    def __str__(self) -> str:
        return f"disk full: {self.path}"


def is_disk_trouble(exc: BaseException) -> bool:
    """True for the failures a full or failing disk causes (not for programming errors)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (SQLITE_FULL, SQLITE_IOERR)
        text = str(exc).lower()
        return "disk is full" in text or "disk i/o error" in text
    return False


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

    The write-ahead log is checkpointed every 256 pages and cut back to nothing each time
    (``journal_size_limit = 0``): it stays under about a megabyte, and its space goes back
    to the file system. A write that fails because the disk is full or failing raises
    :class:`CheckpointWriteError` (so does opening a store that cannot be created or
    opened for the same reason); the store stays usable and the same write can be tried
    again once there is space.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                if not os.path.exists(path):
                    create_database(path)
            self._db = self._connect()
        except (sqlite3.Error, OSError) as exc:
            if not is_disk_trouble(exc):
                raise
            raise CheckpointWriteError(path, exc) from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                             timeout=30)
        self._db = db
        self._migrate()
        db.execute(SCHEMA)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=256")
        db.execute("PRAGMA journal_size_limit=0")
        return db

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        """Run one write; disk full or I/O error: :class:`CheckpointWriteError` (after an
        I/O error the connection is opened again, as SQLite advises)."""
        with self._lock:
            try:
                self._db.execute(sql, args)
            except (sqlite3.Error, OSError) as exc:
                if not is_disk_trouble(exc):
                    raise
                if isinstance(exc, sqlite3.Error) and getattr(
                        exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_IOERR:
                    try:
                        self._db.close()
                        self._connect()
                    except (sqlite3.Error, OSError):
                        pass  # tried again at the next write
                raise CheckpointWriteError(self.path, exc) from exc

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
        self._write(
            "INSERT INTO offsets VALUES (?, ?, ?, ?, ?) ON CONFLICT (monitor, file_id) DO "
            "UPDATE SET path = excluded.path, offset = excluded.offset, "
            "updated = excluded.updated", (monitor, file_id, path, offset, time.time()))

    def forget(self, monitor: str, file_id: str) -> None:
        """Drop the offset of a file that is gone for good."""
        self._write("DELETE FROM offsets WHERE monitor = ? AND file_id = ?",
                    (monitor, file_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()
