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
import time
from abc import ABCMeta, abstractmethod
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pykka

from .config import option
from .messages import (
    Ack,
    Applied,
    Batch,
    Deliver,
    LineChunk,
    Query,
    Rewire,
    Source,
    Stop,
    Tick,
)

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
    pipeline: Any = None  # the Pipeline, for outputs that query collectors


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

    max_in_flight: int = option(8, "Batches sent but not yet acknowledged before reading "
                                   "pauses (credit-based flow control).")
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


class MonitorPlugin(Plugin[MC]):
    """A monitor reads sources and emits ``LineChunk``s with :meth:`emit`.

    The base class does the flow control: at most ``max_in_flight`` chunks unacknowledged
    (:meth:`has_credit`), acknowledgements matched to chunks, and offsets handed to
    :meth:`commit` in order per file, only up to the last contiguous acknowledged byte. When
    an acknowledgement is overdue it calls :meth:`rewind` so the subclass re-reads from its
    committed offsets (collectors skip what they already applied).

    Subclass hooks: ``commit(file_id, offset)``, ``rewind()``, ``resume()`` (credit came
    back: read more). A monitor must give a file a new ``file_id`` whenever its content
    starts over (truncation), since offsets are only meaningful within one identity.
    """

    kind = "monitor"
    Config: ClassVar[type] = MonitorConfig

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
        self.host = config.host or context.settings.host_name

    def has_credit(self) -> bool:
        return len(self._in_flight) < self.config.max_in_flight

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

    def handle(self, message: Any) -> Any:
        if isinstance(message, Ack):
            self._on_ack(message)
            return None
        return super().handle(message)

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
            self.counters["chunks_acked"] += 1
            self.commit(item.file_id, item.end)
        self.resume()

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

    def handle(self, message: Any) -> Any:
        if isinstance(message, LineChunk):
            batch = self.parse(message)
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
        """Parse every line of ``chunk``; never raise for bad input."""


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


@dataclass
class _Pending:
    batch: Batch
    waiting: set[str]
    since: float
    on_done: Callable[[Batch], None] = field(repr=False, default=lambda b: None)


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

    def _on_applied(self, applied: Applied) -> None:
        key = (applied.origin, applied.seq)
        pending = self._pending.get(key)
        if pending is None:
            return
        pending.waiting.discard(applied.collector)
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


class CollectorPlugin(Plugin[C]):
    """A collector keeps data and answers queries.

    Subclasses implement :meth:`apply` (add a batch's records) and :meth:`answer`. The base
    class skips what was already applied: per file identity it remembers the end offset
    applied, drops a batch that lies before it and trims one that overlaps it, so a batch
    re-sent after a crash is never counted twice.
    """

    kind = "collector"
    #: File identities remembered for de-duplication (least recently used are forgotten).
    max_tracked_files: ClassVar[int] = 100_000

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
        self._applied: OrderedDict[str, int] = OrderedDict()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            self.receive(message.batch)
            self.acknowledge(message)
            return None
        if isinstance(message, Batch):
            self.receive(message)
            return None
        return super().handle(message)

    def acknowledge(self, delivered: Deliver) -> None:
        """Tell the transport that ``delivered`` is applied (its sender may forget it)."""
        batch = delivered.batch
        ref = delivered.reply_to
        if ref is not None:
            try:
                ref.tell(Applied(self.context.name, batch.source.origin, batch.seq))
            except pykka.ActorDeadError:
                self.counters["reply_lost"] += 1

    def receive(self, batch: Batch) -> None:
        """De-duplicate ``batch`` against what was applied, then :meth:`apply` the rest."""
        admitted = self.admit(batch)
        if admitted is not None:
            self.apply(admitted)

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
        file_id = batch.source.file_id
        done = self._applied.get(file_id, 0)
        if batch.end <= done:
            self.counters["duplicate_batches"] += 1
            return None
        if batch.start < done:
            if batch.counts is None:
                batch, dropped = drop_before(batch, done)
                self.counters["duplicate_lines"] += dropped
            else:  # counts cannot be cut at a line: senders trim before counting
                self.counters["overlapping_counted_batches"] += 1
                self.log.warning("%s: a counted batch of %s overlaps what was applied "
                                 "(bytes %d-%d, applied to %d): counted in full",
                                 self.context.name, batch.source.path, batch.start,
                                 batch.end, done)
        self._applied[file_id] = batch.end
        self._applied.move_to_end(file_id)
        if len(self._applied) > self.max_tracked_files:
            self._applied.popitem(last=False)
        self.counters["batches"] += 1
        self.counters["records"] += (len(batch.records) if batch.counts is None
                                     else batch.counts.requests)
        return batch

    @abstractmethod
    def apply(self, batch: Batch) -> None:
        """Add the records of ``batch`` (already de-duplicated)."""


def drop_before(batch: Batch, start: int) -> tuple[Batch, int]:
    """``batch`` without its lines before byte ``start`` (now its start), and how many
    records were dropped."""
    offsets = batch.records.offsets()
    keep = [i for i, off in enumerate(offsets) if off >= start]
    bad = tuple(b for b in batch.bad if b.offset >= start)
    lines = len(keep) + len(bad)
    trimmed = Batch(batch.source, batch.seq, start, batch.end, batch.records.select(keep),
                    lines, unparsed=len(bad),
                    unparsed_reasons=dict(Counter(b.reason for b in bad)), bad=bad)
    return trimmed, len(offsets) - len(keep)


class OutputPlugin(Plugin[C]):
    """An output shows what collectors know; it queries them, never blocking for long.

    ``context.inputs`` names the collectors it reads; ``context.pipeline.query`` asks them
    with a timeout.
    """

    kind = "output"
