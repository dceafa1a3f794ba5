"""Record batches applied to the window: every answer against the plain per-run algorithm
and against counts made here from the records.

The reference (:func:`reference_add`) is the window's first algorithm, kept here in its
simplest form: each run of one fine step aggregated on its own and added to the bucket of
every ring that still holds it. The store's own ``add`` (and the collector's slicing of
batches) must answer every query the same on the real log, spread over three hosts, with
late lines, while no table overflows (capacity above the distinct keys: exact counts).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from itertools import groupby
from typing import Any

import pytest
from omphalos.plugins.collectors.window import WindowConfig, WindowStore

from omphalos.counting import aggregate
from omphalos.lib.parsers.clf_format import COMBINED_TOKENS
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.records import Columns

from ..conftest import REAL_LOG
from .helpers import Clock

HOSTS = ("web1", "web2", "web3")
BASE = 1_700_000_000.0


def reference_add(s: WindowStore, cols: Columns, host: str, lines: int) -> None:
    """The per-run algorithm: every run of one fine step aggregated, added to every ring."""
    s.lines += lines
    times = cols.time
    newest = max(times)
    s.newest = newest if s.newest is None else max(s.newest, newest)
    s.host_last[host] = max(s.host_last.get(host, -math.inf), newest)
    head = s.head()
    keys = [math.floor(t / s.fine) for t in times]
    start = 0
    for key, group in groupby(keys):
        length = len(list(group))
        part = cols.slice(start, start + length)
        start += length
        t = key * s.fine
        agg = aggregate(part, host, s.dimensions, s.byte_dimensions,
                        static_extensions=s.config.static_extensions)
        for ring in s.rings.values():
            if ring.index(t) < ring.lowest(head):
                ring.late += length
            else:
                ring.add(t, agg, length, head, host)


def batches() -> list[tuple[str, Columns]]:
    """The real log's 10,000 lines in batches of 250, times moved to 40 lines a second
    (about 4 minutes), dealt round-robin to three hosts; every ninth batch is a host that
    sends 150 s late (lines older than the 1m window)."""
    fmt = LineFormat("combined", COMBINED_TOKENS)
    raw = REAL_LOG.read_bytes().splitlines(keepends=True)
    out = []
    for n, start in enumerate(range(0, len(raw), 250)):
        cols, _lines, bad, _ = fmt.parse(b"".join(raw[start:start + 250]), 0)
        assert not bad
        lag = 150.0 if n % 9 == 8 else 0.0
        cols.time = [BASE + (start + i) / 40 - lag for i in range(len(cols))]
        out.append((HOSTS[n % 3], cols))
    return out


def answers(s: WindowStore) -> dict[str, Any]:
    """Every query the window answers, for each window, dimension, host and the top paths."""
    out: dict[str, Any] = {}
    for w in ("1m", "5m", "1h"):
        out[f"overview {w}"] = s.overview(w)
        out[f"hosts {w}"] = s.hosts(w)
        out[f"series {w}"] = s.series(w)
        out[f"series {w} 30s"] = s.series(w, 30.0)
        for host in HOSTS:
            out[f"series {w} {host}"] = s.series(w, host=host)
        for dim in s.config.dimensions:
            for sort in ("hits", "bytes", "errors", "p95") if dim == "path" else ("hits",):
                if sort == "bytes" and dim not in s.byte_dimensions:
                    continue
                p = {"window": w, "dimension": dim, "limit": 50, "sort": sort,
                     "filter": None}
                out[f"top {w} {dim} {sort}"] = s.top(p)
                out[f"top {w} {dim} {sort} web2"] = s.top({**p, "host": "web2"})
        for row in s.top({"window": w, "dimension": "path", "limit": 5, "sort": "hits",
                          "filter": None})["rows"]:
            out[f"series {w} {row['key']}"] = s.series(w, 0.0, row["key"])
            out[f"drill {w} {row['key']}"] = s.drill(row["key"], w, 20)
    out["conditions"] = s.conditions()
    return out


def make() -> WindowStore:
    config = replace(WindowConfig(), clock="event", history=False, capacity=20_000,
                     max_hosts=4)
    return WindowStore(config, Clock(0.0))


@pytest.fixture(scope="module")
def fed() -> tuple[WindowStore, WindowStore, list[tuple[str, Columns]]]:
    data = batches()
    mine, ref = make(), make()
    for host, cols in data:
        mine.add(cols, host, len(cols))
        reference_add(ref, cols, host, len(cols))
    return mine, ref, data


def test_every_answer_is_that_of_the_per_run_algorithm(
        fed: tuple[WindowStore, WindowStore, list[tuple[str, Columns]]]) -> None:
    mine, ref, _ = fed
    assert {k: r.late for k, r in mine.rings.items()} == {k: r.late
                                                          for k, r in ref.rings.items()}
    got, expected = answers(mine), answers(ref)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key


def test_window_counts_are_those_of_the_records(
        fed: tuple[WindowStore, WindowStore, list[tuple[str, Columns]]]) -> None:
    """Totals, status codes, hosts and paths of each window, counted here line by line."""
    mine, _, data = fed
    head = mine.head()
    assert head == BASE + 9_999 / 40
    for w, ring in mine.rings.items():
        lo = ring.lowest(head)
        newest = -math.inf
        inside: list[tuple[str, Columns, int]] = []
        late = 0
        for host, cols in data:  # a line is late when older than the window when it came
            newest = max(newest, max(cols.time))
            for i, t in enumerate(cols.time):
                idx = math.floor(t / ring.step)
                if idx < math.floor(newest / ring.step) - ring.n + 1:
                    late += 1
                elif idx >= lo:
                    inside.append((host, cols, i))
        assert ring.late == late
        if w.startswith("_"):
            continue
        overview = mine.overview(w)
        assert overview["requests"] == len(inside)
        assert overview["bytes"] == sum(cols.bytes[i] for _, cols, i in inside)
        status = Counter(f"{cols.status[i] // 100}xx" for _, cols, i in inside)
        assert overview["status_class"] == {c: status.get(c, 0)
                                            for c in ("1xx", "2xx", "3xx", "4xx", "5xx")}
        hosts = Counter(host for host, _, _ in inside)
        assert {r["host"]: r["requests"] for r in mine.hosts(w)["rows"]} == {
            h: hosts.get(h, 0) for h in HOSTS}
        paths = Counter(cols.path[i] for _, cols, i in inside)
        top = mine.top({"window": w, "dimension": "path", "limit": 10, "sort": "hits",
                        "filter": None})
        assert top["error_bound"] == 0
        assert sorted(r["hits"] for r in top["rows"]) == sorted(
            n for _, n in paths.most_common(10))
        web2 = Counter(cols.path[i] for host, cols, i in inside if host == "web2")
        rows = mine.top({"window": w, "dimension": "path", "limit": 10_000, "sort": "hits",
                         "filter": None, "host": "web2"})["rows"]
        assert {r["key"]: r["hits"] for r in rows} == dict(web2)
