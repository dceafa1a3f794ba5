"""Rows and series of one source host (one web server picked out of the fleet)."""

from __future__ import annotations

import pytest

from omphalos.counting import aggregate
from omphalos.lib.collectors.aggregate import Breakdown
from omphalos.query import validate
from tests.collectors.helpers import columns, store

DIMS = ("path", "host", "status")


def test_summary_breakdown_answers_per_host_and_saves_it() -> None:
    b = Breakdown(50, DIMS, max_hosts=2)
    b.add(aggregate(columns([1.0, 2.0], ["/a", "/b"]), "web1", DIMS), "web1")
    b.add(aggregate(columns([3.0, 4.0, 5.0], ["/a", "/a", "/c"], [200, 500, 200]), "web2",
                    DIMS), "web2")
    b.add(aggregate(columns([6.0], ["/z"]), "web3", DIMS), "web3")  # beyond max_hosts
    assert [(r["key"], r["hits"]) for r in b.top("path", 5)[0]] == [
        ("/a", 3), ("/b", 1), ("/c", 1), ("/z", 1)]
    web2 = b.for_host("web2")
    assert [(r["key"], r["hits"], r["errors"]) for r in web2.top("path", 5)[0]] == [
        ("/a", 2, 1), ("/c", 1, 0)]
    assert b.for_host("web1").requests == 2
    with pytest.raises(ValueError, match="beyond the first 2 hosts"):
        b.for_host("web3")
    restored = Breakdown(50, DIMS, max_hosts=2)
    restored.restore_state(b.to_state())
    assert restored.for_host("web2").top("path", 5)[0] == web2.top("path", 5)[0]
    with pytest.raises(ValueError, match="max_hosts = 0"):
        Breakdown(50, DIMS).for_host("web1")


def test_one_host_is_counted_once_and_split_out_when_a_second_comes() -> None:
    b = Breakdown(50, DIMS, max_hosts=4)
    b.add(aggregate(columns([1.0, 2.0], ["/a", "/b"]), "web1", DIMS), "web1")
    assert b.per_host is not None and b.per_host.sole == "web1" and not b.per_host.hosts
    assert b.for_host("web1") is b
    saved = Breakdown(50, DIMS, max_hosts=4)
    saved.restore_state(b.to_state())
    assert saved.for_host("web1") is saved and saved.requests == 2
    other = Breakdown(50, DIMS, max_hosts=4)
    other.add(aggregate(columns([3.0], ["/a"]), "web2", DIMS), "web2")
    b.merge(other)  # a bucket of another host: web1's part is copied out first
    assert b.per_host.sole is None and sorted(b.per_host.hosts) == ["web1", "web2"]
    assert [(r["key"], r["hits"]) for r in b.for_host("web1").top("path", 5)[0]] == [
        ("/a", 1), ("/b", 1)]
    assert [(r["key"], r["hits"]) for r in b.for_host("web2").top("path", 5)[0]] == [
        ("/a", 1)]
    assert b.requests == 3


def test_window_top_and_series_of_one_host() -> None:
    s = store(windows=["1m/1s"], alert_window="1m", baseline_window="1m", drill=False,
              dimensions=list(DIMS))
    s.add(columns([100.0, 100.0, 101.0], ["/a", "/b", "/a"]), "web1")
    s.add(columns([101.0, 102.0], ["/a", "/x"], [404, 200]), "web2")
    fleet = s.top(validate("top", {"window": "1m"}))
    assert [(r["key"], r["hits"]) for r in fleet["rows"]] == [("/a", 3), ("/b", 1),
                                                              ("/x", 1)]
    one = s.top(validate("top", {"window": "1m", "host": "web2"}))
    assert one["host"] == "web2"
    assert [(r["key"], r["hits"], r["status"]["4xx"]) for r in one["rows"]] == [
        ("/a", 1, 1), ("/x", 1, 0)]
    series = s.series("1m", host="web1")
    points = {p["t"]: p["requests"] for p in series["points"] if p["requests"]}
    assert points == {100.0: 2, 101.0: 1}
    assert series["host"] == "web1"
    assert s.top(validate("top", {"window": "1m", "host": "nobody"}))["rows"] == []
