"""Batches reduced to counts: the framework's counting mechanism.

A sender whose receiver only keeps counts (``workers = N`` feeding the ``summary``
collector, or a ``zmq`` sender with ``aggregate``) reduces each batch where it was parsed to
a :class:`~omphalos.counts.BatchAgg` with :func:`aggregate`, optionally cut to a top
table's capacity with :func:`reduce_counts`; collectors that count use the same functions
on record batches, so both paths give the same tables. Counting is columnar:
``Counter(cols.path)`` and the like at C speed over whole columns; only the per-key byte
sums loop in Python.

This module also holds the two pieces of arithmetic that counting shares with the
collectors' structures, so that no transport needs a collector's modules: the duration
bucket index of the quantile sketch (:func:`bucket_indexes`, logarithmic buckets of
relative accuracy ``alpha``) and the Misra-Gries reduction of one batch's counts
(:func:`reduction`, :func:`reduce_batch`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import compress
from typing import Any

from . import speedups
from .counts import BatchAgg, DimAgg
from .derived import (
    DERIVED_DIMENSIONS,
    FILTERED,
    MAPPED,
    SKIP,
    STATIC_EXTENSIONS,
    MappedKeys,
    derived_keys,
    mapped_keys,
    visitor_hashes,
)
from .records import Columns

__all__ = ["COLUMN_DIMENSIONS", "COMPOSITES", "BYTE_DIMENSIONS", "DEFAULT_ALPHA", "MIN_VALUE",
           "ZERO", "DEFAULT_COUNTING_OPTIONS", "aggregate", "reduce_counts", "reduction",
           "reduce_batch", "bucket_indexes", "inverse_log_gamma"]

#: Default relative accuracy (1%).
DEFAULT_ALPHA = 0.01
#: Values at or below this (seconds) are counted as zero.
MIN_VALUE = 1e-9
#: The bucket index of zero (and negative) values.
ZERO = -(2**31)


def inverse_log_gamma(alpha: float) -> float:
    """``1 / log(gamma)`` for relative accuracy ``alpha`` (0 < alpha < 1)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    return 1.0 / math.log((1.0 + alpha) / (1.0 - alpha))


def bucket_indexes(values: Iterable[float | None], inv_log_gamma: float) -> list[int]:
    """The bucket index of every value that is not None (zero values get :data:`ZERO`)."""
    log, ceil = math.log, math.ceil
    return [ceil(log(v) * inv_log_gamma) if v > MIN_VALUE else ZERO
            for v in values if v is not None]


def reduction(counts: Mapping[Any, int], capacity: int) -> int:
    """The ``capacity + 1``-th largest value of ``counts`` (0 when there are fewer)."""
    if len(counts) <= capacity:
        return 0
    values = Counter(counts.values())  # counts repeat a lot: cheaper than sorting them
    seen = 0
    for value in sorted(values, reverse=True):
        seen += values[value]
        if seen > capacity:
            return value
    return 0


def reduce_batch(capacity: int, hits: Mapping[Any, int],
                 nbytes: Mapping[Any, int] | None = None,
                 classes: Mapping[str, Mapping[Any, int]] | None = None,
                 durations: Mapping[Any, Mapping[int, int]] | None = None
                 ) -> tuple[int, Mapping[Any, int], Mapping[Any, int] | None,
                            Mapping[str, Mapping[Any, int]] | None,
                            Mapping[Any, Mapping[int, int]] | None]:
    """A batch's counts of one dimension reduced to at most ``capacity`` keys: the cut
    ``d`` (the ``capacity + 1``-th largest count, 0 when there are fewer keys), the hits
    less ``d`` of the keys left with something, and their bytes, classes and durations.
    A table fed the reduced counts plus the cut ends exactly as if fed the whole batch."""
    cut = reduction(hits, capacity)
    if not cut:
        return 0, hits, nbytes, classes, durations
    kept = {k: v - cut for k, v in hits.items() if v > cut}
    if nbytes:
        nbytes = {k: nbytes[k] for k in kept if k in nbytes}
    if classes:
        classes = {c: {k: d[k] for k in kept if k in d} for c, d in classes.items()}
    if durations:
        durations = {k: durations[k] for k in kept if k in durations}
    return cut, kept, nbytes, classes, durations


#: Dimensions read from a column of the same name (``host`` comes from the batch).
COLUMN_DIMENSIONS: tuple[str, ...] = ("path", "client", "method", "agent", "referer")
#: Pair dimensions (for drilling into one path): their keys are ``(path, status)`` and
#: ``(path, client)`` tuples.
COMPOSITES: dict[str, tuple[str, str]] = {"path_status": ("path", "status"),
                                          "path_client": ("path", "client")}
