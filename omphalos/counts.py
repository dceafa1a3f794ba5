"""A batch reduced to counts: what a sender may ship instead of the batch's records.

A summary needs only, per dimension, the hits (and bytes, error classes, duration buckets)
of each key. A sender whose receiver only keeps summaries (``workers = N`` feeding the
``summary`` collector) counts each batch where it was parsed and sends the counts: far fewer
bytes to encode and decode than the records, and the one receiving process, which every
worker feeds, is left with merging counts. :class:`BatchAgg` is that form (built by
``omphalos.lib.collectors.aggregate.aggregate``); :func:`counts_to_wire` and
:func:`counts_from_wire` convert it to and from plain msgpack-ready maps, checking every
value on the way in (anything malformed raises ``TypeError`` or ``ValueError``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DimAgg", "BatchAgg", "add_counts", "counts_to_wire", "counts_from_wire"]


@dataclass(slots=True)
class DimAgg:
    """One dimension of one batch: hits, bytes, non-2xx classes and duration buckets."""

    hits: dict[Any, int]
    bytes: dict[Any, int]
    classes: dict[str, dict[Any, int]]
    durations: dict[Any, Counter[int]] | None = None
    #: When the sender kept only the heavy keys (Misra-Gries, like the collectors' top
    #: tables): what it took off every count, and the hits before that (None: not reduced).
    cut: int = 0
    total: int | None = None


@dataclass(slots=True)
class BatchAgg:
    """A batch (or a slice of one) reduced to counts."""

    requests: int = 0
    bytes: int = 0
    status: Counter[int] = field(default_factory=Counter)
    durations: Counter[int] = field(default_factory=Counter)
    dims: dict[str, DimAgg] = field(default_factory=dict)
    first: float = 0.0
    last: float = 0.0
    #: Sum and number of the durations (seconds) the batch has, for an exact mean.
    duration_sum: float = 0.0
    duration_count: int = 0
    #: Per UTC date, the 64-bit hashes of the batch's distinct unique visitors (client,
    #: date, agent), for the ``visitors`` dimension's HyperLogLog (empty when not counted).
    visitors: dict[str, list[int]] = field(default_factory=dict)


def counts_to_wire(agg: BatchAgg) -> dict[str, Any]:
    """``agg`` as maps and numbers (short keys, like the rest of the wire format)."""
    return {
        "n": agg.requests, "b": agg.bytes, "s": dict(agg.status), "d": dict(agg.durations),
        "t0": agg.first, "t1": agg.last, "ds": agg.duration_sum, "dc": agg.duration_count,
        "v": agg.visitors,
        "k": {dim: [d.hits, d.bytes, d.classes,
                    None if d.durations is None else {k: dict(v) for k, v in d.durations.items()},
                    d.cut, d.total]
              for dim, d in agg.dims.items()},
    }


def counts_from_wire(body: Any) -> BatchAgg:
    """The :class:`BatchAgg` in ``body`` (from :func:`counts_to_wire`); TypeError or
    ValueError when anything in it is not what it should be."""
    if not isinstance(body, dict):
        raise TypeError("counts are not a map")
    dims: dict[str, DimAgg] = {}
    raw_dims = body.get("k", {})
    if not isinstance(raw_dims, dict):
        raise TypeError("dimensions are not a map")
    for dim, value in raw_dims.items():
        if not (isinstance(dim, str) and isinstance(value, list) and len(value) in (4, 6)):
            raise TypeError(f"dimension {dim!r} is not [hits, bytes, classes, durations, "
                            f"cut, total]")
        hits, nbytes, classes, durations = value[:4]
        cut, total = value[4:] if len(value) == 6 else (0, None)
        if not isinstance(classes, dict):
            raise TypeError(f"classes of {dim!r} are not a map")
        per_key = None
        if durations is not None:
            if not isinstance(durations, dict):
                raise TypeError(f"durations of {dim!r} are not a map")
            per_key = {key: Counter(_ints(buckets, "duration buckets"))
                       for key, buckets in durations.items()}
        dims[dim] = DimAgg(_ints(hits, "hits"), _ints(nbytes, "bytes"),
                           {_str(c): _ints(v, "classes") for c, v in classes.items()}, per_key,
                           _int(cut), None if total is None else _int(total))
    requests = _int(body["n"])
    if requests < 0:
        raise ValueError("negative request count")
    visitors = body.get("v", {})
    if not isinstance(visitors, dict):
        raise TypeError("visitors are not a map")
    for day, hashes in visitors.items():
        if not (isinstance(day, str) and isinstance(hashes, list)
                and all(type(h) is int and 0 <= h < 1 << 64 for h in hashes)):
            raise TypeError("visitors: expected dates and lists of 64-bit hashes")
    return BatchAgg(requests=requests, visitors=visitors, bytes=_int(body["b"]),
                    status=Counter(_ints(body["s"], "status")),
                    durations=Counter(_ints(body["d"], "duration buckets")), dims=dims,
                    first=_float(body["t0"]), last=_float(body["t1"]),
                    duration_sum=_float(body.get("ds", 0.0)),
                    duration_count=_int(body.get("dc", 0)))


def _ints(value: Any, what: str) -> dict[Any, int]:
    """A map whose values are all integers (its keys: any hashable a log field gives)."""
    if not isinstance(value, dict):
        raise TypeError(f"{what} are not a map")
    for count in value.values():
        if type(count) is not int:
            raise TypeError(f"{what}: expected whole numbers, got {type(count).__name__}")
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _float(value: Any) -> float:
    if type(value) not in (int, float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _add_into(mine: dict[Any, int], more: dict[Any, int]) -> None:
    """``mine[key] += more[key]``; keys new to ``mine`` are appended in ``more``'s order."""
    if not mine:
        mine.update(more)
        return
    # at C speed but for the keys both have: ``update`` keeps the place of a key ``mine``
    # has and appends the others in ``more``'s order; the shared keys then get their sums
    sums = {key: mine[key] + more[key] for key in mine.keys() & more.keys()}
    mine.update(more)
    mine.update(sums)


