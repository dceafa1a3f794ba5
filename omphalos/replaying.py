"""Replay on every core: files cut into byte ranges of whole lines, counted by processes.

``omphalos replay --workers N`` (:func:`parallel_replay`) plans the work first
(:func:`plan_ranges`): each file is cut into ranges of about ``range_bytes`` bytes, every cut
moved forward to just after a newline, so no line is ever split (a cut that falls inside a
JSON line, between a ``\\r`` and its ``\\n`` or inside a W3C header block lands after that
line). A pool of N worker processes (``forkserver``, else ``spawn``: never ``fork``, the
caller may run threads) parses the ranges with the configured parser plugin and reduces
each to counts (:class:`omphalos.counts.BatchAgg`: totals summed exactly with
:func:`omphalos.counts.add_counts`, each dimension's keys taken into a top table of the
collectors' capacity, :class:`~omphalos.lib.collectors.topk.TopTable`, as the collectors'
own tables take batches), plus its line and unparsed counts and a sample of its unparsed
lines. This process feeds the ranges' counts, in file order, to the collectors (the
same plugin code a one-process replay runs) and answers their queries.

Why the answer is the one-process answer:

* a range is parsed as the monitor would hand it over: chunks of at most ``read_bytes`` of
  whole lines, lines longer than ``max_line_bytes`` cut to that length, a last line without
  newline given one;
* a range that starts mid-file in a W3C file (a file whose first byte is ``#``) first learns
  the ``#Fields`` and ``#Date`` directives in force at its start: the last ones before it are
  found by scanning the file backwards and given to the parser ahead of the range (that
  prelude's own result is dropped). The ``auto`` parser decides a file's format from the
  file's head in every worker, so all ranges of a file get the same decision;
* counts add up exactly, and keys first seen in a later range come after those of earlier
  ones, so ties in top lists are listed in the same order.

The limits of "the same answer": a top table with more distinct keys than its ``capacity``
is approximate (Misra-Gries) and its counts then depend on how the lines were batched, in a
one-process replay too (whose batches depend on timing); the ``error_bounds`` of the answer
say by how much. The sample of unparsed lines shown (``bad_lines``) may differ when a chunk
has more than the parser's ``bad_sample`` unparsed lines (each chunk carries only that
many), and ``since`` (the wall clock at start) differs between any two runs. A W3C file
whose header blocks name different fields has the same limit for a counted dimension one
block lacks (an agent, a referer): the lines of that block count as ``-`` when they share a
batch with lines that have the field and are not counted otherwise, in one process too.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from .config import ConfigSource
from .counts import BatchAgg, DimAgg, add_counts
from .derived import AGENT_DIMENSIONS, fed_counts_only
from .directory import Directory
from .lib.collectors.topk import TopTable
from .messages import BadLine, Batch, LineChunk, Query, Source
from .records import Columns
from .registry import default_registry
from .settings import Settings
from .topology import ComponentSpec, build_components, build_settings
from .validate import enforce_ranges

__all__ = ["FileRange", "RangeCounts", "ParallelReplay", "plan_ranges", "can_count",
           "parallel_replay", "MIN_RANGE_BYTES", "MAX_RANGE_BYTES", "RANGES_PER_WORKER"]

#: Smallest range planned by default: below this, a process costs more than it saves.
MIN_RANGE_BYTES = 4 << 20
#: Ranges planned per worker by default: enough for the last ones to even out the load.
RANGES_PER_WORKER = 4
#: Largest range planned by default (about 380,000 combined lines): a worker holds a
#: range's exact counts until it ends, as many keys as the range has distinct values, so
#: a file of gigabytes is cut finer rather than into ``4 x workers`` huge ranges.
MAX_RANGE_BYTES = 64 << 20
#: W3C directives a range must know when it starts mid-file (what ``W3CStream`` keeps).
_STATE_DIRECTIVES = (b"fields", b"date")
_SCAN_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileRange:
    """Bytes ``[start, end)`` of ``path`` (whole lines); ``size`` is the file's size when
    planned (the range that ends there is the file's last: its last line may lack ``\\n``)."""

    path: str
    start: int
    end: int
    size: int


@dataclass(slots=True)
class RangeCounts:
    """What a worker sends back for one range: its counts, lines and unparsed lines."""

    lines: int = 0
    unparsed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    bad: list[BadLine] = field(default_factory=list)
    counts: BatchAgg = field(default_factory=BatchAgg)


def _next_line_start(mm: mmap.mmap, at: int, size: int) -> int:
    """The offset just after the first newline at or after ``at - 1`` (``size`` if none):
    ``at`` itself when a line starts there."""
    newline = mm.find(b"\n", at - 1)
    return size if newline < 0 else newline + 1


def plan_ranges(paths: Sequence[str], range_bytes: int) -> list[FileRange]:
    """Each file of ``paths`` cut into ranges of about ``range_bytes`` (at least 1) bytes,
    every cut just after a newline; in file order. Empty files have no range."""
    step = max(1, range_bytes)
    out: list[FileRange] = []
    for path in paths:
        size = os.path.getsize(path)
        if not size:
            continue
        cuts = [0]
        if size > step:
            with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                at = step
                while at < size:
                    cut = _next_line_start(mm, max(at, cuts[-1] + 1), size)
                    if cut >= size:
                        break
                    cuts.append(cut)
                    at = cut + step
        cuts.append(size)
        out.extend(FileRange(path, a, b, size) for a, b in pairwise(cuts))
    return out


def directives_before(path: str, before: int) -> bytes:
    """The last ``#Fields`` and ``#Date`` lines before offset ``before`` of a W3C file, in
    file order (empty when the file does not start with ``#`` or has none)."""
    if before <= 0:
        return b""
    with open(path, "rb") as fh:
        head = fh.read(4).lstrip(b"\xef\xbb\xbf")
        if not head.startswith(b"#"):
            return b""
        found: dict[bytes, tuple[int, bytes]] = {}
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = before
            while len(found) < len(_STATE_DIRECTIVES):
                newline = mm.rfind(b"\n#", 0, pos)
                line_start = newline + 1 if newline >= 0 else 0  # the file starts with "#"
                end = mm.find(b"\n", line_start, before)
                line = mm[line_start:before if end < 0 else end + 1]
                key = line.lstrip(b"\xef\xbb\xbf")[1:].split(b":", 1)[0].strip().lower()
                if key in _STATE_DIRECTIVES and key not in found:
                    found[key] = (line_start, line if line.endswith(b"\n") else line + b"\n")
                if newline < 0:
                    break
                pos = newline
    return b"".join(line for _, line in sorted(found.values()))


def _cut_long_lines(data: bytes, max_line_bytes: int) -> bytes:
    """``data`` (whole lines) with every line longer than ``max_line_bytes`` cut to that
    many bytes plus ``\\n``, as the file monitor cuts them (a quick check first)."""
    half = max(1, max_line_bytes // 2)
    find = data.find
    if all(find(b"\n", block, block + half) >= 0
           for block in range(0, max(0, len(data) - half) + 1, half)):
        return data
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" after the last newline
    cut = [line if len(line) <= max_line_bytes else line[:max_line_bytes] for line in lines]
    return b"\n".join(cut) + b"\n" + tail


def read_pieces(path: str, start: int, end: int, last: bool, read_bytes: int,
                max_line_bytes: int) -> Iterator[tuple[int, int, bytes]]:
    """``(start, end, data)`` pieces of whole lines covering ``[start, end)`` of ``path``,
    each at most about ``read_bytes``; ``last``: the range ends the file, so a last line
    without newline is given one."""
    with open(path, "rb") as fh:
        fd = fh.fileno()
        pos = start
        while pos < end:
            data = os.pread(fd, min(read_bytes, end - pos), pos)
            if not data:
                return
            if pos + len(data) < end:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one line longer than read_bytes: read on to its newline
                    more = [data]
                    while True:
                        block = os.pread(fd, read_bytes, pos + sum(map(len, more)))
                        newline = block.find(b"\n")
                        if not block or newline >= 0 or pos + sum(map(len, more)) >= end:
                            more.append(block[:newline + 1] if newline >= 0 else block)
                            break
                        more.append(block)
                    data = b"".join(more)
                    cut = len(data)
                data = data[:cut]
            stop = pos + len(data)
            if not data.endswith(b"\n"):
                if not last:
                    raise ValueError(f"{path}: range {start}-{end} does not end a line")
                data += b"\n"
            yield pos, stop, _cut_long_lines(data, max_line_bytes)
            pos = stop


@dataclass(frozen=True)
class _Job:
    """What every worker needs, sent once when it starts."""

    parser: ComponentSpec
    settings: Settings
    #: The collector class that counts records (``count_records``, ``cut_counts``).
    counter: Any
    dimensions: tuple[str, ...]
    #: The collectors' counting options (``counting_options``: static extensions...).
    options: dict[str, Any]
    capacity: int
    host: str
    read_bytes: int
    max_line_bytes: int
    bad_kept: int


_job: _Job | None = None
_parser: Any = None


def _init_worker(job: _Job) -> None:
    """Pool initializer: build this worker's parser once."""
    global _job, _parser
    # a terminal's ^C reaches the whole process group: the merging process decides (it
    # ends the pool), a worker must not die half-way through a range on its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _job = job
    context = _context(job.parser.name, job.settings)
    _parser = job.parser.cls(context, job.parser.config)
    _parser.setup()


def _context(name: str, settings: Settings) -> Any:
    from .plugin import PluginContext

    return PluginContext(name=name, settings=settings, directory=Directory())


def _file_id(path: str, start: int) -> str:
    st = os.stat(path)
    return f"replay:{st.st_dev}:{st.st_ino}@{start}"


def count_range(item: FileRange) -> RangeCounts:
    """Parse and count one range (in a worker: :func:`_init_worker` ran)."""
    assert _job is not None and _parser is not None
    job, parser = _job, _parser
    source = Source(job.host, item.path, _file_id(item.path, item.start), "monitor:files")
    out = RangeCounts()
    sample = getattr(job.parser.config, "bad_sample", 20)
    visitors: dict[str, set[int]] = {}
    # With a capacity, a range's keys go into top tables of that capacity, as the
    # collectors' own tables take batches: at most 4 x capacity keys per dimension in
    # memory, and none of the work of summing the many keys a table would drop (exact
    # while a dimension has at most ``capacity`` keys: nothing is ever cut then).
    tables: dict[str, TopTable] | None = {} if job.capacity else None
    prelude = directives_before(item.path, item.start)
    if prelude:  # the directives in force: the parser's state, not lines of this range
        parser.parse(LineChunk(source, 0, 0, len(prelude), prelude))
    for seq, (start, end, data) in enumerate(
            read_pieces(item.path, item.start, item.end, item.end >= item.size,
                        job.read_bytes, job.max_line_bytes), 1):
        chunk = LineChunk(source, seq, start, end, data)
        batch, rejected = enforce_ranges(parser.parse(chunk), chunk, sample)
        if rejected:  # what ParserPlugin.handle does: the dead-letter file keeps them
            parser.rejected(chunk, rejected)
        out.lines += batch.lines
        out.unparsed += batch.unparsed
        out.reasons.update(batch.unparsed_reasons)
        if batch.bad:
            out.bad.extend(batch.bad)
            del out.bad[: -job.bad_kept]
        if len(batch.records):
            counted = job.counter.count_records(batch.records, job.host, job.dimensions,
                                                job.options)
            # the visitors' hashes are made distinct once per range, not at every chunk
            # (add_counts rebuilds the list: quadratic in the range's visitors)
            for day, hashes in counted.visitors.items():
                visitors.setdefault(day, set()).update(hashes)
            counted.visitors = {}
            if tables is not None:  # each dimension into its bounded table
                for dim, d in counted.dims.items():
                    table = tables.get(dim)
                    if table is None:
                        tables[dim] = table = TopTable(job.capacity)
                    table.add(d.hits, d.bytes, d.classes, d.durations, d.cut, d.total)
                counted.dims = {}
            add_counts(out.counts, counted)
    out.counts.visitors = {day: list(hashes) for day, hashes in visitors.items()}
    if tables is not None:
        out.counts.dims = {dim: _table_counts(t) for dim, t in tables.items()}
    if job.capacity:
        out.counts = job.counter.cut_counts(out.counts, job.capacity)
    return out


def _table_counts(table: TopTable) -> DimAgg:
    """A range's table as counts: what it kept, what it cut and the hits it was given."""
    return DimAgg(dict(table.hits), dict(table.bytes),
                  {c: dict(v) for c, v in table.classes.items() if v},
                  {k: Counter(v) for k, v in table.durations.items()} or None,
                  table.floor, table.total)


def can_count(collectors: Sequence[ComponentSpec]) -> str | None:
    """Why these collectors cannot be fed a parallel replay's counts (None: they can)."""
    if not collectors:
        return "no collector"
    options = []
    for spec in collectors:
        if spec.cls.counted_dimensions(spec.config) is None:  # type: ignore[attr-defined]
            return f"{spec.name} needs records, not counts"
        if not (hasattr(spec.cls, "count_records") and hasattr(spec.cls, "counting_options")):
            return f"{spec.name} cannot count records itself (no count_records or counting_options)"
        options.append(spec.cls.counting_options(spec.config))
    if any(o != options[0] for o in options):
        return "the collectors count with different options (static_extensions...)"
    return None


class ParallelReplay:
    """The collectors of a replay config, fed the counts of ranges counted by workers."""

    def __init__(self, source: ConfigSource) -> None:
        self.settings = build_settings(source)
        specs = build_components(source, default_registry())
        parsers = [s for s in specs if s.kind == "parser"]
        monitors = [s for s in specs if s.kind == "monitor"]
        self.collector_specs = [s for s in specs if s.kind == "collector"]
        why = can_count(self.collector_specs)
        first = self.collector_specs[0] if self.collector_specs else None
        options = {} if why or first is None else \
            first.cls.counting_options(first.config)  # type: ignore[attr-defined]
        if len(parsers) != 1:
            why = why or "more than one parser"
        #: Why this config needs the one-process replay (None: it can run in parallel).
        self.refused = why
        monitor_config = monitors[0].config if monitors else None
        dims: list[str] = []
        capacities = []
        for spec in self.collector_specs:
            for dim in spec.cls.counted_dimensions(spec.config) or ():  # type: ignore[attr-defined]
                if dim not in dims:
                    dims.append(dim)
            capacities.append(spec.cls.counted_capacity(spec.config))  # type: ignore[attr-defined]
        self.job = _Job(
            parser=parsers[0] if parsers else specs[0], settings=self.settings,
            counter=self.collector_specs[0].cls if self.collector_specs else object,
            dimensions=tuple(dims),
            options=options,
            capacity=0 if not capacities or 0 in capacities else max(capacities),
            host=getattr(monitor_config, "host", "") or self.settings.host_name,
            read_bytes=getattr(monitor_config, "read_bytes", 1 << 20),
            max_line_bytes=getattr(monitor_config, "max_line_bytes", 65536),
            bad_kept=max([getattr(s.config, "bad_lines_kept", 100)
                          for s in self.collector_specs] or [100]))
        self.collectors: list[Any] = []

    def run(self, paths: Sequence[str], workers: int, range_bytes: int = 0,
            progress: Callable[[int], None] | None = None,
            stopped: Callable[[], bool] | None = None) -> bool:
        """Count ``paths`` with ``workers`` processes and feed the collectors; ``range_bytes``
        0: about ``total / (workers * RANGES_PER_WORKER)``, at least MIN_RANGE_BYTES and
        at most MAX_RANGE_BYTES.
        False when ``stopped()`` turned true first (the workers are then ended, and the
        collectors hold the ranges counted so far)."""
        if self.refused:
            raise ValueError(f"cannot replay in parallel: {self.refused}")
        total = sum(os.path.getsize(p) for p in paths)
        if range_bytes <= 0:
            range_bytes = min(MAX_RANGE_BYTES, max(
                MIN_RANGE_BYTES, -(-total // (workers * RANGES_PER_WORKER))))
        ranges = plan_ranges(paths, range_bytes)
        try:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods
                                              else "spawn")
            if ctx.get_start_method() == "forkserver":
                # imported once by the fork server, not once per worker (the user-agent
                # rules too, when an agent dimension is counted)
                preload = {__name__, self.job.parser.cls.__module__,
                           self.job.counter.__module__}
                if AGENT_DIMENSIONS.intersection(self.job.dimensions):
                    preload.add("omphalos.lib.useragent_preload")
                ctx.set_forkserver_preload(sorted(preload))
            with ctx.Pool(max(1, min(workers, len(ranges) or 1)), _init_worker,
                          (self.job,)) as pool:
                done = 0
                results = pool.imap(count_range, ranges)
                # set up while the fork server starts and the workers count (a serial
                # step before the pool otherwise); fed counts only, they load no rules
                self._set_up_collectors()
                for seq, item in enumerate(ranges, 1):
                    while True:
                        if stopped is not None and stopped():
                            pool.terminate()
                            return False
                        try:
                            counted = results.next(timeout=0.1)
                            break
                        except multiprocessing.TimeoutError:
                            continue
                    self._feed(seq, item, counted)
                    done += item.end - item.start
                    if progress is not None:
                        progress(done)
        except BaseException:
            self.close()
            raise
        return True

    def _set_up_collectors(self) -> None:
        """The collectors the ranges' counts are fed to."""
        with fed_counts_only():
            for spec in self.collector_specs:
                collector = spec.cls(_context(spec.name, self.settings), spec.config)
                collector.setup()
                self.collectors.append(collector)

    def _feed(self, seq: int, item: FileRange, counted: RangeCounts) -> None:
        batch = Batch(Source(self.job.host, item.path, _file_id(item.path, item.start),
                             "monitor:files"),
                      seq, item.start, item.end, Columns(), counted.lines,
                      unparsed=counted.unparsed, unparsed_reasons=dict(counted.reasons),
                      bad=tuple(counted.bad), counts=counted.counts)
        for collector in self.collectors:
            collector.receive(batch)

    def query(self, kind: str, **params: Any) -> Any:
        """The first collector's answer to ``kind`` (like :meth:`Pipeline.query`)."""
        errors = []
        for collector in self.collectors:
            try:
                return collector.answer(Query(kind, dict(params)))
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors) or "no collector")

    def close(self) -> None:
        for collector in self.collectors:
            collector.teardown()
        self.collectors = []


def parallel_replay(source: ConfigSource, paths: Sequence[str], workers: int,
                    range_bytes: int = 0) -> ParallelReplay:
    """Replay ``paths`` as ``source`` (a replay config) says, on ``workers`` processes;
    query the result with :meth:`ParallelReplay.query`, then :meth:`ParallelReplay.close`."""
    replay = ParallelReplay(source)
    replay.run(paths, workers, range_bytes)
    return replay
