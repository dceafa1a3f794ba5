"""Acknowledgements: an offset is committed only for the exact batch acknowledged, and a
restarted monitor never takes an acknowledgement meant for its previous incarnation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from omphalos.messages import Ack, Batch, LineChunk
from omphalos.pipeline import Pipeline
from omphalos.plugin import ParserPlugin
from omphalos.records import Columns
from tests.conftest import wait_for

from .helpers import monitor_status, registry
from .writer import line


class RecordingParser(ParserPlugin):
    """Test parser: remembers every chunk it gets and sends nothing on (so no acks)."""

    name = "recording"
    description = "Test parser: records chunks, forwards nothing"
    chunks: ClassVar[list[LineChunk]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def parse(self, chunk: LineChunk) -> Batch:
        with RecordingParser.lock:
            RecordingParser.chunks.append(chunk)
        return Batch(chunk.source, chunk.seq, chunk.start, chunk.end, Columns(), 0)

    def send(self, message: Any) -> None:
        pass


def _pipeline(tmp_path: Path, log: Path) -> Pipeline:
    reg = registry()
    reg.add(RecordingParser)
    config = {"omphalos": {"state_dir": str(tmp_path / "state")},
              "monitor:logs": {"plugin": "file", "paths": [str(log)], "max_in_flight": 1,
                               "read_bytes": 4096, "max_line_bytes": 1024},
              "parser:main": {"plugin": "recording"}}
    return Pipeline.from_config(config, kinds=("monitor", "parser"), registry=reg)


def _chunks() -> list[LineChunk]:
    with RecordingParser.lock:
        return list(RecordingParser.chunks)


@pytest.mark.timeout(60)
def test_only_the_matching_ack_commits_and_stale_acks_are_ignored(tmp_path: Path) -> None:
    RecordingParser.chunks.clear()
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(line(n) for n in range(1, 200)))
    pipe = _pipeline(tmp_path, log).start()
    try:
        (first,) = wait_for(_chunks)
        origin, file_id = first.source.origin, first.source.file_id

        def committed() -> int:
            return int(monitor_status(pipe)["files"][0]["committed"])

        pipe.directory.tell(origin, Ack(origin, first.seq, file_id, first.end + 1))
        pipe.directory.tell(origin, Ack(origin, first.seq, "1:2:deadbeef", first.end))
        wait_for(lambda: monitor_status(pipe)["counters"].get("acks_mismatched") == 2)
        assert committed() == 0 and monitor_status(pipe)["in_flight"] == 1
        pipe.directory.tell(origin, Ack(origin, first.seq, file_id, first.end))
        wait_for(lambda: committed() == first.end)
        second = wait_for(lambda: _chunks()[1:2])[0]
        assert second.start == first.end and second.seq > first.seq
    finally:
        pipe.stop(timeout=1.0)
    # a new incarnation resumes at the committed offset, numbering its batches afresh:
    # an acknowledgement for the previous incarnation's batch cannot commit anything
    RecordingParser.chunks.clear()
    pipe = _pipeline(tmp_path, log).start()
    try:
        (again,) = wait_for(_chunks)
        assert again.start == first.end and again.seq > second.seq
        pipe.directory.tell(origin, Ack(origin, second.seq, file_id, second.end))
        pipe.directory.tell(origin, Ack(origin, again.seq, file_id, again.end))
        wait_for(lambda: monitor_status(pipe)["files"][0]["committed"] == again.end)
        assert monitor_status(pipe)["counters"]["chunks_acked"] == 1
    finally:
        pipe.stop(timeout=1.0)


@pytest.mark.timeout(60)
def test_overdue_acks_rewind_to_the_committed_offset(tmp_path: Path) -> None:
    RecordingParser.chunks.clear()
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(line(n) for n in range(1, 200)))
    reg = registry()
    reg.add(RecordingParser)
    config = {"omphalos": {"state_dir": str(tmp_path / "state")},
              "monitor:logs": {"plugin": "file", "paths": [str(log)], "max_in_flight": 2,
                               "read_bytes": 4096, "max_line_bytes": 1024,
                               "ack_timeout_secs": 0.3, "stat_interval_secs": 0.1},
              "parser:main": {"plugin": "recording"}}
    pipe = Pipeline.from_config(config, kinds=("monitor", "parser"), registry=reg).start()
    try:
        # nothing is ever acknowledged: the same two chunks are sent again and again
        wait_for(lambda: len(_chunks()) >= 6)
        status = monitor_status(pipe)
    finally:
        pipe.stop(timeout=1.0)
    starts = [c.start for c in _chunks()]
    assert starts[:6] == starts[:2] * 3 and starts[0] == 0
    assert status["counters"]["rewinds"] >= 2 and status["files"][0]["committed"] == 0
