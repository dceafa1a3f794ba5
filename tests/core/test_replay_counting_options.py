"""The summary's counting options hold on every path: ``static_extensions`` and
``geoip_database`` give the same answers with 1, 2 and 3 workers.

A parallel replay's workers count for the collectors (:mod:`omphalos.replaying`), and the
workers of a live ``workers = N`` pipeline may send counted batches: both must count the
``static`` and ``country`` dimensions with the collector's own options, as the collector
does when it is fed records. Real parts: the real corpus of ``tests/data``, a real
``.mmdb`` file (written with ``mmdb-writer``, read by ``maxminddb``), a real pipeline of
actors for one process and real worker processes for two and three.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from omphalos.cli.common import files_pipeline, replay_until_done
from omphalos.cli.signals import StopFlag
from omphalos.config import ConfigSource
from omphalos.pipeline import Pipeline
from omphalos.query import DEFAULT_DIMENSIONS
from omphalos.replaying import ParallelReplay
from omphalos.workers import WorkerPipeline, pipeline_from_config
from tests.conftest import REAL_LOG, applied_lines, wait_for
from tests.report.test_country import write_mmdb

#: Not GoAccess's list: pages only (the corpus has .html and .xhtml paths).
PAGES = [".html", ".xhtml"]
LINE = re.compile(r'^(\S+) \S+ \S+ \[[^]]+\] "\S+ (\S+) [^"]*" (\d+) ')


def _mmdb(tmp: Path) -> Path:
    """Two networks of the corpus's clients under made-up codes (``XA`` and ``XB``: not
    what the shipped data says, so only this file can give them)."""
    db = tmp / "country.mmdb"
    write_mmdb(db, {"66.0.0.0/8": {"country": {"iso_code": "XA"}},
                    "83.149.0.0/16": {"country": {"iso_code": "XB"}}})
    return db


def _options(db: Path) -> dict[str, Any]:
    return {"static_extensions": PAGES, "geoip_database": str(db),
            "dimensions": [*DEFAULT_DIMENSIONS, "country"]}


def _source(path: Path, options: dict[str, Any]) -> ConfigSource:
    source = files_pipeline(ConfigSource(), [str(path)], parser="combined", follow=False,
                            checkpoints=False,
                            extra={"monitor:files": {"max_in_flight": 1},
                                   "collector:summary": {"whole_batches": True, **options}})
    source.merge(ConfigSource.from_dict({"omphalos": {"host": "web1"}}))
    return source


def _panels(ask: Any) -> dict[str, Any]:
    """The ``static`` and ``country`` top lists, every key, and the totals."""
    out = {dim: [(r["key"], r["hits"]) for r in ask("top", dimension=dim, window="all",
                                                    limit=1000)["rows"]]
           for dim in ("static", "country")}
    out["requests"] = ask("summary", limit=1)["requests"]
    return out


def _one_process(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    pipeline = Pipeline.from_config(_source(path, options)).start()
    try:
        assert replay_until_done(pipeline, StopFlag(), path.stat().st_size) == "done"
        assert pipeline.wait_idle(30)
        return _panels(lambda kind, **p: pipeline.query(kind, **p))
    finally:
        pipeline.stop()


def _workers(path: Path, options: dict[str, Any], workers: int) -> dict[str, Any]:
    replay = ParallelReplay(_source(path, options))
    assert replay.refused is None
    try:
        assert replay.run([str(path)], workers, 200_000)  # about a dozen ranges
        return _panels(replay.query)
    finally:
        replay.close()


def _from_file() -> tuple[Counter[str], Counter[str]]:
    """What the options ask for, counted here from the raw lines: the hits of paths ending
    in .html or .xhtml, and of the clients in the two networks of the .mmdb file."""
    pages: Counter[str] = Counter()
    nets: Counter[str] = Counter()
    for line in REAL_LOG.read_text().splitlines():
        m = LINE.match(line)
        assert m, line
        client, path = m.group(1), m.group(2).split("?", 1)[0]  # the parser's path
        if path.rsplit("/", 1)[-1].lower().endswith(tuple(PAGES)):
            pages[path] += 1
        if client.startswith("66."):
            nets["XA"] += 1
        elif client.startswith("83.149."):
            nets["XB"] += 1
    return pages, nets


@pytest.mark.timeout(180)
def test_replay_counts_with_the_summary_options_on_1_2_3_workers(tmp_path: Path) -> None:
    options = _options(_mmdb(tmp_path))
    one = _one_process(REAL_LOG, options)
    pages, nets = _from_file()
    assert dict(one["static"]) == dict(pages) and len(pages) > 20
    country = dict(one["country"])
    assert (country["XA"], country["XB"]) == (nets["XA"], nets["XB"])
    assert nets["XA"] > 100 and nets["XB"] > 10
    assert sum(country.values()) == one["requests"] == 10_000
    two, three = _workers(REAL_LOG, options, 2), _workers(REAL_LOG, options, 3)
    assert two == one
    assert three == one


def test_collectors_that_count_differently_replay_in_one_process(tmp_path: Path) -> None:
    """Two summaries whose static extensions differ cannot share one count."""
    source = _source(REAL_LOG, {"static_extensions": PAGES})
    source.merge(ConfigSource.from_dict({"collector:other": {"plugin": "summary"}}))
    assert ParallelReplay(source).refused == (
        "the collectors count with different options (static_extensions...)")


@pytest.mark.timeout(120)
def test_live_workers_send_records_to_a_summary_with_its_own_options(tmp_path: Path) -> None:
    """The workers' senders count with the default options only: with a summary's own
    ``static_extensions`` they send records, and the summary counts them itself."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.log", "b.log"):
        shutil.copy(REAL_LOG, logs / name)
    pipeline = pipeline_from_config({
        "omphalos": {"host": "web1", "workers": 2, "state_dir": str(tmp_path / "state")},
        "monitor:web": {"paths": str(logs / "*.log"), "follow": False},
        "collector:summary": {"static_extensions": PAGES}})
    assert isinstance(pipeline, WorkerPipeline)
    assert pipeline.counted_dimensions is None
    assert all("aggregate" not in c["transport:local"] for c in pipeline.worker_configs)
    pipeline.start()
    try:
        wait_for(lambda: applied_lines(pipeline) == 20_000, 60, 0.1)
        rows = pipeline.query("top", dimension="static", window="all", limit=1000)["rows"]
    finally:
        pipeline.stop()
    pages, _ = _from_file()
    assert {r["key"]: r["hits"] for r in rows} == {k: 2 * v for k, v in pages.items()}
