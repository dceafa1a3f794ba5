"""Bounded-memory heavy hitters: a weighted, batched Space-Saving table with per-key stats.

One :class:`TopTable` counts one dimension (paths, clients...). It is fed pre-aggregated
``(key, count)`` pairs of a whole batch (never one call per record), and keeps at most
``SLACK * capacity`` keys (4x); when it holds more it prunes back to the ``capacity`` largest.

Error bound (Space-Saving, Metwally et al. 2005, weighted and batched):

- ``floor`` is an upper bound of the true count of every key NOT in the table. A key that
  enters the table gets the estimate ``batch count + floor`` and the error ``floor``.
- Every estimate over-counts: ``true <= hits <= true + error``, and
  ``error <= floor <= N / capacity`` (``N`` = total count added).
- So every key whose true count exceeds ``N / capacity`` is in the table, and the top-N
  read from the table is exact whenever the N-th count is above ``2 * N / capacity``.

Why the bound holds: ``floor`` only changes when pruning, to the ``capacity``-th largest
estimate, which is never less than what is dropped; each key entering between prunes adds
its batch count plus ``floor`` while each key dropped at the next prune takes away at least
``floor``, so the estimates of the kept keys sum to at most ``N``, and the ``capacity``-th
largest of them is at most ``N / capacity``.

Bytes, status classes and duration buckets of a key are counted from the moment it entered
the table (exact when its ``error`` is 0; a lower bound otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TopTable", "NON_2XX", "SLACK"]

#: Status classes counted per key; ``2xx`` is what remains of the key's hits.
NON_2XX: tuple[str, ...] = ("1xx", "3xx", "4xx", "5xx", "other")
#: A table prunes back to ``capacity`` keys when it holds more than ``SLACK * capacity``:
#: pruning costs a sort and a copy of the table, so it is done for many new keys at once.
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
    """Space-Saving over one dimension with hits, bytes, status classes, duration buckets."""

    __slots__ = (
        "bytes",
        "capacity",
        "classes",
        "durations",
        "errors",
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
        self.errors: dict[Any, int] = {}  # only keys with a non-zero error
        self.bytes: dict[Any, int] = {}
        self.classes: dict[str, dict[Any, int]] = {c: {} for c in NON_2XX}
        self.durations: dict[Any, dict[int, int]] = {}
        self.floor = 0
        self.total = 0

    def __len__(self) -> int:
        return len(self.hits)

    def add(self, hits: Mapping[Any, int], nbytes: Mapping[Any, int] | None = None,
            classes: Mapping[str, Mapping[Any, int]] | None = None,
            durations: Mapping[Any, Mapping[int, int]] | None = None) -> None:
        """Add a batch's aggregated counts: ``hits[key]``, ``nbytes[key]``,
        ``classes[class][key]`` (non-2xx classes only) and ``durations[key][bucket]``."""
        table = self.hits
        floor = self.floor
        self.total += sum(hits.values())
        if not table:
            table.update(hits)  # a new table (floor is 0): copied at C speed
        elif len(hits) > 64:
            # C-speed path for batches with many keys (most of them new): only the keys
            # already in the table are merged one by one
            old = hits.keys() & table.keys()
            for key in old:
                table[key] += hits[key]
            fresh = dict(hits)
            for key in old:
                del fresh[key]
            if floor and fresh:
                fresh = dict(zip(fresh.keys(), map(floor.__add__, fresh.values())))
                self.errors.update(dict.fromkeys(fresh, floor))
            table.update(fresh)
        else:
            for key, count in hits.items():
                if key in table:
                    table[key] += count
                else:
                    table[key] = count + floor
                    if floor:
                        self.errors[key] = floor
        if nbytes:
            _add_into(self.bytes, nbytes)
        if classes:
            for cls, counts in classes.items():
                if counts:
                    _add_into(self.classes[cls], counts)
        if durations:
            dur = self.durations
            for key, buckets in durations.items():
                have = dur.get(key)
                if have is None:
                    dur[key] = dict(buckets)
                else:
                    hget = have.get
                    for index, count in buckets.items():
                        have[index] = hget(index, 0) + count
        if len(table) > self.slack * self.capacity:
            self.prune()

    def prune(self) -> None:
        """Keep the ``capacity`` largest estimates; raise ``floor`` to the smallest kept."""
        cap = self.capacity
        table = self.hits
        if len(table) <= cap:
            return
        threshold = sorted(table.values())[-cap]
        keep = {k: v for k, v in table.items() if v > threshold}
        room = cap - len(keep)
        if room > 0:
            for key, value in table.items():
                if value == threshold:
                    keep[key] = value
                    room -= 1
                    if not room:
                        break
        self.floor = max(self.floor, threshold)
        self.hits = keep
        self.bytes = {k: v for k, v in self.bytes.items() if k in keep}
        self.errors = {k: v for k, v in self.errors.items() if k in keep}
        self.classes = {c: {k: v for k, v in d.items() if k in keep}
                        for c, d in self.classes.items()}
        if self.durations:
            self.durations = {k: v for k, v in self.durations.items() if k in keep}

    def merge(self, other: TopTable) -> None:
        """Add ``other``'s counts; the bounds add up (``floor`` and per-key errors)."""
        floor = self.floor
        self.floor = 0  # keys new to this table take other's error, added below
        self.add(other.hits, other.bytes, other.classes, other.durations)
        self.floor = max(self.floor, floor) + other.floor
        for key, err in other.errors.items():
            if key in self.hits:
                self.errors[key] = self.errors.get(key, 0) + err
        self.total += other.total - sum(other.hits.values())

    def error_bound(self) -> int:
        """The most any ``hits`` of this table over-counts (``floor``)."""
        return self.floor

    def row(self, key: Any) -> dict[str, Any]:
        """Raw counts of ``key``: hits, error, bytes, per class (2xx derived)."""
        hits = self.hits.get(key, 0)
        err = self.errors.get(key, 0)
        status = {c: d.get(key, 0) for c, d in self.classes.items()}
        status["2xx"] = max(0, hits - err - sum(status.values()))
        return {"hits": hits, "error": err, "bytes": self.bytes.get(key, 0), "status": status}