#: Dimensions whose bytes per key are counted by default (others answer ``bytes: null``).
BYTE_DIMENSIONS: tuple[str, ...] = ("path", "host")
INV_LOG_GAMMA = inverse_log_gamma(DEFAULT_ALPHA)
#: The options of :func:`aggregate` that change counts, at their defaults: what a sender
#: that counts by itself (a ``zmq`` sender's ``aggregate``) counts with.
DEFAULT_COUNTING_OPTIONS: dict[str, Any] = {"static_extensions": STATIC_EXTENSIONS,
                                            "geoip_database": ""}
DERIVED_SET = frozenset(DERIVED_DIMENSIONS)
#: Dimensions whose rows have duration figures (p95, min, avg, max): each key keeps its
#: duration buckets.
DURATION_DIMENSIONS = frozenset({"path", "not_found", "static", "vhost"})
_CLASS_NAMES = {1: "1xx", 3: "3xx", 4: "4xx", 5: "5xx"}


def _sum_by(keys: Sequence[Any], sizes: Sequence[int],
            distinct: Iterable[Any]) -> dict[Any, int]:
    """Each distinct key's bytes (in the order of ``distinct``); compiled where built."""
    if speedups.sum_by is not None:
        return speedups.sum_by(keys, sizes, distinct)
    out = dict.fromkeys(distinct, 0)
    for key, size in zip(keys, sizes):
        out[key] += size
    return out


