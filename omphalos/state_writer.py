"""Commits a durable collector's saves in a thread of its own.

A save has two halves (:class:`omphalos.state.StateStore`): :meth:`~StateStore.prepare`
takes the snapshot (the parts that changed and the de-duplication offsets, encoded to
bytes) and must run in the collector's actor thread, between two batches, where the tables
hold still; :meth:`~StateStore.commit` writes those bytes to SQLite in one transaction and
needs nothing of the collector any more. :class:`StateWriter` runs the second half in its
own thread, so that the collector applies the next batches while SQLite writes; once the
acknowledgements of a commit are sent, and no other save waits, it checkpoints the WAL
into the database (:meth:`StateStore.checkpoint`, an ``fsync``): off the acknowledgements'
path, which in the commit itself it was not.

What keeps it exact through a crash: the acknowledgements of the batches a save includes
are handed over with it and sent only once its transaction is committed (``done``); saves
are committed one at a time in the order they were prepared (each holds what changed since
the one before); after a failed commit nothing later is committed (``failed``: the
collector then dies and restarts from the last committed save, and the senders re-send
what was not acknowledged). A SIGKILL during a commit leaves the transaction undone: the
restarted collector loads the save before it, whose batches alone were acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .state import PreparedSave, StateStore

__all__ = ["StateWriter"]

log = logging.getLogger("omphalos.state")


@dataclass(frozen=True)
class _Job:
    prepared: PreparedSave
    done: Callable[[int, float], None]  # bytes written, seconds the commit took
    failed: Callable[[BaseException], None]


class StateWriter:
    """One thread committing :class:`PreparedSave` s of ``store`` in submission order.

    ``submit`` never blocks; the caller bounds how many saves wait (a collector submits one
    at a time: memory is then the live tables and at most one encoded snapshot, itself
    bounded by the tables' capacities). Callbacks run in the writer thread."""

    def __init__(self, store: StateStore, name: str) -> None:
        self.store = store
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._idle = threading.Condition()
        self._waiting = 0  # submitted, not yet committed or failed
        self.error: BaseException | None = None  # the first failed commit
        self.checkpoints = 0  # WAL checkpoints made after commits
        self.checkpoint_secs = 0.0  # their time in all
        self.checkpoint_errors = 0  # failed ones (the commits stay durable in the WAL)
        self._thread = threading.Thread(target=self._run, name=f"{name} state writer",
                                        daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Saves submitted and not yet committed (or failed)."""
        return self._waiting

    def submit(self, prepared: PreparedSave, done: Callable[[int, float], None],
               failed: Callable[[BaseException], None]) -> None:
        """Commit ``prepared`` after every save submitted before it; then ``done(bytes,
        seconds)``, or ``failed(error)`` (then, and after any earlier failure, nothing
        more is committed)."""
        with self._idle:
            self._waiting += 1
        self._jobs.put(_Job(prepared, done, failed))

    def drain(self) -> None:
        """Wait until every save submitted is committed (or failed)."""
        with self._idle:
            self._idle.wait_for(lambda: self._waiting == 0)

    def close(self) -> None:
        """Commit what was submitted, then end the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _checkpoint(self) -> None:
        """Checkpoint the WAL between two commits (their acknowledgements already sent).
        A failure is logged and counted, not fatal: what was committed is in the WAL."""
        started = time.perf_counter()
        try:
            self.store.checkpoint()
        except Exception:  # the next one tries again
            self.checkpoint_errors += 1
            log.warning("checkpointing %s failed (the saves are kept in its WAL)",
                        self.store.path, exc_info=True)
            return
        self.checkpoints += 1
        self.checkpoint_secs += time.perf_counter() - started

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if self.error is not None:  # a later save lacks what the failed one held
                    job.failed(self.error)
                    continue
                started = time.perf_counter()
                try:
                    written = self.store.commit(job.prepared)
                except BaseException as exc:  # noqa: BLE001 - reported to the collector
                    self.error = exc
                    job.failed(exc)
                    continue
                try:
                    job.done(written, time.perf_counter() - started)
                except Exception:  # a bug in the callback must not stop later commits
                    log.exception("after a save of %s was committed", job.prepared.collector)
                if self._jobs.empty():
                    self._checkpoint()
            finally:
                with self._idle:
                    self._waiting -= 1
                    self._idle.notify_all()
