"""Immutable messages that actors send each other.

Data flows downstream in batches (``LineChunk`` from a monitor to a parser, ``Batch`` from a
parser through a transport to the collectors); acknowledgements flow back upstream
(``Applied`` from a collector to its transport, ``Ack`` from a transport to the monitor).
A monitor commits a file offset only once the batch that ends there is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .counts import BatchAgg
from .records import Columns

__all__ = ["Source", "LineChunk", "BadLine", "Batch", "Ack", "Deliver", "Applied",
           "AwaitingSave", "Tick", "Query", "Stop", "Rewire"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a batch comes from.

    ``origin`` names the monitor that read it (acknowledgements are routed back by it);
    ``file_id`` identifies the file itself (device, inode and a fingerprint of its first
    bytes), so that offsets stay meaningful across renames and inode reuse.
    """

    host: str
    path: str
    file_id: str
    origin: str


@dataclass(frozen=True, slots=True)
class LineChunk:
    """Complete lines read from one file: bytes ``[start, end)``, each ending in ``\\n``."""

    source: Source
    seq: int
    start: int
    end: int
    data: bytes


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line a parser could not read: kept aside with the reason and where it came from."""

    offset: int
    reason: str
    line: str


@dataclass(frozen=True, slots=True)
class Batch:
    """Parsed records of the bytes ``[start, end)`` of one source file.

    ``seq`` numbers the batches of one monitor; ``lines`` counts every line read, parsed or
    not. ``bad`` holds at most a sample of unparsed lines (their count is in ``unparsed``,
    broken down by reason in ``unparsed_reasons``). A sender may reduce a batch to
    ``counts`` (:mod:`omphalos.counts`) for collectors that only count: ``records`` is then
    empty.
    """

    source: Source
    seq: int
    start: int
    end: int
    records: Columns
    lines: int
    unparsed: int = 0
    unparsed_reasons: dict[str, int] = field(default_factory=dict)
    bad: tuple[BadLine, ...] = ()
    counts: BatchAgg | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The batch ``seq`` of monitor ``origin`` (bytes up to ``end`` of ``file_id``) is safe.

    ``accepted`` is False when the receiver refused it for good (the monitor then counts it
    as lost rather than re-sending forever).
    """

    origin: str
    seq: int
    file_id: str
    end: int
    accepted: bool = True


@dataclass(frozen=True, slots=True)
class Deliver:
    """A transport hands ``batch`` to a collector and wants ``Applied`` back at ``reply_to``."""

    batch: Batch
    reply_to: Any  # pykka.ActorRef; Any keeps this module free of pykka


@dataclass(frozen=True, slots=True)
class Applied:
    """Collector ``collector`` has applied (or had already applied) the batch; ``accepted``
    is False when it quarantined it instead (:mod:`omphalos.quarantine`): done with all
    the same, never to be re-sent."""

    collector: str
    origin: str
    seq: int
    accepted: bool = True


@dataclass(frozen=True, slots=True)
class AwaitingSave:
    """``collector`` (durable) has applied the batch ``seq`` of monitor ``origin``; its
    ``Applied`` waits for the save that includes it. Not an acknowledgement (nothing may
    be committed on it): the transport may drop the batch's records, and a monitor in
    this process may read on (``MonitorConfig.max_in_flight``); sent by the collector to
    its transport and by a local transport to the monitor."""

    collector: str
    origin: str
    seq: int


@dataclass(frozen=True, slots=True)
class Tick:
    """Periodic wake-up sent by the scheduler; ``now`` is ``time.monotonic()``."""

    now: float


@dataclass(frozen=True, slots=True)
class Query:
    """A question for a collector (see ``omphalos.query`` for the kinds and answers).

    ``kind``: ``summary``, ``top``, ``series``, ``alerts``, ``status``...
    ``params``: keyword arguments of that kind (``dimension``, ``limit``, ``window_secs``...).
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stop:
    """Ask an actor to finish what it holds (flush, commit) before it is stopped."""


@dataclass(frozen=True, slots=True)
class Rewire:
    """Tell a running actor its new neighbours (a reload changed who feeds whom): the actor
    adopts them in its own thread, between two messages, keeping all its state."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
