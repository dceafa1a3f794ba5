"""Collectors queue delivered batches and apply one per message: nothing lost or doubled,
every batch acknowledged after it is applied, a stop applies what is still queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pykka
import pytest

from omphalos.messages import Applied, Batch, Deliver, Query, Source, Stop
from omphalos.pipeline import Pipeline

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
        assert answer["requests"] % 500 == 0  # whole batches only, however far it got
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
