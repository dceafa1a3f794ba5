"""The sparse form of the HyperLogLog (``omphalos/lib/hll.py``) against a dense-only one.

The reference here is the sketch written out plainly (one byte per register, the larger
rank kept, the 2007 estimate with linear counting), as the module was before it had a
sparse form: every path through sparse, mixed and dense sketches must end in the same
register bytes, so in the same estimate, and saved states of the dense layout still load.
"""

from __future__ import annotations

import math
import pickle
import random
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omphalos.lib.hll import HyperLogLog, KeyedUniques, hash64, sparse_limit, union_estimate


def reference(hashes: list[int], precision: int) -> bytearray:
    """The dense registers of ``hashes``: each register the largest rank it saw."""
    shift = 64 - precision
    regs = bytearray(1 << precision)
    for h in hashes:
        index = h >> shift
        regs[index] = max(regs[index], shift - (h & ((1 << shift) - 1)).bit_length() + 1)
    return regs


def reference_estimate(regs: bytearray) -> int:
    """The estimate of the dense-only sketch, register by register."""
    m = len(regs)
    zeros = regs.count(0)
    if zeros == m:
        return 0
    raw = 0.7213 / (1 + 1.079 / m) * m * m / math.fsum(2.0 ** -r for r in regs)
    if raw <= 2.5 * m and zeros:
        return round(m * math.log(m / zeros))
    return round(raw)


