"""Replay on every core: files cut into byte ranges of whole lines, counted by processes.

``omphalos replay --workers N`` (:func:`parallel_replay`) plans the work first
(:func:`plan_ranges`, :func:`plan_guided`): each file is cut into ranges of whole lines,
every cut moved forward to just after a newline, so no line is ever split (a cut that falls
inside a JSON line, between a ``\\r`` and its ``\\n`` or inside a W3C header block lands
after that line). By default the ranges shrink as the work goes (each a share of what is
left), so that the processes run out of work together instead of one core idling while
another ends a large last range. This process and N - 1 worker processes then take ranges
one at a time from a shared counter until none is left: N processes parse and count, none
only waits. The workers are forked from this process when it runs no other thread (nothing
to start or import again), else started by a fork server (``forkserver``, else ``spawn``).
Each range is parsed with the configured parser plugin and reduced to counts
(:class:`omphalos.counts.BatchAgg`: totals summed exactly with
:func:`omphalos.counts.add_counts`, each dimension's keys taken into a top table of the
collectors' capacity, :class:`~omphalos.lib.collectors.topk.TopTable`, as the collectors'
own tables take batches), plus its line and unparsed counts and a sample of its unparsed
lines; the workers send theirs back on a queue. This process feeds the ranges' counts, in
file order, to the collectors between ranges of its own (the same plugin code a one-process
replay runs) and answers their queries.

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

import gc
import mmap
import multiprocessing
import os
import queue
import signal
import threading
import traceback
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
from .lib.useragent import load_rules
from .messages import BadLine, Batch, LineChunk, Query, Source
from .records import Columns
from .registry import default_registry
from .settings import Settings
from .topology import ComponentSpec, build_components, build_settings
from .validate import enforce_ranges

__all__ = ["FileRange", "RangeCounts", "ParallelReplay", "ReplayError", "plan_ranges",
           "plan_guided", "can_count", "parallel_replay", "MIN_RANGE_BYTES", "MAX_RANGE_BYTES",
           "GUIDED_SHARE"]

#: Smallest range planned by default: below this, a range's fixed costs (its tables cut,
#: sent and merged) are no longer small against its counting.
MIN_RANGE_BYTES = 4 << 20
#: Each range planned by default is the bytes left / (this x the processes): large ranges
#: first, small ones last, so that every process runs out of work at about the same time.
GUIDED_SHARE = 2
#: Largest range planned by default (about 380,000 combined lines): a worker holds a
#: range's exact counts until it ends, as many keys as the range has distinct values, so
#: a file of gigabytes is cut finer rather than into ``4 x workers`` huge ranges.
MAX_RANGE_BYTES = 64 << 20
#: W3C directives a range must know when it starts mid-file (what ``W3CStream`` keeps).
_STATE_DIRECTIVES = (b"fields", b"date")
_SCAN_BLOCK = 1 << 20
#: Seconds a worker has to end once every range is counted (it only flushes its queue).
_END_SECS = 30.0


class ReplayError(RuntimeError):
    """A worker process failed or died: the replay's answer would lack its ranges."""


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


