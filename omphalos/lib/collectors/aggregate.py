"""The breakdown (totals + top tables) that batches reduced to counts feed.

Counting a batch (:func:`aggregate`, :func:`reduce_counts`) is a framework mechanism that
lives in :mod:`omphalos.counting` (senders count too); it is re-exported here for the
collectors. :class:`Breakdown` adds such aggregates into Space-Saving tables
(:mod:`.topk`) and a duration sketch, and renders top rows in the shape of
:class:`omphalos.query.TopRow`. :func:`merged_top` combines the breakdowns of several
buckets (a sliding window) into one top list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from omphalos.counting import (
    BYTE_DIMENSIONS,
    COLUMN_DIMENSIONS,
    COMPOSITES,
    aggregate,
    reduce_counts,
)
from omphalos.counts import BatchAgg, DimAgg
from omphalos.query import Filter, sort_key, status_class
from omphalos.state import object_state, restore_object

from ..hll import KeyedUniques, add_uniques, union_estimate
from .sketch import DEFAULT_ALPHA, DDSketch, quantiles_of
from .topk import NON_2XX, SLACK, TopTable, add_to_tables

__all__ = ["COLUMN_DIMENSIONS", "COMPOSITES", "BYTE_DIMENSIONS", "BatchAgg", "DimAgg",
           "aggregate", "reduce_counts", "Breakdown", "HostBreakdowns", "add_to_all", "SharedKeys",
           "merged_top",
           "display_key", "duration_range"]


def display_key(dim: str, key: Any) -> str:
    """A table key as the string a query answer shows (``-`` for a missing value)."""
    if key is None:
        return "-"
    return str(key)


class Breakdown:
    """Totals plus one Space-Saving table per dimension, fed with :class:`BatchAgg`s."""

    __slots__ = (
        "byte_dimensions",
        "bytes",
        "capacity",
        "durations",
        "first",
        "last",
        "per_host",
        "requests",
        "status",
        "tables",
        "visitors",
    )

    def __init__(self, capacity: int, dimensions: Iterable[str],
                 byte_dimensions: Collection[str] = BYTE_DIMENSIONS, slack: int = SLACK,
                 max_hosts: int = 0) -> None:
        dimensions = tuple(dimensions)
        self.capacity = capacity
        self.byte_dimensions = tuple(byte_dimensions)
        self.requests = 0
        self.bytes = 0
        self.status: Counter[int] = Counter()
        self.durations = DDSketch(DEFAULT_ALPHA)
        self.tables = {dim: TopTable(capacity, slack) for dim in dimensions}
        #: Unique visitors per UTC date (when ``visitors`` is counted).
        self.visitors = KeyedUniques()
        #: The same breakdown per source host, for the first ``max_hosts`` hosts (rows and
        #: series of one web server); None when not kept.
        self.per_host = HostBreakdowns(
            lambda: Breakdown(capacity, dimensions, byte_dimensions, slack), max_hosts) \
            if max_hosts else None
        self.first: float | None = None
        self.last: float | None = None

    def to_state(self) -> dict[str, Any]:
        """Totals, sketch and every table as plain data (each slot: generic over the
        dimensions and over fields added later)."""
        return object_state(self)

    def restore_state(self, data: dict[str, Any]) -> None:
        """Load a saved breakdown into this one, made for the current config: its
        dimensions' tables are restored, a dimension not saved starts empty, a saved one no
        longer configured is dropped."""
        restore_object(self, data, keep=("capacity", "byte_dimensions"))

    def add(self, agg: BatchAgg, host: str | None = None) -> None:
        """Add one batch's counts (of source ``host``, when the batch has one)."""
        if not agg.requests:
            return
        targets = [self]
        if self.per_host is not None:
            if host is not None:
                part = self.per_host.target(host, self)
                if part is not None:
                    targets.append(part)
            else:  # lines of no known host: the sole host's part is no longer the whole
                self.per_host.split(self)
        add_to_all(targets, agg)

    def merge(self, other: Breakdown) -> None:
        """Add every count of ``other`` (a restored minute, a bucket)."""
        if self.per_host is not None:
            self.per_host.merge(other, self)
        self.requests += other.requests
        self.bytes += other.bytes
        self.status.update(other.status)
        self.durations.merge(other.durations)
        for when in (other.first, other.last):
            if when is not None:
                self.first = when if self.first is None else min(self.first, when)
                self.last = when if self.last is None else max(self.last, when)
        for dim, table in other.tables.items():
            mine = self.tables.get(dim)
            if mine is not None:
                mine.merge(table)
        if other.visitors:
            self.visitors.merge(other.visitors)

    def for_host(self, host: str | None) -> Breakdown:
        """This breakdown, or its part of source ``host`` (ValueError when hosts are not
        kept apart, or ``host`` was never seen or not among the first ``max_hosts``)."""
        if host is None:
            return self
        if self.per_host is None:
            raise ValueError("this collector does not keep source hosts apart "
                             "(max_hosts = 0)")
        if self.per_host.sole == host:
            return self
        found = self.per_host.hosts.get(host)
        if found is None:
            raise ValueError(f"no counts of source host {host!r} (not seen, or beyond the "
                             f"first {self.per_host.max_hosts} hosts)")
        return found

    def status_classes(self) -> dict[str, int]:
        out = dict.fromkeys(("1xx", "2xx", "3xx", "4xx", "5xx"), 0)
        for code, count in self.status.items():
            cls = status_class(code)
            out[cls] = out.get(cls, 0) + count
        return out

    def top(self, dim: str, limit: int, sort: str = "hits", pattern: Filter | None
            = None, secs: float = 0.0) -> tuple[list[dict[str, Any]], int]:
        """Top rows of ``dim`` and the table's error bound; ``secs`` turns hits into rate."""
        table = self.tables.get(dim)
        if table is None:
            raise ValueError(f"this collector does not count {dim!r}")
        return (merged_top([table], dim, limit, sort, pattern, secs,
                           dim in self.byte_dimensions, uniques=[self.visitors]),
                table.error_bound())


