"""The top table's and the visitors' sketches' fast paths against their plain algorithms.

``TopTable.add`` skips the batch reduction when a batch has no more keys than the
capacity, copies a new table's duration buckets at once and keeps a status class only once
it has lines; ``KeyedUniques.merge`` copies a sketch it did not have.
Each is checked here against the plain algorithm (the reference below: the code before
those paths), slot by slot and key order included, on batches that overflow the capacity
and batches that do not.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

from omphalos.counting import reduce_batch
from omphalos.lib.collectors.topk import NON_2XX, TopTable
from omphalos.lib.hll import HyperLogLog, KeyedUniques, hash64


def reference_add(t: TopTable, hits: Mapping[Any, int], nbytes: Mapping[Any, int],
                  classes: Mapping[str, Mapping[Any, int]],
                  durations: Mapping[Any, Mapping[int, int]], cut: int = 0,
                  total: int | None = None) -> None:
    """The plain algorithm: reduce every batch, then add key by key."""
    t.total += sum(hits.values()) if total is None else total
    t.floor += cut
    cut, hits, nbytes_, classes_, durations_ = reduce_batch(t.capacity, hits, nbytes,
                                                            classes, durations)
    t.floor += cut
    for key, count in hits.items():
        t.hits[key] = t.hits.get(key, 0) + count
    for key, count in (nbytes_ or {}).items():
        t.bytes[key] = t.bytes.get(key, 0) + count
    for cls, counts in (classes_ or {}).items():
        mine = t.classes.setdefault(cls, {}) if counts else {}
        for key, count in counts.items():
            mine[key] = mine.get(key, 0) + count
    for key, buckets in (durations_ or {}).items():
        have = t.durations.setdefault(key, {})
        for index, count in buckets.items():
            have[index] = have.get(index, 0) + count
    if len(t.hits) > t.slack * t.capacity:
        t.prune()
        t.classes = {c: d for c, d in t.classes.items() if d}


def batch(rng: random.Random, keys: int, lines: int
          ) -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]],
                     dict[str, Counter[int]]]:
    """Counts of ``lines`` lines over ``keys`` keys (a few heavy ones), as a batch's."""
    picked = [f"/k{min(int(rng.expovariate(0.05)), keys - 1)}" for _ in range(lines)]
    hits = dict(Counter(picked))
    nbytes = {k: 100 * n + 7 for k, n in hits.items()}
    classes = {"4xx": {k: n // 3 for k, n in hits.items() if n // 3},
               "5xx": {k: 1 for k in list(hits)[::5]}}
    durations = {k: Counter({rng.randrange(-3, 3): n}) for k, n in hits.items()}
    return hits, nbytes, classes, durations


def slots(t: TopTable) -> dict[str, Any]:
    """Every slot, dicts as lists of items (their order is part of the answer: ties in a
    top list keep the order keys came in)."""
    out: dict[str, Any] = {}
    for name in TopTable.__slots__:
        value = getattr(t, name)
        if name == "classes":
            value = [(c, list(d.items())) for c, d in value.items()]
        elif name == "durations":
            value = [(k, list(d.items())) for k, d in value.items()]
        elif isinstance(value, dict):
            value = list(value.items())
        out[name] = value
    return out


def test_add_is_the_plain_algorithm_with_and_without_overflow() -> None:
    rng = random.Random(7)
    for capacity, keys in ((10, 8), (10, 200), (50, 400), (200, 60)):
        fast, plain = TopTable(capacity, 2), TopTable(capacity, 2)
        for n in range(40):
            hits, nbytes, classes, durations = batch(rng, keys, rng.randrange(1, 300))
            cut = rng.choice((0, 0, 3))
            total = None if not cut else sum(hits.values()) + cut * 5
            fast.add(hits, nbytes, classes, durations, cut, total)
            reference_add(plain, hits, nbytes, classes, durations, cut, total)
            assert slots(fast) == slots(plain), (capacity, keys, n)


def test_a_new_tables_durations_are_copies() -> None:
    """The first batch's duration buckets are copied: adding more never changes the
    batch's own counts (a window adds one aggregate to several rings' tables)."""
    t = TopTable(10)
    durations = {"/a": Counter({1: 2})}
    t.add({"/a": 2}, {}, {}, durations)
    t.add({"/a": 3}, {}, {}, {"/a": Counter({1: 3, 2: 1})})
    assert durations == {"/a": Counter({1: 2})}
    assert t.durations == {"/a": {1: 5, 2: 1}}


def test_state_names_every_slot_and_a_row_every_class() -> None:
    """Classes are kept only once they have lines; a row still shows every class, and a
    state saved with empty classes (before) loads to the same table."""
    t = TopTable(5)
    assert list(t.to_state()) == sorted(TopTable.__slots__)
    t.add({"/a": 3, "/b": 1}, {}, {"5xx": {"/a": 1}, "4xx": {}}, {})
    assert t.classes == {"5xx": {"/a": 1}}
    assert t.row("/a") == {"hits": 3, "bytes": 0, "status": {
        "1xx": 0, "3xx": 0, "4xx": 0, "5xx": 1, "other": 0, "2xx": 2}}
    old = TopTable(5)
    old.restore_state({**t.to_state(), "classes": {c: {} for c in NON_2XX} | {
        "5xx": {"/a": 1}}})
    assert slots(old) == slots(t)


def test_merging_a_new_days_sketch_copies_its_registers() -> None:
    other = KeyedUniques()
    other.add({"2026-12-01": [hash64(f"v{i}") for i in range(500)],
               "2026-12-02": [hash64(f"w{i}") for i in range(50)]})
    mine = KeyedUniques()
    mine.add({"2026-12-01": [hash64(f"x{i}") for i in range(300)]})
    expected = {}
    for day, sketch in other.sketches.items():  # the plain union: register-wise max
        union = HyperLogLog(sketch.precision)
        if day in mine.sketches:
            union.merge(mine.sketches[day])
        union.merge(sketch)
        expected[day] = bytes(union.registers)
    mine.merge(other)
    assert {day: bytes(s.registers) for day, s in mine.sketches.items()} == expected
    assert mine.estimate("2026-12-02") == other.estimate("2026-12-02")
    other.add({"2026-12-02": [hash64(f"later{i}") for i in range(50)]})  # a copy, not shared
    assert bytes(mine.sketches["2026-12-02"].registers) == expected["2026-12-02"]