def plan_guided(paths: Sequence[str], processes: int, smallest: int = MIN_RANGE_BYTES,
                largest: int = MAX_RANGE_BYTES) -> list[FileRange]:
    """``paths`` cut into ranges that shrink as the work goes (guided self-scheduling):
    each about the bytes left in all files / (:data:`GUIDED_SHARE` x ``processes``), at
    least ``smallest`` and at most ``largest``; every cut just after a newline, in file
    order. Empty files have no range."""
    sizes = [(path, os.path.getsize(path)) for path in paths]
    left = sum(size for _, size in sizes)
    share = GUIDED_SHARE * max(1, processes)
    out: list[FileRange] = []
    for path, size in sizes:
        if not size:
            continue
        cuts = [0]
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            while True:
                step = min(largest, max(smallest, left // share, 1))
                if size - cuts[-1] < step + step // 2:  # no last range under half a step
                    break
                cut = _next_line_start(mm, cuts[-1] + step, size)
                if cut >= size:
                    break
                left -= cut - cuts[-1]
                cuts.append(cut)
        left -= size - cuts[-1]
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


def _make_parser(job: _Job) -> Any:
    """The parser plugin of ``job``, set up (one per process)."""
    parser = job.parser.cls(_context(job.parser.name, job.settings), job.parser.config)
    parser.setup()
    return parser


def _take(taken: Any, count: int) -> int | None:
    """The index of the next range nobody has taken yet (``taken``: a shared counter),
    None when all ``count`` are taken."""
    with taken.get_lock():
        index = int(taken.value)
        if index >= count:
            return None
        taken.value = index + 1
    return index


def _work(job: _Job, ranges: Sequence[FileRange], taken: Any, results: Any) -> None:
    """A worker process: count ranges until none is left (or the process that started it
    is gone), putting ``(index, counts)`` on ``results`` (``(-1, traceback)`` when counting
    failed)."""
    # a terminal's ^C reaches the whole process group: the merging process decides (it
    # ends the workers); a forked worker must not keep the handlers of the command either
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        parser = _make_parser(job)
        parent = multiprocessing.parent_process()
        while ((parent is None or parent.is_alive())
               and (index := _take(taken, len(ranges))) is not None):
            results.put((index, count_range(ranges[index], job, parser)))
    except Exception:  # noqa: BLE001  (sent to the merging process, which raises it)
        results.put((-1, traceback.format_exc()))
    results.close()
    results.join_thread()  # every result is in the pipe before the process ends


def _context(name: str, settings: Settings) -> Any:
    from .plugin import PluginContext

    return PluginContext(name=name, settings=settings, directory=Directory())


def _file_id(path: str, start: int) -> str:
    st = os.stat(path)
    return f"replay:{st.st_dev}:{st.st_ino}@{start}"


def count_range(item: FileRange, job: _Job, parser: Any,
                stopped: Callable[[], bool] | None = None) -> RangeCounts | None:
    """Parse and count one range with ``parser`` (:func:`_make_parser`); None when
    ``stopped()`` turned true first (asked between chunks)."""
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
        if stopped is not None and stopped():
            return None
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
        """Count ``paths`` with ``workers`` processes (this one and ``workers - 1`` worker
        processes) and feed the collectors; ``range_bytes`` 0: guided ranges
        (:func:`plan_guided`), else ranges of about that many bytes.
        False when ``stopped()`` turned true first (the workers are then ended, and the
        collectors hold the ranges counted so far)."""
        if self.refused:
            raise ValueError(f"cannot replay in parallel: {self.refused}")
        workers = max(1, workers)
        ranges = (plan_ranges(paths, range_bytes) if range_bytes > 0
                  else plan_guided(paths, workers))
        ctx = self._start_context()
        if ctx.get_start_method() == "fork" and AGENT_DIMENSIONS.intersection(
                self.job.dimensions):
            # this process parses agents too: the rules loaded once, before the fork, and
            # the workers have them (0.2 - 0.3 s of CPU less per worker, no later start)
            load_rules()
        taken = ctx.Value("q", 0)
        results = ctx.Queue()
        procs = [ctx.Process(target=_work, args=(self.job, ranges, taken, results),
                             name=f"omphalos-replay-{i + 1}", daemon=True)
                 for i in range(min(workers, len(ranges)) - 1)]
        frozen = ctx.get_start_method() == "fork" and bool(procs) and gc.isenabled()
        if frozen:
            # what this process holds now (modules, config, rules) is left out of every
            # garbage collection, here and in the forked workers: a collection would
            # otherwise write to each object's header, so copy its page into the worker
            # (copy-on-write), and walk it again at every full collection
            gc.freeze()
        try:
            for proc in procs:
                proc.start()
            # set up while the workers count; fed counts only, they load no rules
            self._set_up_collectors()
            parser = _make_parser(self.job)
            done = fed = 0  # bytes and ranges fed to the collectors, in file order
            pending: dict[int, RangeCounts] = {}
            while fed < len(ranges):
                if stopped is not None and stopped():
                    return False
                self._receive(results, pending, procs, wait=0.0)
                while fed in pending:
                    self._feed(fed + 1, ranges[fed], pending.pop(fed))
                    done += ranges[fed].end - ranges[fed].start
                    fed += 1
                    if progress is not None:
                        progress(done)
                if fed == len(ranges):
                    break
                index = _take(taken, len(ranges))
                if index is None:  # all taken: wait for the workers' last ones
                    self._receive(results, pending, procs, wait=0.1)
                    continue
                counted = count_range(ranges[index], self.job, parser, stopped)
                if counted is None:
                    return False
                pending[index] = counted
            for proc in procs:  # nothing is left to take: they end by themselves
                proc.join(_END_SECS)
                if proc.exitcode != 0:
                    raise ReplayError(f"replay worker {proc.name} died (exit code "
                                      f"{proc.exitcode})")
        except BaseException:
            self.close()
            raise
        finally:
            for proc in procs:
                if proc.pid is None:  # never started (the start of an earlier one failed)
                    continue
                if proc.is_alive():
                    proc.terminate()
                proc.join()
            results.close()
            results.cancel_join_thread()
            if frozen:
                gc.unfreeze()
        return True

    def _start_context(self) -> Any:
        """How the workers start: forked from this process when it runs no other thread
        (they have every module and rule it has loaded, and nothing starts again), else by
        a fork server (which imports the parser's and the counting collector's modules and
        the user-agent rules once for all), else spawned."""
        methods = multiprocessing.get_all_start_methods()
        if "fork" in methods and threading.active_count() == 1:
            return multiprocessing.get_context("fork")
        if "forkserver" not in methods:
            return multiprocessing.get_context("spawn")
        ctx = multiprocessing.get_context("forkserver")
        preload = {__name__, self.job.parser.cls.__module__, self.job.counter.__module__}
        if AGENT_DIMENSIONS.intersection(self.job.dimensions):
            preload.add("omphalos.lib.useragent_preload")
        ctx.set_forkserver_preload(sorted(preload))
        return ctx

    @staticmethod
    def _receive(results: Any, pending: dict[int, RangeCounts], procs: Sequence[Any],
                 wait: float) -> None:
        """Every result the workers have sent so far into ``pending``, waiting up to
        ``wait`` seconds when there is none yet; ReplayError when a worker failed, died,
        or every worker ended with ranges still missing."""
        while True:
            try:
                index, counted = results.get(timeout=wait) if wait else results.get_nowait()
            except queue.Empty:
                if not wait:
                    return
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise ReplayError(f"replay worker {dead[0].name} died (exit code "
                                      f"{dead[0].exitcode})") from None
                if all(p.exitcode is not None for p in procs) and results.empty():
                    raise ReplayError("the replay workers ended with ranges still "
                                      "uncounted") from None
                return
            if index < 0:
                raise ReplayError(f"a replay worker failed:\n{counted}")
            pending[index] = counted
            wait = 0.0

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
