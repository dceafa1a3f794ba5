"""Plugins that exist only for tests: they crash on purpose, to exercise supervision."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from omphalos.plugins.collectors.summary import SummaryCollector
from omphalos.plugins.monitors.file import FileMonitor

from omphalos.messages import Ack
from omphalos.plugin import CollectorPlugin
from omphalos.registry import Registry, default_registry


class CrashOnceMonitor(FileMonitor):
    """A file monitor that dies on the acknowledgements given in ``crash_on_acks``.

    Counting is shared across incarnations (class attribute), so a restarted monitor goes
    on where the dead one was; it dies mid-stream, with batches in flight.
    """

    name = "crash-once"
    description = "Test monitor: a file monitor that raises on chosen acknowledgements"
    crash_on_acks: ClassVar[set[int]] = {3, 7}
    acks_seen: ClassVar[int] = 0
    lock: ClassVar[threading.Lock] = threading.Lock()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ack):
            with CrashOnceMonitor.lock:
                CrashOnceMonitor.acks_seen += 1
                crash = CrashOnceMonitor.acks_seen in self.crash_on_acks
            if crash:
                raise RuntimeError(f"injected crash at ack {CrashOnceMonitor.acks_seen}")
        return super().on_receive(message)


class AlwaysCrashCollector(CollectorPlugin):
    """A collector that dies as soon as it starts."""

    name = "always-crash"
    description = "Test collector: raises in setup, every time"

    def setup(self) -> None:
        raise RuntimeError("this collector always crashes")

    def apply(self, batch: Any) -> None:  # pragma: no cover - never reached
        pass


def make_registry() -> Registry:
    """The installed plugins plus the test ones."""
    registry = Registry()
    for cls in default_registry().all():
        registry.add(cls)
    registry.add(CrashOnceMonitor)
    registry.add(AlwaysCrashCollector)
    registry.add(SummaryCollector)
    return registry
