"""SIGHUP with ``workers = N``: the workers are restarted from the new config (inputs dealt
out again), this process's unchanged collectors keep their counts, and no line is counted
twice even when a file moves to another worker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from omphalos.config import ConfigError
from omphalos.workers import WorkerPipeline, pipeline_from_config
from tests.conftest import REAL_LOG, applied_lines, wait_for

TOTAL = 10000  # lines of REAL_LOG


def _config(tmp_path: Path, *paths: Path, workers: int = 2) -> dict[str, dict[str, object]]:
    return {"omphalos": {"workers": workers, "host": "web1",
                         "state_dir": str(tmp_path / "state")},
            "monitor:web": {"paths": ",".join(map(str, paths)), "stat_interval_secs": 0.1},
            "collector:summary": {}}


@pytest.mark.timeout(120)
def test_a_reload_restarts_the_workers_and_counts_every_line_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.log", "b.log", "c.log"):
        shutil.copy(REAL_LOG, logs / name)
    pipeline = pipeline_from_config(_config(tmp_path, logs / "a.log", logs / "b.log"))
    assert isinstance(pipeline, WorkerPipeline)
    with pipeline:
        wait_for(lambda: applied_lines(pipeline) == 2 * TOTAL, 60, 0.1)
        before = {w["pid"] for w in pipeline.worker_statuses()}
        # c.log added: the three files are dealt out again over two new processes
        plan = pipeline.reload(_config(tmp_path, logs / "a.log", logs / "b.log",
                                       logs / "c.log"))
        assert plan.workers_restarted == 2
        assert plan.describe() == "2 workers restarted"  # the summary kept running
        after = pipeline.worker_statuses()
        assert len(after) == 2 and not before & {w["pid"] for w in after}
        wait_for(lambda: applied_lines(pipeline) == 3 * TOTAL, 60, 0.1)
        with open(logs / "a.log", "a", encoding="utf-8") as fh:  # still followed
            fh.write(REAL_LOG.read_text(encoding="utf-8").splitlines(keepends=True)[0] * 5)
        wait_for(lambda: applied_lines(pipeline) == 3 * TOTAL + 5, 60, 0.1)
        assert pipeline.wait_idle(30)
        files = sorted(f["path"] for w in pipeline.worker_statuses() for m in w["monitor"]
                       for f in m["files"])
        assert files == [str(logs / n) for n in ("a.log", "b.log", "c.log")]
        assert pipeline.query("summary")["lines"] == 3 * TOTAL + 5


@pytest.mark.timeout(60)
def test_a_reload_to_one_worker_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(REAL_LOG, logs / "a.log")
    pipeline = pipeline_from_config(_config(tmp_path, logs / "a.log"))
    assert isinstance(pipeline, WorkerPipeline)
    with pipeline:
        wait_for(lambda: applied_lines(pipeline) == TOTAL, 60, 0.1)
        pids = [w["pid"] for w in pipeline.worker_statuses()]
        with pytest.raises(ConfigError, match="workers"):
            pipeline.reload(_config(tmp_path, logs / "a.log", workers=1))
        assert [w["pid"] for w in pipeline.worker_statuses()] == pids
        assert pipeline.query("summary")["lines"] == TOTAL
