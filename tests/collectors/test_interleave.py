"""Collectors queue delivered batches and apply a slice of one per message: nothing lost or
doubled, every batch acknowledged after its last slice, a stop applies what is still
queued, and a query waits for one slice, not for a whole batch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pykka
import pytest

from omphalos.lib.collectors.interleave import InterleavedCollector, slice_batch
from omphalos.messages import Applied, BadLine, Batch, Deliver, Query, Source, Stop
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin
from omphalos.registry import Registry
from omphalos.switching import quick_switching

from ..conftest import wait_for
from .helpers import columns


class Recorder(pykka.ThreadingActor):
    """Stands in for a transport: keeps the ``Applied`` replies it is told."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Applied] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Applied):
            self.seen.append(message)
            return None
        return list(self.seen)


class SwitchProbe(CollectorPlugin):
    """Answers any query with the thread switch interval it sees while answering."""

    name = "switch-probe"
    description = "Test collector: reports sys.getswitchinterval()"
    answers: ClassVar[frozenset[str]] = frozenset({"interval"})

    def apply(self, batch: Batch) -> None:
        pass

    def answer(self, query: Query) -> Any:
        return sys.getswitchinterval()


def batch(seq: int, lines: int = 500) -> Batch:
    start = (seq - 1) * lines * 10
    cols = columns([1_800_000_000.0 + seq] * lines, [f"/p{seq % 3}"] * lines)
    cols.offset = [start + 10 * i for i in range(lines)]
    return Batch(Source("web1", "/var/log/access.log", "file-1", "monitor:test"), seq, start,
                 start + 10 * lines, cols, lines)


@pytest.mark.timeout(60)
def test_batches_applied_once_and_acknowledged(tmp_path: Path) -> None:
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "collector:summary": {"plugin": "summary"}})
    pipeline.start()
    recorder = Recorder.start()
    try:
        ref = pipeline.directory.get("collector:summary")
        assert ref is not None
        for seq in range(1, 9):
            ref.tell(Deliver(batch(seq), recorder))
        ref.tell(Deliver(batch(3), recorder))  # a re-sent batch: acknowledged, not counted
        answer = ref.ask(Query("summary", {"limit": 3}), timeout=10)
        assert answer["requests"] <= 8 * 500  # answered before all is in (slices apply)
        wait_for(lambda: len(recorder.ask("seen", timeout=5)) == 9, timeout=30)
        assert ref.ask(Query("summary", {}), timeout=10)["requests"] == 8 * 500
        acks = recorder.ask("seen", timeout=5)
        assert sorted(a.seq for a in acks) == [1, 2, 3, 3, 4, 5, 6, 7, 8]
        ref.tell(Deliver(batch(9), recorder))
        ref.ask(Stop(), timeout=10)  # a stop applies what is still queued
        status = ref.ask(Query("status"), timeout=10)
        assert status["counters"]["records"] == 9 * 500
        assert status["counters"]["duplicate_batches"] == 1
    finally:
        recorder.stop()
        pipeline.stop()


def test_slices_of_a_batch_add_up_to_the_batch() -> None:
    whole = batch(1, lines=1000)
    whole = Batch(whole.source, 1, whole.start, whole.end, whole.records, 1003, unparsed=3,
                  unparsed_reasons={"no match": 3},
                  bad=(BadLine(5, "no match", "garbage"),))
    pieces = [slice_batch(whole, i, i + 300) for i in range(0, 1000, 300)]
    assert [len(p.records) for p in pieces] == [300, 300, 300, 100]
    assert sum(p.lines for p in pieces) == 1003
    assert sum(p.unparsed for p in pieces) == 3
    assert [len(p.bad) for p in pieces] == [1, 0, 0, 0]
    assert [x for p in pieces for x in p.records.path] == whole.records.path
    assert [x for p in pieces for x in p.records.offsets()] == whole.records.offsets()


@pytest.mark.timeout(60)
def test_large_batch_applied_in_slices_and_acknowledged_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(InterleavedCollector, "max_slice_lines", 250)
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "collector:summary": {"plugin": "summary"},
                                     "collector:window": {"plugin": "window",
                                                          "clock": "event",
                                                          "history": False}})
    pipeline.start()
    recorder = Recorder.start()
    try:
        refs = [pipeline.directory.get(name) for name in ("collector:summary",
                                                          "collector:window")]
        big = batch(1, lines=50_000)
        seen_partial = False
        for ref in refs:
            assert ref is not None
            ref.tell(Deliver(big, recorder))
            ref.tell(Deliver(big, recorder))  # sent twice: applied once
        # queries are answered between slices: some see part of the batch
        for _ in range(200):
            requests = pipeline.query("summary", collector="summary", timeout=10)["requests"]
            seen_partial |= 0 < requests < 50_000
            if requests == 50_000:
                break
        wait_for(lambda: len(recorder.ask("seen", timeout=5)) == 4, timeout=30)
        for ref in refs:
            assert ref is not None
            status = ref.ask(Query("status"), timeout=10)
            assert status["counters"]["records"] == 50_000
            assert status["counters"]["duplicate_batches"] == 1
            assert status["counters"]["slices"] >= 50_000 // 250
        assert pipeline.query("summary", collector="summary", timeout=10)["requests"] == 50_000
        top = pipeline.query("top", collector="window", window="5m", limit=3, timeout=10)
        assert top["rows"][0] == {**top["rows"][0], "key": "/p1", "hits": 50_000}
        assert seen_partial
    finally:
        recorder.stop()
        pipeline.stop()


def test_queries_shorten_the_switch_interval_while_they_wait(tmp_path: Path) -> None:
    """The interval is short while a query waits (seen by the collector answering it) and
    restored after; 0 leaves it alone."""
    before = sys.getswitchinterval()
    with quick_switching(0.001):
        with quick_switching(0.002):  # nested waits keep the shortest, restore once
            assert sys.getswitchinterval() == pytest.approx(0.001)
        assert sys.getswitchinterval() == pytest.approx(0.001)
    assert sys.getswitchinterval() == before
    registry = Registry()
    registry.add(SwitchProbe)
    for configured, during in ((0.5, 0.0005), (0, before)):
        pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path),
                                                      "query_switch_interval_ms": configured},
                                         "collector:probe": {"plugin": "switch-probe"}},
                                        registry=registry)
        pipeline.start()
        try:
            assert pipeline.query("interval", collector="probe") == pytest.approx(during)
        finally:
            pipeline.stop()
        assert sys.getswitchinterval() == before


def test_a_summary_with_whole_batches_applies_each_batch_in_one_slice(tmp_path: Path) -> None:
    """``whole_batches`` (what ``omphalos replay`` sets): one slice per batch, however
    large, and no query sees part of one."""
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "collector:summary": {"plugin": "summary",
                                                           "whole_batches": True}})
    pipeline.start()
    recorder = Recorder.start()
    try:
        ref = pipeline.directory.get("collector:summary")
        assert ref is not None
        for seq in (1, 2, 3):
            ref.tell(Deliver(batch(seq, lines=60_000), recorder))
        seen = set()
        for _ in range(100):
            requests = pipeline.query("summary", collector="summary", timeout=10)["requests"]
            seen.add(requests)
            if requests == 180_000:
                break
        wait_for(lambda: len(recorder.ask("seen", timeout=5)) == 3, timeout=30)
        assert seen <= {0, 60_000, 120_000, 180_000} and 180_000 in seen
        status = ref.ask(Query("status"), timeout=10)
        assert status["counters"]["slices"] == 3
        assert status["counters"]["records"] == 180_000
    finally:
        recorder.stop()
        pipeline.stop()
