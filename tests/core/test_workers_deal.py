"""``workers = N`` reads exactly the files ``workers = 1`` reads, for every way of naming them.

The monitors deal their inputs themselves (``MonitorPlugin.deal``); the framework only
runs what they dealt. Each case lists the files a single file monitor reads, by name.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from omphalos.plugins.monitors.file.discovery import Discovery

from omphalos.config import ConfigSource
from omphalos.pipeline import Pipeline
from omphalos.registry import default_registry
from omphalos.workers import WorkerPipeline, pipeline_from_config, plan_workers
from tests.conftest import REAL_LOG, applied_lines, wait_for

LINES = REAL_LOG.read_text().splitlines(keepends=True)


def make_tree(root: Path) -> Path:
    """A log folder: access.log (1,000 lines) and its rotated, compressed predecessor
    (500 lines, gzip), a plain rotated access.log.1 (200), other.log (300) and
    sub/deep.log (100)."""
    logs = root / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "access.log").write_text("".join(LINES[:1000]))
    with gzip.open(logs / "access.log.1.gz", "wt") as fh:
        fh.write("".join(LINES[1000:1500]))
    (logs / "access.log.1").write_text("".join(LINES[1500:1700]))
    (logs / "other.log").write_text("".join(LINES[1700:2000]))
    (logs / "sub" / "deep.log").write_text("".join(LINES[2000:2100]))
    return logs


#: monitor options -> the files one monitor reads (relative to the folder), for a folder
#: made by make_tree. ``{d}`` is the folder.
CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("glob of everything", {"paths": "{d}/*"}, {"access.log", "access.log.1", "other.log"}),
    ("directory", {"paths": "{d}"}, {"access.log", "access.log.1", "other.log"}),
    ("explicit paths", {"paths": ["{d}/access.log", "{d}/other.log", "{d}/access.log.1.gz"]},
     {"access.log", "other.log"}),
    ("recursive glob", {"paths": "{d}/**/*.log"}, {"access.log", "other.log", "sub/deep.log"}),
    ("exclude", {"paths": "{d}/*", "exclude": ["*.1", "*.gz", "other.*"]}, {"access.log"}),
    ("nothing excluded", {"paths": "{d}/*.1", "exclude": []}, {"access.log.1"}),
]


def _options(options: dict[str, Any], logs: Path) -> dict[str, Any]:
    out = dict(options)
    paths = out["paths"]
    out["paths"] = ([p.format(d=logs) for p in paths] if isinstance(paths, list)
                    else paths.format(d=logs))
    return out


@pytest.mark.parametrize(("case", "options", "expected"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("workers", [2, 3, 5])
def test_workers_are_dealt_exactly_the_files_one_monitor_reads(
        tmp_path: Path, case: str, options: dict[str, Any], expected: set[str],
        workers: int) -> None:
    logs = make_tree(tmp_path)
    monitor = {"plugin": "file", "follow": False, **_options(options, logs)}
    single = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path / "s")},
                                   "monitor:web": monitor, "collector:summary": {}})
    one = single.components["monitor:web"].config
    assert {str(Path(p).relative_to(logs)) for p in Discovery(one.paths, one.exclude).scan()
            } == expected
    plan = plan_workers(ConfigSource.from_dict({
        "omphalos": {"state_dir": str(tmp_path / "w"), "workers": workers},
        "monitor:web": monitor, "collector:summary": {}}), default_registry())
    shares: list[set[str]] = []
    for i, config in enumerate(plan.worker_configs):
        worker = Pipeline.from_config(config)  # what the worker process builds
        assert worker.names("monitor") == [f"monitor:web@{i}"]
        cfg = worker.components[f"monitor:web@{i}"].config
        shares.append({str(Path(p).relative_to(logs))
                       for p in Discovery(cfg.paths, cfg.exclude).scan()})
    assert len(plan.worker_configs) == min(workers, len(expected))
    assert set().union(*shares) == expected
    assert sum(len(s) for s in shares) == len(expected)  # no file read twice
    assert all(shares)


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("paths", "exclude", "lines"), [
    ("{d}/*", None, 1500),  # the default exclude keeps access.log.1.gz out
    ("{d}", ["*.1", "*.gz"], 1300),
])
def test_workers_count_what_one_process_counts(tmp_path: Path, paths: str,
                                                 exclude: list[str] | None,
                                                 lines: int) -> None:
    logs = make_tree(tmp_path)
    monitor: dict[str, Any] = {"paths": paths.format(d=logs), "follow": False}
    if exclude is not None:
        monitor["exclude"] = exclude
    counted = {}
    for workers in (1, 2):
        pipeline = pipeline_from_config({
            "omphalos": {"state_dir": str(tmp_path / f"state{workers}"), "workers": workers},
            "monitor:web": monitor, "collector:summary": {}})
        assert isinstance(pipeline, WorkerPipeline) == (workers > 1)
        pipeline.start()
        try:
            assert pipeline.wait_idle(120)
            wait_for(lambda p=pipeline: applied_lines(p) >= lines, 60, 0.1)
            answer = pipeline.query("summary")
            counted[workers] = (answer["lines"], answer["requests"])
        finally:
            pipeline.stop()
    assert counted == {1: (lines, lines), 2: (lines, lines)}