def add_counts(into: BatchAgg, more: BatchAgg) -> None:
    """Add every count of ``more`` into ``into`` (the counts of the lines after its own).

    Exact: the sum of the counts of two runs of lines is the counts of both, and keys first
    seen in ``more`` come after those of ``into`` (the order a top table fed line by line
    would list ties in). Only unreduced counts add up exactly (``cut`` 0 on both sides):
    reduced dimensions raise ValueError."""
    if not more.requests:
        return
    if not into.requests:
        into.first, into.last = more.first, more.last
    else:
        into.first = min(into.first, more.first)
        into.last = max(into.last, more.last)
    into.requests += more.requests
    into.bytes += more.bytes
    into.status.update(more.status)
    into.durations.update(more.durations)
    into.duration_sum += more.duration_sum
    into.duration_count += more.duration_count
    for dim, d in more.dims.items():
        if d.cut:
            raise ValueError(f"counts of {dim!r} were reduced: they do not add up exactly")
        mine = into.dims.get(dim)
        if mine is None:
            into.dims[dim] = DimAgg(dict(d.hits), dict(d.bytes),
                                    {c: dict(v) for c, v in d.classes.items()},
                                    None if d.durations is None else
                                    {k: Counter(v) for k, v in d.durations.items()})
            continue
        if mine.cut:
            raise ValueError(f"counts of {dim!r} were reduced: they do not add up exactly")
        _add_into(mine.hits, d.hits)
        _add_into(mine.bytes, d.bytes)
        for cls, counts in d.classes.items():
            _add_into(mine.classes.setdefault(cls, {}), counts)
        if d.durations is not None:
            if mine.durations is None:
                mine.durations = {}
            for key, buckets in d.durations.items():
                have = mine.durations.get(key)
                if have is None:
                    mine.durations[key] = Counter(buckets)
                else:
                    have.update(buckets)
    for date, hashes in more.visitors.items():  # distinct hashes: a HyperLogLog's input
        have_hashes = into.visitors.get(date)
        into.visitors[date] = (list(hashes) if have_hashes is None
                               else list(dict.fromkeys([*have_hashes, *hashes])))