class HostBreakdowns:
    """One :class:`Breakdown` per source host, for the first ``max_hosts`` hosts seen.

    While a breakdown has seen one host only (one web server replayed, most window
    buckets), that host's part is the whole breakdown: nothing is counted twice
    (``sole``). The part is copied out of the whole when a second host arrives."""

    __slots__ = ("hosts", "make", "max_hosts", "sole")

    def __init__(self, make: Callable[[], Breakdown], max_hosts: int) -> None:
        self.make = make
        self.max_hosts = max_hosts
        self.hosts: dict[str, Breakdown] = {}
        #: The one host the whole breakdown is of (None: none yet, or several).
        self.sole: str | None = None

    def __bool__(self) -> bool:
        return bool(self.hosts) or self.sole is not None

    def _get(self, host: str) -> Breakdown | None:
        found = self.hosts.get(host)
        if found is None and len(self.hosts) < self.max_hosts:
            self.hosts[host] = found = self.make()
        return found

    def split(self, whole: Breakdown) -> None:
        """The sole host's part becomes a breakdown of its own (a copy of the whole)."""
        if self.sole is not None:
            part = self.make()
            part.merge(whole)
            self.hosts[self.sole] = part
            self.sole = None

    def target(self, host: str, whole: Breakdown) -> Breakdown | None:
        """The part that counts of ``host`` about to be added to ``whole`` go into as well
        (None: the whole is that host's part, or ``max_hosts`` parts are taken): the
        sole host's part is split out first when another host arrives."""
        if self.sole == host:
            return None
        if self.sole is None and not self.hosts and not whole.requests:
            self.sole = host
            return None
        self.split(whole)
        return self._get(host)

    def parts(self, whole: Breakdown) -> dict[str, Breakdown]:
        """Each host's part of ``whole``."""
        return {self.sole: whole} if self.sole is not None else self.hosts

    def merge(self, other: Breakdown, whole: Breakdown) -> None:
        """Add the host parts of ``other`` (``whole``: the breakdown, before ``other``'s
        totals are added)."""
        theirs = other.per_host
        if theirs is None:
            return
        incoming = theirs.parts(other)
        if not incoming:
            return
        if (len(incoming) == 1 and not self.hosts and not whole.requests
                and self.sole is None):
            self.sole = next(iter(incoming))
            return
        if set(incoming) != {self.sole}:
            self.split(whole)
        if self.sole is not None:  # the same one host on both sides
            return
        for host, breakdown in incoming.items():
            found = self._get(host)
            if found is not None:
                found.merge(breakdown)

    def to_state(self) -> dict[str, Any]:
        return {"sole": self.sole,
                "hosts": {host: b.to_state() for host, b in self.hosts.items()}}

    def restore_state(self, data: dict[str, Any] | None) -> None:
        self.hosts = {}
        if not isinstance(data, dict):  # saved while hosts were not kept apart
            self.sole = None
            return
        self.sole = data.get("sole")
        for host, saved in dict(data.get("hosts", {})).items():
            found = self._get(host)
            if found is not None:
                found.restore_state(saved)


