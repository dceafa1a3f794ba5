"""Base classes of the five plugin kinds. Every plugin instance is a pykka ThreadingActor.

A plugin class declares, once: ``name`` (its registry name), ``kind``, ``description`` (one
line) and ``Config`` (a frozen dataclass whose fields are declared with
:func:`omphalos.config.option`). The pipeline builds each instance with a
:class:`PluginContext` (who it is, whom it talks to) and its checked config.

What a plugin can do is declared on its class and checked when it is loaded
(:func:`omphalos.registry.check_plugin`), never guessed at run time:

- every kind has the hooks it requires (``parse`` for parsers, ``send_batch`` for
  transports, ``apply`` for collectors): abstract here, so a class lacking one is refused;
- ``answers``: the query kinds the plugin answers (``status`` is answered by all), and
  ``declines(config, query)``: why one built with ``config`` would not answer a query of a
  declared kind (a window it does not keep); the pipeline routes queries by these alone;
- collectors: ``counted_dimensions`` / ``counted_capacity`` (fed batches reduced to counts);
- transports: ``durable``, ``across_processes``, ``loopback`` and ``for_worker``;
- monitors: ``deal(config, workers)`` (how their inputs are dealt out to worker processes).

Hooks a plugin overrides, all run in the actor's own thread:

- ``setup()`` once when the actor starts, ``teardown()`` once when it stops, only after a
  setup that completed (a component is built complete or not at all);
- ``on_tick(now)`` every ``tick_secs`` seconds when the class sets ``tick_secs``;
- ``handle(message)`` for messages the base class does not know;
- kind-specific ones, documented on each base class below.

Exceptions escaping a hook kill the actor; the supervisor then restarts it. Queries (asked,
not told) never kill: the error goes back to the asker.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import sqlite3
import statistics
import threading
import time
from abc import ABCMeta, abstractmethod
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pykka

from .api import PipelineAPI
from .config import option
from .dedupe import MAX_HOLES, Range, keep_ranges, record, unapplied
from .messages import (
    Ack,
    Applied,
    AwaitingSave,
    BadLine,
    Batch,
    Deliver,
    LineChunk,
    Query,
    Rewire,
    Source,
    Stop,
    Tick,
)
from .quarantine import Quarantine
from .records import Columns
from .state import DEFAULT_FILE, DurableConfig, SavedState, StateError, StateStore
from .state_writer import StateWriter
from .validate import OUT_OF_RANGE, enforce_ranges

if TYPE_CHECKING:
    from .directory import Directory
    from .scheduler import Scheduler
    from .settings import Settings

__all__ = ["PluginContext", "Plugin", "MonitorPlugin", "ParserPlugin", "TransportPlugin",
           "CollectorPlugin", "OutputPlugin", "KINDS", "MonitorConfig", "NoConfig",
           "UndeclaredQuery", "CountedBatches", "Loopback"]

KINDS = ("monitor", "parser", "transport", "collector", "output")


@dataclass
class PluginContext:
    """What a plugin instance knows of the pipeline around it.

    ``name`` is the instance's component name (``monitor:web``), ``inputs`` and ``outputs``
    the component names upstream and downstream of it.
    """

    name: str
    settings: Settings
    directory: Directory
    scheduler: Scheduler | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    on_failure: Callable[[str, BaseException | None], None] | None = None
    #: The pipeline, for outputs that query collectors (None outside one).
    pipeline: PipelineAPI | None = None


@dataclass(frozen=True)
class NoConfig:
    """A plugin without options."""


#: A plugin's config type: ``class SummaryCollector(CollectorPlugin[SummaryConfig])`` makes
#: ``self.config`` a SummaryConfig, so mypy checks every option access.
C = TypeVar("C")
#: A monitor's config type (it has the options every monitor has).
MC = TypeVar("MC", bound="MonitorConfig")


class UndeclaredQuery(LookupError):
    """A query of a kind the asked plugin does not declare in its ``answers``."""


class Plugin(pykka.ThreadingActor, Generic[C], metaclass=ABCMeta):
    """Common base: identity, config, counters, ticks, failure reporting.

    Generic in its config type ``C``: ``Config`` is the class of ``C``, and ``self.config``
    the instance built from the plugin's section.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig
    #: Seconds between ``on_tick`` calls; 0 for no ticks.
    tick_secs: ClassVar[float] = 0.0
    #: Query kinds this plugin answers besides ``status`` (which every plugin answers).
    answers: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def declines(cls, config: C, query: Query) -> str | None:
        """Why an instance built with ``config`` does not answer ``query`` (None: it does).

        Called in the asker's thread, before anything is asked: the base declines the kinds
        not in ``answers``; a subclass may also decline declared kinds for some parameters
        (a window it does not keep). The reason is shown to whoever asked.
        """
        if query.kind == "status" or query.kind in cls.answers:
            return None
        return f"does not answer {query.kind!r} queries"

    def __init__(self, context: PluginContext, config: C) -> None:
        super().__init__()
        self.context = context
        self.config: C = config
        self.log = logging.getLogger(f"omphalos.{self.kind}.{context.name.split(':', 1)[-1]}")
        #: received / sent / errored and plugin-specific counts, shown by ``status``.
        self.counters: Counter[str] = Counter()
        #: What ``setup`` took that must be released even when setup fails half-way (files,
        #: sockets, threads: ``self.resources.enter_context(...)``, ``.callback(...)``).
        #: Closed after ``teardown``, or at once when setup fails.
        self.resources = contextlib.ExitStack()
        self._built = False

    # -- pykka lifecycle (actor thread) ---------------------------------------------------
    def on_start(self) -> None:
        # Found under its name before setup: a monitor emits during setup, and the answer
        # to what it sent (an acknowledgement, three actors away) may come back before
        # the thread that started this actor got to register it.
        self.context.directory.register(self.context.name, self.actor_ref)
        try:
            self.setup()
        except Exception as exc:
            # built complete or not at all: what setup took is released here, and teardown
            # (which may rely on everything setup makes) never runs for a half-built actor
            self._release()
            # pykka does not call on_failure for a failing on_start: report it ourselves,
            # so the supervisor learns why and not just that the actor is gone
            self.on_failure(type(exc), exc, exc.__traceback__)
            raise
        self._built = True
        if self.tick_interval() and self.context.scheduler is not None:
            self.context.scheduler.every(self.context.name, self.tick_interval())

    def tick_interval(self) -> float:
        """Seconds between ticks for this instance (default: the class's ``tick_secs``)."""
        return self.tick_secs

    def on_stop(self) -> None:
        if self.context.scheduler is not None:
            self.context.scheduler.cancel(self.context.name)
        if self._built:
            self._built = False
            try:
                self.teardown()
            finally:
                self._release()

    def _release(self) -> None:
        try:
            self.resources.close()
        except Exception:
            self.log.exception("releasing %s's resources failed", self.context.name)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self.log.error("%s died: %r", self.context.name, exception_value)
        if self.context.scheduler is not None:
            self.context.scheduler.cancel(self.context.name)
        if self._built:
            self._built = False
            try:
                self.teardown()
            except Exception:
                self.log.exception("teardown after failure failed")
            self._release()
        if self.context.on_failure is not None:
            self.context.on_failure(self.context.name, exception_value)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Tick):
            return self.on_tick(message.now)
        if isinstance(message, Query):
            if message.kind != "status" and message.kind not in self.answers:
                raise UndeclaredQuery(f"{self.context.name} does not answer "
                                      f"{message.kind!r} queries")
            return self.answer(message)
        if isinstance(message, Stop):
            return self.flush()
        if isinstance(message, Rewire):
            self.context.inputs, self.context.outputs = message.inputs, message.outputs
            return None
        return self.handle(message)

    # -- hooks -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Open files, sockets, threads. Runs in the actor thread when it starts.

        All or nothing: when it raises, ``teardown`` is not called; what it had taken and
        registered in ``self.resources`` is released."""

    def teardown(self) -> None:
        """Release what ``setup`` took. Runs in the actor thread when it stops or dies, only
        after a setup that completed (so every attribute setup makes exists)."""

    def on_tick(self, now: float) -> None:
        """Periodic work; ``now`` is ``time.monotonic()``."""

    def flush(self) -> None:
        """Finish what is buffered (the pipeline asks this before a clean stop)."""

    def handle(self, message: Any) -> Any:
        """A message the base class does not know."""
        self.log.warning("ignored unexpected message %r", type(message).__name__)
        return None

    def answer(self, query: Query) -> Any:
        """Answer a query of a kind in ``answers`` (or ``status``, which the base answers
        with the counters). A ValueError raised here is the answer to the asker (a
        parameter out of range), never a sign that another collector should be asked."""
        if query.kind == "status":
            return self.status()
        raise UndeclaredQuery(f"{self.context.name} declares {query.kind!r} in answers but "
                              f"does not answer it")

    def status(self) -> dict[str, Any]:
        """What ``omphalos status`` shows of this actor."""
        return {"name": self.context.name, "plugin": self.name, "kind": self.kind,
                "counters": dict(self.counters)}

    # -- helpers -------------------------------------------------------------------------------
    def send(self, message: Any) -> None:
        """Tell every downstream component ``message``."""
        for target in self.context.outputs:
            self.context.directory.tell(target, message)


@dataclass(frozen=True)
class MonitorConfig:
    """Options every monitor has (flow control)."""

    max_in_flight: int = option(0, "Batches sent but not yet acknowledged before reading "
                                   "pauses (credit-based flow control). 0: automatic: "
                                   "32, of which at most 8 not yet applied by the "
                                   "collectors; the others applied by a durable "
                                   "collector in this process, their acknowledgement "
                                   "waiting for its next save (they hold only their "
                                   "offsets, no lines or records), so that reading goes "
                                   "on while it saves.")
    ack_timeout_secs: float = option(30.0, "Seconds to wait for an acknowledgement before "
                                           "re-sending from the last committed offset.")
    host: str = option("", "Source host name put on every record; empty: the [omphalos] "
                           "host setting.")


@dataclass
class _InFlight:
    file_id: str
    start: int
    end: int
    sent_at: float
    acked: bool = False
    awaiting_save: bool = False  # applied downstream, its acknowledgement waits for a save


class MonitorPlugin(Plugin[MC]):
    """A monitor reads sources and emits ``LineChunk``s with :meth:`emit`.

    The base class does the flow control: at most ``max_in_flight`` chunks unacknowledged
    (:meth:`has_credit`; automatic by default: chunks a durable collector has applied
    and waits to save count apart, :class:`~omphalos.messages.AwaitingSave`),
    acknowledgements matched to chunks, and offsets handed to
    :meth:`commit` in order per file, only up to the last contiguous acknowledged byte. When
    an acknowledgement is overdue it calls :meth:`rewind` so the subclass re-reads from its
    committed offsets (collectors skip what they already applied).

    Subclass hooks: ``commit(file_id, offset)``, ``rewind()``, ``resume()`` (credit came
    back: read more). A monitor must give a file a new ``file_id`` whenever its content
    starts over (truncation), since offsets are only meaningful within one identity.
    """

    kind = "monitor"
    Config: ClassVar[type] = MonitorConfig
    #: The automatic credit (``max_in_flight = 0``): batches not yet applied ...
    auto_in_flight: ClassVar[int] = 8
    #: ... and besides them, batches applied and waiting for a durable collector's save
    #: (offsets only, no lines or records): enough for the saves of a few seconds of
    #: reading, so that a slow commit (a loaded disk: 0.1 - 1 s) does not stop reading
    #: (with 8, the monitor waited up to a second per 200,000 lines for saves:
    #: ``credit_wait_for_saves_ms``, bench/README.rst, *Session 8, durability*).
    auto_awaiting_save: ClassVar[int] = 24

    @classmethod
    def deal(cls, config: MC, workers: int) -> list[MC]:
        """The configs of the instances that share this monitor's inputs over ``workers``
        worker processes (``[omphalos] workers``): at most ``workers`` of them, the i-th run
        by worker i, together reading exactly what one instance built with ``config`` reads.
        The base does not split: one instance, in the first worker."""
        return [config]

    def __init__(self, context: PluginContext, config: MC) -> None:
        super().__init__(context, config)
        # time-based start: a restarted monitor's seqs never match acks meant for the
        # chunks of its previous incarnation (microseconds, so monotonic across restarts)
        self._seq = time.time_ns() // 1000
        self._in_flight: OrderedDict[int, _InFlight] = OrderedDict()
        self._awaiting_save = 0  # entries of _in_flight marked awaiting_save
        self._starved_since: float | None = None  # out of credit since (monotonic)
        self._starved_by_saves = False  # ... because of batches waiting for saves
        self.host = config.host or context.settings.host_name

    def has_credit(self) -> bool:
        """Fewer than ``max_in_flight`` batches unacknowledged; with the automatic credit
        (0), fewer than :attr:`auto_in_flight` + :attr:`auto_awaiting_save`, of which
        fewer than :attr:`auto_in_flight` not yet applied downstream (the rest: applied,
        waiting for a durable collector's save; those hold only their offsets, so the
        lines and records in memory are bounded as with an explicit ``max_in_flight`` of
        :attr:`auto_in_flight`)."""
        limit = self.config.max_in_flight
        sent = len(self._in_flight)
        if limit > 0:
            return sent < limit
        limit = self.auto_in_flight
        return (sent < limit + self.auto_awaiting_save
                and sent - self._awaiting_save < limit)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def source(self, path: str, file_id: str) -> Source:
        return Source(self.host, path, file_id, self.context.name)

    def emit(self, source: Source, start: int, end: int, data: bytes) -> None:
        """Send bytes ``[start, end)`` of ``source`` (complete lines) downstream."""
        self._seq += 1
        self._in_flight[self._seq] = _InFlight(source.file_id, start, end, time.monotonic())
        self.counters["chunks_sent"] += 1
        self.counters["bytes_sent"] += end - start
        self.send(LineChunk(source, self._seq, start, end, data))
        if self._starved_since is None and not self.has_credit():
            self._starved_since = time.monotonic()
            self._starved_by_saves = self._held_by_saves()

    def _held_by_saves(self) -> bool:
        """Out of credit because the batches unacknowledged are all that may be, most of
        them applied and waiting for a durable collector's save (automatic credit only),
        not because too many are still to be applied."""
        return (self.config.max_in_flight <= 0
                and len(self._in_flight) >= self.auto_in_flight + self.auto_awaiting_save)

    def _credit_back(self) -> None:
        """An acknowledgement or notice came: count the time spent out of credit until
        now (``credit_wait_ms``: reading waited for the pipeline; of it,
        ``credit_wait_for_saves_ms``: for a durable collector's saves) and
        :meth:`resume`."""
        since = self._starved_since
        if since is not None:
            now = time.monotonic()
            waited = round((now - since) * 1000)
            self.counters["credit_wait_ms"] += waited
            if self._starved_by_saves:
                self.counters["credit_wait_for_saves_ms"] += waited
            if self.has_credit():
                self._starved_since = None
            else:
                self._starved_since, self._starved_by_saves = now, self._held_by_saves()
        self.resume()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Ack):
            self._on_ack(message)
            return None
        if isinstance(message, AwaitingSave):
            self._on_awaiting_save(message)
            return None
        return super().handle(message)

    def _on_awaiting_save(self, notice: AwaitingSave) -> None:
        """The batch is applied, its acknowledgement waits for a save: its credit for
        batches not yet applied comes back (nothing is committed)."""
        entry = self._in_flight.get(notice.seq)
        if entry is None or entry.acked or entry.awaiting_save:
            return
        entry.awaiting_save = True
        self._awaiting_save += 1
        self.counters["chunks_awaiting_save"] += 1
        self._credit_back()

    def _on_ack(self, ack: Ack) -> None:
        entry = self._in_flight.get(ack.seq)
        if entry is None:
            return  # an ack for a chunk we already gave up on (after a rewind)
        if entry.file_id != ack.file_id or entry.end != ack.end:
            self.counters["acks_mismatched"] += 1  # not for this chunk: never commit on it
            return
        if not ack.accepted:
            self.counters["chunks_refused"] += 1
        entry.acked = True
        # commit, per file, the longest acknowledged prefix of what was sent
        for seq, item in list(self._in_flight.items()):
            if item.file_id != entry.file_id:
                continue
            if not item.acked:
                break
            del self._in_flight[seq]
            if item.awaiting_save:
                self._awaiting_save -= 1
            self.counters["chunks_acked"] += 1
            self.commit(item.file_id, item.end)
        self._credit_back()

    def check_ack_timeouts(self, now: float) -> None:
        """Rewind when the oldest unacknowledged chunk is older than ``ack_timeout_secs``."""
        if not self._in_flight:
            return
        oldest = next(iter(self._in_flight.values()))
        if now - oldest.sent_at > self.config.ack_timeout_secs:
            self.log.warning("no acknowledgement for %.0fs: re-sending from committed offsets",
                             now - oldest.sent_at)
            self.counters["rewinds"] += 1
            self._in_flight.clear()
            self._awaiting_save = 0
            self._starved_since = None
            self.rewind()

    def on_tick(self, now: float) -> None:
        self.check_ack_timeouts(now)

    def commit(self, file_id: str, offset: int) -> None:
        """Everything of ``file_id`` before ``offset`` is safely downstream."""

    def rewind(self) -> None:
        """Forget what was sent and not acknowledged; read again from committed offsets."""

    def resume(self) -> None:
        """Credit is available again."""


class ParserPlugin(Plugin[C]):
    """A parser turns each ``LineChunk`` into a ``Batch`` with :meth:`parse`."""

    kind = "parser"

    #: Unparsed lines carried per batch as samples (a parser's config may say otherwise).
    bad_sample: ClassVar[int] = 20

    def handle(self, message: Any) -> Any:
        if isinstance(message, LineChunk):
            batch, rejected = enforce_ranges(
                self.parse(message), message,
                getattr(self.config, "bad_sample", self.bad_sample))
            if rejected:
                self.counters[f"unparsed: {OUT_OF_RANGE}"] += len(rejected)
                self.rejected(message, rejected)
            self.counters["lines"] += batch.lines
            self.counters["unparsed"] += batch.unparsed
            self.send(batch)
            return None
        if isinstance(message, Ack):  # acks never pass through parsers; route them anyway
            self.context.directory.tell(message.origin, message)
            return None
        return super().handle(message)

    @abstractmethod
    def parse(self, chunk: LineChunk) -> Batch:
        """Parse every line of ``chunk``; never raise for bad input. What it returns is
        range-checked by :func:`omphalos.validate.enforce_ranges` before it is sent."""

    def rejected(self, chunk: LineChunk, lines: list[BadLine]) -> None:
        """``lines`` of ``chunk``, parsed by :meth:`parse`, were set aside as out of range
        (already counted in the batch); a subclass may keep them (a dead-letter file)."""


@dataclass(frozen=True)
class CountedBatches:
    """Batches reduced to counts (:mod:`omphalos.counts`): over which dimensions, and at
    most how many keys per dimension (0: all) a sender keeps of each batch."""

    dimensions: tuple[str, ...]
    capacity: int = 0


@dataclass(frozen=True)
class Loopback(Generic[C]):
    """A receiver config for the process that collects and one sender config per worker
    process, all of one transport class: how workers send their batches to it."""

    receiver: C
    senders: tuple[C, ...]

    def rejected(self, chunk: LineChunk, lines: list[BadLine]) -> None:
        """``lines`` of ``chunk``, parsed by :meth:`parse`, were set aside as out of range
        (already counted in the batch); a subclass may keep them (a dead-letter file)."""


@dataclass
class _Pending:
    batch: Batch
    waiting: set[str]
    since: float
    on_done: Callable[[Batch], None] = field(repr=False, default=lambda b: None)
    #: collectors that applied it and wait for a save to acknowledge it (AwaitingSave)
    saving: set[str] = field(default_factory=set)


class TransportPlugin(Plugin[C]):
    """A transport carries batches from parsers to collectors, maybe across machines.

    Sending side: :meth:`send_batch` gets each ``Batch`` from an upstream parser. Receiving
    side: call :meth:`deliver` with each batch that arrives; ``on_done`` runs once every
    downstream collector has applied it, which is when the batch may be acknowledged to its
    monitor (:meth:`ack_local` for a monitor in this process).
    """

    kind = "transport"
    tick_secs = 1.0
    #: True when a sender's acceptance of a batch means it is kept (spooled, confirmed by a
    #: broker) until delivered, so its monitor may commit the batch's offset at once.
    durable: ClassVar[bool] = False
    #: None: this transport crosses process boundaries itself. Else the registry name of
    #: the transport that carries its batches when ``workers = N`` spreads the pipeline
    #: over processes (that class must implement :meth:`loopback`).
    across_processes: ClassVar[str | None] = None

    @classmethod
    def loopback(cls, state_dir: str, workers: int,
                 counted: CountedBatches | None) -> Loopback[C] | None:
        """Configs of a receiver in this process and of ``workers`` senders feeding it from
        worker processes (senders sending batches reduced to ``counted`` when not None);
        None: this transport cannot do that."""
        return None

    @classmethod
    def for_worker(cls, config: C, name: str, worker: int, state_dir: str) -> C:
        """``config`` of component ``name`` for its copy in worker process ``worker``
        (copies must not share a spool, for one); the base keeps it as it is."""
        return config
    #: Seconds a delivered batch may wait for collectors before it is forgotten (the
    #: monitor then re-sends it).
    delivery_timeout_secs: ClassVar[float] = 30.0

    def __init__(self, context: PluginContext, config: C) -> None:
        super().__init__(context, config)
        self._pending: dict[tuple[str, int], _Pending] = {}

    def handle(self, message: Any) -> Any:
        if isinstance(message, Batch):
            self.counters["received"] += 1
            self.send_batch(message)
            return None
        if isinstance(message, Applied):
            self._on_applied(message)
            return None
        if isinstance(message, AwaitingSave):
            self._on_awaiting_save(message)
            return None
        if isinstance(message, Ack):
            self.context.directory.tell(message.origin, message)
            return None
        return super().handle(message)

    @abstractmethod
    def send_batch(self, batch: Batch) -> None:
        """Carry ``batch`` towards the collectors."""

    def deliver(self, batch: Batch, on_done: Callable[[Batch], None]) -> None:
        """Hand ``batch`` to every downstream collector; ``on_done(batch)`` when all applied."""
        key = (batch.source.origin, batch.seq)
        targets = set(self.context.outputs)
        if not targets:
            on_done(batch)
            return
        self._pending[key] = _Pending(batch, set(targets), time.monotonic(), on_done)
        deliver = Deliver(batch, self.actor_ref)
        for target in targets:
            if not self.context.directory.tell(target, deliver):
                self.counters["undeliverable"] += 1

    def _on_awaiting_save(self, notice: AwaitingSave) -> None:
        """A durable collector applied the batch and waits for a save to acknowledge it:
        once every collector still to acknowledge it has, its records are dropped (only
        what ``on_done`` needs is kept) and :meth:`awaiting_save` is called."""
        pending = self._pending.get((notice.origin, notice.seq))
        if pending is None or notice.collector not in pending.waiting \
                or notice.collector in pending.saving:
            return
        pending.saving.add(notice.collector)
        if pending.waiting <= pending.saving:
            batch = pending.batch
            pending.batch = replace(batch, records=Columns(), bad=(), counts=None)
            self.awaiting_save(pending.batch)

    def awaiting_save(self, batch: Batch) -> None:
        """Every collector has applied ``batch``, some wait for a save to acknowledge it;
        a transport whose monitors are in this process tells them (they read on)."""

    def _on_applied(self, applied: Applied) -> None:
        key = (applied.origin, applied.seq)
        pending = self._pending.get(key)
        if pending is None:
            return
        pending.waiting.discard(applied.collector)
        if not applied.accepted:
            self.counters["quarantined_by_collector"] += 1
        if not pending.waiting:
            del self._pending[key]
            self.counters["delivered"] += 1
            pending.on_done(pending.batch)

    def ack_local(self, batch: Batch) -> None:
        """Acknowledge ``batch`` to its monitor, which lives in this process."""
        self.context.directory.tell(
            batch.source.origin,
            Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end))

    def on_tick(self, now: float) -> None:
        expired = [k for k, p in self._pending.items()
                   if now - p.since > self.delivery_timeout_secs]
        for key in expired:
            del self._pending[key]
            self.counters["delivery_timeouts"] += 1


#: Sent by a collector's timer to itself: a deferred save may be due now.
_SAVE_DUE = object()


@dataclass(frozen=True)
class _Saved:
    """Sent by a collector's state writer to the collector: a save is committed (and the
    acknowledgements it held are sent)."""

    written: int  # bytes of parts
    prepare_secs: float  # in the actor thread: the snapshot and its encoding
    commit_secs: float  # in the writer thread: the SQLite transaction
    lost: int  # acknowledgements whose transport was gone
    acknowledged: int  # acknowledgements sent


@dataclass(frozen=True)
class _SaveFailed:
    """Sent by a collector's state writer: a commit failed (nothing later is committed)."""

    error: BaseException


