"""A small mergeable quantile sketch for durations (DDSketch-style, logarithmic buckets).

A value ``x > 0`` goes into bucket ``i = ceil(log(x) / log(gamma))`` with
``gamma = (1 + alpha) / (1 - alpha)``; a bucket answers with ``2 * gamma**i / (gamma + 1)``.
Every quantile the sketch returns is within relative error ``alpha`` of a value of the exact
quantile's rank (``|answer - exact| <= alpha * exact``). Two sketches with the same ``alpha``
merge by adding their bucket counts, so per-second buckets, windows and hosts combine
exactly as if every value had been added to one sketch. Memory is one counter per occupied
bucket: with ``alpha = 1%`` the values from 1 microsecond to 1 hour need at most ~1,100
buckets, a typical latency distribution a few dozen.

Bucket indexes are computed for a whole column at once (:func:`bucket_indexes`) so
collectors can aggregate them with ``Counter`` before they reach a sketch.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from omphalos.counting import DEFAULT_ALPHA, MIN_VALUE, ZERO, bucket_indexes, inverse_log_gamma

__all__ = ["DEFAULT_ALPHA", "MIN_VALUE", "DDSketch", "bucket_indexes", "inverse_log_gamma"]


@functools.lru_cache(maxsize=16)
def _constants(alpha: float) -> tuple[float, float]:
    """``gamma`` and ``1 / log(gamma)`` of relative accuracy ``alpha``, worked out once per
    accuracy (a window makes a sketch for every new bucket)."""
    return (1.0 + alpha) / (1.0 - alpha), inverse_log_gamma(alpha)


class DDSketch:
    """Counts of values per logarithmic bucket; quantiles within relative error ``alpha``."""

    __slots__ = ("alpha", "count", "counts", "gamma", "inv")

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        self.alpha = alpha
        self.gamma, self.inv = _constants(alpha)
        self.counts: dict[int, int] = {}
        self.count = 0

    def add(self, value: float) -> None:
        """Add one value (prefer :meth:`add_many` or :meth:`add_buckets` for columns)."""
        self.add_buckets({bucket_indexes((value,), self.inv)[0]: 1})

    def add_many(self, values: Iterable[float | None]) -> None:
        """Add every value that is not None."""
        self.add_buckets(Counter(bucket_indexes(values, self.inv)))

    def add_buckets(self, buckets: Mapping[int, int]) -> None:
        """Add pre-aggregated ``{bucket index: count}`` (same ``alpha``)."""
        counts = self.counts
        get = counts.get
        total = 0
        for index, n in buckets.items():
            counts[index] = get(index, 0) + n
            total += n
        self.count += total

    def merge(self, other: DDSketch) -> None:
        """Add every value of ``other`` (same ``alpha``) to this sketch."""
        if other.alpha != self.alpha:
            raise ValueError("cannot merge sketches of different accuracy")
        self.add_buckets(other.counts)

    def value(self, index: int) -> float:
        """The value a bucket stands for."""
        if index == ZERO:
            return 0.0
        return 2.0 * self.gamma ** index / (self.gamma + 1.0)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) of the values added, None when there are none."""
        return quantiles_of(self.counts, (q,), self.alpha)[0]

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        return quantiles_of(self.counts, tuple(qs), self.alpha)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the history store)."""
        return {"alpha": self.alpha, "counts": [[k, v] for k, v in self.counts.items()]}

    def to_state(self) -> dict[str, Any]:
        """The bucket counts as plain data (durable collector state)."""
        return {"alpha": self.alpha, "counts": self.counts, "count": self.count}

    def restore_state(self, data: Mapping[str, Any]) -> None:
        """Load saved bucket counts (of the same accuracy)."""
        if float(data["alpha"]) != self.alpha:
            raise ValueError(f"a saved sketch has accuracy {data['alpha']}, not {self.alpha}")
        self.counts = {int(k): int(v) for k, v in data["counts"].items()}
        self.count = sum(self.counts.values())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DDSketch:
        sketch = cls(float(data["alpha"]))
        sketch.add_buckets({int(k): int(v) for k, v in data["counts"]})
        return sketch


def quantiles_of(counts: Mapping[int, int], qs: tuple[float, ...],
                 alpha: float = DEFAULT_ALPHA) -> list[float | None]:
    """Quantiles ``qs`` of bucket counts ``counts`` (lowest rank convention: the value of
    rank ``floor(q * (n - 1))`` counting from 0)."""
    n = sum(counts.values())
    if n == 0:
        return [None for _ in qs]
    gamma = (1.0 + alpha) / (1.0 - alpha)
    items = sorted(counts.items())
    out: list[float | None] = []
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be between 0 and 1, got {q!r}")
        rank = math.floor(q * (n - 1))
        seen = 0
        for index, c in items:
            seen += c
            if seen > rank:
                out.append(0.0 if index == ZERO else 2.0 * gamma ** index / (gamma + 1.0))
                break
    return out
