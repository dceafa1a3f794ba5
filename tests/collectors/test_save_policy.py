"""The save policy of durable collectors: a sender out of credit is never left waiting.

A durable collector acknowledges a batch only once a save includes it, and spaces its saves
out (``CollectorPlugin.save_cost_ratio``) so that saving takes a bounded share of the time.
When every batch its senders may have unacknowledged is applied and waits for a save, the
senders stop: then it saves at once (``state_saves_senders_stopped``), whatever the spacing
asks. Real pipelines on the real Apache log (file monitor with checkpoints, ``combined``
parser, local transport, durable ``summary`` and ``window``), read with a credit of two
batches of 64 KiB: about 35 rounds of credit.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin

from ..conftest import REAL_LOG, wait_for

LINES = 10_000
CREDIT = 2


def config(tmp_path: Path, monitor: bool, durable: bool = True) -> dict[str, dict[str, Any]]:
    durable_options = {"durable": durable, "save_interval_secs": 3600}
    cfg: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "parser:p": {"plugin": "combined"},
        "collector:summary": {"plugin": "summary", **durable_options},
        "collector:window": {"plugin": "window", "clock": "event", "history": "no",
                             **durable_options},
    }
    if monitor:
        cfg["monitor:files"] = {"plugin": "file", "paths": str(tmp_path / "access.log"),
                                "follow": "no", "max_in_flight": CREDIT,
                                "read_bytes": 65536, "ack_timeout_secs": 3600}
    return cfg


def answers(p: Pipeline) -> dict[str, Any]:
    return {"summary": p.query("summary", limit=20),
            "top": p.ask("collector:window", Query("top", {"window": "1h",
                                                           "dimension": "path"})),
            "overview": p.ask("collector:window", Query("overview", {"window": "5m"}))}


def read_all(tmp_path: Path, durable: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the log to its end (every offset committed); the answers and every actor's
    counters."""
    shutil.copy(REAL_LOG, tmp_path / "access.log")
    size = (tmp_path / "access.log").stat().st_size
    with Pipeline.from_config(config(tmp_path, True, durable)) as p:
        def done() -> bool:
            status = p.ask("monitor:files", Query("status"))
            return bool(status["idle"]) and status["files"][0]["committed"] == size
        wait_for(done, 120)
        counters = {name: actor.get("counters", {})
                    for name, actor in p.status()["actors"].items()}
        return answers(p), counters


@pytest.mark.timeout(240)
def test_a_sender_out_of_credit_gets_its_acknowledgements_without_waiting_for_the_spacing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saves spaced out without end (a save would wait a million times the last one's
    # duration) and save_interval_secs of an hour: only the senders-stopped rule can save
    # before the stop, so every offset committed means that every round of credit was
    # acknowledged by it.
    monkeypatch.setattr(CollectorPlugin, "save_cost_ratio", 1e6)
    got, counters = read_all(tmp_path)
    assert got["summary"]["requests"] == LINES
    monitor = counters["monitor:files"]
    assert monitor.get("rewinds", 0) == 0  # no acknowledgement ever timed out
    assert monitor["chunks_acked"] == monitor["chunks_sent"]
    batches = monitor["chunks_sent"]
    assert batches > 10 * CREDIT
    for name in ("collector:summary", "collector:window"):
        c = counters[name]
        assert c["batches"] == batches and c["records"] == LINES
        assert c.get("duplicate_batches", 0) == 0
        # a save per round of credit at least: the monitor never had more than CREDIT
        # batches unacknowledged, and only a save acknowledges
        assert c["state_saves"] >= batches // CREDIT
        assert c["state_saves_senders_stopped"] >= batches // CREDIT - 1
    # exactly what a collector without durability counts, and exactly that after a restart
    (tmp_path / "memory").mkdir()
    memory, _ = read_all(tmp_path / "memory", durable=False)
    assert {**got["summary"], "since": None} == {**memory["summary"], "since": None}
    assert got["top"] == memory["top"] and got["overview"] == memory["overview"]
    with Pipeline.from_config(config(tmp_path, False)) as p:
        assert answers(p) == got


@pytest.mark.timeout(240)
def test_with_the_default_policy_counts_are_exact_and_every_batch_acknowledged(
        tmp_path: Path) -> None:
    got, counters = read_all(tmp_path)
    assert got["summary"]["requests"] == LINES
    monitor = counters["monitor:files"]
    assert monitor.get("rewinds", 0) == 0
    assert monitor["chunks_acked"] == monitor["chunks_sent"]
    for name in ("collector:summary", "collector:window"):
        assert counters[name]["records"] == LINES
        assert counters[name]["state_saves"] >= monitor["chunks_sent"] // CREDIT
    with Pipeline.from_config(config(tmp_path, False)) as p:
        assert answers(p) == got
