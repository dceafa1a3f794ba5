"""Reload through the library API: what is rebuilt, what keeps running, bad configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omphalos import ConfigError, Pipeline
from omphalos.registry import Registry
from omphalos.reload import plan_reload

from ..conftest import omphalos_threads, wait_for
from .helpers import numbered_lines
from .lineplugin import LineLog


@pytest.fixture
def registry() -> Registry:
    found = Registry.discover()
    found.add(LineLog)
    return found


def config(tmp: Path, **changes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any] | None] = {
        "omphalos": {"state_dir": str(tmp / "state")},
        "monitor:a": {"plugin": "file", "paths": str(tmp / "a.log")},
        "monitor:b": {"plugin": "file", "paths": str(tmp / "b.log")},
        "parser:p": {"plugin": "combined"},
        "transport:local": {},
        "collector:count": {"plugin": "linelog"},
    }
    sections.update(changes)
    return {k: v for k, v in sections.items() if v is not None}


def plan(tmp: Path, registry: Registry, **changes: dict[str, Any] | None) -> Any:
    old = Pipeline.from_config(config(tmp), registry=registry)
    new = Pipeline.from_config(config(tmp, **changes), registry=registry)
    return plan_reload(old.components, new.components)


def test_plan_names_what_changes(tmp_path: Path, registry: Registry) -> None:
    assert plan(tmp_path, registry).empty
    p = plan(tmp_path, registry, **{"collector:summary": {}})
    assert (p.added, p.changed, p.paused) == (("collector:summary",), (), ())
    assert p.rewired == ("transport:local",)  # told its new collector; keeps running
    p = plan(tmp_path, registry, **{"monitor:b": None})
    assert p.removed == ("monitor:b",) and p.paused == () and p.rewired == ("parser:p",)
    p = plan(tmp_path, registry, **{"parser:p": {"plugin": "combined", "bad_sample": 3}})
    assert p.changed == ("parser:p",) and p.paused == ("monitor:a", "monitor:b")
    p = plan(tmp_path, registry, **{"collector:count": {"plugin": "summary"}})
    assert p.changed == ("collector:count",) and set(p.paused) == {"monitor:a", "monitor:b"}
    p = plan(tmp_path, registry, **{"monitor:a": {"plugin": "file", "paths": "x.log"}})
    assert p.changed == ("monitor:a",) and p.paused == ()
    assert "changed monitor:a" in p.describe()


@pytest.mark.timeout(120)
def test_reload_keeps_unchanged_actors_and_refuses_bad_config(tmp_path: Path,
                                                              registry: Registry) -> None:
    (tmp_path / "a.log").write_text(numbered_lines(1, 300))
    (tmp_path / "b.log").write_text(numbered_lines(1, 200, tag="b"))
    pipeline = Pipeline.from_config(config(tmp_path), registry=registry).start()
    try:
        wait_for(lambda: pipeline.query("lines", collector="count") == 500, timeout=30)
        kept = pipeline.directory.get("collector:count")
        with pytest.raises(ConfigError, match="nosuch"):
            pipeline.reload(config(tmp_path, **{"collector:x": {"plugin": "nosuch"}}))
        assert set(pipeline.components) == set(config(tmp_path)) - {"omphalos"}
        result = pipeline.reload(config(tmp_path, **{"monitor:b": None,
                                                     "parser:p": {"plugin": "auto"}}))
        assert result.removed == ("monitor:b",) and result.changed == ("parser:p",)
        assert result.paused == ("monitor:a",)
        assert pipeline.directory.get("collector:count") is kept  # never stopped
        assert pipeline.directory.get("monitor:b") is None
        with open(tmp_path / "a.log", "a") as fh:
            fh.write(numbered_lines(301, 100))
        wait_for(lambda: pipeline.query("lines", collector="count") == 600, timeout=30)
        assert pipeline.status()["actors"]["parser:p"]["plugin"] == "auto"
        assert pipeline.status()["degraded"] is False
        # a changed [omphalos] section restarts everything (the collector starts empty)
        changed = config(tmp_path, **{"monitor:b": None, "parser:p": {"plugin": "auto"}})
        changed["omphalos"]["ask_timeout_secs"] = 4
        assert pipeline.reload(changed).settings_changed
        assert pipeline.directory.get("collector:count") is not kept
        assert pipeline.settings.ask_timeout_secs == 4
    finally:
        pipeline.stop()
    assert not [t for t in omphalos_threads() if not t.startswith(("pytest", "test-"))]
