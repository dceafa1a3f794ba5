"""Property tests: the quantile sketch (accuracy, merging) and Space-Saving (error bound,
counts cut by a sender)."""

from __future__ import annotations

import math
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from omphalos.lib.collectors.aggregate import aggregate, reduce_counts
from omphalos.lib.collectors.sketch import DDSketch
from omphalos.lib.collectors.topk import SLACK, TopTable
from omphalos.records import Columns

values = st.lists(st.floats(min_value=1e-6, max_value=1e4, allow_nan=False), min_size=1,
                  max_size=300)


def exact_quantile(data: list[float], q: float) -> float:
    ordered = sorted(data)
    return ordered[math.floor(q * (len(ordered) - 1))]


@settings(max_examples=150, deadline=None)
@given(values, st.floats(min_value=0.0, max_value=1.0))
def test_quantiles_within_relative_error(data: list[float], q: float) -> None:
    sketch = DDSketch(0.01)
    sketch.add_many(data)
    got = sketch.quantile(q)
    exact = exact_quantile(data, q)
    assert got is not None
    assert abs(got - exact) <= 0.01 * exact * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(values, min_size=1, max_size=6))
def test_merged_sketches_equal_one_sketch_of_everything(parts: list[list[float]]) -> None:
    merged = DDSketch(0.01)
    for part in parts:
        piece = DDSketch(0.01)
        piece.add_many(part)
        merged.merge(piece)
    whole = DDSketch(0.01)
    whole.add_many([v for part in parts for v in part])
    assert merged.counts == whole.counts and merged.count == whole.count
    assert merged.quantiles((0.5, 0.95, 0.99)) == whole.quantiles((0.5, 0.95, 0.99))
    restored = DDSketch.from_dict(merged.to_dict())
    assert restored.counts == merged.counts


def check_bound(table: TopTable, truth: Counter[str], capacity: int) -> None:
    total = sum(truth.values())
    assert table.total == total
    assert len(table) <= SLACK * capacity
    assert table.floor <= total / (capacity + 1)
    for key, hits in table.hits.items():
        assert hits <= truth[key] <= hits + table.floor
    for key, count in truth.items():
        if count > table.floor:
            assert key in table.hits, (key, count, table.floor)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=400), max_size=200), max_size=30),
       st.integers(min_value=1, max_value=40), st.floats(min_value=0.5, max_value=2.0))
def test_space_saving_error_bound(batches: list[list[int]], capacity: int, skew: float) -> None:
    """Counts under-estimate by at most the floor, the floor is at most N / (capacity + 1),
    and every key seen more often than that is kept, however the stream is split."""
    table = TopTable(capacity)
    truth: Counter[str] = Counter()
    for batch in batches:
        keys = [f"/p{int(v ** skew) % 500}" for v in batch]  # skewed key frequencies
        counts = Counter(keys)
        truth.update(counts)
        table.add(counts)
        check_bound(table, truth, capacity)


def test_space_saving_with_a_million_distinct_keys_stays_small() -> None:
    rng = random.Random(7)
    table = TopTable(100)
    truth: Counter[str] = Counter()
    for _ in range(100):
        keys = [f"/hot{rng.randrange(5)}" if rng.random() < 0.3 else f"/cold{rng.random()}"
                for _ in range(10_000)]
        counts = Counter(keys)
        truth.update(counts)
        table.add(counts)
        assert len(table) <= SLACK * 100
    check_bound(table, truth, 100)
    top5 = sorted(table.hits, key=table.hits.__getitem__, reverse=True)[:5]
    assert sorted(top5) == [f"/hot{i}" for i in range(5)]


def _state(table: TopTable) -> tuple[object, ...]:
    return (table.hits, table.bytes, table.classes, table.durations, table.floor, table.total)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=60), max_size=150), max_size=12),
       st.integers(min_value=1, max_value=20))
def test_counts_cut_by_the_sender_leave_the_table_as_the_whole_batch(
        batches: list[list[int]], capacity: int) -> None:
    """A sender cutting each batch's counts to ``capacity`` keys (reduce_counts) leaves a
    table of that capacity exactly as feeding it every key would."""
    whole, cut = TopTable(capacity), TopTable(capacity)
    for keys in batches:
        n = len(keys)
        cols = Columns(time=[1.0] * n, client=["c"] * n, path=[f"/k{k}" for k in keys],
                       status=[200 if k % 3 else 500 for k in keys], bytes=keys,
                       offset=list(range(n)), duration=[k / 100 for k in keys])
        counts = aggregate(cols, "h", ("path",))
        reduced = reduce_counts(counts, capacity)
        for table, agg in ((whole, counts), (cut, reduced)):
            if "path" in agg.dims:
                d = agg.dims["path"]
                table.add(d.hits, d.bytes, d.classes, d.durations, d.cut, d.total)
        if "path" in counts.dims:
            assert len(reduced.dims["path"].hits) <= capacity
    assert _state(cut) == _state(whole)
