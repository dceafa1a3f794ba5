"""Plugins declare what they are; the loader refuses what does not fit, the pipeline routes
queries by the declarations alone."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from omphalos.plugins.collectors.summary import SummaryCollector

from omphalos.messages import Batch, Query
from omphalos.pipeline import Pipeline, QueryRefused
from omphalos.plugin import CollectorPlugin, ParserPlugin, TransportPlugin
from omphalos.registry import PluginSpecError, Registry, default_registry
from tests.conftest import REAL_LOG

ROOT = Path(__file__).resolve().parents[2]

HALF_PLUGINS = textwrap.dedent('''
    """A third-party package whose plugins lack the hook their kind requires."""
    from omphalos.plugin import CollectorPlugin, ParserPlugin, TransportPlugin

    class HalfParser(ParserPlugin):
        name = "half-parser"
        description = "Third-party parser without parse()"

    class HalfCollector(CollectorPlugin):
        name = "half-collector"
        description = "Third-party collector without apply()"

        def answer(self, query):
            return {}

    class HalfTransport(TransportPlugin):
        name = "half-transport"
        description = "Third-party transport without send_batch()"
''')

ENTRY_POINTS = textwrap.dedent('''
    [omphalos.plugins]
    half-parser = halfplugins:HalfParser
    half-collector = halfplugins:HalfCollector
    half-transport = halfplugins:HalfTransport
''')

LOADER = textwrap.dedent('''
    import json, logging, sys
    logging.basicConfig(level=logging.INFO)
    from omphalos.config import ConfigError
    from omphalos.pipeline import Pipeline
    from omphalos.registry import Registry
    out = {}
    for kind, name in (("parser", "half-parser"), ("collector", "half-collector"),
                       ("transport", "half-transport")):
        registry = Registry.discover()
        config = {"omphalos": {"state_dir": sys.argv[1]},
                  f"{kind}:x": {"plugin": name}, "collector:summary": {}}
        try:
            Pipeline.from_config(config, registry=registry)
            out[name] = {"refused": False}
        except ConfigError as exc:
            out[name] = {"refused": True, "config_error": str(exc), "errors": registry.errors}
    print(json.dumps(out))
''')


def test_third_party_plugins_lacking_a_required_hook_are_refused_at_load(
        tmp_path: Path) -> None:
    """Installed through a real entry point (a dist-info on sys.path): each half plugin is
    refused when loaded, its name and the missing hook in the reason; nothing starts."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "halfplugins.py").write_text(HALF_PLUGINS)
    info = site / "halfplugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: halfplugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    run = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "state")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": f"{site}:{ROOT}", "PATH": "/usr/bin:/bin",
                              "OMPHALOS_NO_DEFAULT_CONFIG": "1", "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    for name, hook, kind, cls in (("half-parser", "parse()", "parser", "HalfParser"),
                                  ("half-collector", "apply()", "collector", "HalfCollector"),
                                  ("half-transport", "send_batch()", "transport",
                                   "HalfTransport")):
        assert out[name]["refused"] is True
        assert f"unknown {kind} plugin {name!r}" in out[name]["config_error"]
        assert (f"entry point {name} = halfplugins:{cls}: {kind} plugin {name!r} "
                f"(halfplugins.{cls}) does not implement {hook}, which every {kind} must"
                ) in out[name]["errors"]
        # the refusal is logged once, at load, with the same words
        assert f"{kind} plugin {name!r} (halfplugins.{cls}) does not implement {hook}" \
            in run.stderr


def test_the_registry_api_refuses_a_plugin_lacking_its_hook() -> None:
    class NoParse(ParserPlugin):
        name = "no-parse"
        description = "Test parser without parse()"

    class NoApply(CollectorPlugin):
        name = "no-apply"
        description = "Test collector without apply()"

    class NoSend(TransportPlugin):
        name = "no-send"
        description = "Test transport without send_batch()"

    registry = Registry()
    for cls, hook in ((NoParse, "parse()"), (NoApply, "apply()"), (NoSend, "send_batch()")):
        with pytest.raises(PluginSpecError) as caught:
            registry.add(cls)
        assert str(caught.value) == (
            f"{cls!r}: {cls.kind} plugin {cls.name!r} ({cls.__module__}.{cls.__qualname__})"
            f" does not implement {hook}, which every {cls.kind} must")
        assert not registry.has(cls.kind, cls.name)


def test_every_built_in_plugin_fits_its_kind() -> None:
    """Loaded through the entry points, every built-in passes the same checks."""
    registry = Registry.discover()
    plugins = registry.all()
    assert registry.errors == []
    assert {(p.kind, p.name) for p in plugins} >= {
        ("monitor", "file"), ("parser", "auto"), ("transport", "local"),
        ("transport", "zmq"), ("collector", "summary"), ("collector", "window"),
        ("output", "web")}