def add_to_all(targets: Sequence[Breakdown], agg: BatchAgg) -> None:
    """Add ``agg``'s totals, sketch and tables to every one of ``targets`` (breakdowns of
    the same dimensions: a second's bucket of every window and their host parts; their
    own host parts are not touched): each table of a dimension through one
    :func:`.topk.add_to_tables`, the visitors' register entries worked out once. Every
    target ends exactly as if ``agg`` had been added to it alone."""
    if not agg.requests:
        return
    status = agg.status
    durations = agg.durations
    first, last = agg.first, agg.last
    for b in targets:
        b.requests += agg.requests
        b.bytes += agg.bytes
        b.status.update(status)
        if durations:
            b.durations.add_buckets(durations)
        b.first = first if b.first is None else min(b.first, first)
        b.last = last if b.last is None else max(b.last, last)
    for dim, d in agg.dims.items():
        tables = [t for t in (b.tables.get(dim) for b in targets) if t is not None]
        if tables:
            add_to_tables(tables, d.hits, d.bytes, d.classes, d.durations, d.cut, d.total)
    if agg.visitors:
        uniques = [b.visitors for b in targets if "visitors" in b.tables]
        if uniques:
            add_uniques(uniques, agg.visitors)


#: Dimensions whose keys are values of the records (a path, a client, a pair of them): new
#: objects in every batch decoded (:class:`SharedKeys`).
SHARED_DIMENSIONS = frozenset((*COLUMN_DIMENSIONS, *COMPOSITES, "not_found"))


class SharedKeys:
    """One object per distinct key (a path, a client, a ``(path, status)`` pair) for
    every table that counts it: each batch a collector decodes, and each count of a
    pair, makes new but equal key objects, and a window's buckets and host parts would
    each keep their own (at 50 hosts, a quarter of what the window holds). Keys are shared
    within a dimension (whose keys all come from one column, or pair of columns), and
    equal keys of different types (``1`` and ``True``) are kept apart. At most ``limit``
    keys are remembered: then it starts afresh (keys already in tables stay as they
    are)."""

    __slots__ = ("count", "keys", "limit")

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        #: Per dimension, each key remembered (the object tables hold).
        self.keys: dict[str, dict[Any, Any]] = {}
        self.count = 0

    def _map(self, keys: dict[Any, Any], counts: dict[Any, Any]) -> dict[Any, Any]:
        """``counts`` with each key replaced by its shared object of ``keys`` (same
        order; keys not there yet are added)."""
        get = keys.get
        out = {}
        for key, value in counts.items():
            found = get(key)
            if found is None or type(found) is not type(key):
                if found is None:
                    keys[key] = key
                found = key
            out[found] = value
        return out

    def share(self, agg: BatchAgg) -> None:
        """Replace the keys of ``agg``'s counts by their shared objects, in place, in the
        dimensions whose keys are the records' values (:data:`SHARED_DIMENSIONS`; the
        others have a few keys per bucket, most of them shared already)."""
        if self.count > self.limit:
            self.keys = {}
        share = self._map
        for dim, d in agg.dims.items():
            if dim not in SHARED_DIMENSIONS:
                continue
            keys = self.keys.get(dim)
            if keys is None:
                self.keys[dim] = keys = {}
            d.hits = share(keys, d.hits)
            if d.bytes:
                d.bytes = share(keys, d.bytes)
            if d.classes:
                d.classes = {c: share(keys, v) for c, v in d.classes.items()}
            if d.durations:
                d.durations = share(keys, d.durations)
        self.count = sum(map(len, self.keys.values()))


def _summed(dicts: Iterable[dict[Any, int]]) -> dict[Any, int]:
    """The key-wise sum of ``dicts`` (the first one copied at C speed)."""
    out: dict[Any, int] = {}
    for d in dicts:
        if not out:
            out = dict(d)
            continue
        get = out.get
        for key, value in d.items():
            out[key] = get(key, 0) + value
    return out


#: A ``p95`` ranking looks at this many times ``limit`` of the most hit keys (a rarely hit
#: key's p95 says little, and merging every key's sketch would make the query slow).
P95_CANDIDATES = 20


