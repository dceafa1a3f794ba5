"""The console's widgets rendered as urwid canvases: any size, and what they show.

The answers come from a real pipeline run on the real log (the summary collector), so the
tests check the screen against what the collector said. Alerts and windows answers, which
need collectors this pipeline lacks, are contract-shaped dicts written here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urwid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omphalos.cli import httptop as cli
from omphalos.config import ConfigError, ConfigSource, load_ini
from omphalos.console import fmt, themes
from omphalos.console.launch import console_config
from omphalos.console.source import STATUS, Reply
from omphalos.console.state import ConsoleState, summary_rows
from omphalos.console.views import VIEWS, WINDOWS, fit_columns
from omphalos.console.widgets import MIN_COLS, MIN_ROWS, ConsoleWidget
from omphalos.pipeline import Pipeline
from omphalos.query import DIMENSIONS

from ..conftest import REAL_LOG

ALERTS = {"firing": [
    {"id": "error-rate", "rule": "error-rate", "scope": "site", "path": None,
     "since": time.time() - 90, "message": "5xx at 12% (> 5%)", "value": 0.12,
     "threshold": 0.05},
    {"id": "not-found:/favicon.ico", "rule": "not-found", "scope": "path",
     "path": "/favicon.ico", "since": time.time() - 30, "message": "40 not found",
     "value": 40, "threshold": 10}], "history": []}
OVERVIEW = {"window": "1m", "rate": 12.5, "requests": 750, "bytes": 1 << 20,
            "bytes_rate": 2048.0, "status_class": {"2xx": 700, "3xx": 20, "4xx": 25, "5xx": 5},
            "hosts": 3, "sparkline": [1.0, 5.0, 12.5], "p50": 0.01, "p95": 0.2, "p99": 0.5,
            "late": 0, "unparsed": 0}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Real answers of the summary collector after it read the whole real log."""
    state_dir = tmp_path_factory.mktemp("state")
    config = {"omphalos": {"state_dir": str(state_dir)},
              "monitor:files": {"plugin": "file", "paths": [str(REAL_LOG)], "follow": False,
                                "checkpoints": False},
              "collector:summary": {"plugin": "summary", "dimensions": ",".join(DIMENSIONS)}}
    with Pipeline.from_config(config) as pipeline:
        assert pipeline.wait_idle(timeout=60)
        out: dict[str, Any] = {"summary": pipeline.query("summary", limit=200)}
        for view in VIEWS:
            out[view.name] = pipeline.query("top", dimension=view.dimension, window="all",
                                            limit=200)
        yield out


def reply(kind: str, value: Any, **params: Any) -> Reply:
    return Reply(kind, params, value=value, asked_at=time.monotonic())


def unavailable(kind: str, **params: Any) -> Reply:
    return Reply(kind, params, error="not served", unavailable=True,
                 asked_at=time.monotonic())


def fed(answers: dict[str, Any], view: str = "paths", **changes: Any) -> ConsoleState:
    """A state that got the collector's answers for ``view``."""
    state = ConsoleState(view=view, window="all", **changes)
    wanted = state.wanted()
    state.accept("table", reply("top", answers[view], **wanted["table"][1]))
    state.accept("overview", reply("overview", OVERVIEW))
    state.accept("alerts", reply("alerts", ALERTS))
    state.accept("health", reply(STATUS, {"degraded": False, "reasons": [], "actors": {}}))
    return state


def text_of(canvas: urwid.Canvas) -> list[str]:
    return [row.decode("utf-8") for row in canvas.text]


def render(widget: urwid.Widget, cols: int, rows: int) -> list[str]:
    canvas = widget.render((cols, rows), focus=True)
    assert (canvas.cols(), canvas.rows()) == (cols, rows)
    return text_of(canvas)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(cols=st.integers(1, 220), rows=st.integers(1, 90),
       view=st.sampled_from([v.name for v in VIEWS]),
       mode=st.sampled_from(["table", "help", "drill", "empty", "prompt", "paused"]),
       alerts=st.integers(0, 2))
def test_renders_at_any_size(answers: dict[str, Any], cols: int, rows: int, view: str,
                             mode: str, alerts: int) -> None:
    state = fed(answers, view) if mode != "empty" else ConsoleState(view=view)
    if mode != "empty":
        state.accept("alerts", reply("alerts", {"firing": ALERTS["firing"][:alerts],
                                                "history": []}))
    state.help = mode == "help"
    state.paused = mode == "paused"
    state.drill = "/favicon.ico" if mode == "drill" else None
    widget = ConsoleWidget(state, source="real log")
    widget.refresh()
    if mode == "prompt":
        widget.open_prompt()
        widget.keypress((cols, rows), "x")
    lines = render(widget, cols, rows)
    if cols < MIN_COLS or rows < MIN_ROWS:
        assert "small" in lines[0] if cols >= len("small") else lines[0].strip() == "!"
        assert all(not line.strip() for line in lines[1:])
    else:
        assert lines[0].startswith("httptop")


