"""Batches of one file arriving out of order are all counted, once.

A killed collector loses the batches it had not acknowledged; their sender re-sends them,
but only after its newer batches have already reached the restarted collector. The
collector must then count the late batches (they fill holes below the end it applied) and
still drop every true duplicate, and the holes must survive a restart with the counts.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from omphalos.dedupe import MAX_HOLES, record, unapplied
from omphalos.messages import Deliver, Query
from omphalos.pipeline import Pipeline
from omphalos.state import StateStore

from ..conftest import wait_for
from .test_interleave import Recorder, batch

LINES = 500  # per batch of the helper: batch seq covers bytes [(seq-1)*5000, seq*5000)


def simulate(order: list[tuple[int, int]]) -> set[int]:
    """Bytes applied after ranges ``order``, applied through unapplied/record."""
    done: int | None = None
    holes: list[tuple[int, int]] = []
    applied: set[int] = set()
    for start, end in order:
        for lo, hi in unapplied(done, holes, start, end):
            fresh = set(range(lo, hi))
            assert not fresh & applied, f"{lo}-{hi} counted twice"
            applied |= fresh
        done, holes, given_up = record(done, holes, start, end)
        assert given_up == 0
    return applied


def test_any_order_of_ranges_applies_every_byte_once() -> None:
    rng = random.Random(7)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, 400), rng.randrange(1, 12)))
        ranges = list(zip([0, *cuts], [*cuts, 400], strict=True))
        order = ranges + rng.sample(ranges, rng.randrange(0, len(ranges) + 1))  # re-sends
        rng.shuffle(order)
        assert simulate(order) == set(range(400)), order


def test_holes_are_bounded_and_the_oldest_given_up() -> None:
    done: int | None = None
    holes: list[tuple[int, int]] = []
    lost = 0
    for n in range(MAX_HOLES + 10):  # every other byte: a hole after each but the first
        done, holes, given_up = record(done, holes, 2 * n, 2 * n + 1)
        lost += given_up
    assert len(holes) == MAX_HOLES
    assert lost == 9
    assert holes[0] == (19, 20)  # the oldest holes went first
    assert unapplied(done, holes, 1, 2) == []  # a given-up hole counts as applied
    assert unapplied(done, holes, 19, 20) == [(19, 20)]


def summary_pipeline(tmp_path: Path, durable: bool = True) -> Pipeline:
    return Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                 "collector:summary": {"plugin": "summary",
                                                       "durable": durable},
                                 "collector:window": {"plugin": "window", "clock": "event",
                                                      "history": False,
                                                      "durable": durable}})


def deliver(pipeline: Pipeline, seqs: list[int], recorder: Any) -> dict[str, Any]:
    """Deliver batches ``seqs`` to both collectors; their requests once all are applied."""
    refs = {name: pipeline.directory.get(f"collector:{name}")
            for name in ("summary", "window")}
    before = len(recorder.ask("seen", timeout=5))
    for ref in refs.values():
        assert ref is not None
        for seq in seqs:
            ref.tell(Deliver(batch(seq), recorder))
    wait_for(lambda: len(recorder.ask("seen", timeout=5)) == before + 2 * len(seqs), 30)
    return {"summary": pipeline.query("summary", collector="summary")["requests"],
            "window": pipeline.query("overview", collector="window",
                                     window="5m")["requests"]}


@pytest.mark.timeout(60)
def test_late_batches_are_counted_and_duplicates_are_not(tmp_path: Path) -> None:
    recorder = Recorder.start()
    try:
        with summary_pipeline(tmp_path) as p:
            # 5-8 reach the collector before 1-4 (re-sent after a restart), then re-sends
            got = deliver(p, [5, 6, 7, 8, 1, 3, 2, 4, 3, 6, 8], recorder)
            assert got == {"summary": 8 * LINES, "window": 8 * LINES}
            status = p.ask("collector:summary", Query("status", {}))["counters"]
            assert status["late_batches"] == 4
            assert status["duplicate_batches"] == 3
    finally:
        recorder.stop()


@pytest.mark.timeout(60)
def test_holes_survive_a_restart_with_the_counts(tmp_path: Path) -> None:
    recorder = Recorder.start()
    try:
        with summary_pipeline(tmp_path) as p:
            assert deliver(p, [1, 4, 6], recorder) == {"summary": 3 * LINES,
                                                       "window": 3 * LINES}
        with summary_pipeline(tmp_path) as p:  # restarted: batches 2, 3, 5 still count
            assert deliver(p, [5, 2, 4, 1, 3, 6, 5], recorder) == {"summary": 6 * LINES,
                                                                   "window": 6 * LINES}
        with summary_pipeline(tmp_path) as p:  # and now every one is a duplicate
            assert deliver(p, [1, 2, 3, 4, 5, 6], recorder) == {"summary": 6 * LINES,
                                                                "window": 6 * LINES}
    finally:
        recorder.stop()


def test_a_store_of_the_version_before_holes_is_read_and_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "collectors.sqlite"
    with sqlite3.connect(path) as db:  # the layout before holes were kept
        db.executescript("""
            CREATE TABLE parts (collector TEXT NOT NULL, part TEXT NOT NULL,
                data BLOB NOT NULL, PRIMARY KEY (collector, part));
            CREATE TABLE applied (collector TEXT NOT NULL, key TEXT NOT NULL,
                end_offset INTEGER NOT NULL, updated INTEGER NOT NULL,
                PRIMARY KEY (collector, key));
            CREATE TABLE saves (collector TEXT PRIMARY KEY, format INTEGER NOT NULL,
                saved REAL NOT NULL, generation INTEGER NOT NULL);
            INSERT INTO applied VALUES ('c', '"old"', 700, 1);
            INSERT INTO saves VALUES ('c', 1, 1.0, 1);""")
    db.close()
    store = StateStore(str(path))
    assert store.load("c").applied == [("old", 700)]
    assert store.load("c").holes == {}
    store.save("c", {}, applied={"new": 900}, holes={"new": [(100, 200)]})
    saved = store.load("c")
    assert saved.applied == [("old", 700), ("new", 900)]
    assert saved.holes == {"new": [(100, 200)]}
    store.close()
