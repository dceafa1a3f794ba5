"""Per-interval rollups of records: what the time-series collector writes.

Records fall into buckets by their own time (not arrival time), ``interval_secs`` wide. Each
bucket counts requests and bytes by (source host, status class), requests, bytes and 5xx by
path, and keeps a sample of durations per host for percentiles. A bucket is written again,
whole, every time it changes: the store keeps the last write of a point (same measurement,
tags and time), so values are cumulative and a rewrite never double-counts.

Every point carries a ``run`` tag naming the collector instance (and a generation when a
bucket already evicted from memory is opened again by a late record): a restarted collector
or a late record then adds a series beside the old one instead of overwriting it with a
partial count, and sums over ``run`` are right.
"""

from __future__ import annotations

import math
import random
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field

from omphalos.messages import Batch

__all__ = ["Bucket", "Rollups", "percentile"]


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0-100) of sorted, non-empty ``ordered``."""
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _class(code: int) -> str:
    return f"{code // 100}xx" if 100 <= code < 600 else "other"


@dataclass
class Bucket:
    """Rollups of one interval."""

    start: int
    run: str
    #: (host, status class) -> [requests, bytes]
    by_host: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    path_hits: Counter[str] = field(default_factory=Counter)
    path_bytes: Counter[str] = field(default_factory=Counter)
    path_errors: Counter[str] = field(default_factory=Counter)
    #: host -> [sample of durations, count seen, sum]
    durations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    duration_seen: Counter[str] = field(default_factory=Counter)
    duration_sum: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))


class Rollups:
    """The open buckets, the ones changed since the last write, and eviction."""

    def __init__(self, interval_secs: int, run: str, max_open: int = 1000,
                 max_samples: int = 10_000) -> None:
        self.interval = max(1, int(interval_secs))
        self.run = run
        self.max_open = max_open
        self.max_samples = max_samples
        self.buckets: OrderedDict[int, Bucket] = OrderedDict()
        self.dirty: set[int] = set()
        self._generations: dict[int, int] = {}
        self._random = random.Random(0)
        self.reopened = 0

    def _bucket(self, start: int) -> Bucket:
        bucket = self.buckets.get(start)
        if bucket is None:
            gen = self._generations.get(start)
            run = self.run if gen is None else f"{self.run}.{gen}"
            if gen is not None:
                self.reopened += 1
            bucket = self.buckets[start] = Bucket(start, run)
            if len(self.buckets) > self.max_open:
                self._evict()
        return bucket

    def _evict(self) -> None:
        """Forget the oldest buckets (already written: eviction happens after a write)."""
        for start in sorted(self.buckets)[: len(self.buckets) - self.max_open]:
            if start in self.dirty:
                continue  # not written yet: kept until the next write
            del self.buckets[start]
            self._generations[start] = self._generations.get(start, 0) + 1
            if len(self._generations) > 100 * self.max_open:
                self._generations.pop(next(iter(self._generations)))

    def add(self, batch: Batch) -> None:
        """Fold the records of ``batch`` into their buckets."""
        cols = batch.records
        if not len(cols):
            return
        host = batch.source.host
        interval = self.interval
        durations = cols.duration or [None] * len(cols)
        current: Bucket | None = None
        for t, path, status, size, duration in zip(cols.time, cols.path, cols.status,
                                                   cols.bytes, durations):
            start = int(t // interval) * interval
            if current is None or current.start != start:
                current = self._bucket(start)
                self.dirty.add(start)
            cell = current.by_host.get((host, _class(status)))
            if cell is None:
                cell = current.by_host[(host, _class(status))] = [0, 0]
            cell[0] += 1
            cell[1] += size
            current.path_hits[path] += 1
            current.path_bytes[path] += size
            if status >= 500:
                current.path_errors[path] += 1
            if duration is not None:
                self._sample(current, host, duration)

    def _sample(self, bucket: Bucket, host: str, duration: float) -> None:
        seen = bucket.duration_seen[host] = bucket.duration_seen[host] + 1
        bucket.duration_sum[host] += duration
        sample = bucket.durations[host]
        if len(sample) < self.max_samples:
            sample.append(duration)
        else:  # reservoir sampling keeps the sample uniform
            slot = self._random.randrange(seen)
            if slot < self.max_samples:
                sample[slot] = duration

    def take_dirty(self) -> list[Bucket]:
        """The buckets changed since the last call, oldest first; then evicts old ones."""
        out = [self.buckets[s] for s in sorted(self.dirty) if s in self.buckets]
        self.dirty.clear()
        if len(self.buckets) > self.max_open:
            self._evict()
        return out
