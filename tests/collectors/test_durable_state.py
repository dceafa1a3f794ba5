"""Durable collector state in one process: restored exactly, bounded, plain data only.

Real pipelines on the real Apache log: a pipeline reads it, stops; a second one, without a
monitor, must answer exactly the same from the saved state.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from omphalos.pipeline import Pipeline
from omphalos.state import StateError, StateStore, decode, encode, key_text, text_key

from ..conftest import REAL_LOG, wait_for


def config(tmp_path: Path, monitor: bool, **collector: Any) -> dict[str, dict[str, Any]]:
    cfg: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "collector:summary": {"plugin": "summary", **collector},
        "collector:window": {"plugin": "window", "clock": "event", "history": "no",
                             **collector},
    }
    if monitor:
        cfg["monitor:files"] = {"plugin": "file", "paths": str(tmp_path / "access.log"),
                                "follow": "no", "checkpoints": "no"}
    return cfg


def answers(p: Pipeline) -> dict[str, Any]:
    return {"summary": p.query("summary", limit=50),
            "top": p.ask("collector:window", _q("top", window="1h", dimension="path",
                                                  limit=20)),
            "clients": p.ask("collector:window", _q("top", window="5m", dimension="client",
                                                      limit=20)),
            "overview": p.ask("collector:window", _q("overview", window="1m")),
            "series": p.ask("collector:window", _q("series", window="1h", step_secs=300)),
            "alerts": p.ask("collector:window", _q("alerts"))["firing"]}


def _q(kind: str, **params: Any) -> Any:
    from omphalos.messages import Query

    return Query(kind, params)


def read_all(tmp_path: Path, **collector: Any) -> dict[str, Any]:
    shutil.copy(REAL_LOG, tmp_path / "access.log")
    with Pipeline.from_config(config(tmp_path, True, **collector)) as p:
        wait_for(lambda: p.query("summary")["requests"] == 10_000 and p.wait_idle(5), 60)
        return answers(p)


@pytest.mark.timeout(120)
def test_a_restarted_pipeline_answers_exactly_as_before(tmp_path: Path) -> None:
    before = read_all(tmp_path)
    assert before["summary"]["requests"] == 10_000
    assert before["overview"]["requests"] > 0
    with Pipeline.from_config(config(tmp_path, False)) as p:
        after = answers(p)
    assert after == before
    # the state is bounded by the tables: one part per bucket kept, plus meta and alerts
    with sqlite3.connect(tmp_path / "state" / "collectors.sqlite") as db:
        parts = dict(db.execute("SELECT collector, count(*) FROM parts GROUP BY collector"))
        applied = db.execute("SELECT collector, count(*) FROM applied GROUP BY collector"
                             ).fetchall()
    assert parts["collector:summary"] == 2  # totals and breakdown
    assert parts["collector:window"] > 2
    assert sorted(applied) == [("collector:summary", 1), ("collector:window", 1)]


@pytest.mark.timeout(120)
def test_a_file_read_again_is_not_counted_twice(tmp_path: Path) -> None:
    read_all(tmp_path)
    again = read_all(tmp_path)  # the same file (same identity), from its start
    assert again["summary"]["requests"] == 10_000


@pytest.mark.timeout(120)
def test_reset_survives_a_restart_and_memory_collectors_start_from_zero(tmp_path: Path
                                                                        ) -> None:
    read_all(tmp_path)
    with Pipeline.from_config(config(tmp_path, False)) as p:
        assert p.query("summary")["requests"] == 10_000
        assert p.ask("collector:summary", _q("reset")) == {"reset": True}
    with Pipeline.from_config(config(tmp_path, False)) as p:
        assert p.query("summary")["requests"] == 0
    memory = tmp_path / "memory"
    memory.mkdir()
    assert read_all(memory, durable="no")["summary"]["requests"] == 10_000
    assert not (memory / "state" / "collectors.sqlite").exists()
    with Pipeline.from_config(config(memory, False, durable="no")) as p:
        assert p.query("summary")["requests"] == 0


def test_state_parts_are_plain_data_only(tmp_path: Path) -> None:
    data = {"hits": {("/a", 200): 3, None: 1}, "first": 1.5, "ids": {"x"}, "rows": [(1, "a")]}
    assert decode(encode(data)) == data
    with pytest.raises(StateError, match="only plain data"):
        decode(pickle.dumps(shutil.rmtree))
    store = StateStore(str(tmp_path / "s.sqlite"))
    store.save("c", {"ok": 1}, applied={("sender", "file-1"): 10, "file-2": 20})
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute("UPDATE parts SET data = ? WHERE part = 'ok'", (pickle.dumps(Path),))
    with pytest.raises(StateError, match=r"s\.sqlite: state of c: .*pathlib"):
        store.load("c")
    store.close()


def test_dedupe_keys_of_any_shape_round_trip(tmp_path: Path) -> None:
    for key in ("dev:ino:crc", ("sender-key", "dev:ino:crc"), ("a", 1, ("b", 2))):
        assert text_key(key_text(key)) == key
    store = StateStore(str(tmp_path / "s.sqlite"))
    store.save("c", {}, applied={("s", "f"): 5, "g": 7})
    store.save("c", {}, applied={"g": 9}, forgotten=[("s", "f")])
    assert store.load("c").applied == [("g", 9)]
    store.clear("c")
    assert store.load("c").saved is None
    store.close()


@pytest.mark.timeout(60)
def test_two_collectors_never_share_one_saved_state(tmp_path: Path) -> None:
    """A second pipeline with the same state file and component name is refused (it would
    overwrite the first's counts); once the first stops, the state is free again."""
    cfg = config(tmp_path, False)
    del cfg["collector:window"]
    with Pipeline.from_config(cfg) as first:
        second = Pipeline.from_config(cfg).start()
        try:
            error = wait_for(lambda: second.health.snapshot()["actors"][
                "collector:summary"]["last_error"], 20)
            assert "the state of collector:summary is in use by another collector" in error
            assert str(tmp_path / "state" / "collectors.sqlite") in error
            assert f"process {os.getpid()}" in error
            assert first.query("summary")["requests"] == 0  # the first is untouched
        finally:
            second.stop(timeout=5)
    with Pipeline.from_config(cfg) as third:
        assert third.query("summary")["requests"] == 0
        assert third.health.snapshot()["actors"]["collector:summary"]["last_error"] == ""
