"""``workers = N``: a host's files spread over worker processes feeding this process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from omphalos.plugins.collectors.summary import SummaryConfig

from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from omphalos.workers import WorkerPipeline, pipeline_from_config, share_files
from tests.conftest import REAL_LOG, applied_lines, wait_for

TOTAL = 10000


def test_shares_are_balanced_by_size(tmp_path: Path) -> None:
    sizes = {"a": 500, "b": 400, "c": 300, "d": 200}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    shares = share_files([str(tmp_path / n) for n in sizes], 2)
    loads = sorted(sum(sizes[Path(p).name] for p in share) for share in shares)
    assert loads == [700, 700]


def test_one_worker_is_the_plain_pipeline(tmp_path: Path) -> None:
    pipeline = pipeline_from_config({"monitor:web": {"paths": str(REAL_LOG)},
                                     "collector:summary": {}})
    assert type(pipeline) is Pipeline


@pytest.mark.timeout(90)
def test_two_workers_count_every_line_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.log", "b.log", "c.log"):
        shutil.copy(REAL_LOG, logs / name)
    pipeline = pipeline_from_config({
        "omphalos": {"workers": 2, "host": "web1", "state_dir": str(tmp_path / "state")},
        "monitor:web": {"paths": str(logs / "*.log"), "follow": False},
        "collector:summary": {}})
    assert isinstance(pipeline, WorkerPipeline)
    pipeline.start()
    try:
        wait_for(lambda: applied_lines(pipeline) == 3 * TOTAL, 60, 0.1)
        assert pipeline.wait_idle(30)
        workers = pipeline.worker_statuses()
        assert len(workers) == 2
        assert len({w["pid"] for w in workers} | {os.getpid()}) == 3  # real processes
        files = [f["path"] for w in workers for m in w["monitor"] for f in m["files"]]
        assert sorted(files) == sorted(str(logs / n) for n in ("a.log", "b.log", "c.log"))
        assert pipeline.query("summary")["hosts"] == {"web1": 3 * TOTAL}
    finally:
        pipeline.stop()
    assert not pipeline.worker_statuses()  # the workers are gone


@pytest.mark.timeout(90)
def test_two_workers_send_to_a_remote_collector_each_with_its_own_spool(tmp_path: Path) -> None:
    from .cluster import free_port

    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.log", "b.log"):
        shutil.copy(REAL_LOG, logs / name)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    collector = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path / "central")},
                                      "transport:zmq": {"bind": endpoint},
                                      "collector:summary": {}}).start()
    monitor = pipeline_from_config({
        "omphalos": {"workers": 2, "host": "web1", "state_dir": str(tmp_path / "state")},
        "monitor:web": {"paths": str(logs / "*.log"), "follow": False},
        "transport:zmq": {"connect": endpoint}})
    assert isinstance(monitor, WorkerPipeline) and not monitor.components
    monitor.start()
    try:
        wait_for(lambda: applied_lines(collector) == 2 * TOTAL, 60, 0.1)
        assert collector.query("summary")["hosts"] == {"web1": 2 * TOTAL}
        assert monitor.wait_idle(30)
        spools = sorted(p.name for p in (tmp_path / "state" / "spool").iterdir())
        assert spools == ["transport-zmq-worker-0", "transport-zmq-worker-1"]
    finally:
        monitor.stop()
        collector.stop()


def _summary_of(pipeline: Pipeline) -> dict[str, object]:
    answer = pipeline.query("summary", limit=50)
    return {k: v for k, v in answer.items() if k not in ("since", "bad_lines")}


@pytest.mark.timeout(120)
def test_workers_send_counts_to_a_summary_and_it_answers_the_same(tmp_path: Path) -> None:
    """Only summary collectors here: the workers count and send counts; every answer is the
    one the plain pipeline gives for the same files."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.log", "b.log"):
        shutil.copy(REAL_LOG, logs / name)
    config = {"omphalos": {"host": "web1", "state_dir": str(tmp_path / "plain")},
              "monitor:web": {"paths": str(logs / "*.log"), "follow": False},
              "collector:summary": {}}
    plain = Pipeline.from_config(config).start()
    try:
        wait_for(lambda: applied_lines(plain) == 2 * TOTAL, 60, 0.1)
        expected = _summary_of(plain)
    finally:
        plain.stop()
    workers = pipeline_from_config({**config, "omphalos": {
        "host": "web1", "workers": 2, "state_dir": str(tmp_path / "workers")}})
    assert isinstance(workers, WorkerPipeline)
    assert workers.counted_dimensions == tuple(SummaryConfig().dimensions)
    assert workers.counted_capacity == SummaryConfig().capacity
    assert all(c["transport:local"]["aggregate_capacity"] == SummaryConfig().capacity
               for c in workers.worker_configs)
    workers.start()
    try:
        wait_for(lambda: applied_lines(workers) == 2 * TOTAL, 60, 0.1)
        assert _summary_of(workers) == expected
        collector = workers.ask("collector:summary", Query("status"))["counters"]
        assert collector["records"] == 2 * TOTAL
        assert not collector.get("overlapping_counted_batches")
        assert not collector.get("duplicate_lines")
    finally:
        workers.stop()


def test_workers_send_records_when_a_collector_needs_them(tmp_path: Path) -> None:
    pipeline = pipeline_from_config({
        "omphalos": {"workers": 2, "state_dir": str(tmp_path)},
        "monitor:web": {"paths": str(REAL_LOG), "follow": False},
        "collector:summary": {}, "collector:window": {"plugin": "window"}})
    assert isinstance(pipeline, WorkerPipeline)
    assert pipeline.counted_dimensions is None
    assert all("aggregate" not in c["transport:local"] for c in pipeline.worker_configs)


@pytest.mark.timeout(90)
def test_what_a_crash_left_in_a_worker_spool_is_sent_at_the_next_start(tmp_path: Path) -> None:
    """The monitors commit what is spooled: a batch left in worker 0's spool by a crash is
    delivered when the workers start again."""
    from omphalos.messages import Batch, Source
    from omphalos.records import Columns
    from omphalos.spool import Spool
    from omphalos.wire import encode_batch

    state = tmp_path / "state"
    left = Spool(state / "spool" / "workers-0", 1 << 20)
    cols = Columns(time=[1_800_000_000.0] * 3, client=["10.0.0.9"] * 3, path=["/left"] * 3,
                   status=[200] * 3, bytes=[5] * 3, offset=[0, 10, 20])
    left.append(encode_batch(Batch(Source("web1", "/var/log/old.log", "9:9:old",
                                          "monitor:web@0"), 1, 0, 30, cols, 3)))
    left.close()
    pipeline = pipeline_from_config({
        "omphalos": {"workers": 2, "host": "web1", "state_dir": str(state)},
        "monitor:web": {"paths": str(REAL_LOG), "follow": False},
        "collector:summary": {}})
    pipeline.start()
    try:
        wait_for(lambda: applied_lines(pipeline) == TOTAL + 3, 60, 0.1)
        top = pipeline.query("top", dimension="path", filter="^/left$", window="all")
        assert [(r["key"], r["hits"]) for r in top["rows"]] == [("/left", 3)]
    finally:
        pipeline.stop()
