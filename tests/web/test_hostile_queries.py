"""Hostile queries over real HTTP to a real web server and real collectors: a filter with
catastrophic backtracking (refused), one RE2 cannot run (refused), overlapping alternatives
(answered by RE2 in linear time), ``step_secs=1e300`` (refused). Each is answered at once,
and the collectors answer the next query normally."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from .conftest import Reply, WebRun, combined_line, windowed_collector

EVIL = "(a+)+$"  # exponential under Python's re on "aaaa...a!"
MATCHED = "/" + "a" * 40
UNMATCHED = "/" + "a" * 40 + "!"


def get(run: WebRun, kind: str, **params: str) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = run.get(f"/api/v1/query/{kind}?{urllib.parse.urlencode(params)}", timeout=30)
    return reply, time.monotonic() - started


def started(start_web: Any) -> WebRun:
    run: WebRun = start_web(copy_real_log=False)
    when = time.time()
    with run.log.open("a") as fh:
        for path in ("/index.html", MATCHED, UNMATCHED, UNMATCHED):
            fh.write(combined_line(path, when=when))
    deadline = time.monotonic() + 30
    while run.pipeline.query("summary", collector="collector:summary")["requests"] < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return run


def test_a_backtracking_filter_is_refused_at_once_and_the_next_query_answered(
        start_web: Any) -> None:
    run = started(start_web)
    reply, _ = get(run, "top", collector="summary", dimension="path",
                      filter=f"^/{EVIL}")
    assert reply.status == 400 and "repeats a group that itself repeats" in \
        reply.json()["error"]
    # overlapping alternatives under a repeat: run by RE2 in linear time, answered right
    reply, _ = get(run, "top", collector="summary", dimension="path", filter="^/(a|aa)+$")
    assert reply.status == 200
    assert [(r["key"], r["hits"]) for r in reply.json()["rows"]] == [(MATCHED, 1)]
    reply, _ = get(run, "top", collector="summary", dimension="path")
    assert reply.status == 200
    assert sorted((r["key"], r["hits"]) for r in reply.json()["rows"]) == sorted(
        [("/index.html", 1), (MATCHED, 1), (UNMATCHED, 2)])


def test_a_filter_re2_cannot_run_and_a_huge_step_are_refused_at_once(
        start_web: Any) -> None:
    run = started(start_web)
    reply, _ = get(run, "top", collector="summary", filter="(a)b\\1")
    assert reply.status == 400 and "RE2" in reply.json()["error"]
    reply, _ = get(run, "series", step_secs="1e300")
    assert reply.status == 400 and "step_secs" in reply.json()["error"]
    reply, _ = get(run, "series", window="1h", step_secs="0.01")
    assert reply.status == 400 and "points" in reply.json()["error"]
    name = windowed_collector()
    if name is not None:  # the window collector answers the next series normally
        reply, _ = get(run, "series", collector=name, window="5m", step_secs="60")
        assert reply.status == 200
        points = reply.json()["points"]
        assert reply.json()["step"] == 60 and sum(p["requests"] for p in points) == 4
        # a step far longer than the window (but under the bound) is the window, once
        reply, _ = get(run, "series", collector=name, window="5m", step_secs="300000000")
        assert reply.status == 200 and reply.json()["step"] == 300
        assert sum(p["requests"] for p in reply.json()["points"]) == 4
        assert len(reply.json()["points"]) <= 2
    reply, _ = get(run, "summary", collector="summary")
    assert reply.status == 200 and reply.json()["requests"] == 4
    status = run.get("/api/v1/status").json()
    assert status["degraded"] is False
    counters = status["actors"]["output:web"]["counters"]
    assert counters.get("request_failures", 0) == 0
