"""Getting payloads durably into a store: send, retry with backoff, spool while it is down.

Both storage collectors (Elasticsearch and the time-series one) hand ready payloads (an NDJSON
bulk body, InfluxDB line protocol) to a :class:`Shipper`, with a callback to run once the
payload is durable: written to the store, or appended to the bounded disk spool
(:class:`omphalos.spool.Spool`). The collector replies ``Applied`` to its transport only
from that callback, so a monitor's offsets are committed only for data that is safe.

One worker thread per shipper does the network I/O, so the collector's actor stays free to
answer queries while a cluster is slow. The rules:

- a payload is sent directly while the spool is empty; a retryable failure (unreachable,
  429, 5xx, or parts of it rejected with those) is retried with exponential backoff up to
  ``max_retries`` times, then what is left goes to the spool;
- while the spool holds anything, new payloads are appended behind it (order is kept, which
  matters for stores that overwrite), and the oldest spooled payload is re-sent with backoff
  until the store takes it;
- when the spool is full, the payload waits in memory and its callback does not run: the
  transport gets no ``Applied``, the monitor runs out of credits and stops reading, and the
  log files themselves become the buffer. Nothing is dropped;
- a payload the store refuses for good (HTTP 400: malformed, or a mapping conflict for one
  document) is counted and logged with the store's reason, never retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from omphalos.messages import Applied, Deliver
from omphalos.spool import Spool, SpoolError, spool_path

from .client import ClusterError

__all__ = ["Shipper", "RetryPolicy", "Sender", "replier", "snapshot", "nothing",
           "check_delivery_options", "check_url", "open_shipper", "reply_later"]

#: Sends a payload; returns the part to retry later (b"" when all is done); raises
#: ClusterError when the whole request failed.
Sender = Callable[[bytes], bytes]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff: ``first_secs`` doubling per attempt up to ``max_secs``; ``attempts`` direct
    tries before a payload goes to the spool."""

    attempts: int = 5
    first_secs: float = 0.2
    max_secs: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_secs, self.first_secs * (2 ** max(0, attempt - 1))))


@dataclass
class _Item:
    payload: bytes
    on_durable: Callable[[], None] = field(repr=False)


