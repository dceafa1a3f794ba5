"""What the page shows, gathered in one go: the answers of several queries for one window.

Each live-update tick needs the overview, the series, the top paths, the hosts, the alerts
and the running summary. :class:`Snapshots` asks for them concurrently and keeps the result
for a fraction of the update interval, so many open pages cost the collectors one round of
queries per window and tick. A part a collector cannot answer is left out and its reason
put under ``errors``; the page shows what it has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from omphalos.query import window_secs

from .querier import BadQuery, Querier, Unavailable

log = logging.getLogger("omphalos.output.web.snapshot")

#: Points per series the page asks for (the step is the window divided by this).
POINTS = 60


def parts(window: str, top: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """The queries of one snapshot: part name -> (kind, params)."""
    secs = window_secs(window)
    out: dict[str, tuple[str, dict[str, Any]]] = {
        "overview": ("overview", {"window": window}),
        "paths": ("top", {"dimension": "path", "window": window, "limit": top}),
        "hosts": ("hosts", {"window": window}),
        "alerts": ("alerts", {}),
        "summary": ("summary", {"limit": top}),
    }
    if secs is not None:
        out["series"] = ("series", {"window": window, "step_secs": max(1.0, secs / POINTS)})
    return out


class Snapshots:
    """Snapshots per window, each kept ``max_age`` seconds."""

    def __init__(self, querier: Querier, top: int, max_age: float) -> None:
        self.querier = querier
        self.top = top
        self.max_age = max_age
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, window: str) -> dict[str, Any]:
        """The snapshot of ``window`` (a validated window label)."""
        lock = self._locks.setdefault(window, asyncio.Lock())
        async with lock:
            cached = self._cache.get(window)
            if cached is not None and time.monotonic() - cached[0] < self.max_age:
                return cached[1]
            snapshot = await self._gather(window)
            self._cache[window] = (time.monotonic(), snapshot)
            return snapshot

    def invalidate(self) -> None:
        """Forget every snapshot (after a change, such as clearing alerts)."""
        self._cache.clear()

    async def _gather(self, window: str) -> dict[str, Any]:
        wanted = parts(window, self.top)
        results = await asyncio.gather(*(self.querier.ask(kind, params)
                                         for kind, params in wanted.values()),
                                       return_exceptions=True)
        snapshot: dict[str, Any] = {"time": time.time(), "window": window, "errors": {}}
        for name, result in zip(wanted, results):
            if isinstance(result, (BadQuery, Unavailable)):
                snapshot["errors"][name] = str(result)
            elif isinstance(result, BaseException):
                log.error("snapshot part %s failed", name, exc_info=result)
                snapshot["errors"][name] = "internal error (see the collector's log)"
            else:
                snapshot[name] = result
        pipeline = self.querier.pipeline
        snapshot["degraded"] = bool(pipeline.degraded) if pipeline is not None else False
        return snapshot
