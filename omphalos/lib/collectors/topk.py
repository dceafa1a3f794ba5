"""Bounded-memory heavy hitters: batched Space-Saving / Misra-Gries tables with per-key stats.

One :class:`TopTable` counts one dimension (paths, clients...). It is fed pre-aggregated
``(key, count)`` pairs of a whole batch (never one call per record), and keeps at most
``slack * capacity`` keys.

The algorithm is Space-Saving (Metwally et al. 2005) in its Misra-Gries form: the two are
isomorphic (Agarwal et al., "Mergeable summaries", 2012: a Space-Saving estimate is the
Misra-Gries counter plus the total decrement), and the Misra-Gries form can be merged and
reduced a whole batch at a time:

- a batch with more than ``capacity`` distinct keys is first reduced: its
  ``capacity + 1``-th largest count ``d`` is subtracted from every count of the batch and
  the keys left with nothing are dropped (``floor += d``). A batch of a thousand
  different clients seen once each costs one pass, not a thousand table updates;
- the batch is added to the table; when the table holds more than ``slack * capacity``
  keys, its ``capacity + 1``-th largest count ``d`` is subtracted from every key, those
  left with nothing are dropped, and ``floor += d``.

Each reduction by ``d`` removes at least ``(capacity + 1) * d`` from the counts, so, with
``N`` the total added:

- ``hits`` never over-counts and under-counts by at most ``floor``:
  ``hits <= true <= hits + floor``, and ``floor <= N / (capacity + 1)``;
- a key not in the table was seen at most ``floor`` times, so every key seen more than
  ``floor`` times is listed; when ``floor`` is 0 the table is exact.

Tables merge (buckets into a window, restored minutes) by adding counts; the floors add up.
Bytes, status classes and duration buckets of a key are counted from the moment it last
entered the table (exact when ``floor`` is 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omphalos.counting import reduce_batch, reduction
from omphalos.state import restore_object

__all__ = ["TopTable", "NON_2XX", "SLACK", "add_to_tables", "reduction", "reduce_batch"]

#: Status classes counted per key; ``2xx`` is what remains of the key's hits.
NON_2XX: tuple[str, ...] = ("1xx", "3xx", "4xx", "5xx", "other")
#: A table is reduced back to at most ``capacity`` keys when it holds more than
#: ``SLACK * capacity``: reducing costs a pass over the table, so it is done for many new
#: keys at once.
SLACK = 4


def _add_into(mine: dict[Any, int], counts: Mapping[Any, int]) -> None:
    """``mine[key] += counts[key]`` for every key (a C-speed copy when ``mine`` is empty)."""
    if not mine:
        mine.update(counts)
        return
    get = mine.get
    for key, count in counts.items():
        mine[key] = get(key, 0) + count


class TopTable:
    """Heavy hitters of one dimension with hits, bytes, status classes, duration buckets."""

    __slots__ = (
        "bytes",
        "capacity",
        "classes",
        "durations",
        "floor",
        "hits",
        "slack",
        "total",
    )

    def __init__(self, capacity: int, slack: int = SLACK) -> None:
        if capacity < 1 or slack < 2:
            raise ValueError("capacity must be at least 1 and slack at least 2")
        self.capacity = capacity
        self.slack = slack
        self.hits: dict[Any, int] = {}
        self.bytes: dict[Any, int] = {}
        #: Per non-2xx class (:data:`NON_2XX`) that has lines, its hits per key; a class
        #: without any has no dict (five empty dicts per table were 7% of what a fleet
        #: collector's window holds).
        self.classes: dict[str, dict[Any, int]] = {}
        self.durations: dict[Any, dict[int, int]] = {}
        self.floor = 0
        self.total = 0

    def __len__(self) -> int:
        return len(self.hits)

    def add(self, hits: Mapping[Any, int], nbytes: Mapping[Any, int] | None = None,
            classes: Mapping[str, Mapping[Any, int]] | None = None,
            durations: Mapping[Any, Mapping[int, int]] | None = None,
            cut: int = 0, total: int | None = None) -> None:
        """Add a batch's aggregated counts: ``hits[key]``, ``nbytes[key]``,
        ``classes[class][key]`` (non-2xx classes only) and ``durations[key][bucket]``.
        Counts a sender already reduced (:func:`reduce_batch`) come with the ``cut``
        it made and the ``total`` of the hits before it."""
        add_to_tables((self,), hits, nbytes, classes, durations, cut, total)

    def prune(self) -> None:
        """Subtract the ``capacity + 1``-th largest count from every key, drop the keys
        left with nothing (at most ``capacity`` remain) and raise ``floor`` by it."""
        cut = reduction(self.hits, self.capacity)
        if not cut:
            return
        keep = {k: v - cut for k, v in self.hits.items() if v > cut}
        self.floor += cut
        self.hits = keep
        self.bytes = {k: v for k, v in self.bytes.items() if k in keep}
        classes = {c: {k: v for k, v in d.items() if k in keep}
                   for c, d in self.classes.items()}
        self.classes = {c: d for c, d in classes.items() if d}
        if self.durations:
            self.durations = {k: v for k, v in self.durations.items() if k in keep}

    def merge(self, other: TopTable) -> None:
        """Add ``other``'s counts (a bucket, a restored minute); the floors add up."""
        self.add(other.hits, other.bytes, other.classes, other.durations)
        self.floor += other.floor
        self.total += other.total - sum(other.hits.values())

    def to_state(self) -> dict[str, Any]:
        """The table as plain data: every slot, each already plain (dicts of counts), so
        taken as it is (the hot path of a save)."""
        return {"bytes": self.bytes, "capacity": self.capacity, "classes": self.classes,
                "durations": self.durations, "floor": self.floor, "hits": self.hits,
                "slack": self.slack, "total": self.total}  # every slot

    def restore_state(self, data: dict[str, Any]) -> None:
        """Load a saved table; this table's capacity is kept (a table saved with a larger
        one is reduced to it)."""
        restore_object(self, data, keep=("capacity", "slack"))
        # states saved before classes were kept only when they have lines hold empty ones
        self.classes = {c: d for c, d in self.classes.items() if d}
        if len(self.hits) > self.slack * self.capacity:
            self.prune()

    def error_bound(self) -> int:
        """The most any ``hits`` of this table under-counts (``floor``)."""
        return self.floor

    def row(self, key: Any) -> dict[str, Any]:
        """Counts of ``key``: hits, bytes, per class (2xx derived)."""
        hits = self.hits.get(key, 0)
        classes = self.classes
        status = {c: classes[c].get(key, 0) if c in classes else 0 for c in NON_2XX}
        status["2xx"] = max(0, hits - sum(status.values()))
        return {"hits": hits, "bytes": self.bytes.get(key, 0), "status": status}


