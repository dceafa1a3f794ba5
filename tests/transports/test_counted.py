"""Batches reduced to counts (the zmq sender's ``aggregate``): a sender cuts lines read again
before counting them, a collector that needs records refuses counts and says so, and a
counted batch that still overlaps is counted in full and reported."""

from __future__ import annotations

import logging
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from omphalos.lib.collectors.aggregate import aggregate
from omphalos.messages import Batch, Query, Source
from omphalos.pipeline import Pipeline
from omphalos.records import Columns
from tests.conftest import wait_for

from .cluster import free_port

SOURCE = Source("web1", "/var/log/access.log", "1:2:abcd", "monitor:web")
SEQ = count(1)  # every batch a monitor sends has a sequence number of its own


def lines(start: int, stop: int) -> Batch:
    """A batch of the 10-byte lines at bytes [start, stop), one path per line."""
    offsets = list(range(start, stop, 10))
    n = len(offsets)
    cols = Columns(time=[1_800_000_000.0 + o for o in offsets], client=["10.0.0.1"] * n,
                   path=[f"/line{o}" for o in offsets], status=[200] * n, bytes=[1] * n,
                   offset=offsets)
    return Batch(SOURCE, next(SEQ), start, stop, cols, n)


def counted(start: int, stop: int) -> Batch:
    batch = lines(start, stop)
    return Batch(batch.source, batch.seq, start, stop, Columns(), batch.lines,
                 counts=aggregate(batch.records, "web1", ("path", "status")))


def refused(pipeline: Pipeline, name: str, batches: int) -> dict[str, Any] | None:
    """The counters of collector ``name`` once it refused ``batches`` counted batches."""
    counters: dict[str, Any] = status(pipeline, name)["counters"]
    return counters if counters.get("counted_batches_refused") == batches else None


def applied(pipeline: Pipeline, name: str, batches: int) -> dict[str, Any] | None:
    """The counters of collector ``name`` once it took in ``batches`` batches."""
    counters: dict[str, Any] = status(pipeline, name)["counters"]
    taken = counters.get("batches", 0) + counters.get("duplicate_batches", 0)
    return counters if taken == batches else None


def status(pipeline: Pipeline, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = pipeline.ask(name, Query("status"))
    return answer


@pytest.mark.timeout(60)
def test_sender_cuts_lines_read_again_before_counting(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    receiver = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path / "r")},
                                     "transport:zmq": {"bind": endpoint},
                                     "collector:summary": {}}).start()
    sender = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path / "s")},
                                   "transport:zmq": {"connect": endpoint,
                                                     "aggregate": "path, status"}}).start()
    try:
        ref = sender.directory.get("transport:zmq")
        assert ref is not None
        ref.tell(lines(0, 50))     # lines at 0..40
        ref.tell(lines(0, 80))     # read again after a rewind, with three more lines
        ref.tell(lines(0, 30))     # read again, all of it sent already
        ref.tell(lines(80, 100))
        wait_for(lambda: receiver.query("summary")["requests"] >= 10, 30, 0.05)
        wait_for(lambda: not status(sender, "transport:zmq")["spool"]["items"], 30, 0.05)
        summary = receiver.query("summary", limit=20)
        assert summary["requests"] == 10
        assert sorted(r["path"] for r in summary["top_paths"]) == sorted(
            f"/line{o}" for o in range(0, 100, 10))
        assert all(r["hits"] == 1 for r in summary["top_paths"])
        assert status(sender, "transport:zmq")["counters"]["lines_read_again"] == 5 + 3
        collector = status(receiver, "collector:summary")["counters"]
        assert collector["duplicate_batches"] == 1
        assert not collector.get("overlapping_counted_batches")
    finally:
        sender.stop()
        receiver.stop()


def test_collector_that_needs_records_refuses_counts(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "collector:window": {"plugin": "window",
                                                          "history": False}}).start()
    try:
        ref = pipeline.directory.get("collector:window")
        assert ref is not None
        with caplog.at_level(logging.ERROR):
            ref.tell(counted(0, 50))
            ref.tell(counted(50, 80))
            counters = wait_for(lambda: refused(pipeline, "collector:window", 2), 10)
        assert not counters.get("records")
        assert "needs records but was sent batches reduced to counts" in caplog.text
    finally:
        pipeline.stop()


def test_counted_batch_that_overlaps_is_counted_in_full_and_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "collector:summary": {}}).start()
    try:
        ref = pipeline.directory.get("collector:summary")
        assert ref is not None
        with caplog.at_level(logging.WARNING):
            ref.tell(counted(0, 50))
            ref.tell(counted(20, 80))  # a sender that lost track: cannot be cut
            ref.tell(counted(0, 80))   # wholly applied already: dropped as usual
            counters = wait_for(lambda: applied(pipeline, "collector:summary", 3), 10)
        assert counters["records"] == 5 + 6
        assert counters["overlapping_counted_batches"] == 1
        assert counters["duplicate_batches"] == 1
        assert pipeline.query("summary")["requests"] == 11
        assert "overlaps what was applied" in caplog.text
    finally:
        pipeline.stop()
