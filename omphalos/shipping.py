"""Getting payloads durably into a store (a storage collector's link on the durable sender).

Both storage collectors (Elasticsearch and the time-series one) hand ready payloads (an NDJSON
bulk body, InfluxDB line protocol) to a :class:`Shipper`, with a callback to run once the
payload is durable. The shipper is the store's link on :mod:`omphalos.delivery`, the same
hold queue, bounded spool, oversized policy, disk-full behaviour and status shape the
transports use:

- one worker thread writes payloads to the store in order, so the collector's actor stays
  free to answer queries while a cluster is slow; ``on_durable`` runs once a payload is
  written or spooled (the collector replies ``Applied`` then, so a monitor's offsets are
  committed only for data that is safe);
- while the spool is empty a payload is written directly; a retryable failure
  (unreachable, 429, 5xx, or parts of a bulk rejected with those) is retried with
  exponential backoff up to ``max_retries`` times, then what is left goes to the spool and
  the store is reported ``down``; while the spool holds anything, new payloads are
  spooled behind it (order is kept) and the oldest is re-sent with backoff;
- when the spool is full, payloads wait in memory and their callbacks do not run: the
  transport gets no ``Applied``, the monitors run out of credit and stop reading. Nothing
  is dropped;
- a payload larger than the whole spool meets the one oversized policy
  (:data:`omphalos.delivery.OVERSIZED_POLICY`): counted ``oversized``, logged, and
  acknowledged (its batches are answered ``Applied``, so no monitor re-sends it forever);
- a payload the store refuses for good (HTTP 400: malformed, or a mapping conflict; 413)
  is counted (``payloads_rejected``) and logged with the store's reason, never retried.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from .delivery import Backoff, Outbox, Pump, Refused
from .messages import Applied, Deliver
from .spool import Spool, spool_path

__all__ = ["Shipper", "RetryPolicy", "Sender", "StoreError", "replier", "snapshot", "nothing",
           "check_delivery_options", "check_url", "open_shipper", "reply_later"]

#: Sends a payload; returns the part to retry later (b"" when all is done); raises when the
#: whole request failed (an exception whose ``status`` is 400 or 413: refused for good).
Sender = Callable[[bytes], bytes]
#: HTTP statuses that refuse a payload for good (malformed, too large): never retried.
REFUSED_FOR_GOOD = (400, 413)


class StoreError(Exception):
    """A store's request failed. ``status`` is the HTTP status, None when nothing answered
    (the shipper refuses the payload for good on :data:`REFUSED_FOR_GOOD`, retries
    otherwise). Any exception with such a ``status`` attribute is read the same way."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"{status or 'unreachable'}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff: ``first_secs`` doubling per attempt up to ``max_secs``; after ``attempts``
    failed attempts in a row the store is reported down."""

    attempts: int = 5
    first_secs: float = 0.2
    max_secs: float = 30.0

    def delay(self, attempt: int) -> float:
        return Backoff(self.first_secs, self.max_secs).delay(attempt)


class Shipper:
    """A worker thread that makes payloads durable, then writes them (see the module doc)."""

    def __init__(self, name: str, send: Sender, spool: Spool, policy: RetryPolicy,
                 log: logging.Logger) -> None:
        self.name = name
        self._send = send
        self.spool = spool
        self.policy = policy
        self.log = log
        self.counters: Counter[str] = Counter()
        self.outbox = Outbox(name, spool, log, self.counters)
        self._pump = Pump(self.outbox, self._write, Backoff(policy.first_secs, policy.max_secs),
                          down_after=policy.attempts, direct=True, name=f"shipper-{name}")

    # -- the collector's side (its actor thread) ---------------------------------------------
    def start(self) -> None:
        self._pump.start()

    def submit(self, payload: bytes, on_durable: Callable[[], None]) -> None:
        """Queue ``payload``; ``on_durable()`` runs in the worker once it is safe (or once it
        is refused as oversized: then nothing would ever make it safe)."""
        def refused(_reason: str) -> None:
            on_durable()
        self.outbox.offer(payload, on_durable, refused)

    @property
    def pending(self) -> int:
        """Payloads submitted and not yet durable."""
        return self.outbox.held

    @property
    def last_error(self) -> str:
        return self._pump.last_error

    def stop(self, timeout: float) -> None:
        """Stop the worker: what is still queued goes to the spool (when it fits)."""
        self._pump.stop(timeout)
        if self.outbox.held:
            self.log.warning("%s: %d payloads not spooled at stop: their monitors will "
                             "re-send them", self.name, self.outbox.held)

    def status(self) -> dict[str, Any]:
        return {"queued": self.outbox.held, **self.outbox.status(), "down": self.down,
                "last_error": self.last_error, **snapshot(self.counters)}

    @property
    def down(self) -> bool:
        """True while the store failed ``max_retries`` attempts in a row."""
        return self._pump.down

    # -- the worker thread ------------------------------------------------------------------
    def _write(self, payload: bytes) -> bytes:
        """The pump's send: the store's sender, with refusals for good told apart."""
        if not payload:
            return b""
        try:
            rest = self._send(payload)
        except Exception as exc:
            if getattr(exc, "status", None) in REFUSED_FOR_GOOD:
                self.counters["payloads_rejected"] += 1
                self.log.error("%s: the store refused a payload for good: %s", self.name, exc)
                raise Refused(str(exc)) from None
            raise
        if not rest:
            self.counters["payloads_done"] += 1
            if len(self.outbox):
                self.counters["payloads_drained"] += 1  # it came from the spool
        return rest


def open_shipper(collector: Any, send: Sender) -> Shipper:
    """A (not yet started) shipper for a storage collector, with its spool.

    ``collector.config`` has the options :func:`check_delivery_options` checks; the spool is
    ``spool_dir`` or one under the state directory, as for the transports. Closing the spool
    is registered in ``collector.resources`` at once (released even when setup fails later).
    """
    cfg, context = collector.config, collector.context
    spool = Spool(spool_path(context.settings.state_path, context.name, cfg.spool_dir),
                  cfg.spool_max_bytes)
    collector.resources.callback(spool.close)
    policy = RetryPolicy(cfg.max_retries, cfg.retry_backoff_secs, cfg.max_backoff_secs)
    return Shipper(context.name, send, spool, policy, collector.log)


def reply_later(replies: list[tuple[Any, Applied]], name: str, message: Deliver) -> None:
    """Keep the ``Applied`` owed for ``message``, sent once its data is written or spooled."""
    if message.reply_to is not None:
        batch = message.batch
        replies.append((message.reply_to, Applied(name, batch.source.origin, batch.seq)))


def snapshot(counter: Counter[str]) -> dict[str, int]:
    """A copy of a counter another thread updates."""
    for _ in range(5):
        try:
            return dict(counter)
        except RuntimeError:  # changed size during the copy
            continue
    return {}


def nothing() -> None:
    """Callback of a payload whose batches ride on a later one."""


def replier(replies: list[tuple[Any, Applied]], counters: Counter[str]) -> Callable[[], None]:
    """Send every ``Applied`` of ``replies`` (runs in the shipper's thread)."""
    def reply() -> None:
        for ref, applied in replies:
            try:
                ref.tell(applied)
            except pykka.ActorDeadError:
                counters["reply_lost"] += 1
    return reply


def check_delivery_options(config: Any) -> None:
    """Bounds of the options both storage collectors share; ValueError(reason, key)."""
    if config.flush_interval_secs <= 0:
        raise ValueError("must be more than 0", "flush_interval_secs")
    if config.timeout_secs <= 0:
        raise ValueError("must be more than 0", "timeout_secs")
    if config.max_retries < 1:
        raise ValueError("must be 1 or more", "max_retries")
    if config.retry_backoff_secs <= 0 or config.max_backoff_secs < config.retry_backoff_secs:
        raise ValueError("must be more than 0 and at most max_backoff_secs",
                         "retry_backoff_secs")
    if config.spool_max_bytes < (64 << 10):
        raise ValueError("must be at least 65536 (64 KiB)", "spool_max_bytes")


def check_url(url: str, key: str) -> None:
    """An http(s) URL, or ValueError(reason, key)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}", key)
