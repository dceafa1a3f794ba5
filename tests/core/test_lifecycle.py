"""A component is built complete or not at all: teardown runs only after a setup that
completed; what a failed setup took is released by the base class."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from omphalos.config import option
from omphalos.messages import Batch
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin
from omphalos.registry import Registry
from tests.conftest import wait_for

#: Files the half-built collectors opened (to see whether they were closed).
OPENED: list[IO[str]] = []


@dataclass(frozen=True)
class HalfConfig:
    """Options of the test collector."""

    marks: str = option("", "Directory of the files the collector opens and marks.")
    fail: bool = option(True, "Raise in setup after the file is open.")


class HalfBuilt(CollectorPlugin[HalfConfig]):
    """Opens a file in setup, then fails there when ``fail`` (an injected fault)."""

    name = "half-built"
    description = "Test collector: takes a file in setup, then raises"
    Config: ClassVar[type] = HalfConfig

    def setup(self) -> None:
        self.file = self.resources.enter_context(
            open(Path(self.config.marks) / "taken", "a", encoding="utf-8"))
        OPENED.append(self.file)
        if self.config.fail:
            raise RuntimeError("injected failure in setup")

    def teardown(self) -> None:
        # relies on what setup made: reached only when setup completed
        self.file.write("teardown\n")

    def apply(self, batch: Batch) -> None:
        pass


def _pipeline(tmp_path: Path, fail: bool) -> Pipeline:
    registry = Registry()
    registry.add(HalfBuilt)
    return Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state"), "max_restarts": 0},
        "collector:half": {"plugin": "half-built", "marks": str(tmp_path), "fail": fail}},
        registry=registry)


def test_a_failed_setup_releases_what_it_took_and_skips_teardown(tmp_path: Path) -> None:
    OPENED.clear()
    with _pipeline(tmp_path, fail=True) as pipeline:
        wait_for(lambda: pipeline.degraded, timeout=30)
    assert OPENED and all(f.closed for f in OPENED)
    assert (tmp_path / "taken").read_text() == ""  # teardown never ran


def test_a_complete_setup_is_torn_down_then_released(tmp_path: Path) -> None:
    OPENED.clear()
    with _pipeline(tmp_path, fail=False) as pipeline:
        assert not pipeline.degraded
    assert len(OPENED) == 1 and OPENED[0].closed
    assert (tmp_path / "taken").read_text() == "teardown\n"
