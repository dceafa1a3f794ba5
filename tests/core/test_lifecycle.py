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


#: For each setup of the collector below: was it found under its own name then?
FOUND_IN_SETUP: list[bool] = []


class FoundInSetup(CollectorPlugin[HalfConfig]):
    """Records, in setup, whether the directory already names this very actor."""

    name = "found-in-setup"
    description = "Test collector: looks itself up by name during setup"
    Config: ClassVar[type] = HalfConfig

    def setup(self) -> None:
        FOUND_IN_SETUP.append(
            self.context.directory.get(self.context.name) == self.actor_ref)

    def apply(self, batch: Batch) -> None:
        pass


def test_a_component_is_found_by_name_while_it_sets_up_and_after_a_restart(
        tmp_path: Path) -> None:
    """A monitor emits during setup; the acknowledgement, addressed by name, may come back
    before the starting thread registered the new actor (it did, under load: a whole
    window of acknowledgements was lost and the monitor stalled for its time-out). So an
    actor is registered before its setup runs, first start and restarts alike."""
    FOUND_IN_SETUP.clear()
    registry = Registry()
    registry.add(FoundInSetup)
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state"), "restart_backoff_secs": 0.01},
        "collector:found": {"plugin": "found-in-setup"}}, registry=registry)
    with pipeline:
        assert FOUND_IN_SETUP == [True]
        first = pipeline.directory.get("collector:found")
        assert first is not None
        first.stop()  # stopped behind the supervisor's back: restarted
        wait_for(lambda: len(FOUND_IN_SETUP) >= 2, timeout=30)
    assert all(FOUND_IN_SETUP), FOUND_IN_SETUP