class CollectorPlugin(Plugin[C]):
    """A collector keeps data and answers queries.

    Subclasses implement :meth:`apply` (add a batch's records) and :meth:`answer`. The base
    class skips what was already applied: per de-duplication key (:meth:`dedupe_key`, the
    file identity) it remembers the end offset applied, drops a batch that lies before it
    and trims one that overlaps it, so a batch re-sent after a crash is never counted twice.
    A batch whose ``apply`` raises one of :attr:`poison_errors` is quarantined
    (:meth:`quarantine`) instead of killing the actor.

    Durable state (:mod:`omphalos.state`): a collector whose ``Config`` inherits
    :class:`~omphalos.state.DurableConfig` (and has ``durable = yes``) implements
    :meth:`state_parts` and :meth:`restore_state`; the base class loads the saved state
    after ``setup()``, saves the changed parts together with the de-duplication offsets
    in one transaction (at once when no batch is waiting, else every
    ``save_interval_secs``, and at a clean stop), and holds each batch's acknowledgement
    until a save includes it. A save is made only between two batches, never in the middle
    of one, and never after a failure (a restarted collector resumes from the last save).
    The actor thread takes the save's snapshot (:meth:`state_parts` and the offsets,
    encoded); a writer thread (:mod:`omphalos.state_writer`) commits it while the next
    batches are applied, and sends the acknowledgements it holds once it is committed.
    One save is written at a time: a save due meanwhile waits for the commit before it.
    """

    kind = "collector"
    #: What ``apply`` raising means a poison batch (a value the collector's code did not
    #: foresee): the batch is quarantined and the collector stays up. Anything else (an
    #: OSError, a database error, MemoryError) is a real crash: the actor dies and the
    #: supervisor restarts it.
    poison_errors: ClassVar[tuple[type[Exception], ...]] = (
        ValueError, TypeError, KeyError, IndexError, ArithmeticError, AttributeError,
        RecursionError)
    #: File identities remembered for de-duplication (least recently used are forgotten).
    max_tracked_files: ClassVar[int] = 100_000
    #: A save made early (acknowledgements waiting, nothing else to do) waits this many
    #: times the last save's duration after it: saves take at most about a tenth of the
    #: time, and batches made bigger meanwhile carry the lines that kept coming.
    save_cost_ratio: ClassVar[float] = 9.0
    #: The senders have stopped (out of credit: every batch they may have unacknowledged
    #: waits for this collector's save; or out of lines) once no batch has arrived for
    #: this many times the usual gap between two arrivals (the median of the last
    #: :attr:`arrival_gaps`): held acknowledgements are then saved at once, whatever
    #: :attr:`save_cost_ratio` asks, since nothing else can come until they are sent.
    stopped_gaps: ClassVar[float] = 2.0
    #: Gaps between arrivals remembered for the usual gap.
    arrival_gaps: ClassVar[int] = 16
    #: Shortest quiet time that counts as the senders having stopped (seconds): batches
    #: that come in bursts do not make a save after every burst.
    min_stopped_secs: ClassVar[float] = 0.02
    #: Commit saves in a writer thread (:mod:`omphalos.state_writer`) while batches are
    #: applied; False: in the actor thread, which then waits for SQLite.
    save_in_background: ClassVar[bool] = True

    @classmethod
    def counted_dimensions(cls, config: C) -> tuple[str, ...] | None:
        """The dimensions this collector needs when it is fed batches reduced to counts
        (:mod:`omphalos.counts`) instead of records; None (the default): it needs records."""
        return None

    @classmethod
    def counted_capacity(cls, config: C) -> int:
        """Keys per dimension this collector keeps of a batch's counts (its top tables'
        capacity): a sender may cut the counts to that many keys first. 0: every key."""
        return 0

    def __init__(self, context: PluginContext, config: C) -> None:
        super().__init__(context, config)
        #: end offset applied per de-duplication key, least recently used first
        self._applied: OrderedDict[Hashable, int] = OrderedDict()
        #: byte ranges below that end never applied (:mod:`omphalos.dedupe`), per key
        self._holes: dict[Hashable, list[Range]] = {}
        self._applied_changed: set[Hashable] = set()  # since the last save
        self._applied_forgotten: set[Hashable] = set()
        #: what the last save held when this actor started (empty without durability)
        self.saved = SavedState()
        self._store: StateStore | None = None
        self._state_key = ""
        #: the durable-state options of the config, when this collector has a durable state
        self._durable: DurableConfig | None = None
        #: acknowledgements of applied batches waiting for the next save, with the
        #: transport to send each to (not the batch: its records are not kept for it)
        self._held: list[tuple[Any, Applied]] = []
        self._unsaved_since: float | None = None  # monotonic time of the first change
        self._last_save = (0.0, 0.0)  # when the last save ended, how long it took
        self._writer: StateWriter | None = None  # commits saves (save_in_background)
        self._writing = 0  # saves handed to the writer and not yet reported committed
        self._wake: threading.Timer | None = None
        self._wake_at = math.inf  # monotonic time the wake-up timer fires
        self._arrived: float | None = None  # monotonic time the last batch arrived
        self._gaps: deque[float] = deque(maxlen=self.arrival_gaps)
        self._quarantine: Quarantine | None = None
        self._quarantine_logged = -math.inf

    # -- durable state (actor thread) -------------------------------------------------------
    def on_start(self) -> None:
        try:
            self._open_state()
        except Exception as exc:
            self.on_failure(type(exc), exc, exc.__traceback__)
            raise
        super().on_start()
        if self._store is not None and self.saved.saved is not None:
            try:
                if self.saved.parts:
                    self.restore_state(self.saved.parts)
            except Exception as exc:
                self.on_failure(type(exc), exc, exc.__traceback__)
                raise
            self.log.info("%s resumed from %s (saved %s): %d files' offsets",
                          self.context.name, self._store.path,
                          time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved.saved)),
                          len(self.saved.applied))

    def _open_state(self) -> None:
        cfg = self.config
        if not isinstance(cfg, DurableConfig) or not cfg.durable:
            return
        path = cfg.state_path or os.path.join(self.context.settings.state_path, DEFAULT_FILE)
        store = StateStore(os.path.expanduser(path))
        self._state_key = cfg.state_key or self.context.name
        try:
            store.claim(self._state_key)
        except BaseException:
            store.close()
            raise
        self._store = store
        self._durable = cfg
        self.saved = self._store.load(self._state_key)
        for key, end in self.saved.applied:
            self._applied[key] = end
        self._holes.update(self.saved.holes)
        if self.save_in_background:
            self._writer = StateWriter(store, self.context.name)

    def on_stop(self) -> None:
        if self._wake is not None:
            self._wake.cancel()
        if self._store is not None:
            try:
                failed = self._close_writer()  # what it was given is committed first
                self.settle()
                if self.state_consistent() and failed is None:
                    self.save_state()  # the last save: in this thread, the writer is gone
            finally:
                self._store.close()
                self._store = None
        super().on_stop()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if self._wake is not None:
            self._wake.cancel()
        # saves already handed to the writer are snapshots taken between two batches,
        # before the failure: they are committed; nothing is saved after it
        self._close_writer()
        store, self._store = self._store, None
        if store is not None:
            store.close()
        super().on_failure(exception_type, exception_value, traceback)

    def _close_writer(self) -> BaseException | None:
        """Commit what the writer was given and end its thread; the error of a failed
        commit (then nothing more may be saved: a later save would lack what it held)."""
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        writer.close()
        self._writing = 0
        return writer.error

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Deliver) and self._store is not None:
            self._note_arrival()
        result = super().on_receive(message)
        if self._save_due():
            self.save_state()
        return result

    def _note_arrival(self) -> None:
        """Remember when a batch arrived (the usual gap tells when the senders stopped)."""
        now = time.monotonic()
        if self._arrived is not None:
            self._gaps.append(now - self._arrived)
        self._arrived = now

    def _stopped_at(self) -> float:
        """When the senders count as stopped if nothing more arrives (monotonic time;
        infinity while no gap between two arrivals is known, as with a credit of one
        batch: saves are then spaced by :attr:`save_cost_ratio` alone)."""
        if self._arrived is None or not self._gaps:
            return math.inf
        quiet = max(self.min_stopped_secs, self.stopped_gaps * statistics.median(self._gaps))
        return self._arrived + quiet

    def _save_due(self) -> bool:
        """Save between batches: once ``save_interval_secs`` have passed since the first
        change, or sooner when acknowledgements wait and nothing else does (the senders
        wait for them); either way not before :attr:`save_cost_ratio` times the last
        save's duration has passed since it (a wake-up is scheduled for that moment), so
        that saving takes at most about a tenth of the time. Except when the senders
        have stopped (:attr:`stopped_gaps`): every batch they may send unacknowledged is
        then held here, so waiting longer would only leave them, and this collector,
        idle: the save is made at once."""
        since = self._unsaved_since
        durable = self._durable
        if since is None or self._store is None or durable is None or self._writing \
                or not self.state_consistent():
            return False  # (while a save is written, the next waits: _Saved looks again)
        now = time.monotonic()
        due = self._last_save[0] + self.save_cost_ratio * self._last_save[1]
        if now - since >= durable.save_interval_secs and now >= due:
            return True
        if not self._held or self.busy():
            return False
        stopped = self._stopped_at()
        if now >= due or now >= stopped:
            if now < due:
                self.counters["state_saves_senders_stopped"] += 1
            return True
        wake = min(due, stopped)
        if self._wake is not None and self._wake_at > wake + 0.001:
            self._wake.cancel()  # the senders stop before the save is due: look sooner
            self._wake = None
        if self._wake is None:
            self._wake_at = wake
            self._wake = threading.Timer(wake - now, self._wake_up)
            self._wake.daemon = True
            self._wake.start()
        return False

    def _wake_up(self) -> None:
        """Timer thread: tell the actor to look again whether a save is due."""
        try:
            self.actor_ref.tell(_SAVE_DUE)
        except pykka.ActorDeadError:
            pass

    def tick_interval(self) -> float:
        """A durable collector without ticks of its own gets them every
        ``save_interval_secs``, so that what changed is saved even when nothing arrives."""
        interval = super().tick_interval()
        if self._durable is not None and self._store is not None and not interval:
            return float(self._durable.save_interval_secs)
        return interval

    def status(self) -> dict[str, Any]:
        """The base status, and where a durable state is saved (with how many
        acknowledgements wait for the next save)."""
        out = super().status()
        if self._store is not None:
            out["saved_state"] = {"path": self._store.path, "key": self._state_key,
                                  "held_acks": len(self._held),
                                  "saves_being_written": self._writing}
            if self._writer is not None:
                out["saved_state"].update(
                    wal_checkpoints=self._writer.checkpoints,
                    wal_checkpoint_ms=round(self._writer.checkpoint_secs * 1000),
                    wal_checkpoint_errors=self._writer.checkpoint_errors)
        return out

    def state_changed(self) -> None:
        """Note that the state changed (a reset, a cleared alert): the next save has it."""
        if self._unsaved_since is None:
            self._unsaved_since = time.monotonic()

    def save_state(self, full: bool = False) -> None:
        """Save what changed (everything with ``full``) and the de-duplication offsets in
        one transaction, then acknowledge the batches the save includes: the snapshot is
        taken here; with a writer (:attr:`save_in_background`) it is committed, and the
        acknowledgements sent, in the writer's thread, else here."""
        if self._store is None:
            return
        started = time.perf_counter()
        parts, dropped = self.state_parts(full)
        applied = {k: self._applied[k] for k in self._applied_changed if k in self._applied}
        holes = {k: self._holes[k] for k in applied if k in self._holes}
        prepared = self._store.prepare(self._state_key, parts, dropped, applied,
                                       self._applied_forgotten, replace=full, holes=holes)
        self._applied_changed.clear()
        self._applied_forgotten.clear()
        self._unsaved_since = None
        held, self._held = self._held, []
        prepare_secs = time.perf_counter() - started
        writer = self._writer
        if writer is None:
            written = self._store.commit(prepared)
            lost = self._send_acks(held)
            try:  # after the acknowledgements, not inside the commit
                self._store.checkpoint()
            except (sqlite3.Error, OSError):  # the commit is durable in the WAL all the same
                self.counters["state_checkpoint_errors"] += 1
            self._note_saved(_Saved(written, prepare_secs,
                                    time.perf_counter() - started - prepare_secs, lost,
                                    len(held)))
            return
        self._writing += 1

        def committed(written: int, commit_secs: float) -> None:  # in the writer thread
            lost = len(held)
            try:
                lost = self._send_acks(held)
            finally:  # whatever happened, the actor learns that the write is over
                with contextlib.suppress(pykka.ActorDeadError):
                    self.actor_ref.tell(_Saved(written, prepare_secs, commit_secs, lost,
                                               len(held)))

        def failed(error: BaseException) -> None:  # in the writer thread
            with contextlib.suppress(pykka.ActorDeadError):
                self.actor_ref.tell(_SaveFailed(error))

        writer.submit(prepared, committed, failed)

    @staticmethod
    def _send_acks(held: list[tuple[Any, Applied]]) -> int:
        """Send the acknowledgements ``held`` (any thread); how many transports were gone."""
        lost = 0
        for ref, applied in held:
            try:
                ref.tell(applied)
            except pykka.ActorDeadError:
                lost += 1
        return lost

    def _note_saved(self, saved: _Saved) -> None:
        """Count a committed save and time the next one from it (actor thread)."""
        self._writing = max(0, self._writing - 1) if self._writer is not None else 0
        took = saved.prepare_secs + saved.commit_secs
        self._last_save = (time.monotonic(), took)
        self.counters["state_saves"] += 1
        self.counters["state_bytes_written"] += saved.written
        self.counters["state_save_ms"] += round(took * 1000)
        self.counters["state_snapshot_ms"] += round(saved.prepare_secs * 1000)
        self.counters["state_commit_ms"] += round(saved.commit_secs * 1000)
        self.counters["state_commit_ms_max"] = max(self.counters["state_commit_ms_max"],
                                                   round(saved.commit_secs * 1000))
        if saved.lost:
            self.counters["reply_lost"] += saved.lost
        if saved.acknowledged:
            # the senders' credit comes back: the next gap is theirs waiting for it, not
            # the usual gap between two batches
            self._arrived = None

    def state_parts(self, full: bool) -> tuple[dict[str, Any], list[str]]:
        """The parts of the state (plain data, see :mod:`omphalos.state`) that changed since
        the last save (all of them with ``full``), and the names of the parts dropped."""
        raise NotImplementedError(f"{type(self).__name__} is durable but saves nothing")

    def restore_state(self, parts: dict[str, Any]) -> None:
        """Load the saved ``parts`` into the tables ``setup()`` made."""
        raise NotImplementedError(f"{type(self).__name__} is durable but restores nothing")

    def state_consistent(self) -> bool:
        """Whether every admitted batch is wholly applied (a save may be made now)."""
        return True

    def settle(self) -> None:
        """Apply what is admitted but not yet applied (before the last save at a stop)."""

    def busy(self) -> bool:
        """Whether messages wait in the inbox (a save can wait for them)."""
        inbox = self.actor_inbox
        return isinstance(inbox, queue.Queue) and inbox.qsize() > 0

    # -- batches ----------------------------------------------------------------------------
    def handle(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            accepted = self.receive(message.batch)
            self.acknowledge(message, accepted)
            return None
        if isinstance(message, Batch):
            self.receive(message)
            return None
        if message is _SAVE_DUE:
            self._wake, self._wake_at = None, math.inf  # on_receive saves now if still due
            return None
        if isinstance(message, _Saved):
            self._note_saved(message)  # on_receive saves the next now if it is due
            return None
        if isinstance(message, _SaveFailed):
            raise StateError(f"{self.context.name}: saving its state in "
                             f"{self._store.path if self._store else '?'} failed: "
                             f"{type(message.error).__name__}: {message.error}"
                             ) from message.error
        return super().handle(message)

    def acknowledge(self, delivered: Deliver, accepted: bool = True) -> None:
        """Tell the transport that ``delivered`` is applied (its sender may forget it), or
        quarantined when not ``accepted`` (never to be re-sent either); with durable state
        and ``ack_when_saved``, once a save includes it."""
        batch = delivered.batch
        ref = delivered.reply_to
        if ref is None:
            return
        applied = Applied(self.context.name, batch.source.origin, batch.seq, accepted)
        if self._store is not None and self._durable is not None \
                and self._durable.ack_when_saved:
            self._held.append((ref, applied))
            self.state_changed()
            # not an acknowledgement: the transport may drop the batch's records, and a
            # monitor with credit to spare for batches waiting for a save may read on
            self._tell_applied(ref, AwaitingSave(self.context.name, batch.source.origin,
                                                 batch.seq))
            return
        self._tell_applied(ref, applied)

    def _tell_applied(self, ref: Any, applied: Applied | AwaitingSave) -> None:
        try:
            ref.tell(applied)
        except pykka.ActorDeadError:
            self.counters["reply_lost"] += 1

    def receive(self, batch: Batch) -> bool:
        """De-duplicate ``batch`` against what was applied, then :meth:`apply` the rest;
        False when it made the collector raise and was quarantined."""
        try:
            admitted = self.admit(batch)
            if admitted is not None:
                self.apply(admitted)
        except self.poison_errors as exc:  # a poison batch, not a crash: quarantine it
            self.quarantine(batch, exc)
            return False
        return True

    def quarantine(self, batch: Batch, error: BaseException) -> None:
        """Keep ``batch``, which made this collector raise ``error``, in the bounded
        quarantine file (:mod:`omphalos.quarantine`) and count it; the collector keeps its
        state and stays up, and the batch is acknowledged as rejected (never re-sent)."""
        self.counters["batches_quarantined"] += 1
        self.counters["lines_quarantined"] += batch.lines
        reason = f"{type(error).__name__}: {error}"
        if self._quarantine is None:
            settings = self.context.settings
            name = self.context.name.replace(":", "-").replace(os.sep, "_")
            self._quarantine = Quarantine(
                os.path.join(settings.state_path, "quarantine", f"{name}.jsonl"),
                settings.quarantine_max_bytes)
        written = self._quarantine.add(batch, self.context.name, reason)
        if not written:
            self.counters["quarantine_write_errors"] += 1
        now = time.monotonic()
        if now - self._quarantine_logged >= 60.0:
            self._quarantine_logged = now
            self.log.error("%s: a batch of %s (bytes %d-%d) made it raise %s; quarantined "
                           "in %s (%d so far; logged at most once a minute)",
                           self.context.name, batch.source.path, batch.start, batch.end,
                           reason, self._quarantine.path,
                           self.counters["batches_quarantined"])

    def admit(self, batch: Batch) -> Batch | None:
        """``batch`` without what was already applied (None when that is all of it), recorded
        as applied: the caller must :meth:`apply` what this returns."""
        if batch.counts is not None and self.counted_dimensions(self.config) is None:
            self.counters["counted_batches_refused"] += 1
            if self.counters["counted_batches_refused"] == 1:
                self.log.error("%s needs records but was sent batches reduced to counts "
                               "(a sender's 'aggregate' option): they are not counted",
                               self.context.name)
            return None
        file_id = self.dedupe_key(batch)
        done = self._applied.get(file_id)
        holes = self._holes.get(file_id, ())
        fresh = unapplied(done, holes, batch.start, batch.end)
        if not fresh and (batch.end > batch.start or (done is not None
                                                      and batch.end <= done)):
            self.counters["duplicate_batches"] += 1
            return None
        if fresh and fresh != [(batch.start, batch.end)]:
            if batch.counts is None:
                batch, dropped = keep_ranges(batch, fresh)
                self.counters["duplicate_lines"] += dropped
            else:  # counts cannot be cut at a line: senders trim before counting
                self.counters["overlapping_counted_batches"] += 1
                self.log.warning("%s: a counted batch of %s overlaps what was applied "
                                 "(bytes %d-%d, applied to %d): counted in full",
                                 self.context.name, batch.source.path, batch.start,
                                 batch.end, done or 0)
        if done is not None and fresh and fresh[0][0] < done:
            self.counters["late_batches"] += 1  # it fills a hole: overtaken, not lost
        end, holes, given_up = record(done, holes, batch.start, batch.end)
        if given_up:
            self.counters["holes_given_up"] += given_up
            self.log.warning("%s: %s has more than %d ranges not yet applied; the oldest "
                             "is given up (its lines, if they come, count as duplicates)",
                             self.context.name, batch.source.path, MAX_HOLES)
        if holes:
            self._holes[file_id] = holes
        else:
            self._holes.pop(file_id, None)
        self._applied[file_id] = end
        self._applied.move_to_end(file_id)
        self._applied_changed.add(file_id)
        self._applied_forgotten.discard(file_id)
        if len(self._applied) > self.max_tracked_files:
            forgotten, _ = self._applied.popitem(last=False)
            self._holes.pop(forgotten, None)
            self._applied_changed.discard(forgotten)
            self._applied_forgotten.add(forgotten)
        self.state_changed()
        self.counters["batches"] += 1
        self.counters["records"] += (len(batch.records) if batch.counts is None
                                     else batch.counts.requests)
        return batch

    def dedupe_key(self, batch: Batch) -> Hashable:
        """What the offsets of ``batch`` are counted in: its file identity. Any string or
        tuple of strings and numbers will do (the durable state saves it as JSON)."""
        return batch.source.file_id

    @abstractmethod
    def apply(self, batch: Batch) -> None:
        """Add the records of ``batch`` (already de-duplicated)."""


class OutputPlugin(Plugin[C]):
    """An output shows what collectors know; it queries them, never blocking for long.

    ``context.inputs`` names the collectors it reads; ``context.pipeline.query`` asks them
    with a timeout.
    """

    kind = "output"
