"""Building columns and stores for the collector tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from omphalos.plugins.collectors.window import WindowConfig, WindowStore

from omphalos.records import Columns


def columns(times: Sequence[float], paths: Sequence[str] | None = None,
            status: Sequence[int] | None = None, durations: Sequence[float] | None = None,
            clients: Sequence[str] | None = None, sizes: Sequence[int] | None = None
            ) -> Columns:
    """Columns of len(times) records; unspecified fields get plain values."""
    n = len(times)
    return Columns(time=list(times), client=list(clients or ["10.0.0.1"] * n),
                   path=list(paths or ["/"] * n), status=list(status or [200] * n),
                   bytes=list(sizes or [100] * n), offset=list(range(n)),
                   method=["GET"] * n,
                   duration=list(durations) if durations is not None else None)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def store(clock: Clock | None = None, **options: object) -> WindowStore:
    """A window store (event clock unless told) with ``options`` over the defaults."""
    config = replace(WindowConfig(), **{"clock": "event", "history": False, **options})
    return WindowStore(config, clock or Clock(0.0))
