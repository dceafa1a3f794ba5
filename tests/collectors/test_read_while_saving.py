"""A monitor reads on while a durable collector waits to save (the automatic credit).

A durable collector acknowledges a batch only once a save includes it; meanwhile it tells
the transport ``AwaitingSave`` (not an acknowledgement: nothing is committed on it), the
transport drops the batch's records, and a monitor with the automatic credit
(``max_in_flight = 0``, the default) lets 32 batches be unacknowledged, of which at most 8
not yet applied. Real pipelines on the real Apache log (file monitor with checkpoints,
``combined`` parser, local transport, durable ``summary`` and ``window``), with saving
held off until the stop (``save_interval_secs`` of an hour, saves spaced out without end,
the senders-stopped rule off), so that the monitor's credit alone decides how far it
reads: exactly 32 batches unacknowledged with the automatic credit, exactly
``max_in_flight`` with an explicit one. A restart then reads the rest: every line
counted once.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin, MonitorPlugin

from ..conftest import REAL_LOG, wait_for

LINES = 10_000
COLLECTORS = ("collector:summary", "collector:window")


def config(tmp_path: Path, durable: bool, credit: int | None) -> dict[str, dict[str, Any]]:
    options = {"durable": durable, "save_interval_secs": 3600}
    monitor: dict[str, Any] = {"plugin": "file", "paths": str(tmp_path / "access.log"),
                               "follow": "no", "read_bytes": 32768,
                               "max_line_bytes": 32768,
                               "ack_timeout_secs": 3600}
    if credit is not None:
        monitor["max_in_flight"] = credit
    return {
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:files": monitor,
        "parser:p": {"plugin": "combined"},
        "collector:summary": {"plugin": "summary", **options},
        "collector:window": {"plugin": "window", "clock": "event", "history": "no",
                             **options},
    }


def answers(p: Pipeline) -> dict[str, Any]:
    return {"summary": {**p.query("summary", limit=20), "since": None},
            "top": p.ask("collector:window", Query("top", {"window": "1h",
                                                           "dimension": "path"})),
            "overview": p.ask("collector:window", Query("overview", {"window": "5m"}))}


def read_to_the_end(tmp_path: Path, durable: bool) -> dict[str, Any]:
    size = (tmp_path / "access.log").stat().st_size
    with Pipeline.from_config(config(tmp_path, durable, None)) as p:
        def done() -> bool:
            status = p.ask("monitor:files", Query("status"))
            return bool(status["idle"]) and status["files"][0]["committed"] == size
        wait_for(done, 120)
        return answers(p)


def counters(p: Pipeline, name: str) -> dict[str, int]:
    return dict(p.ask(name, Query("status"))["counters"])


def held(p: Pipeline, name: str) -> int:
    return int(p.ask(name, Query("status"))["saved_state"]["held_acks"])


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("credit", "unacknowledged"), [
    (None, MonitorPlugin.auto_in_flight + MonitorPlugin.auto_awaiting_save),  # 8 + 24
    (8, 8),  # an explicit credit counts every batch unacknowledged
])
def test_the_monitor_reads_on_while_batches_wait_for_a_save(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credit: int | None,
        unacknowledged: int) -> None:
    monkeypatch.setattr(CollectorPlugin, "save_cost_ratio", 1e6)
    monkeypatch.setattr(CollectorPlugin, "stopped_gaps", math.inf)
    shutil.copy(REAL_LOG, tmp_path / "access.log")
    with Pipeline.from_config(config(tmp_path, True, credit)) as p:
        def settled() -> bool:
            """Each collector made its one save (the first is made once it has nothing
            to do: there is no last save to space it from) and applied every batch sent
            (acknowledged it, or holds it for a save), and the monitor may send no more."""
            monitor = p.ask("monitor:files", Query("status"))
            sent = monitor["counters"]["chunks_sent"]
            return all(counters(p, name).get("state_saves") == 1
                       and counters(p, name)["batches"] == sent for name in COLLECTORS) \
                and monitor["in_flight"] == unacknowledged \
                and max(held(p, name) for name in COLLECTORS) == unacknowledged
        wait_for(settled, 60)
        status = p.ask("monitor:files", Query("status"))
        assert status["in_flight"] == unacknowledged
        sent = status["counters"]["chunks_sent"]
        assert sent - status["counters"]["chunks_acked"] == unacknowledged
        assert status["files"][0]["read"] < REAL_LOG.stat().st_size  # not all read
        # (a batch is acknowledged once both collectors saved it: the one whose save held
        # fewer holds every batch unacknowledged)
        if credit is None:  # every batch was announced once all collectors held it
            assert status["counters"]["chunks_awaiting_save"] == sent
    monkeypatch.undo()
    # the stop saved the held batches; the restart skips them when they are sent again
    got = read_to_the_end(tmp_path, durable=True)
    assert got["summary"]["requests"] == LINES
    (tmp_path / "memory").mkdir()
    shutil.copy(REAL_LOG, tmp_path / "memory" / "access.log")
    memory = read_to_the_end(tmp_path / "memory", durable=False)
    assert got["summary"] == memory["summary"] and got["top"] == memory["top"]
    # every figure of the 5-minute window but ``late`` (lines counted late by the newest
    # time of the slice they arrive in: a restarted collector slices its first batches
    # anew, as tests/collectors/test_background_save.py says)
    assert {**got["overview"], "late": None} == {**memory["overview"], "late": None}
