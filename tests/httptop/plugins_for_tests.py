"""Collectors that exist only for the console's tests, registered with a Registry by hand.

- :class:`SlowSummaryCollector`: the real summary collector, made to sleep on every query
  (the console must stay responsive and mark its data stale);
- :class:`TestAlertsCollector`: a small alerting collector speaking the query contract's
  ``alerts`` and ``clear_alert`` kinds (fires for a path once it has had ``threshold`` 404
  answers), so the console's alerts panel and ``c``/``C`` keys can be driven end to end.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.plugins.collectors.summary import SummaryCollector, SummaryConfig

from omphalos.config import option
from omphalos.messages import Batch, Query
from omphalos.plugin import CollectorPlugin
from omphalos.registry import Registry, default_registry


@dataclass(frozen=True)
class SlowConfig(SummaryConfig):
    """Options of the slow summary collector (the summary's, and these)."""

    delay_secs: float = option(5.0, "Seconds every query sleeps before it is answered.")
    record_file: str = option("", "Append one JSON line per answered query here.")


class SlowSummaryCollector(SummaryCollector):
    """Test collector: the summary collector, sleeping ``delay_secs`` on every query."""

    name = "slow-summary"
    description = "Test collector: the running summary, slow to answer every query"
    Config: ClassVar[type] = SlowConfig

    def answer(self, query: Query) -> Any:
        if query.kind == "status":
            return super().answer(query)
        time.sleep(self.config.delay_secs)
        try:
            return super().answer(query)
        finally:
            if self.config.record_file:
                with open(self.config.record_file, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"time": time.time(), "kind": query.kind,
                                         "params": query.params}) + "\n")


@dataclass(frozen=True)
class AlertsConfig:
    """Options of the test alerts collector."""

    threshold: int = option(3, "404 answers of one path before its alert fires.")


class TestAlertsCollector(CollectorPlugin):
    """Test collector: fires a ``not-found`` alert per path with ``threshold`` 404s."""

    name = "test-alerts"
    description = "Test collector: a path alert after a number of 404 answers"
    Config: ClassVar[type] = AlertsConfig
    answers: ClassVar[frozenset[str]] = frozenset({"alerts", "clear_alert"})
    __test__ = False  # not a pytest class

    def setup(self) -> None:
        self.not_found: dict[str, int] = {}
        self.cleared_at: dict[str, int] = {}
        self.firing: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []

    def apply(self, batch: Batch) -> None:
        cols = batch.records
        for path, status in zip(cols.path, cols.status):
            if status != 404:
                continue
            count = self.not_found[path] = self.not_found.get(path, 0) + 1
            since_clear = count - self.cleared_at.get(path, 0)
            if since_clear >= self.config.threshold and path not in self.firing:
                alert = {"id": f"not-found:{path}", "rule": "not-found", "scope": "path",
                         "path": path, "since": time.time(),
                         "message": f"{since_clear} not found", "value": since_clear,
                         "threshold": self.config.threshold}
                self.firing[path] = alert
                self.history.append({"time": time.time(), "id": alert["id"],
                                     "event": "fired", "path": path})

    def answer(self, query: Query) -> Any:
        if query.kind == "alerts":
            return {"firing": list(self.firing.values()), "history": self.history[-50:]}
        if query.kind == "clear_alert":
            if query.params.get("all"):
                paths = list(self.firing)
            else:
                path = query.params.get("path")
                paths = [path] if path in self.firing else []
            for path in paths:
                alert = self.firing.pop(path)
                self.cleared_at[path] = self.not_found.get(path, 0)
                self.history.append({"time": time.time(), "id": alert["id"],
                                     "event": "cleared", "path": path})
            return {"cleared": len(paths)}
        return super().answer(query)


def make_registry() -> Registry:
    """The installed plugins plus the test ones."""
    registry = Registry()
    for cls in default_registry().all():
        registry.add(cls)
    registry.add(SlowSummaryCollector)
    registry.add(TestAlertsCollector)
    registry.add(CrashingCollector)
    return registry


class CrashingCollector(CollectorPlugin):
    """Test collector: dies on its first batch (the pipeline then shows degraded)."""

    name = "test-crashing"
    description = "Test collector: raises on the first batch it gets"

    def apply(self, batch: Batch) -> None:
        raise RuntimeError("test collector crashed on purpose")