@pytest.mark.parametrize(("cols", "rows"), [(1, 1), (10, 3), (2, 40), (200, 1)])
def test_too_small_says_so(cols: int, rows: int) -> None:
    lines = render(ConsoleWidget(ConsoleState(), source="x"), cols, rows)
    assert lines[0].strip()
    if cols >= len("too small"):
        assert "too small" in lines[0]


#: Views of fields the combined format does not log (their table stays empty).
NOT_IN_COMBINED = {"vhost", "tls", "mime", "cache"}


@pytest.mark.parametrize("view", [v.name for v in VIEWS if v.dimension not in NOT_IN_COMBINED])
def test_table_shows_the_collectors_rows(answers: dict[str, Any], view: str) -> None:
    state = fed(answers, view)
    widget = ConsoleWidget(state, source="real log")
    widget.refresh()
    lines = render(widget, 160, 50)
    rows = answers[view]["rows"]
    assert rows, f"the collector listed no {view}"
    key_width, _ = fit_columns(160)
    body = lines[4:]
    for row, shown in zip(rows[:10], body):
        key = fmt.clip(str(row["key"]), key_width)
        assert shown.startswith(key), (row, shown)
        assert fmt.count(row["hits"]) in shown.split()
    assert widget.drawn[: len(rows)] == [str(r["key"]) for r in rows][: len(widget.drawn)]


def test_header_shows_overview_and_alerts(answers: dict[str, Any]) -> None:
    state = fed(answers)
    widget = ConsoleWidget(state, source="real log")
    widget.refresh()
    lines = render(widget, 120, 40)
    # the all window: no window count (the overview's is the last minute's)
    assert "12.5 req/s  - since start" in lines[1] and " in 1m" not in lines[1]
    state.window = "1h"
    lines = render(widget, 120, 40)
    assert "12.5 req/s  750 in 1h  - since start" in lines[1] and "hosts 3" in lines[1]
    assert "2xx 93%" in lines[1] and "5xx 1%" in lines[1]
    assert "pipeline ok" in lines[2]
    # the last bucket (12.5) is still filling: left out of the sparkline
    assert lines[2].startswith(fmt.sparkline([1.0, 5.0], 40) + " ")
    screen = "\n".join(lines)
    assert "alerts: 2 firing" in screen
    assert "not-found /favicon.ico" in screen and "error-rate site" in screen


def test_degraded_pipeline_in_header(answers: dict[str, Any]) -> None:
    state = fed(answers)
    state.accept("health", reply(STATUS, {
        "degraded": True, "reasons": ["monitor:files gave up after 5 restarts"],
        "actors": {"monitor:files": {"state": "failed", "bytes_behind": 4096}}}))
    lines = render(ConsoleWidget(state, source="x"), 120, 30)
    assert "DEGRADED" in lines[2] and "monitor:files gave up" in lines[2]
    assert "behind 4.0K" in lines[2]
    state.accept("health", Reply(STATUS, {}, error="connection refused"))
    lines = render(ConsoleWidget(state, source="x"), 200, 30)
    assert "unreachable: connection refused" in lines[2]


def test_summary_fallback_when_top_is_not_served(answers: dict[str, Any]) -> None:
    """Only a summary collector without top lists: the table comes from the summary."""
    state = ConsoleState(window="all")
    state.accept("table", unavailable("top", **state.wanted()["table"][1]))
    assert "summary" in state.wanted()
    state.accept("summary", reply("summary", answers["summary"], limit=200))
    state.accept("overview", unavailable("overview", window="1m"))
    widget = ConsoleWidget(state, source="x")
    widget.refresh()
    lines = render(widget, 120, 30)
    expected = summary_rows(answers["summary"], VIEWS[0])
    expected.sort(key=lambda r: -r["hits"])
    assert lines[4].startswith(expected[0]["key"])
    assert f"{fmt.count(answers['summary']['requests'])} since start" in lines[1]
    assert "since start" in lines[1]


def test_window_not_served_falls_back_to_all(answers: dict[str, Any]) -> None:
    state = ConsoleState(window="5m")
    params = state.wanted()["table"][1]
    state.slots["table"].pending_params = params
    state.accept("table", unavailable("top", **params))
    assert state.wanted()["table"][1]["window"] == "all"
    state.cycle_window()
    assert state.wanted()["table"][1]["window"] == "1h"


