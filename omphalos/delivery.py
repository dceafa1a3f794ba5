"""The durable sending side every shipper shares: hold queue, bounded spool, acknowledgements.

Every sender of batches or payloads that must not be lost (the ``zmq``, ``amqp`` and ``udp``
transports, the Elasticsearch/OpenSearch and time-series collectors) goes through one
:class:`Outbox`; what stays theirs is how they connect, authenticate and frame. The rules,
written once here:

* **Spool first, acknowledge when durable.** :meth:`Outbox.offer` queues an item with two
  callbacks. The delivering thread calls :meth:`Outbox.take`, which appends held items, in
  order, to the bounded on-disk :class:`~omphalos.spool.Spool`; ``on_durable`` runs as soon
  as an item is on disk (its monitor may then commit the offset). Items leave the spool in
  order (:meth:`Outbox.head`) and are forgotten once the other side has them
  (:meth:`Outbox.delivered`).
* **Full spool: hold, do not drop.** An item that does not fit now stays in the hold queue,
  unacknowledged: the monitors run out of credit and stop reading, the log files become the
  buffer. Status says ``paused`` with a warning.
* **Oversized items, one policy.** An item that can never fit (larger than the whole spool)
  is refused for good: counted as ``oversized``, logged with its size and the bound, and
  ``on_refused(reason)`` runs, which acknowledges it as refused (``Ack(accepted=False)``:
  the monitor counts it in ``chunks_refused`` and commits past it; a storage collector
  replies ``Applied``). Nobody re-sends it forever.
* **Full disk.** An append that fails with ENOSPC, EIO or any other ``OSError`` keeps the
  item held (unacknowledged, so reading pauses), logs ``disk full: PATH`` once and shows it
  in status (``disk_full`` and ``warning``); the append is tried again every
  ``retry_secs`` and reading resumes by itself when space returns. Draining never needs
  space (see :mod:`omphalos.spool`), so a full disk never stops delivery of what is spooled.
* **One status shape**, :meth:`Outbox.status`: ``held``, ``paused``, ``disk_full``,
  ``warning``, ``spool`` (items, bytes, bound, full) and the counters ``spooled``,
  ``delivered``, ``oversized``, ``spool_full``, ``spool_full_waits``, ``disk_full_errors``.

:class:`Pump` is the delivering thread for links that send one item at a time with a
blocking call (an AMQP publish with confirms, an HTTP write, a UDP ``sendto``); the ``zmq``
transport drives an :class:`Outbox` from its own socket thread with many items in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .spool import Spool, SpoolError

__all__ = ["Outbox", "Pump", "Refused", "Backoff", "OVERSIZED_POLICY"]

#: The policy text shown in logs and docs for items that can never be spooled.
OVERSIZED_POLICY = "refused for good: counted as oversized and acknowledged as refused"


@dataclass
class _Held:
    payload: bytes
    on_durable: Callable[[], None] = field(repr=False)
    on_refused: Callable[[str], None] = field(repr=False)
    key: Hashable | None = None


class Outbox:
    """Hold queue plus bounded spool for one sender (see the module doc).

    ``offer`` may be called from any thread; the other methods from the one thread that
    delivers. ``counters`` is the component's counter map (the status shows them).
    """

    def __init__(self, name: str, spool: Spool, log: logging.Logger,
                 counters: Counter[str] | None = None, retry_secs: float = 1.0) -> None:
        self.name = name
        self.spool = spool
        self.log = log
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self.retry_secs = retry_secs
        self._held: deque[_Held] = deque()
        self._by_key: dict[Hashable, _Held] = {}
        self._lock = threading.Lock()
        #: Notified on every offer: a delivering thread may wait on it.
        self.wakeup = threading.Condition(self._lock)
        self.disk_full = ""
        self._retry_at = 0.0
        self._full_logged = False
        for key in ("spooled", "delivered", "oversized", "spool_full", "spool_full_waits",
                    "disk_full_errors", "offered_again"):
            self.counters[key] += 0  # every key exists before two threads touch the map

    # -- any thread ------------------------------------------------------------------------
    def offer(self, payload: bytes, on_durable: Callable[[], None],
              on_refused: Callable[[str], None], key: Hashable | None = None) -> None:
        """Queue ``payload``; ``on_durable()`` once it is durable (spooled, or delivered
        directly), in the delivering thread. A payload that could never fit the spool is
        refused at once, whatever the link's state: ``on_refused(reason)`` runs here.

        ``key`` names what the payload holds (a batch's file and byte range): offered again
        while still held (a monitor re-read it after an overdue acknowledgement, while the
        spool or the disk was full), it replaces the held copy and its callbacks, so a long
        pause does not pile up copies in memory (``offered_again``)."""
        if not self.spool.could_fit(len(payload)):
            self.counters["oversized"] += 1
            reason = (f"item of {len(payload)} bytes exceeds the spool's "
                      f"{self.spool.max_bytes}")
            self.log.error("%s: %s: %s", self.name, reason, OVERSIZED_POLICY)
            self._run(on_refused, f"oversized: {reason}")
            return
        with self._lock:
            old = self._by_key.get(key) if key is not None else None
            if old is not None:
                old.payload, old.on_durable, old.on_refused = payload, on_durable, on_refused
                self.counters["offered_again"] += 1
                return
            item = _Held(payload, on_durable, on_refused, key)
            self._held.append(item)
            if key is not None:
                self._by_key[key] = item
            self.wakeup.notify_all()

    @property
    def held(self) -> int:
        """Items offered and not yet spooled."""
        return len(self._held)

    def __len__(self) -> int:
        """Items spooled and not yet delivered."""
        return len(self.spool)

    @property
    def paused(self) -> bool:
        """True while items wait for room (full spool or full disk): monitors hold back."""
        return bool(self._held) and (self._full_logged or bool(self.disk_full))

    # -- the delivering thread -------------------------------------------------------------
    def take(self, now: float | None = None) -> int:
        """Spool held items, in order, while they fit; returns how many were spooled."""
        done = 0
        while True:
            with self._lock:
                if not self._held:
                    break
                item = self._held[0]
            if self.disk_full and (now if now is not None else time.monotonic()) < self._retry_at:
                break
            try:
                appended = self.spool.append(item.payload)
            except SpoolError as exc:
                self._pop_held()
                self.counters["oversized"] += 1
                self.log.error("%s: item of %d bytes %s (%s)", self.name, len(item.payload),
                               OVERSIZED_POLICY, exc)
                self._run(item.on_refused, f"oversized: {exc}")
                continue
            except OSError as exc:
                self._disk_error(exc)
                break
            if not appended:
                self.counters["spool_full_waits"] += 1
                if not self._full_logged:
                    self._full_logged = True
                    self.counters["spool_full"] += 1
                    self.log.warning("%s: spool full (%d bytes): holding acknowledgements, "
                                     "monitors stop reading until it drains", self.name,
                                     self.spool.queued_bytes)
                break
            if self.disk_full:
                self.log.info("%s: space is back on %s: spooling again", self.name,
                              self.disk_full)
                self.disk_full = ""
            self._full_logged = False
            self._pop_held()
            self.counters["spooled"] += 1
            done += 1
            self._run(item.on_durable)
        return done

    def first_held(self) -> _Held | None:
        """The oldest held item (still held), for a link that sends it directly."""
        with self._lock:
            return self._held[0] if self._held else None

    def sent_directly(self) -> None:
        """The oldest held item was delivered without the spool: it is durable."""
        item = self._held[0]
        self._pop_held()
        self.counters["delivered"] += 1
        self._run(item.on_durable)

    def head(self, count: int = 1, skip: int = 0) -> list[bytes]:
        """The ``count`` oldest spooled items after the ``skip`` oldest."""
        return self.spool.peek(count, skip)

    def delivered(self, count: int = 1) -> None:
        """The ``count`` oldest spooled items were delivered: forget them (needs no space)."""
        if count:
            self.counters["delivered"] += self.spool.pop(count)
            self._full_logged = False

    def can_take(self, now: float) -> bool:
        """Would :meth:`take` try to spool now (something held, room not known to lack)?"""
        if not self._held or self._full_logged:
            return False
        return not self.disk_full or now >= self._retry_at

    def retry_due(self, now: float) -> float:
        """Seconds until a held item should be tried again (0: now, or nothing held)."""
        if self.disk_full and self._held:
            return max(0.0, self._retry_at - now)
        return 0.0

    def status(self) -> dict[str, Any]:
        """The one status shape of every durable sender."""
        out: dict[str, Any] = {"held": self.held, "paused": self.paused,
                               "disk_full": self.disk_full, "spool": self.spool.status()}
        if self.disk_full:
            out["warning"] = (f"disk full: {self.disk_full}: reading paused until space "
                              "returns")
        elif self.paused:
            out["warning"] = ("spool full: monitors are not given credit back and have "
                              "stopped reading; the log files are the buffer now")
        return out

    def close(self) -> None:
        self.spool.close()

    # -- internals -------------------------------------------------------------------------
    def _pop_held(self) -> None:
        with self._lock:
            item = self._held.popleft()
            if item.key is not None and self._by_key.get(item.key) is item:
                del self._by_key[item.key]

    def _disk_error(self, exc: OSError) -> None:
        self.counters["disk_full_errors"] += 1
        self._retry_at = time.monotonic() + self.retry_secs
        if not self.disk_full:
            self.disk_full = str(self.spool.directory)
            self.log.error("%s: disk full: %s (%s): reading paused until space returns",
                           self.name, self.disk_full, exc.strerror or exc)

    def _run(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            self.log.exception("%s: acknowledgement callback failed", self.name)


class Refused(Exception):
    """Raised by a link's send: the other side refused the item for good (dropped, counted
    ``refused``, never retried)."""


@dataclass(frozen=True)
class Backoff:
    """Retry delays: ``first_secs`` doubling per failed attempt up to ``max_secs``."""

    first_secs: float = 0.2
    max_secs: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_secs, self.first_secs * (2 ** max(0, attempt - 1))))


#: A link's send: delivers ``payload`` and returns the part still to deliver (b"": all of
#: it); raises Refused for a refusal for good, any other exception for "not now".
Send = Callable[[bytes], bytes]


class Pump(threading.Thread):
    """Delivers an :class:`Outbox` in order through a blocking ``send``, one item at a time.

    With ``direct``, an item offered while the spool is empty is sent straight from memory
    (no disk write) and acknowledged once the other side has it; after ``down_after``
    failed attempts in a row, it (or the part left of it) goes to the spool and everything
    behind it too, until the spool is drained again. Without ``direct`` every item is
    spooled (and acknowledged) first.

    A failed send is retried with :class:`Backoff`; a partial one (``send`` returned what is
    left) goes on with the rest, which is kept in memory (after a crash the whole item is
    sent again from the spool: receivers must be idempotent, as all of ours are). Per-item
    failures never end the thread; ``on_death`` runs if it dies anyway, so the component
    can fail and be restarted rather than look alive.
    """

    def __init__(self, outbox: Outbox, send: Send, backoff: Backoff, *,
                 down_after: int = 1, direct: bool = False,
                 on_death: Callable[[BaseException], None] | None = None,
                 name: str = "") -> None:
        super().__init__(name=name or f"pump-{outbox.name}", daemon=True)
        self.outbox = outbox
        self.send = send
        self.backoff = backoff
        self.down_after = max(1, down_after)
        self.direct = direct
        self.on_death = on_death
        self.counters = outbox.counters
        self.log = outbox.log
        self._stopping = False
        self._halt = threading.Event()
        self._attempt = 0
        self._next_try = 0.0
        self._rest: bytes | None = None
        self.last_error = ""
        for key in ("send_errors", "retries", "refused"):
            self.counters[key] += 0

    @property
    def down(self) -> bool:
        """True while the other side has failed ``down_after`` attempts in a row."""
        return self._attempt >= self.down_after

    @property
    def busy(self) -> bool:
        """True while something is held or spooled."""
        return bool(self.outbox.held or len(self.outbox) or self._rest is not None)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current attempt (what is held is spooled first, when it fits)."""
        with self.outbox.wakeup:
            self._stopping = True
            self._halt.set()
            self.outbox.wakeup.notify_all()
        if self.is_alive():
            self.join(timeout)
            if self.is_alive():
                self.log.warning("%s: still sending after %.1fs", self.outbox.name, timeout)

    def run(self) -> None:
        try:
            while not self._stopping:
                self._wait()
                if self._stopping:
                    break
                try:
                    if self.direct and self._direct_one():
                        continue
                    self.outbox.take()
                    self._deliver_one()
                except Exception as exc:
                    self.counters["pump_errors"] += 1
                    self.log.exception("%s: delivering failed: %s", self.outbox.name, exc)
                    self._failed(str(exc))
            self.outbox.take()  # at stop: spool what is held, while it fits
        except BaseException as exc:
            self.log.exception("%s: delivery thread died", self.outbox.name)
            if self.on_death is not None:
                self.on_death(exc)  # the component fails and is restarted

    def _direct_one(self) -> bool:
        """Send the oldest held item straight away while the spool is empty; True when
        that was done (delivered, or spooled after failing)."""
        if len(self.outbox) or self._rest is not None or time.monotonic() < self._next_try:
            return False
        item = self.outbox.first_held()
        if item is None:
            return False
        payload = item.payload
        attempt = 0
        while True:
            try:
                payload = self.send(payload)
            except Refused as exc:
                self.counters["refused"] += 1
                self.log.error("%s: the other side refused an item for good: %s",
                               self.outbox.name, exc)
                payload = b""
            except Exception as exc:  # noqa: BLE001 - unreachable, timeout, 5xx: retry
                self.counters["send_errors"] += 1
                self.last_error = str(exc)
            else:
                if payload:
                    self.counters["retries"] += 1
            if not payload:
                self.outbox.sent_directly()
                self._attempt = 0
                self._next_try = 0.0
                return True
            attempt += 1
            if attempt >= self.down_after or self._stopping:
                break
            self._halt.wait(self.backoff.delay(attempt))
        item.payload = payload  # what is left of it goes to the spool, in order
        self._attempt = max(self._attempt, attempt)
        self.log.warning("%s: cannot deliver after %d attempts (%s): spooling",
                         self.outbox.name, attempt, self.last_error or "parts not taken")
        self._next_try = time.monotonic() + self.backoff.delay(attempt)
        self.outbox.take()
        return True

    def _wait(self) -> None:
        now = time.monotonic()
        outbox = self.outbox
        with outbox.wakeup:
            queued = bool(len(outbox)) or self._rest is not None
            ready = queued and now >= self._next_try
            if outbox.held:
                if self.direct and not queued:
                    ready = now >= self._next_try  # sent straight away
                elif outbox.can_take(now):
                    ready = True  # spooled now
            if ready or self._stopping:
                return
            timeout = 1.0
            if queued or (self.direct and outbox.held):
                timeout = max(0.01, min(timeout, self._next_try - now))
            due = self.outbox.retry_due(now)
            if due:
                timeout = max(0.01, min(timeout, due))
            self.outbox.wakeup.wait(timeout)

    def _deliver_one(self) -> None:
        if time.monotonic() < self._next_try:
            return
        if self._rest is None:
            head = self.outbox.head(1)
            if not head:
                return
            self._rest = head[0]
        try:
            rest = self.send(self._rest)
        except Refused as exc:
            self.counters["refused"] += 1
            self.log.error("%s: the other side refused an item for good: %s",
                           self.outbox.name, exc)
            rest = b""
        except Exception as exc:  # noqa: BLE001 - unreachable, timeout, 5xx: retry
            self.counters["send_errors"] += 1
            self._failed(str(exc))
            return
        if rest:
            self._rest = rest
            self.counters["retries"] += 1
            self._failed("parts of an item were not taken")
            return
        self._rest = None
        self.outbox.delivered(1)
        if self._attempt >= self.down_after:
            self.log.info("%s: delivering again", self.outbox.name)
        self._attempt = 0
        self._next_try = 0.0

    def _failed(self, reason: str) -> None:
        self.last_error = reason
        self._attempt += 1
        if self._attempt == self.down_after:
            self.log.warning("%s: cannot deliver (%s): keeping items in the spool, retrying",
                             self.outbox.name, reason)
        self._next_try = time.monotonic() + self.backoff.delay(self._attempt)