class BuggyCollector(CollectorPlugin):
    """Declares ``summary`` and has a bug answering it: a ValueError of its own."""

    name = "buggy"
    description = "Test collector: raises ValueError answering summary (an injected bug)"
    answers: ClassVar[frozenset[str]] = frozenset({"summary"})

    def apply(self, batch: Batch) -> None:
        pass

    def answer(self, query: Query) -> Any:
        raise ValueError("injected bug in the buggy collector")


def _registry() -> Registry:
    registry = Registry()
    for cls in default_registry().all():
        registry.add(cls)
    registry.add(BuggyCollector)
    return registry


def test_queries_go_by_declaration_and_a_collectors_value_error_is_a_real_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path)},
        "monitor:web": {"paths": str(REAL_LOG), "follow": False},
        "collector:buggy": {"plugin": "buggy"},
        "collector:summary": {}}, registry=_registry())
    with pipeline:
        assert pipeline.wait_idle(60)
        # the first collector declaring summary is asked; its bug is not "not my kind"
        with pytest.raises(ValueError, match="injected bug in the buggy collector"):
            pipeline.query("summary")
        assert pipeline.query("summary", collector="summary")["requests"] == 10_000
        assert pipeline.answering("top") == "collector:summary"
        assert pipeline.kinds_answered() == frozenset({"summary", "top", "reset", "status"})
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(QueryRefused) as refused:
                pipeline.query("overview", window="1m")
        assert str(refused.value) == ("collector:buggy does not answer 'overview' queries; "
                                      "collector:summary does not answer 'overview' queries")
        with pytest.raises(QueryRefused, match="window must be 'all', not '5m'"):
            pipeline.query("top", window="5m")
        assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []
        counters = pipeline.ask("collector:summary", Query("status"))["counters"]
    assert counters["records"] == 10_000


def test_collector_declarations() -> None:
    assert SummaryCollector.answers == frozenset({"summary", "top", "reset"})
    config = SummaryCollector.Config()
    assert SummaryCollector.declines(config, Query("top", {"window": "all"})) is None
    assert SummaryCollector.declines(config, Query("alerts")) == \
        "does not answer 'alerts' queries"
    assert SummaryCollector.counted_dimensions(config) == tuple(config.dimensions)
    registry = default_registry()
    window = registry.get("collector", "window")
    wconfig = window.Config()
    assert window.declines(wconfig, Query("top", {"window": "5m"})) is None
    assert window.declines(wconfig, Query("top", {"window": "all"})) == \
        "keeps sliding windows, not 'all'"
    assert window.declines(wconfig, Query("overview", {"window": "7m"})) == \
        "does not keep window '7m' (windows: 1m, 5m, 1h)"
    durable = {name: registry.get("transport", name).durable  # type: ignore[attr-defined]
               for name in ("local", "zmq", "amqp", "udp")}
    assert durable == {"local": False, "zmq": True, "amqp": True, "udp": False}


def test_http_api_serves_exactly_the_declared_kinds(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """With only a summary collector: its kinds answer 200; a kind of the query contract that
    no collector here declares (overview, from the dashboard's every tick) and a kind nobody
    knows answer 404 with the served kinds named; nothing is logged above DEBUG."""
    from tests.web.conftest import http

    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path)},
        "monitor:web": {"paths": str(REAL_LOG), "follow": False},
        "collector:summary": {},
        "output:web": {"port": 0}})
    with pipeline:
        assert pipeline.wait_idle(60)
        url = f"http://127.0.0.1:{pipeline.ask('output:web', Query('status'))['port']}"
        assert http(url + "/api/v1/query/summary?limit=1").json()["requests"] == 10_000
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            replies = {kind: http(f"{url}/api/v1/query/{kind}")
                       for kind in ("overview", "metrics", "alerts", "no-such-kind")}
            scrape = http(url + "/metrics")  # asks metrics and alerts: none declared here
        assert [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG] == []
    for kind, reply in replies.items():
        assert reply.status == 404, kind
        assert reply.json() == {"error": f"unknown query kind {kind!r}: no collector here "
                                         f"answers it (served: status, summary, top)"}
    assert scrape.status == 200
    assert b"omphalos_metrics_source_up 0.0" in scrape.body


def test_default_plugins_are_declared_by_the_installed_packages(tmp_path: Path) -> None:
    """A section without ``plugin`` and the glue topology adds use the defaults the packages
    declare (entry-point group omphalos.defaults), not names written in the framework."""
    registry = Registry()
    assert registry.defaults == {"monitor": "file", "parser": "auto", "transport": "local"}
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "monitor:web": {"paths": str(REAL_LOG)},
                                     "collector:summary": {}})
    assert {n: s.cls.name for n, s in pipeline.components.items()} == {
        "monitor:web": "file", "parser:auto": "auto", "transport:local": "local",
        "collector:summary": "summary"}