def merged_top(tables: Sequence[TopTable], dim: str, limit: int, sort: str = "hits",
               pattern: Filter | None = None, secs: float = 0.0,
               with_bytes: bool = True, select: Callable[[Any], bool] | None = None,
               label: Callable[[Any], str] | None = None,
               uniques: Sequence[KeyedUniques] = ()) -> list[dict[str, Any]]:
    """Top ``limit`` rows of the sum of ``tables`` (buckets of a window, or one table);
    ``bytes`` is None in rows when ``with_bytes`` is false (bytes not counted per key).
    ``select`` keeps only some keys, ``label`` shows a key (default :func:`display_key`).
    ``uniques``: the unique visitors of the same buckets (``visitors`` rows show them).

    Only the hits are merged over every key (plus the one measure sorted by); the other
    figures are summed for the rows shown."""
    if sort == "bytes" and not with_bytes:
        raise ValueError(f"bytes are not counted per {dim}")
    hits = tables[0].hits if len(tables) == 1 else _summed(t.hits for t in tables)
    show = label or (lambda k: display_key(dim, k))
    keys: list[Any] | dict[Any, int] = hits
    if select is not None:
        keys = [k for k in keys if select(k)]
    if pattern is not None:
        keys = [k for k in keys if pattern.search(show(k))]
    by_hits = sorted(keys, key=hits.__getitem__, reverse=True)
    if sort in ("hits", "rate"):
        candidates = by_hits[:limit]
    elif sort == "p95":
        candidates = by_hits[:limit * P95_CANDIDATES]
    else:
        if sort == "bytes":
            measure = _summed(t.bytes for t in tables)
        else:
            cls = "5xx" if sort == "errors" else sort
            if cls == "2xx":
                measure = {k: _row(tables, k)["status"]["2xx"] for k in by_hits}
            else:
                measure = _summed(t.classes.get(cls, {}) for t in tables)
        get = measure.get
        candidates = sorted(by_hits, key=lambda k: (get(k, 0), hits[k]), reverse=True)[:limit]
    rows = []
    for key in candidates:
        row = _row(tables, key)
        h = hits[key]
        status = row["status"]
        rows.append({"key": show(key), "hits": h,
                     "rate": round(h / secs, 3) if secs > 0 else 0.0,
                     "bytes": row["bytes"] if with_bytes else None, "errors": status["5xx"],
                     "status": status, "p95": None, "min": None, "avg": None, "max": None,
                     "_k": key})
    if any(t.durations for t in tables):
        for row in rows:
            merged: Counter[int] = Counter()
            for t in tables:
                found = t.durations.get(row["_k"])
                if found:
                    merged.update(found)
            if merged:
                row["p95"] = quantiles_of(merged, (0.95,))[0]
                row["min"], row["avg"], row["max"] = duration_range(merged)
    if dim == "visitors":
        for row in rows:
            row["visitors"] = union_estimate(uniques, row["_k"])
    if sort == "p95":
        rows.sort(key=sort_key(sort), reverse=True)
        rows = rows[:limit]
    for row in rows:
        del row["_k"]
    return rows


def duration_range(buckets: Counter[int] | dict[int, int]) -> tuple[float, float, float]:
    """The fastest, mean and slowest duration of sketch ``buckets`` (each within the
    sketch's relative accuracy: a bucket stands for every value in it)."""
    value = _SKETCH.value
    lowest, highest = min(buckets), max(buckets)
    n = sum(buckets.values())
    mean = sum(value(i) * c for i, c in buckets.items()) / n
    return value(lowest), mean, value(highest)


_SKETCH = DDSketch(DEFAULT_ALPHA)


def _row(tables: Sequence[TopTable], key: Any) -> dict[str, Any]:
    """Bytes and status classes of ``key`` summed over ``tables``."""
    hits = nbytes = 0
    counts = dict.fromkeys(NON_2XX, 0)
    for t in tables:
        h = t.hits.get(key)
        if h is None:
            continue
        hits += h
        nbytes += t.bytes.get(key, 0)
        for c, d in t.classes.items():
            if d:
                counts[c] += d.get(key, 0)
    other = counts.pop("other")
    status = {"1xx": counts["1xx"], "2xx": max(0, hits - other - sum(counts.values())),
              "3xx": counts["3xx"], "4xx": counts["4xx"], "5xx": counts["5xx"]}
    return {"bytes": nbytes, "status": status}
