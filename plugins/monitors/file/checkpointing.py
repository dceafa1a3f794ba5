"""Checkpoint policy: where a file starts, what is remembered, and what a full disk does.

The file monitor keeps, per file content (device, inode, fingerprint), the last offset it
knows is safely downstream (``known``), and writes it to the
:class:`~omphalos.checkpoint.CheckpointStore` (SQLite) when it is acknowledged. This module
decides where a file opened for the first time starts (a saved offset, a new generation
when it shrank, ``start_at``), and what happens when a checkpoint write fails because the
disk is full or failing (ENOSPC, EIO): the write is kept in memory, :attr:`disk_full` says
``disk full: PATH`` (status and logs use that wording), the monitor pauses reading, and
each tick tries the kept writes again; when they go through, reading resumes by itself.
"""

from __future__ import annotations

import logging
import time

from omphalos.checkpoint import Checkpoint, CheckpointStore, CheckpointWriteError

from .identity import Identity, parse_file_id

#: A kept write: (path, offset) to commit, or None to forget the file_id.
_Kept = tuple[str, int] | None


class CheckpointPolicy:
    """Committed offsets of one monitor, in memory and (when ``store``) on disk."""

    def __init__(self, monitor: str, store_path: str | None, log: logging.Logger) -> None:
        """``store_path``: the SQLite file, None to keep offsets in memory only."""
        self.monitor = monitor
        self.store_path = store_path
        self.store: CheckpointStore | None = None
        self.log = log
        #: content (dev, ino, crc) -> last offset known to be downstream
        self.known: dict[tuple[int, int, int], Checkpoint] = {}
        #: contents of deleted files (an inode reused with the same first line)
        self.retired: set[tuple[int, int, int]] = set()
        #: paths that had an offset saved when the monitor started
        self.saved_paths: set[str] = set()
        #: writes that failed (disk full), by file_id, in order: written again on retry
        self._kept: dict[str, _Kept] = {}
        #: ``disk full: PATH`` while checkpoint writes fail, else empty
        self.disk_full = ""
        self.write_failures = 0

    def open(self) -> bool:
        """Open the store; False while the disk is too full to (:attr:`disk_full` says so:
        the monitor must not read before it knows its offsets, so it waits)."""
        if self.store is not None or self.store_path is None:
            return True
        try:
            self.store = CheckpointStore(self.store_path)
        except CheckpointWriteError as exc:
            self._failed(exc)
            return False
        return True

    def load(self) -> list[Checkpoint]:
        """The saved offsets (oldest first), remembered as known."""
        if self.store is None:
            return []
        saved = self.store.load(self.monitor)
        for cp in saved:
            ident = parse_file_id(cp.file_id)
            if ident is not None:
                self.known[ident.content] = cp
                self.saved_paths.add(cp.path)
        return saved

    def start(self, path: str, ident: Identity, size: int, initial: bool, at_end: bool,
              ) -> tuple[int, Identity, bool, bool]:
        """(offset, identity, save now?, shrank?) for a file opened for the first time.

        ``at_end``: ``start_at = end`` applies (following, first start, path never seen).
        """
        saved = self.known.get(ident.content)
        if saved is not None:
            saved_ident = parse_file_id(saved.file_id) or ident
            if saved.offset <= size:
                return saved.offset, saved_ident, False, False
            return 0, saved_ident.next_generation(ident.crc), True, True  # shrank meanwhile
        if ident.content in self.retired:  # inode reused with the same first line
            return 0, ident.next_generation(ident.crc), True, False
        if initial and at_end and path not in self.saved_paths:
            return size, ident, True, False
        return 0, ident, False, False

    def save(self, ident: Identity, path: str, offset: int) -> None:
        """Remember ``offset`` for ``ident`` and write it (kept for later if the disk is
        full)."""
        self.known[ident.content] = Checkpoint(ident.file_id, path, offset, time.time())
        self._write(ident.file_id, (path, offset))

    def forget(self, ident: Identity) -> None:
        """The content is gone for good (or started over): drop its offset."""
        self.known.pop(ident.content, None)
        self._write(ident.file_id, None)

    def retire(self, ident: Identity) -> None:
        """A deleted file was read to its end and closed."""
        self.retired.add(ident.content)
        self.forget(ident)

    def _write(self, file_id: str, what: _Kept) -> None:
        if self.store_path is None:
            return
        if self.disk_full:  # keep the order: nothing overtakes the kept writes
            self._kept.pop(file_id, None)
            self._kept[file_id] = what
            return
        try:
            self._apply(file_id, what)
        except CheckpointWriteError as exc:
            self._kept[file_id] = what
            self._failed(exc)

    def _apply(self, file_id: str, what: _Kept) -> None:
        assert self.store is not None
        if what is None:
            self.store.forget(self.monitor, file_id)
        else:
            self.store.commit(self.monitor, file_id, what[0], what[1])

    def _failed(self, exc: CheckpointWriteError) -> None:
        self.write_failures += 1
        if not self.disk_full:
            self.disk_full = str(exc)
            self.log.error("%s (%s): reading paused until checkpoints can be written",
                           self.disk_full, exc.cause)

    def retry(self) -> bool:
        """Write what was kept; True when checkpoints are written again (or never failed)."""
        if not self.disk_full:
            return True
        if not self.open():
            return False
        while self._kept:
            file_id, what = next(iter(self._kept.items()))
            try:
                self._apply(file_id, what)
            except CheckpointWriteError as exc:
                self._failed(exc)
                return False
            del self._kept[file_id]
        self.log.warning("%s: space is back, checkpoints written, reading resumes",
                         self.disk_full.replace("disk full: ", "", 1))
        self.disk_full = ""
        return True

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        self.store_path = None
