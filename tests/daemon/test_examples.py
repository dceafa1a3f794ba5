"""The example configs of etc/ are valid and show every option of the plugins they use."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from omphalos import Pipeline
from omphalos.config import describe_options, load_ini
from omphalos.registry import default_registry

from .helpers import ROOT

ETC = ROOT / "etc"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("etc_generate", ETC / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_configs_are_up_to_date() -> None:
    stale = [str(p) for p in generator().stale_files()]
    assert not stale, f"run 'python etc/generate.py': stale {stale}"


@pytest.mark.parametrize("name", ["omphalos.conf", "monitor.conf", "collector.conf"])
def test_example_config_builds_a_pipeline(name: str) -> None:
    source = load_ini([ETC / name])
    pipeline = Pipeline.from_config(source)
    assert pipeline.components
    text = (ETC / name).read_text()
    for spec in pipeline.components.values():
        for option, *_ in describe_options(spec.cls.Config):
            assert f"{option} =" in text, f"{name}: [{spec.name}] does not show {option}"


def test_plugins_d_examples_cover_their_plugins_and_are_all_commented() -> None:
    registry = default_registry()
    files = sorted((ETC / "plugins.d").glob("*.conf"))
    assert files
    for path in files:
        assert not load_ini([path]).sections, f"{path.name} must be all comments"
        text = path.read_text()
        headers = [line[2:-1] for line in text.splitlines() if line.startswith("#[")]
        assert headers, path.name
        for header in headers:
            kind, short = header.split(":", 1)
            plugin = short
            for line in text.splitlines():
                if line.startswith("#plugin = "):
                    plugin = line.split("=", 1)[1].strip()
            cls = registry.get(kind, plugin)
            for option, *_ in describe_options(cls.Config):
                assert f"#{option} =" in text, f"{path.name}: {option} missing"
