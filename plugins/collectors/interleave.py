"""Collectors that answer queries between batches, not after the whole inbox.

pykka handles an actor's messages in order, so a query that arrives behind eight delivered
batches waits until all eight are applied. :class:`InterleavedCollector` only queues a
delivered batch when it arrives and applies one batch per internal ``_Drain`` message, of
which at most one is in the inbox at a time: a query waits for at most one batch. The
acknowledgement (``Applied``) is still sent only once the batch is applied, so a batch
that was queued but not applied when the actor stops is re-sent (and never counted twice).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from omphalos.messages import Batch, Deliver
from omphalos.plugin import CollectorPlugin, PluginContext

__all__ = ["InterleavedCollector"]


@dataclass(frozen=True, slots=True)
class _Drain:
    """Apply the next queued batch (sent by the collector to itself)."""


_DRAIN = _Drain()


class InterleavedCollector(CollectorPlugin):
    """A collector whose batches are applied one per message (see the module doc)."""

    def __init__(self, context: PluginContext, config: Any) -> None:
        super().__init__(context, config)
        self._pending: deque[Any] = deque()
        self._draining = False

    def handle(self, message: Any) -> Any:
        if isinstance(message, Deliver | Batch):
            self._pending.append(message)
            self._schedule()
            return None
        if isinstance(message, _Drain):
            self._draining = False
            if self._pending:
                super().handle(self._pending.popleft())
            self._schedule()
            return None
        return super().handle(message)

    def _schedule(self) -> None:
        if self._pending and not self._draining:
            self._draining = True
            self.actor_ref.tell(_DRAIN)

    def drain(self) -> None:
        """Apply every queued batch now (before a flush or a stop)."""
        while self._pending:
            super().handle(self._pending.popleft())

    def flush(self) -> None:
        self.drain()
