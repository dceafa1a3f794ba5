"""A storage collector whose setup fails half-way releases what it took: its spool's file
and its shipper's thread (issue 21: built complete or not at all, no teardown guards)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from omphalos.plugins.collectors.elasticsearch import (
    ElasticsearchCollector,
    ElasticsearchConfig,
)
from omphalos.plugins.collectors.timeseries import TimeseriesCollector, TimeseriesConfig

from tests.conftest import wait_for
from tests.storage.helpers import context


class TimeseriesFailsLate(TimeseriesCollector):
    """Injected fault: setup raises once the real collector has opened its spool and
    started its shipper (nothing else in its setup can be made to fail after that)."""

    def setup(self) -> None:
        super().setup()
        raise RuntimeError("injected failure after the shipper started")


class ElasticsearchFailsLate(ElasticsearchCollector):
    """The same injected fault for the Elasticsearch collector."""

    def setup(self) -> None:
        super().setup()
        raise RuntimeError("injected failure after the shipper started")


def _open_under(root: Path) -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own fd, closed already
        if target.startswith(str(root)):
            out.add(target)
    return out


# nothing listens on port 1: the shipper would only retry
CASES: list[tuple[Any, Any]] = [
    (TimeseriesFailsLate, TimeseriesConfig(url="http://127.0.0.1:1", database="t")),
    (ElasticsearchFailsLate, ElasticsearchConfig(hosts=("http://127.0.0.1:1",))),
]


@pytest.mark.parametrize(("klass", "config"), CASES, ids=["timeseries", "elasticsearch"])
def test_a_failed_setup_closes_the_spool_and_stops_the_shipper(
        tmp_path: Path, klass: Any, config: Any) -> None:
    collector = klass(context(tmp_path, "collector:half"), config)
    threads = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="injected"):
        collector.on_start()  # what pykka runs in the actor's thread
    assert os.listdir(tmp_path / "state" / "spool")  # the spool had been made
    assert _open_under(tmp_path) == set()
    wait_for(lambda: set(threading.enumerate()) == threads, timeout=10)
