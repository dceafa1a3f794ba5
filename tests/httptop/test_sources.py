"""The console's data sources against real pipelines: in-process, over the real HTTP API
(the web output), and with a collector that takes seconds to answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omphalos.console.config import HttptopConfig
from omphalos.console.poller import Poller
from omphalos.console.source import (
    STATUS,
    DataSource,
    LocalSource,
    RemoteSource,
    Reply,
    parse_address,
)
from omphalos.console.state import ConsoleState
from omphalos.console.widgets import ConsoleWidget
from omphalos.messages import Query
from omphalos.pipeline import Pipeline

from ..conftest import REAL_LOG, wait_for
from .plugins_for_tests import make_registry

TOKEN = "httptop-test-token"


def ask(source: DataSource, kind: str, timeout: float = 30.0, **params: Any) -> Reply:
    """Submit and wait for the callback (the test's thread waits; the console never does)."""
    done = threading.Event()
    replies: list[Reply] = []

    def on_done(reply: Reply) -> None:
        replies.append(reply)
        done.set()

    source.submit(kind, params, on_done)
    assert done.wait(timeout), f"no reply to {kind}"
    return replies[0]


def config(tmp_path: Path, collectors: dict[str, dict[str, Any]],
           **more: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:files": {"plugin": "file", "paths": [str(REAL_LOG)], "follow": False,
                          "checkpoints": False}}
    out.update(collectors)
    out.update(more)
    return out


@pytest.fixture
def web_pipeline(tmp_path: Path) -> Iterator[tuple[Pipeline, str]]:
    """The real log read by the window and summary collectors, served by the web output."""
    registry = make_registry()
    # the test alerts first: the window collector answers "alerts" too (with its own rules)
    collectors: dict[str, dict[str, Any]] = {
        "collector:alerts": {"plugin": "test-alerts", "threshold": 3}}
    if registry.has("collector", "window"):
        collectors["collector:window"] = {"plugin": "window", "history": False}
    collectors["collector:summary"] = {"plugin": "summary"}
    pipeline = Pipeline.from_config(config(tmp_path, collectors, **{
        "output:web": {"plugin": "web", "port": 0, "token": TOKEN}}), registry=registry)
    pipeline.start()
    try:
        assert pipeline.wait_idle(timeout=60)
        port = pipeline.ask("output:web", Query("status"))["port"]
        yield pipeline, f"127.0.0.1:{port}"
    finally:
        pipeline.stop()


@pytest.mark.timeout(120)
def test_remote_answers_are_the_in_process_answers(web_pipeline: tuple[Pipeline, str]
                                                   ) -> None:
    pipeline, address = web_pipeline
    local = LocalSource(pipeline)
    remote = RemoteSource(address, token=TOKEN)
    try:
        params = {"dimension": "path", "window": "all", "limit": 20, "sort": "hits"}
        over_http = ask(remote, "top", **params)
        in_process = ask(local, "top", **params)
        assert over_http.ok and in_process.ok, (over_http.error, in_process.error)
        assert over_http.value["rows"] == in_process.value["rows"]
        assert over_http.value["rows"][0]["key"] == pipeline.query("top", **params)[
            "rows"][0]["key"]

        health = ask(remote, STATUS)
        assert health.ok and health.value["degraded"] is False

        firing = ask(remote, "alerts").value["firing"]
        assert firing, "the test alerts collector fired for paths with 404s"
        cleared = ask(remote, "clear_alert", path=firing[0]["path"])
        assert cleared.ok and cleared.value == {"cleared": 1}
        assert ask(remote, "clear_alert", all=True).value == {"cleared": len(firing) - 1}
        assert ask(remote, "alerts").value["firing"] == []

        missing = ask(remote, "drill")  # no path: the API refuses it (400) -> not served
        assert not missing.ok and missing.unavailable

        anonymous = RemoteSource(address)
        no_token = ask(anonymous, "clear_alert", all=True)
        anonymous.close(wait_secs=5)
        assert not no_token.ok and not no_token.unavailable and "401" in (no_token.error or "")
    finally:
        local.close(wait_secs=5)
        remote.close(wait_secs=5)


@pytest.mark.timeout(60)
def test_console_state_over_http(web_pipeline: tuple[Pipeline, str]) -> None:
    """A poller on a remote source fills the table with the collector's rows."""
    pipeline, address = web_pipeline
    remote = RemoteSource(address, token=TOKEN)
    state = ConsoleState(window="all")
    woken = threading.Event()
    poller = Poller(remote, state, woken.set, refresh_secs=0.2, clock=time.monotonic)
    try:
        def rows() -> list[dict[str, Any]] | None:
            woken.wait(0.2)
            woken.clear()
            poller.drain()
            poller.poll()
            return state.table_rows()

        shown = wait_for(rows, timeout=30)
        expected = pipeline.query("top", dimension="path", window="all", limit=200)["rows"]
        assert [r["key"] for r in shown] == [r["key"] for r in expected]
        widget = ConsoleWidget(state, source=remote.description)
        widget.refresh()
        assert widget.drawn[0] == expected[0]["key"]
    finally:
        poller.close()
        remote.close(wait_secs=5)