def _class_groups(status: Sequence[int], codes: Collection[int]) -> list[tuple[str, list[int]]]:
    """The lines of each status class among ``codes`` (the batch's non-2xx codes), classes
    in the order of their first line: what every dimension's error counts are made of."""
    by_class: dict[str, set[int]] = {}
    for code in codes:
        by_class.setdefault(_CLASS_NAMES.get(code // 100, "other"), set()).add(code)
    odd = list(compress(range(len(status)), map(frozenset(codes).__contains__, status)))
    if len(by_class) == 1:
        return [(next(iter(by_class)), odd)]
    odd_status = list(map(status.__getitem__, odd))
    groups = [(cls, list(compress(odd, map(frozenset(of).__contains__, odd_status))))
              for cls, of in by_class.items()]
    groups.sort(key=lambda group: group[1][0])
    return groups


def _per_class(keys: Sequence[Any], groups: list[tuple[str, list[int]]],
               odd_counted: dict[str, Any], base_name: str | None) -> dict[str, dict[Any, int]]:
    """Each class's hits per key (keys in the order of their first line of the class); a
    mapped dimension folds the counts of its base column's values, counted once for every
    dimension derived from that column."""
    if base_name is None:
        return {cls: Counter(map(keys.__getitem__, lines)) for cls, lines in groups}
    mapped = isinstance(keys, MappedKeys)
    base_counts = odd_counted.get(base_name)
    if base_counts is None:
        base = keys.base if isinstance(keys, MappedKeys) else keys
        odd_counted[base_name] = base_counts = [
            Counter(map(base.__getitem__, lines)) for _, lines in groups]
    if not mapped:  # the column's own counts (read, never changed, by mapped ones)
        return {cls: counts for (cls, _), counts in zip(groups, base_counts)}
    assert isinstance(keys, MappedKeys)
    return {cls: keys.fold(counts) for (cls, _), counts in zip(groups, base_counts)}


def _line_buckets(has_dur: list[bool], buckets: list[int]) -> dict[int, int]:
    """Line number to duration bucket, for the lines that have a duration."""
    return dict(zip(compress(range(len(has_dur)), has_dur), buckets))


def aggregate(cols: Columns, host: str, dimensions: Iterable[str],
              byte_dimensions: Collection[str] = BYTE_DIMENSIONS,
              inv_log_gamma: float = INV_LOG_GAMMA,
              static_extensions: Collection[str] = STATIC_EXTENSIONS,
              geoip_database: str = "") -> BatchAgg:
    """Count ``cols`` per dimension (``dimensions`` among path, client, method, agent,
    referer, status, host and the derived ones of :mod:`omphalos.derived`); dimensions
    whose column the format lacks are left out. ``geoip_database``: the ``.mmdb`` file
    the ``country`` dimension reads (empty: the data ``iptocc`` ships). Bytes per key
    are summed only for ``byte_dimensions`` (a Python loop per line: the one cost that is
    not at C speed).

    Error classes are counted over the non-2xx lines only, class by class (no pair built
    per line), and ``not_found`` over the 404 lines only."""
    n = len(cols)
    agg = BatchAgg(requests=n)
    if not n:
        return agg
    status = cols.status
    sizes = cols.bytes
    agg.bytes = sum(sizes)
    agg.status = Counter(status)
    agg.first, agg.last = min(cols.time), max(cols.time)
    # the few non-2xx lines, by class, shared by every dimension
    odd_codes = [c for c in agg.status if not 200 <= c < 300]
    groups = _class_groups(status, odd_codes) if odd_codes else []
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
    derived: dict[str, Any] = {}  # what the derived dimensions share (parsed agents...)
    counted: dict[str, Any] = {}  # columns' counts, which mapped dimensions fold
    odd_counted: dict[str, Any] = {}  # the same for the non-2xx lines, class by class
    line_buckets: dict[int, int] | None = None
    for dim in dimensions:
        hits: Any = None
        base_name: str | None = None
        if dim == "host":
            classes = {c: {host: len(lines)} for c, lines in groups}
            agg.dims[dim] = DimAgg({host: n}, {host: agg.bytes}, classes)
            continue
        if dim == "not_found":  # the 404 lines only: a batch of their own
            lines404 = [i for c, lines in groups if c == "4xx"
                        for i in compress(lines, map((404).__eq__,
                                                     map(status.__getitem__, lines)))]
            if not lines404:
                continue
            keys404 = list(map(cols.path.__getitem__, lines404))
            hits = Counter(keys404)
            dim_agg = DimAgg(hits, _sum_by(keys404, list(map(sizes.__getitem__, lines404)),
                                           hits) if dim in byte_dimensions else {},
                             {"4xx": dict(hits)})
            if dim in DURATION_DIMENSIONS and buckets is not None and has_dur is not None:
                if line_buckets is None:
                    line_buckets = _line_buckets(has_dur, buckets)
                timed = [i for i in lines404 if i in line_buckets]
                dim_agg.durations = _durations_per_key(
                    map(cols.path.__getitem__, timed), map(line_buckets.__getitem__, timed))
            agg.dims[dim] = dim_agg
            continue
        if dim == "status":
            keys: Sequence[Any] = status
        elif dim in COMPOSITES:
            first, second = COMPOSITES[dim]
            keys = list(zip(getattr(cols, first), getattr(cols, second)))
        elif dim in MAPPED:
            mapped = mapped_keys(cols, dim, derived, static_extensions, geoip_database)
            if mapped is None:
                continue
            base_name, mapped_keys_ = mapped
            base_counts = counted.get(base_name)
            if base_counts is None:
                counted[base_name] = base_counts = Counter(mapped_keys_.base)
            hits = mapped_keys_.fold(base_counts)
            keys = mapped_keys_
            if dim == "visitors":
                agg.visitors = visitor_hashes(cols, keys, hits)
        elif dim in DERIVED_SET:
            found = derived_keys(cols, dim, derived, static_extensions, geoip_database)
            if found is None:
                continue
            keys = found
            if dim == "visitors":
                agg.visitors = visitor_hashes(cols, keys)
        else:
            column = getattr(cols, dim, None)
            if column is None:
                continue
            keys = column
            base_name = dim
        if hits is None:
            hits = agg.status if dim == "status" else Counter(keys)
            if dim in ("agent", "referer", "path", "client"):
                counted[dim] = hits
        nbytes = _sum_by(keys, sizes, hits) if dim in byte_dimensions else {}
        classes = _per_class(keys, groups, odd_counted, base_name) if groups else {}
        dim_agg = DimAgg(hits, nbytes, classes)
        if dim in DURATION_DIMENSIONS and buckets is not None and has_dur is not None:
            dim_agg.durations = _durations_per_key(compress(keys, has_dur), buckets)
        if dim in FILTERED:
            _drop_skipped(dim_agg)
            if not dim_agg.hits:
                continue
        agg.dims[dim] = dim_agg
    return agg


def _durations_per_key(keys: Iterable[Any], buckets: Iterable[int]) -> dict[Any, Counter[int]]:
    """Each key's duration buckets (keys and buckets of the same lines, in line order)."""
    per: dict[Any, Counter[int]] = {}
    for (key, index), count in Counter(zip(keys, buckets)).items():
        c = per.get(key)
        if c is None:
            per[key] = c = Counter()
        c[index] = count
    return per


def _drop_skipped(d: DimAgg) -> None:
    """Take the lines a filtered dimension does not count out of its counts."""
    d.hits = dict(d.hits)
    d.hits.pop(SKIP, None)
    if d.bytes:
        d.bytes.pop(SKIP, None)
    for per_class in d.classes.values():
        per_class.pop(SKIP, None)
    d.classes = {c: v for c, v in d.classes.items() if v}
    if d.durations:
        d.durations.pop(SKIP, None)


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
