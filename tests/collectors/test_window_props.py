"""Property tests of the window arithmetic: buckets, expiry, late and out-of-order events."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omphalos.plugins.collectors.window import parse_windows

from .helpers import columns, store

WINDOWS = ["10s/1s", "30s/5s", "2m/1m"]
# batches of event times: mostly moving forward, with jitter that makes some late
batches = st.lists(st.lists(st.floats(min_value=0, max_value=400, allow_nan=False),
                            min_size=1, max_size=40), min_size=1, max_size=25)


@settings(max_examples=120, deadline=None)
@given(batches, st.integers(min_value=0, max_value=3))
def test_buckets_hold_exactly_what_was_in_the_window(raw: list[list[float]], seed: int) -> None:
    s = store(windows=WINDOWS, alert_window="10s", baseline_window="2m")
    base = 1_700_000_000.0
    model: dict[str, Counter[int]] = {w: Counter() for w in s.rings}
    late: Counter[str] = Counter()
    newest = -math.inf
    for i, batch in enumerate(raw):
        times = [base + t + 10 * i for t in batch]  # time advances, batches overlap
        paths = [f"/{int(t * 7 + seed) % 5}" for t in times]
        newest = max(newest, *times)
        for name, ring in s.rings.items():
            lowest = math.floor(newest / ring.step) - ring.n + 1
            for t in times:
                idx = math.floor(math.floor(t) / ring.step)
                if idx < lowest:
                    late[name] += 1
                else:
                    model[name][idx] += 1
        s.add(columns(times, paths), "web1")
    s.expire()
    head = s.head()
    assert head == newest
    for name, ring in s.rings.items():
        lowest = math.floor(head / ring.step) - ring.n + 1
        expected = {i: n for i, n in model[name].items() if i >= lowest}
        assert {i: b.requests for i, b in ring.buckets.items()} == expected
        assert ring.late == late[name]
        assert all(i >= lowest for i in ring.buckets)  # expired buckets are gone
        if name.startswith("_"):
            continue
        window_total = sum(expected.values())
        top = s.top({"window": name, "dimension": "path", "limit": 10, "sort": "hits",
                     "filter": None})
        assert sum(r["hits"] for r in top["rows"]) == window_total
        series = s.series(name)
        assert sum(p["requests"] for p in series["points"]) == window_total
        assert len(series["points"]) == ring.n


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(60))))
def test_out_of_order_events_land_in_their_own_bucket(order: list[int]) -> None:
    """The same minute of events in any arrival order gives the same buckets."""
    s = store(windows=["1m/1s", "2m/1m"], alert_window="1m", baseline_window="2m")
    base = 1_700_000_040.0
    s.add(columns([base + 59.5]), "h")  # the head first: nothing is late
    for chunk in range(0, 60, 7):
        s.add(columns([base + order[j] for j in range(chunk, min(chunk + 7, 60))]), "h")
    ring = s.rings["1m"]
    counts = {i - int(base): b.requests for i, b in ring.buckets.items()}
    assert counts == {**dict.fromkeys(range(59), 1), 59: 2}
    assert ring.late == 0


def test_events_older_than_the_window_are_only_counted_as_late() -> None:
    s = store(windows=["1m/1s", "5m/5s"], alert_window="1m", baseline_window="5m")
    s.add(columns([1000.0, 1001.0]), "h")
    s.add(columns([1200.0]), "h")  # head moves 200s on: the first two left the 1m window
    s.expire()
    s.add(columns([1100.0, 1195.0]), "h")  # 1100 late for 1m, inside 5m; 1195 fits both
    assert s.rings["1m"].late == 1 and s.rings["5m"].late == 0
    assert s.overview("1m")["requests"] == 2 and s.overview("5m")["requests"] == 5
    assert s.overview("1m")["late"] == 1


@pytest.mark.parametrize("spec", ["1m/7s", "10s/1m", "1m/2s,30s/3s"])
def test_bad_window_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_windows(spec.split(","))