def test_unreachable_remote_is_an_error_not_a_hang() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = RemoteSource(f"127.0.0.1:{port}", timeout_secs=5)
    try:
        reply = ask(remote, "overview", window="1m")
        assert not reply.ok and not reply.unavailable and reply.error
        state = ConsoleState()
        state.accept("health", ask(remote, STATUS))
        assert any("unreachable" in d for d in state.header().degraded)
    finally:
        remote.close(wait_secs=5)


@pytest.mark.parametrize("bad", ["localhost", "http://", "host:port", "ftp://h:1"])
def test_bad_connect_address(bad: str) -> None:
    with pytest.raises(ValueError, match="--connect"):
        parse_address(bad)


def test_connect_address_forms() -> None:
    assert parse_address("example.org:8080") == "http://example.org:8080"
    assert parse_address("https://example.org:8443/") == "https://example.org:8443"


@pytest.mark.timeout(60)
def test_slow_collector_never_blocks_the_asker(tmp_path: Path) -> None:
    """A collector sleeping on every query: submit returns at once, the poller keeps one
    query per slot, the state marks the data stale, and an unknown kind is 'not served'."""
    registry = make_registry()
    pipeline = Pipeline.from_config(config(tmp_path, {"collector:summary": {
        "plugin": "slow-summary", "delay_secs": 1.0}}), registry=registry)
    pipeline.start()
    source = LocalSource(pipeline, timeout_secs=30)
    try:
        assert pipeline.wait_idle(timeout=30)
        answered = threading.Event()
        source.submit("summary", {"limit": 5}, lambda reply: answered.set())
        assert not answered.is_set()  # submit did not wait for the 1 s answer
        state = ConsoleState(window="all")
        poller = Poller(source, state, lambda: None, refresh_secs=0.1, clock=time.monotonic)
        first = poller.poll()
        assert first >= 2
        assert poller.poll() == 0  # every slot already has its query on the way
        assert state.stale(time.monotonic() + 2.0, 1.0) is not None
        assert answered.wait(30)
        unknown = ask(source, "no-such-kind")
        assert unknown.unavailable
        # refusals are answered at once (by declaration): wait for the table's own answer
        wait_for(lambda: [poller.drain()] and state.slots["table"].last_ok, timeout=30)
        assert state.table_rows()
        poller.close()
    finally:
        pipeline.stop()
        source.close(wait_secs=10)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("httptop-local")]


@pytest.mark.timeout(60)
def test_degraded_pipeline_shows_and_queries_go_on(tmp_path: Path) -> None:
    """A collector that dies (and is given up at once): the header says DEGRADED with the
    reason, and the other collector still answers the table."""
    pipeline = Pipeline.from_config(config(tmp_path, {
        "collector:broken": {"plugin": "test-crashing"},
        "collector:summary": {"plugin": "summary"}}, omphalos={
            "state_dir": str(tmp_path / "state"), "max_restarts": 0}),
        registry=make_registry())
    pipeline.start()
    source = LocalSource(pipeline, timeout_secs=10)
    try:
        wait_for(lambda: pipeline.degraded, timeout=30)
        state = ConsoleState(window="all")
        state.accept("health", ask(source, STATUS))
        degraded = state.header().degraded
        assert degraded and any("broken" in reason for reason in degraded), degraded
        top = ask(source, "top", dimension="path", window="all", limit=5)
        assert top.ok, top.error
        lines = [row.decode() for row in ConsoleWidget(state, source="x").render(
            (160, 20)).text]
        assert "DEGRADED" in lines[2] and "broken" in lines[2]
    finally:
        pipeline.stop(timeout=2.0)  # batches to the dead collector are never acknowledged
        source.close(wait_secs=5)


@pytest.mark.timeout(120)
def test_clear_on_a_remote_collector_without_token_hints_at_token(
        web_pipeline: tuple[Pipeline, str]) -> None:
    """``C`` against a collector that wants its token: the footer says to use --token."""
    from omphalos.console.app import HttptopApp

    _, address = web_pipeline
    app = HttptopApp(RemoteSource(address), HttptopConfig())
    try:
        assert app.on_key("C")
        assert app.state.message == "clearing every alert…"
        wait_for(lambda: app.poller.drain() and app.state.message != "clearing every alert…",
                 timeout=30, interval=0.05)
        assert app.state.message == ("clear refused: the collector needs its API token: "
                                     "start httptop with --token TOKEN (or set "
                                     "OMPHALOS_TOKEN)")
    finally:
        app.close()