class Shipper:
    """A worker thread that makes payloads durable (see the module doc)."""

    def __init__(self, name: str, send: Sender, spool: Spool, policy: RetryPolicy,
                 log: logging.Logger) -> None:
        self.name = name
        self._send = send
        self.spool = spool
        self.policy = policy
        self.log = log
        self.counters: Counter[str] = Counter()
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._drain_attempt = 0
        self._next_drain = 0.0
        self._spool_full_logged = False
        #: The oldest queued payload did not fit in the spool: wait for a drain.
        self._blocked = False
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name=f"shipper-{name}", daemon=True)

    # -- the collector's side (its actor thread) ---------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, payload: bytes, on_durable: Callable[[], None]) -> None:
        """Queue ``payload``; ``on_durable()`` runs in the worker once it is safe."""
        with self._cond:
            self._queue.append(_Item(payload, on_durable))
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Payloads submitted and not yet durable."""
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def stop(self, timeout: float) -> None:
        """Stop the worker: what is still queued goes to the spool (when it fits)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.log.warning("%s: worker still sending after %.1fs", self.name, timeout)

    def status(self) -> dict[str, Any]:
        with self._cond:
            queued = len(self._queue)
        return {"queued": queued, "spool": self.spool.status(), "down": self.down,
                "last_error": self.last_error, **dict(self.counters)}

    @property
    def down(self) -> bool:
        """True while payloads go to the spool instead of the store."""
        return len(self.spool) > 0

    # -- the worker thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._work_ready():
                    self._cond.wait(timeout=self._wait_secs())
                if self._stopping:
                    break
                item = self._queue[0] if self._queue else None
                self._busy = item is not None
            try:
                if len(self.spool):
                    if time.monotonic() >= self._next_drain:
                        self._drain_one()
                    if item is not None:
                        self._to_spool(item)
                elif item is not None:
                    with self._cond:
                        self._queue.popleft()
                    self._ship(item)
            except Exception:
                self.log.exception("%s: shipping failed", self.name)
                self._wait(1.0)
            finally:
                self._busy = False
        self._spool_rest()

    def _work_ready(self) -> bool:
        if len(self.spool) and time.monotonic() >= self._next_drain:
            return True
        if not self._queue:
            return False
        # with a backlog and no room in the spool, queued items wait for the next drain
        return not (len(self.spool) and self._blocked)

    def _wait_secs(self) -> float:
        if len(self.spool):
            return max(0.01, min(1.0, self._next_drain - time.monotonic()))
        return 1.0

    def _wait(self, secs: float) -> bool:
        """Sleep ``secs`` unless stopping; True when stopping."""
        with self._cond:
            if not self._stopping:
                self._cond.wait(timeout=secs)
            return self._stopping

    def _done(self, item: _Item) -> None:
        try:
            item.on_durable()
        except Exception:
            self.log.exception("%s: durable callback failed", self.name)

    def _ship(self, item: _Item) -> None:
        """Send directly, retrying with backoff; then spool what is left."""
        payload = item.payload
        attempt = 0
        while payload:
            try:
                payload = self._send(payload)
            except ClusterError as exc:
                if not self._recoverable(exc):
                    break
            if not payload:
                break
            attempt += 1
            self.counters["retries"] += 1
            if attempt >= self.policy.attempts or self._wait(self.policy.delay(attempt)):
                self.log.warning("%s: store unavailable after %d attempts (%s): spooling",
                                 self.name, attempt, self.last_error or "items refused")
                self._drain_attempt = 1
                self._next_drain = time.monotonic() + self.policy.delay(1)
                self._to_spool(_Item(payload, item.on_durable), queued=False)
                return
        self.counters["payloads_done"] += 1
        self._done(item)

    def _recoverable(self, exc: ClusterError) -> bool:
        """Retry later (True), or the payload is refused for good (False: counted)."""
        self.last_error = str(exc)
        if exc.status in (400, 413):
            self.counters["payloads_rejected"] += 1
            self.log.error("%s: the store refused a payload for good: %s", self.name, exc)
            return False
        self.counters["send_errors"] += 1
        return True

    def _to_spool(self, item: _Item, queued: bool = True) -> None:
        """Append behind the backlog; the callback runs once it is on disk."""
        if not item.payload:  # nothing to keep: durable as soon as what precedes it is
            if queued:
                with self._cond:
                    self._queue.popleft()
            self._done(item)
            return
        while True:
            try:
                appended = self.spool.append(item.payload)
            except SpoolError as exc:
                # larger than the whole spool: never acknowledged, the monitor re-sends it
                self.counters["unspoolable"] += 1
                self.log.error("%s: %s; the batch stays unacknowledged", self.name, exc)
                if queued:
                    with self._cond:
                        self._queue.popleft()
                return
            if appended:
                self.counters["payloads_spooled"] += 1
                self._spool_full_logged = False
                self._blocked = False
                if queued:
                    with self._cond:
                        self._queue.popleft()
                self._done(item)
                return
            if not self._spool_full_logged:
                self.log.warning("%s: spool full (%d bytes): holding acknowledgements, "
                                 "monitors will slow down", self.name, self.spool.queued_bytes)
                self._spool_full_logged = True
            self.counters["spool_full_waits"] += 1
            if queued:
                self._blocked = True
                return  # the run loop drains, then tries again
            # an item being shipped: wait for room, draining meanwhile
            if self._wait(max(0.05, self._next_drain - time.monotonic())):
                with self._cond:
                    self._queue.appendleft(item)  # spooled at stop, or re-read by the monitor
                return
            if time.monotonic() >= self._next_drain:
                self._drain_one()

    def _drain_one(self) -> None:
        """Re-send the oldest spooled payload; forget it once the store took it."""
        head = self.spool.peek(1)
        if not head:
            return
        try:
            rest = self._send(head[0])
        except ClusterError as exc:
            if self._recoverable(exc):
                self._backoff()
                return
            rest = b""
        if rest:
            self._backoff()
            return
        self.spool.pop(1)
        self._blocked = False
        self.counters["payloads_drained"] += 1
        self._drain_attempt = 0
        self._next_drain = 0.0
        if not len(self.spool):
            self.log.info("%s: store back, spool drained", self.name)

    def _backoff(self) -> None:
        self._drain_attempt += 1
        self._next_drain = time.monotonic() + self.policy.delay(self._drain_attempt)

    def _spool_rest(self) -> None:
        """At stop: put what is still queued in the spool, in order, while it fits."""
        while self._queue:
            item = self._queue[0]
            try:
                if not self.spool.append(item.payload):
                    break
            except SpoolError:
                break
            self._queue.popleft()
            self.counters["payloads_spooled"] += 1
            self._done(item)
        if self._queue:
            self.log.warning("%s: %d payloads not spooled at stop: their monitors will "
                             "re-send them", self.name, len(self._queue))


def open_shipper(collector: Any, send: Sender) -> Shipper:
    """A (not yet started) shipper for a storage collector, with its spool.

    ``collector.config`` has the options :func:`check_delivery_options` checks; the spool is
    ``spool_dir`` or one under the state directory, as for the transports.
    """
    cfg, context = collector.config, collector.context
    spool = Spool(spool_path(context.settings.state_path, context.name, cfg.spool_dir),
                  cfg.spool_max_bytes)
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
