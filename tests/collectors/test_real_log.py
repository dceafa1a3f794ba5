"""Top-N and percentiles on the real log, against exact answers computed here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from omphalos.lib.collectors.aggregate import Breakdown, aggregate
from omphalos.lib.collectors.sketch import DDSketch
from omphalos.lib.parsers.clf_format import COMBINED_TOKENS
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.query import DIMENSIONS
from omphalos.records import Columns

from ..conftest import REAL_LOG


def real_batches(path: Path = REAL_LOG, lines_per_batch: int = 700) -> list[Columns]:
    fmt = LineFormat("combined", COMBINED_TOKENS)
    lines = path.read_bytes().splitlines(keepends=True)
    out = []
    for start in range(0, len(lines), lines_per_batch):
        cols, _lines, bad, _ = fmt.parse(b"".join(lines[start:start + lines_per_batch]), 0)
        assert not bad
        out.append(cols)
    return out


@pytest.fixture(scope="module")
def batches() -> list[Columns]:
    return real_batches()


@pytest.mark.parametrize("capacity", [15, 60, 5000])
def test_top_lists_within_the_documented_bound(batches: list[Columns], capacity: int) -> None:
    b = Breakdown(capacity, DIMENSIONS)
    for cols in batches:
        b.add(aggregate(cols, "vm", DIMENSIONS))
    assert b.requests == 10_000
    assert {str(k): v for k, v in b.status.items()} == {
        "200": 9126, "304": 445, "404": 213, "301": 164, "206": 45, "500": 3, "416": 2,
        "403": 2}
    for dim, column in (("path", "path"), ("client", "client"), ("agent", "agent")):
        truth = Counter(v for cols in batches for v in getattr(cols, column))
        rows, bound = b.top(dim, 10)
        assert bound <= 10_000 / (capacity + 1)
        for row in rows:
            assert row["hits"] <= truth[row["key"]] <= row["hits"] + bound
        # every key seen more often than the 10th row's count plus the bound is listed
        must = {k for k, n in truth.items() if n > rows[-1]["hits"] + bound}
        assert must <= {r["key"] for r in rows}
        if capacity >= 5000:  # nothing was ever dropped: exact
            assert bound == 0
            exact = truth.most_common(10)
            assert [(r["key"], r["hits"]) for r in rows][:3] == exact[:3]
            assert sorted(r["hits"] for r in rows) == sorted(n for _, n in exact)
    rows, _ = b.top("path", 1)
    assert capacity < 5000 or rows[0] == {
        "key": "/favicon.ico", "hits": 807, "rate": 0.0, "bytes": rows[0]["bytes"],
        "errors": 0, "status": {"1xx": 0, "2xx": 796, "3xx": 11, "4xx": 0, "5xx": 0},
        "p95": None, "min": None, "avg": None, "max": None}


def test_percentiles_of_real_response_sizes(batches: list[Columns]) -> None:
    """The log has no durations; its response sizes are a real skewed distribution."""
    sizes = sorted(float(s) for cols in batches for s in cols.bytes if s > 0)
    parts = []
    for cols in batches:  # one sketch per batch, merged: as windows and hosts merge
        part = DDSketch(0.01)
        part.add_many(float(s) for s in cols.bytes if s > 0)
        parts.append(part)
    merged = DDSketch(0.01)
    for part in parts:
        merged.merge(part)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        exact = sizes[int(q * (len(sizes) - 1))]
        got = merged.quantile(q)
        assert got is not None and abs(got - exact) <= 0.01 * exact


def test_duration_percentiles_per_path_and_site() -> None:
    """Formats with a duration: p50/p95/p99 site-wide and per path within 1% of exact."""
    import random

    from omphalos.lib.collectors.aggregate import merged_top

    from .helpers import columns

    rng = random.Random(5)
    b = Breakdown(100, ("path",))
    values: dict[str, list[float]] = {"/a": [], "/b": []}
    for _ in range(20):
        paths = [rng.choice(("/a", "/b")) for _ in range(500)]
        durs = [rng.lognormvariate(-3 if p == "/a" else 0, 1) for p in paths]
        for p, d in zip(paths, durs):
            values[p].append(d)
        b.add(aggregate(columns([0.0] * 500, paths, durations=durs), "h", ("path",)))
    everything = sorted(v for vs in values.values() for v in vs)
    for q, got in zip((0.5, 0.95, 0.99), b.durations.quantiles((0.5, 0.95, 0.99))):
        exact = everything[int(q * (len(everything) - 1))]
        assert got is not None and abs(got - exact) <= 0.01 * exact
    for row in merged_top([b.tables["path"]], "path", 2):
        exact = sorted(values[row["key"]])[int(0.95 * (len(values[row["key"]]) - 1))]
        assert abs(row["p95"] - exact) <= 0.01 * exact