def test_filter_and_sort_apply_to_the_answer(answers: dict[str, Any]) -> None:
    state = fed(answers)
    assert state.set_filter("(") is not None  # not a regex: refused, filter unchanged
    assert state.set_filter(r"\.png$") is None
    rows = state.table_rows() or []
    assert rows and all(r["key"].endswith(".png") for r in rows)
    state.sort = "bytes"
    rows = state.table_rows() or []
    assert [r["bytes"] for r in rows] == sorted((r["bytes"] for r in rows), reverse=True)
    state.reverse = True
    rows = state.table_rows() or []
    assert [r["bytes"] for r in rows] == sorted(r["bytes"] for r in rows)


def test_switching_view_never_shows_the_old_rows(answers: dict[str, Any]) -> None:
    state = fed(answers, "paths")
    state.view = "clients"
    assert state.table_rows() is None
    assert "waiting" in state.table_note()


def test_stale_mark(answers: dict[str, Any]) -> None:
    state = fed(answers)
    now = time.monotonic()
    assert state.stale(now, 3.0) is None
    state.slots["table"].pending_since = now
    assert state.stale(now + 1, 3.0) is None
    assert state.stale(now + 5, 3.0) == pytest.approx(5, abs=0.5)
    widget = ConsoleWidget(state, source="x", clock=lambda: now + 10)
    assert "STALE" in render(widget, 80, 20)[0]
    state.paused = True
    assert "PAUSED" in render(widget, 80, 20)[0]


def test_drill_shows_the_paths_answer() -> None:
    state = ConsoleState(drill="/x")
    drill = {"path": "/x", "window": "5m", "requests": 42, "status": {"200": 40, "404": 2},
             "clients": [{"key": "10.0.0.1", "hits": 30, "rate": 0.1, "bytes": 100,
                          "errors": 0, "status": {"2xx": 30}, "p95": None}],
             "series": [{"t": 0, "requests": r} for r in (1, 2, 3)]}
    state.accept("drill", reply("drill", drill, path="/x", window="5m"))
    screen = "\n".join(render(ConsoleWidget(state, source="x"), 100, 20))
    assert "path /x" in screen and "requests 42" in screen
    assert "200:40" in screen and "404:2" in screen and "10.0.0.1" in screen


def test_help_lists_every_key() -> None:
    state = ConsoleState(help=True)
    screen = "\n".join(render(ConsoleWidget(state, source="x"), 100, 30))
    for key in ("1..6", "enter", "< >", "/", "w", "c", "C", "p", "?", "q"):
        assert key in screen


@pytest.mark.parametrize(("value", "theme"), [("15;0", "dark"), ("0;15", "light"),
                                               ("12;8", "dark"), ("0;default;7", "light"),
                                               ("", "dark")])
def test_auto_theme_from_colorfgbg(value: str, theme: str) -> None:
    assert themes.resolve("auto", {"COLORFGBG": value}) == theme


@pytest.mark.parametrize("theme", themes.THEMES)
def test_every_palette_registers(theme: str) -> None:
    screen = urwid.raw_display.Screen()
    screen.register_palette(themes.palette(theme, {}))
    names = {entry[0] for entry in themes.palette(theme, {})}
    assert names == set(themes.MONO)


@given(st.floats(0, 1e15, allow_nan=False))
def test_counts_stay_short(n: float) -> None:
    assert len(fmt.count(n)) <= 5


@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=100), st.integers(0, 50))
def test_sparkline_width(values: list[float], width: int) -> None:
    line = fmt.sparkline(values, width)
    assert len(line) == min(width, len(values))
    assert set(line) <= set(fmt.SPARKS)


def test_cli_choices_match_the_console() -> None:


    assert cli.THEMES == themes.THEMES
    assert cli.WINDOWS == WINDOWS
    assert cli.VIEWS == tuple(v.name for v in VIEWS)


def test_config_rejects_bad_options(tmp_path: Path) -> None:
    from omphalos.console.launch import console_config


    conf = tmp_path / "c.conf"
    conf.write_text("[httptop]\ntheme = purple\n")
    from omphalos.config import load_ini

    with pytest.raises(ConfigError, match=r"\[httptop\] theme"):
        console_config(load_ini([conf]), {})
    assert console_config(ConfigSource(), {"theme": "mono"}).theme == "mono"


def test_httptop_section_is_not_a_pipeline_component(tmp_path: Path) -> None:
    """One config file for the daemon and the console: ``[httptop]`` is the console's."""
    conf = tmp_path / "omphalos.conf"
    conf.write_text("[httptop]\ntheme = light\nwindow = 1h\n\n[collector:summary]\n")
    source = load_ini([conf])
    assert list(Pipeline.from_config(source).components) == ["collector:summary"]
    config = console_config(source, {"window": None, "view": "clients"})
    assert (config.theme, config.window, config.view) == ("light", "1h", "clients")
