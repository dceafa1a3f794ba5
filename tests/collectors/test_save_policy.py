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


def _parts_per_ring(parts: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in parts:
        if name.startswith("bucket/"):
            ring = name.split("/")[1]
            out[ring] = out.get(ring, 0) + 1
    return out


def test_a_save_writes_only_the_buckets_inside_the_windows() -> None:
    """An old log replayed at full speed makes and leaves hundreds of one-second buckets
    between two saves: only those still inside their window are written, and the state
    restored from them answers exactly as the store it was saved from."""
    from .helpers import columns, store

    s = store()
    s.add(columns([0.0]), "web1", 1)
    s.state_parts(full=False)  # the first save
    for m in range(20):  # 20 minutes of event time, a batch a minute, no tick between
        times = [float(t) for t in range(m * 60 + 1, m * 60 + 61)]
        s.add(columns(times, paths=[f"/p{int(t) % 7}" for t in times]), "web1", 60)
    parts, dropped = s.state_parts(full=False)
    assert dropped == []  # the bucket of the first save is still held (no expiry yet)
    # 1m/1s: the last 60 seconds; 5m/5s: the last 60 steps; 1h/1m: all 21 minutes
    assert _parts_per_ring(parts) == {"1m": 60, "5m": 60, "1h": 21}
    restored = store()
    saved = {"meta": parts["meta"]}
    saved.update({k: v for k, v in parts.items() if k.startswith("bucket/")})
    restored.restore_state(saved)
    for window in ("1m", "5m", "1h"):
        assert restored.overview(window) == s.overview(window)
        p = {"window": window, "dimension": "path", "limit": 10, "sort": "hits",
             "filter": None}
        assert restored.top(p) == s.top(p)


def test_with_a_history_the_minutes_it_has_not_written_are_saved_too() -> None:
    from .helpers import columns, store

    options = {"windows": ["1m/1s", "10m/1m"], "baseline_window": "10m"}
    minutes = [[float(t) for t in range(m * 60, m * 60 + 60, 10)] for m in range(20)]
    without = store(**options)
    for times in minutes:  # 20 minutes, a batch each, no expiry between (no tick)
        without.add(columns(times), "web1", len(times))
    assert _parts_per_ring(without.state_parts(full=False)[0]) == {"1m": 6, "10m": 10}
    s = store(history=True, **options)
    for times in minutes:
        s.add(columns(times), "web1", len(times))
    # the 10m/1m ring is the minute ring: its 20 minutes wait for the history's rollups
    assert _parts_per_ring(s.state_parts(full=False)[0]) == {"1m": 6, "10m": 20}
    s.rollups(10)  # the history wrote them
    s.add(columns([1200.0]), "web1", 1)
    assert _parts_per_ring(s.state_parts(full=False)[0]) == {"1m": 1, "10m": 1}