def add_to_tables(tables: Sequence[TopTable], hits: Mapping[Any, int],
                  nbytes: Mapping[Any, int] | None = None,
                  classes: Mapping[str, Mapping[Any, int]] | None = None,
                  durations: Mapping[Any, Mapping[int, int]] | None = None,
                  cut: int = 0, total: int | None = None) -> None:
    """:meth:`TopTable.add` of the same counts to each of ``tables`` (a window adds one
    second's counts to a bucket of every window and to their host parts): what depends on
    the counts only (their total, the reduction of a batch longer than the capacity) is
    worked out once for all tables of the same capacity. Each table ends exactly as if
    its own ``add`` had been called; the counts are only read."""
    if not tables:
        return
    capacity = tables[0].capacity
    if len(tables) > 1 and any(t.capacity != capacity for t in tables):
        for t in tables:
            add_to_tables((t,), hits, nbytes, classes, durations, cut, total)
        return
    added = sum(hits.values()) if total is None else total
    if len(hits) > capacity:
        # reduce the batch first: most of its keys never reach the table
        more, hits, nbytes, classes, durations = reduce_batch(capacity, hits, nbytes,
                                                              classes, durations)
        cut += more
    many = len(hits) > 64
    for t in tables:
        t.total += added
        t.floor += cut
        table = t.hits
        if not table:
            table.update(hits)
        elif many:
            old = hits.keys() & table.keys()
            for key in old:
                table[key] += hits[key]
            if len(old) < len(hits):
                if not old:
                    table.update(hits)
                else:
                    fresh = dict(hits)
                    for key in old:
                        del fresh[key]
                    table.update(fresh)
        else:
            get = table.get
            for key, count in hits.items():
                table[key] = get(key, 0) + count
        if nbytes:
            _add_into(t.bytes, nbytes)
        if classes:
            mine = t.classes
            for cls, counts in classes.items():
                if counts:
                    have = mine.get(cls)
                    if have is None:
                        mine[cls] = dict(counts)
                    else:
                        _add_into(have, counts)
        if durations:
            dur = t.durations
            if not dur:  # a new bucket's table: copies only
                t.durations = dict(zip(durations.keys(), map(dict, durations.values())))
            else:
                for key, buckets in durations.items():
                    have = dur.get(key)
                    if have is None:
                        dur[key] = dict(buckets)
                    else:
                        _add_into(have, buckets)
        if len(table) > t.slack * capacity:
            t.prune()
