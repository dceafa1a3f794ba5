"""Collectors that answer queries between slices of batches, not after the whole inbox.

pykka handles an actor's messages in order, so a query that arrives behind eight delivered
batches would wait until all eight are applied. :class:`InterleavedCollector` only queues a
delivered batch when it arrives and applies one *slice* of it (a few hundred to a few
thousand lines) per internal ``_Drain`` message, of which at most one is in the inbox at a
time; a ``_Drain`` that finds other messages behind it goes once to the back of the inbox.
A query therefore waits at most for the slice being applied when it arrives. Slices are
sized from the measured cost per line so that one takes about
:attr:`InterleavedCollector.slice_secs`, whatever the collector's cost per line (which
grows with the number of distinct keys). A batch already reduced to counts by its sender
(:mod:`omphalos.counts`) is applied whole.

A batch is de-duplicated when its first slice is applied; the line counts and unparsed
lines of a batch go with its first slice. The acknowledgement (``Applied``) is sent only
once the last slice is applied, so a batch that was queued but not applied when the actor
stops is re-sent (and never counted twice); a stop applies everything queued first. A
batch one of whose slices makes ``apply`` raise a poison error is quarantined
(:meth:`CollectorPlugin.quarantine`): its remaining slices are skipped and it is
acknowledged as rejected.
A durable collector's state (:mod:`omphalos.state`) is saved only between two batches.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from omphalos.messages import Batch, Deliver
from omphalos.plugin import C, CollectorPlugin, PluginContext

__all__ = ["InterleavedCollector", "slice_batch"]


@dataclass(frozen=True, slots=True)
class _Drain:
    """Apply the next slice of the queued batches (sent by the collector to itself);
    ``deferred`` once it has gone to the back of the inbox to let other messages by."""

    deferred: bool = False


_DRAIN = _Drain()
_DEFERRED = _Drain(deferred=True)


def slice_batch(batch: Batch, start: int, stop: int) -> Batch:
    """Records ``[start, stop)`` of ``batch``; the batch's line counts and unparsed lines go
    with the first slice only, so the slices of a batch add up to the batch."""
    records = batch.records.slice(start, stop)
    if start == 0:
        return replace(batch, records=records)
    return replace(batch, records=records, lines=0, unparsed=0, unparsed_reasons={}, bad=())


class InterleavedCollector(CollectorPlugin[C]):
    """A collector whose batches are applied a slice per message (see the module doc)."""

    #: Seconds one slice should take to apply: the longest a query waits behind a batch.
    slice_secs: ClassVar[float] = 0.002
    #: Bounds of the slice size in lines (the per-slice overhead stays small).
    min_slice_lines: ClassVar[int] = 200
    max_slice_lines: ClassVar[int] = 50_000

    def __init__(self, context: PluginContext, config: C) -> None:
        super().__init__(context, config)
        self._pending: deque[Deliver | Batch] = deque()
        self._draining = False
        # the batch being applied: the message it came in, what is left to apply, position
        self._current: tuple[Deliver | Batch, Batch | None, int] | None = None
        self._slice_lines = 1000
        self.counters["slices"] = 0

    def handle(self, message: Any) -> Any:
        if isinstance(message, Deliver | Batch):
            self._pending.append(message)
            self._schedule()
            return None
        if isinstance(message, _Drain):
            if not message.deferred and self._others_waiting():
                # a query (or anything else) is waiting: let it by, once, then apply
                self.actor_ref.tell(_DEFERRED)
                return None
            self._draining = False
            self._apply_slice()
            self._schedule()
            return None
        return super().handle(message)

    def _others_waiting(self) -> bool:
        """Whether other messages wait in the inbox (a ThreadingActor's is a queue.Queue)."""
        inbox = self.actor_inbox
        return isinstance(inbox, queue.Queue) and inbox.qsize() > 0

    def _schedule(self) -> None:
        if (self._pending or self._current is not None) and not self._draining:
            self._draining = True
            self.actor_ref.tell(_DRAIN)

    def _apply_slice(self) -> None:
        """Apply the next slice; acknowledge the batch when its last slice is in."""
        if self._current is None:
            if not self._pending:
                return
            message = self._pending.popleft()
            batch = message.batch if isinstance(message, Deliver) else message
            try:
                self._current = (message, self.admit(batch), 0)
            except self.poison_errors as exc:  # a poison batch: quarantined
                self._reject(message, batch, exc)
                return
        message, admitted, position = self._current
        if admitted is not None:
            total = len(admitted.records)
            size = max(self.min_slice_lines, min(self.max_slice_lines, self._slice_lines))
            if position == 0 and total <= size:
                piece, position = admitted, total
            else:
                stop = self.slice_stop(admitted, position, min(total, position + size))
                piece = slice_batch(admitted, position, stop)
                position = stop
            started = time.perf_counter()
            try:
                self.apply(piece)
            except self.poison_errors as exc:  # a poison batch: the rest is skipped
                self._reject(message, admitted, exc)
                return
            self._resize(len(piece.records), time.perf_counter() - started)
            self.counters["slices"] += 1
            if position < total:
                self._current = (message, admitted, position)
                return
        self._current = None
        if isinstance(message, Deliver):
            self.acknowledge(message)

    def slice_stop(self, batch: Batch, start: int, stop: int) -> int:
        """Where the slice of ``batch`` from ``start`` ends, given the ``stop`` its measured
        size asks for (more than ``start``, at most the batch's length): a collector may
        move it to a boundary of its own (the window: the end of an event second)."""
        return stop

    def _reject(self, message: Deliver | Batch, batch: Batch, error: BaseException) -> None:
        """``batch`` made ``apply`` raise: quarantine it (its slices not yet applied are
        skipped) and acknowledge it as rejected."""
        self._current = None
        self.quarantine(batch, error)
        if isinstance(message, Deliver):
            self.acknowledge(message, accepted=False)

    def _resize(self, lines: int, secs: float) -> None:
        """Aim the next slice at :attr:`slice_secs` from this one's cost per line."""
        if lines < self.min_slice_lines or secs <= 0:
            return
        wanted = int(lines * self.slice_secs / secs)
        # move half-way: one slow slice (a pause of the thread) does not shrink them all
        wanted = (self._slice_lines + wanted) // 2
        self._slice_lines = max(self.min_slice_lines, min(self.max_slice_lines, wanted))

    def state_consistent(self) -> bool:
        """No batch is half applied (a durable state is saved only between batches)."""
        return self._current is None

    def busy(self) -> bool:
        """Batches are queued or other messages wait: a save can wait for them."""
        return bool(self._pending) or self._current is not None or self._others_waiting()

    def settle(self) -> None:
        """Apply every queued batch (before the last save of a stop)."""
        self.drain()

    def drain(self) -> None:
        """Apply every queued batch now (before a flush or a stop)."""
        while self._pending or self._current is not None:
            self._apply_slice()

    def flush(self) -> None:
        self.drain()
