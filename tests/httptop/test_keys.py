"""Keys on the real console object (no main loop): any key sequence at any size never raises,
and each key changes what the screen shows at once, before any answer arrives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import urwid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omphalos.console.app import HttptopApp
from omphalos.console.config import HttptopConfig
from omphalos.console.source import LocalSource
from omphalos.pipeline import Pipeline

from ..conftest import REAL_LOG, wait_for

KEYS = ["1", "2", "3", "4", "5", "6", "tab", "shift tab", "<", ">", "r", "w", "/", "a", "(",
        "enter", "esc", "backspace", "up", "down", "page up", "page down", "home", "end",
        "c", "C", "p", "?", "x", "meta 3", "left"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    config = {"omphalos": {"state_dir": str(tmp_path_factory.mktemp("state"))},
              "monitor:files": {"plugin": "file", "paths": [str(REAL_LOG)], "follow": False,
                                "checkpoints": False},
              "collector:summary": {"plugin": "summary"}}
    with Pipeline.from_config(config) as running:
        assert running.wait_idle(timeout=60)
        yield running


def press(app: HttptopApp, size: tuple[int, int], key: str) -> None:
    """What urwid does with a key: the widget first, the app with what it leaves."""
    left = app.widget.keypress(size, key)
    if left is not None:
        app.on_key(left)


def settle(app: HttptopApp) -> None:
    """Take every answer that arrived and ask what is due (the watch_pipe callback)."""
    if app.poller.drain():
        app.widget.refresh()
    app.poller.poll()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.sampled_from(KEYS), max_size=25),
       sizes=st.lists(st.tuples(st.integers(1, 160), st.integers(1, 60)), min_size=1,
                      max_size=4))
def test_any_keys_at_any_size(pipeline: Pipeline, keys: list[str],
                              sizes: list[tuple[int, int]]) -> None:
    source = LocalSource(pipeline)
    app = HttptopApp(source, HttptopConfig(theme="mono"))
    try:
        for i, key in enumerate(keys):
            size = sizes[i % len(sizes)]
            press(app, size, key)
            settle(app)
            canvas = app.widget.render(size, focus=True)
            assert (canvas.cols(), canvas.rows()) == size
        with pytest.raises(urwid.ExitMainLoop):  # in every state, even the filter prompt
            press(app, sizes[0], "ctrl c")
    finally:
        app.close()
        source.close(wait_secs=5)


@pytest.mark.timeout(60)
def test_keys_change_the_screen_before_any_answer(pipeline: Pipeline, tmp_path: Path) -> None:
    source = LocalSource(pipeline)
    app = HttptopApp(source, HttptopConfig(theme="mono"))
    size = (120, 30)

    def screen() -> list[str]:
        return [row.decode() for row in app.widget.render(size, focus=True).text]

    try:
        app.poller.poll()
        wait_for(lambda: (settle(app), app.widget.drawn)[1], timeout=30)
        first = app.widget.drawn[0]
        press(app, size, "2")  # the view changes now; its rows come later
        assert "view clients" in screen()[0]
        assert app.state.table_rows() is None and "waiting" in screen()[3]
        wait_for(lambda: (settle(app), app.widget.drawn)[1], timeout=30)
        assert app.widget.drawn[0] != first
        press(app, size, "1")
        wait_for(lambda: (settle(app), app.state.table_rows())[1], timeout=30)
        press(app, size, "down")
        selected = app.widget.selected()
        assert selected == app.widget.drawn[1]
        press(app, size, "enter")
        assert app.state.drill == selected and f"path {selected}" in "\n".join(screen())
        press(app, size, "esc")
        assert app.state.drill is None
        press(app, size, "/")
        for key in "\\.png$":
            press(app, size, key)
        press(app, size, "enter")
        assert app.state.filter == "\\.png$"
        assert all(key.endswith(".png") for key in app.widget.drawn)
        press(app, size, "/")
        press(app, size, "(")
        press(app, size, "enter")  # not a regular expression: refused, prompt stays open
        assert "not a regular expression" in screen()[-1] and app.widget.prompt is not None
        press(app, size, "esc")
        assert app.widget.prompt is None and app.state.filter == "\\.png$"
        press(app, size, "p")
        assert "PAUSED" in screen()[0]
        press(app, size, "?")
        assert "httptop keys" in "\n".join(screen())
        press(app, size, "x")
        assert not app.state.help
        with pytest.raises(urwid.ExitMainLoop):  # q never waits on a collector
            app.on_key("q")
    finally:
        app.close()
        source.close(wait_secs=5)