def hashes_of(seed: int, count: int) -> list[int]:
    """``count`` random 64-bit hashes (some repeated), reproducible from ``seed``."""
    rng = random.Random(seed)
    out = [rng.getrandbits(64) for _ in range(count)]
    return out + out[: count // 7]


def register_hashes(indexes: range, precision: int, rank: int = 1) -> list[int]:
    """One hash per register index, of rank ``rank`` there."""
    shift = 64 - precision
    return [index << shift | 1 << (shift - rank) for index in indexes]


def check(sketch: HyperLogLog, hashes: list[int]) -> None:
    """``sketch`` holds exactly the registers of ``hashes``, in the form their number
    calls for, and answers, copies and saves as the dense-only sketch would."""
    expected = reference(hashes, sketch.precision)
    nonzero = len(expected) - expected.count(0)
    assert bytes(sketch.registers) == bytes(expected)
    assert sketch.is_sparse == (nonzero <= sparse_limit(sketch.precision))
    assert sketch.estimate() == reference_estimate(expected)
    copy = sketch.copy()
    assert bytes(copy.registers) == bytes(expected) and copy.is_sparse == sketch.is_sparse
    saved = pickle.loads(pickle.dumps(sketch.to_state()))
    loaded = HyperLogLog.from_state(saved)
    assert bytes(loaded.registers) == bytes(expected)
    assert loaded.is_sparse == sketch.is_sparse
    assert loaded.estimate() == sketch.estimate()


PARTS = st.lists(st.tuples(st.integers(0, 2 ** 32), st.sampled_from([0, 1, 5, 40, 300, 3000])),
                 min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(precision=st.sampled_from([4, 7, 10, 14]), parts=PARTS,
       order=st.randoms(use_true_random=False), chunk=st.sampled_from([1, 17, 33, 10_000]))
def test_every_path_gives_the_dense_registers_and_estimate(
        precision: int, parts: list[tuple[int, int]], order: random.Random,
        chunk: int) -> None:
    """Sketches built in chunks (in-place inserts and rebuilds), then merged in a random
    order, so sparse+sparse, sparse+dense, dense+sparse and dense+dense all occur."""
    inputs = [hashes_of(seed, count) for seed, count in parts]
    sketches = []
    for hashes in inputs:
        sketch = HyperLogLog(precision)
        starts = range(0, len(hashes), chunk)
        checked = set(starts[::max(1, len(starts) // 6)])  # a few points on the way
        for at in starts:
            sketch.add_hashes(hashes[at:at + chunk])
            if at in checked:
                check(sketch, hashes[:at + chunk])
        check(sketch, hashes)
        sketches.append((sketch, hashes))
    while len(sketches) > 1:
        order.shuffle(sketches)
        (a, seen_a), (b, seen_b) = sketches.pop(), sketches.pop()
        b_before = bytes(b.registers)
        a.merge(b)
        assert bytes(b.registers) == b_before  # the merged-in sketch is left as it was
        check(a, seen_a + seen_b)
        sketches.append((a, seen_a + seen_b))


def test_it_turns_dense_one_register_past_the_limit() -> None:
    for precision in (7, 14):
        limit = sparse_limit(precision)
        assert limit == (1 << precision) // 32
        one_by_one, batch = HyperLogLog(precision), HyperLogLog(precision)
        at_limit = register_hashes(range(limit), precision)
        for h in at_limit:  # the in-place inserts
            one_by_one.add_hashes([h])
        batch.add_hashes(at_limit + at_limit)  # one rebuild; repeats set nothing more
        for sketch in (one_by_one, batch):
            assert sketch.is_sparse
            check(sketch, at_limit)
        raised = register_hashes(range(limit), precision, rank=3)  # same registers, higher
        one_by_one.add_hashes(raised)
        assert one_by_one.is_sparse
        check(one_by_one, at_limit + raised)
        past = register_hashes(range(limit, limit + 1), precision)
        one_by_one.add_hashes(past)
        batch.add_hashes(past)
        assert not one_by_one.is_sparse and not batch.is_sparse
        check(one_by_one, at_limit + raised + past)
        check(batch, at_limit + past)
        union = HyperLogLog(precision)  # two sparse halves whose union is over the limit
        half = HyperLogLog(precision)
        evens = register_hashes(range(0, limit, 2), precision)
        odds = register_hashes(range(1, limit + 2, 2), precision)
        union.add_hashes(evens)
        half.add_hashes(odds)
        assert union.is_sparse and half.is_sparse
        union.merge(half)
        assert not union.is_sparse
        check(union, evens + odds)


def test_saved_states_of_the_dense_layout_still_load() -> None:
    """The two layouts older versions saved: deflated registers, and raw ones."""
    few, many = hashes_of(1, 200), hashes_of(2, 50_000)
    for hashes in (few, many, []):
        regs = reference(hashes, 14)
        for state in ({"precision": 14, "deflated": zlib.compress(bytes(regs), 1)},
                      {"precision": 14, "registers": bytes(regs)}):
            loaded = HyperLogLog.from_state(pickle.loads(pickle.dumps(state)))
            check(loaded, hashes)
    assert HyperLogLog.from_state({"precision": 14, "registers": bytes(reference(few, 14))
                                   }).is_sparse  # a restored small sketch is small again
    keyed = KeyedUniques()
    keyed.restore_state({"max_keys": 366, "precision": 14, "sketches": {
        "2026-12-01": {"precision": 14, "deflated": zlib.compress(bytes(reference(few, 14)))},
        "2026-12-02": {"precision": 14, "registers": bytes(reference(many, 14))}}})
    assert keyed.estimate("2026-12-01") == reference_estimate(reference(few, 14))
    assert keyed.estimate("2026-12-02") == reference_estimate(reference(many, 14))
    assert keyed.sketches["2026-12-01"].is_sparse
    assert not keyed.sketches["2026-12-02"].is_sparse


def test_new_saves_are_compact_and_a_dense_one_is_deflated() -> None:
    small, large = HyperLogLog(), HyperLogLog()
    small.add_hashes(hashes_of(3, 300))
    large.add_hashes(hashes_of(4, 20_000))
    saved_small, saved_large = small.to_state(), large.to_state()
    assert set(saved_small) == {"precision", "sparse"}
    assert len(saved_small["sparse"]) == 4 * (16384 - small.registers.count(0))
    assert set(saved_large) == {"precision", "deflated"}
    assert zlib.decompress(saved_large["deflated"]) == bytes(large.registers)


def test_many_distinct_keys_empty_sketches_and_merging_an_empty_one() -> None:
    huge = [hash64(f"visitor {i}") for i in range(200_000)]
    sketch = HyperLogLog()
    sketch.add_hashes(huge)
    check(sketch, huge)
    assert abs(sketch.estimate() - 200_000) <= 3 * 0.0081 * 200_000
    empty = HyperLogLog()
    check(empty, [])
    assert empty.estimate() == 0 and empty.is_sparse
    empty.add_hashes([])
    empty.add_hashes(iter(()))
    check(empty, [])
    small = HyperLogLog()
    small.add_hashes(huge[:50])
    for target, seen in ((small, huge[:50]), (sketch, huge), (HyperLogLog(), [])):
        target.merge(HyperLogLog())
        check(target, seen)
    repeated = HyperLogLog()  # the same visitors in every batch: repeats in the tail
    for _ in range(500):
        repeated.add_hashes(huge[:10])
        repeated.merge(small)
    check(repeated, huge[:50])
    assert repeated.is_sparse
    into_empty = HyperLogLog()
    into_empty.merge(sketch)
    check(into_empty, huge)
    into_empty.merge(small)
    check(into_empty, huge)
    assert union_estimate([KeyedUniques(), KeyedUniques()], "2026-12-01") == 0
    with pytest.raises(ValueError, match="precision"):
        HyperLogLog(12).merge(HyperLogLog(14))


def test_union_estimate_over_sparse_and_dense_buckets() -> None:
    days = [KeyedUniques() for _ in range(5)]
    seen: list[int] = []
    for n, keyed in enumerate(days):
        hashes = hashes_of(10 + n, 30 if n < 4 else 5_000)
        keyed.add({"2026-12-01": hashes})
        seen += hashes
    before = [bytes(k.sketches["2026-12-01"].registers) for k in days]
    assert union_estimate(days, "2026-12-01") == reference_estimate(reference(seen, 14))
    assert union_estimate(days[:4], "2026-12-01") == reference_estimate(
        reference(seen[:sum(len(hashes_of(10 + n, 30)) for n in range(4))], 14))
    assert [bytes(k.sketches["2026-12-01"].registers) for k in days] == before


@pytest.mark.parametrize(("state", "message"), [
    ({"precision": 14, "sparse": b"\x01\x02\x03"}, "whole number"),
    ({"precision": 14, "sparse": bytes(4)}, "register 0 = 0"),
    ({"precision": 14, "sparse": ((2 << 6 | 1).to_bytes(4, "little")
                                  + (1 << 6 | 1).to_bytes(4, "little"))}, "out of order"),
    ({"precision": 4, "sparse": (16 << 6 | 1).to_bytes(4, "little")}, "register 16"),
    ({"precision": 14, "sparse": (5 << 6 | 52).to_bytes(4, "little")}, "register 5 = 52"),
    ({"precision": 14, "deflated": b"not zlib"}, "damaged"),
    ({"precision": 14, "registers": bytes(100)}, "precision"),
    ({"precision": 30, "sparse": b""}, "between 4 and 18"),
])
def test_damaged_saved_sketches_are_refused(state: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HyperLogLog.from_state(state)


@pytest.mark.parametrize(("first", "second"), [(40, 30), (40, 5_000), (5_000, 40),
                                               (5_000, 6_000)])
def test_each_pairing_of_forms_merges_to_the_union(first: int, second: int) -> None:
    """sparse+sparse, sparse+dense, dense+sparse, dense+dense (at precision 14)."""
    a_seen, b_seen = hashes_of(first, first), hashes_of(second + 1, second)
    a, b = HyperLogLog(), HyperLogLog()
    a.add_hashes(a_seen)
    b.add_hashes(b_seen)
    assert (a.is_sparse, b.is_sparse) == (first < 500, second < 500)
    a.merge(b)
    check(a, a_seen + b_seen)
    check(b, b_seen)
