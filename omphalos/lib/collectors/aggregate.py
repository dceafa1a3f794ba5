"""Columnar aggregation of a batch, and the breakdown (totals + top tables) it feeds.

:func:`aggregate` turns a :class:`~omphalos.records.Columns` (or a slice of one) into
per-dimension ``Counter``s built at C speed over whole columns (``Counter(cols.path)``,
``Counter(zip(keys, classes))`` over the few non-2xx lines); only the per-key byte sums
loop in Python. :class:`Breakdown` adds such aggregates into Space-Saving tables
(:mod:`.topk`) and a duration sketch, and renders top rows in the shape of
:class:`omphalos.query.TopRow`. :func:`merged_top` combines the breakdowns of several
buckets (a sliding window) into one top list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from itertools import compress
from typing import Any

from omphalos.counts import BatchAgg, DimAgg
from omphalos.query import sort_key, status_class
from omphalos.records import Columns

from .sketch import DEFAULT_ALPHA, DDSketch, bucket_indexes, inverse_log_gamma, quantiles_of
from .topk import NON_2XX, SLACK, TopTable, reduce_batch

__all__ = ["COLUMN_DIMENSIONS", "COMPOSITES", "BYTE_DIMENSIONS", "BatchAgg", "DimAgg",
           "aggregate", "reduce_counts", "Breakdown", "merged_top", "display_key"]

#: Dimensions read from a column of the same name (``host`` comes from the batch).
COLUMN_DIMENSIONS: tuple[str, ...] = ("path", "client", "method", "agent", "referer")
#: Pair dimensions (for drilling into one path): their keys are ``(path, status)`` and
#: ``(path, client)`` tuples.
COMPOSITES: dict[str, tuple[str, str]] = {"path_status": ("path", "status"),
                                          "path_client": ("path", "client")}
#: Dimensions whose bytes per key are counted by default (others answer ``bytes: null``).
BYTE_DIMENSIONS: tuple[str, ...] = ("path", "host")
INV_LOG_GAMMA = inverse_log_gamma(DEFAULT_ALPHA)
_CLASS_NAMES = {1: "1xx", 3: "3xx", 4: "4xx", 5: "5xx"}


def _sum_by(keys: Sequence[Any], sizes: Sequence[int],
            distinct: Iterable[Any]) -> dict[Any, int]:
    out = dict.fromkeys(distinct, 0)
    for key, size in zip(keys, sizes):
        out[key] += size
    return out


def aggregate(cols: Columns, host: str, dimensions: Iterable[str],
              byte_dimensions: Collection[str] = BYTE_DIMENSIONS,
              inv_log_gamma: float = INV_LOG_GAMMA) -> BatchAgg:
    """Count ``cols`` per dimension (``dimensions`` among path, client, method, agent,
    referer, status, host); dimensions whose column the format lacks are left out. Bytes per
    key are summed only for ``byte_dimensions`` (a Python loop per line: the one cost that
    is not at C speed)."""
    n = len(cols)
    agg = BatchAgg(requests=n)
    if not n:
        return agg
    status = cols.status
    sizes = cols.bytes
    agg.bytes = sum(sizes)
    agg.status = Counter(status)
    agg.first, agg.last = min(cols.time), max(cols.time)
    # the few non-2xx lines, with their class, shared by every dimension
    odd_codes = frozenset(c for c in agg.status if not 200 <= c < 300)
    odd = list(compress(range(n), map(odd_codes.__contains__, status))) if odd_codes else []
    odd_classes = [_CLASS_NAMES.get(status[i] // 100, "other") for i in odd]
    durations = cols.duration
    buckets: list[int] | None = None
    has_dur: list[bool] | None = None
    if durations is not None:
        has_dur = [d is not None for d in durations]
        buckets = bucket_indexes(durations, inv_log_gamma)
        agg.durations = Counter(buckets)
        present: list[float] = list(compress(durations, has_dur))  # type: ignore[arg-type]
        agg.duration_sum = sum(present)
        agg.duration_count = len(present)
    for dim in dimensions:
        if dim == "host":
            classes = {c: {host: k} for c, k in Counter(odd_classes).items()}
            agg.dims[dim] = DimAgg({host: n}, {host: agg.bytes}, classes)
            continue
        if dim == "status":
            keys: Sequence[Any] = status
        elif dim in COMPOSITES:
            first, second = COMPOSITES[dim]
            keys = list(zip(getattr(cols, first), getattr(cols, second)))
        else:
            column = getattr(cols, dim, None)
            if column is None:
                continue
            keys = column
        hits = agg.status if dim == "status" else Counter(keys)
        nbytes = _sum_by(keys, sizes, hits) if dim in byte_dimensions else {}
        classes = {}
        if odd:
            pairs = Counter(zip([keys[i] for i in odd], odd_classes))
            for (key, cls), count in pairs.items():
                per_class = classes.get(cls)
                if per_class is None:
                    classes[cls] = per_class = {}
                per_class[key] = count
        dim_agg = DimAgg(hits, nbytes, classes)
        if dim == "path" and buckets is not None and has_dur is not None:
            per: dict[Any, Counter[int]] = {}
            for (key, index), count in Counter(zip(compress(keys, has_dur), buckets)).items():
                c = per.get(key)
                if c is None:
                    per[key] = c = Counter()
                c[index] = count
            dim_agg.durations = per
        agg.dims[dim] = dim_agg
    return agg


def reduce_counts(agg: BatchAgg, capacity: int) -> BatchAgg:
    """``agg`` with each dimension cut to at most ``capacity`` keys the way a top table of
    that capacity cuts a batch (:func:`.topk.reduce_batch`): a table fed the result ends
    exactly as if fed ``agg``, and a sender has far fewer keys to send when almost every
    line has a new client."""
    dims = {}
    for dim, d in agg.dims.items():
        cut, hits, nbytes, classes, durations = reduce_batch(capacity, d.hits, d.bytes,
                                                             d.classes, d.durations)
        if not cut:
            dims[dim] = d
            continue
        total = d.total if d.total is not None else sum(d.hits.values())
        dims[dim] = DimAgg(dict(hits), dict(nbytes or {}),
                           {c: dict(v) for c, v in (classes or {}).items()},
                           None if durations is None else
                           {k: Counter(v) for k, v in durations.items()},
                           d.cut + cut, total)
    return replace(agg, dims=dims)


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
        "requests",
        "status",
        "tables",
    )

    def __init__(self, capacity: int, dimensions: Iterable[str],
                 byte_dimensions: Collection[str] = BYTE_DIMENSIONS, slack: int = SLACK) -> None:
        self.capacity = capacity
        self.byte_dimensions = tuple(byte_dimensions)
        self.requests = 0
        self.bytes = 0
        self.status: Counter[int] = Counter()
        self.durations = DDSketch(DEFAULT_ALPHA)
        self.tables = {dim: TopTable(capacity, slack) for dim in dimensions}
        self.first: float | None = None
        self.last: float | None = None

    def add(self, agg: BatchAgg) -> None:
        if not agg.requests:
            return
        self.requests += agg.requests
        self.bytes += agg.bytes
        self.status.update(agg.status)
        if agg.durations:
            self.durations.add_buckets(agg.durations)
        self.first = agg.first if self.first is None else min(self.first, agg.first)
        self.last = agg.last if self.last is None else max(self.last, agg.last)
        for dim, d in agg.dims.items():
            table = self.tables.get(dim)
            if table is not None:
                table.add(d.hits, d.bytes, d.classes, d.durations, d.cut, d.total)

    def merge(self, other: Breakdown) -> None:
        """Add every count of ``other`` (a restored minute, a bucket)."""
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

    def status_classes(self) -> dict[str, int]:
        out = dict.fromkeys(("1xx", "2xx", "3xx", "4xx", "5xx"), 0)
        for code, count in self.status.items():
            cls = status_class(code)
            out[cls] = out.get(cls, 0) + count
        return out

    def top(self, dim: str, limit: int, sort: str = "hits", pattern: re.Pattern[str] | None
            = None, secs: float = 0.0) -> tuple[list[dict[str, Any]], int]:
        """Top rows of ``dim`` and the table's error bound; ``secs`` turns hits into rate."""
        table = self.tables.get(dim)
        if table is None:
            raise ValueError(f"this collector does not count {dim!r}")
        return (merged_top([table], dim, limit, sort, pattern, secs,
                           dim in self.byte_dimensions), table.error_bound())


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
               pattern: re.Pattern[str] | None = None, secs: float = 0.0,
               with_bytes: bool = True, select: Callable[[Any], bool] | None = None,
               label: Callable[[Any], str] | None = None) -> list[dict[str, Any]]:
    """Top ``limit`` rows of the sum of ``tables`` (buckets of a window, or one table);
    ``bytes`` is None in rows when ``with_bytes`` is false (bytes not counted per key).
    ``select`` keeps only some keys, ``label`` shows a key (default :func:`display_key`).

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
                measure = _summed(t.classes[cls] for t in tables)
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
                     "status": status, "p95": None, "_k": key})
    if any(t.durations for t in tables):
        for row in rows:
            merged: Counter[int] = Counter()
            for t in tables:
                found = t.durations.get(row["_k"])
                if found:
                    merged.update(found)
            if merged:
                row["p95"] = quantiles_of(merged, (0.95,))[0]
    if sort == "p95":
        rows.sort(key=sort_key(sort), reverse=True)
        rows = rows[:limit]
    for row in rows:
        del row["_k"]
    return rows


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
