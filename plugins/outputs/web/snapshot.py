"""What the page shows, gathered in one go: the answers of several queries for one window.

Each live-update tick needs the overview, the series, the top paths, the hosts, the alerts,
the running summary and the monitored files the pipeline cannot read. :class:`Snapshots`
asks for them concurrently and keeps the result for a fraction of the update interval, so
many open pages cost the collectors one round of queries per window and tick. A part a
collector cannot answer is left out and its reason put under ``errors``; the page shows
what it has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from omphalos.api import PipelineAPI
from omphalos.messages import Query
from omphalos.pipeline import QueryError
from omphalos.query import window_secs

from .querier import BadQuery, Querier, Unavailable

log = logging.getLogger("omphalos.output.web.snapshot")

#: Points per series the page asks for (the step is the window divided by this).
POINTS = 60
#: The sliding window whose series, latency and hosts the ``all`` window shows (totals and
#: top lists of ``all`` are since start, from the running summary).
ALL_SERIES_WINDOW = "1h"
#: File states of a monitor's status that mean nothing is read from the path.
FILE_PROBLEMS = ("missing", "error")


def parts(window: str, top: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """The queries of one snapshot: part name -> (kind, params)."""
    secs = window_secs(window)
    sliding = window if secs is not None else ALL_SERIES_WINDOW
    length = window_secs(sliding) or 3600.0
    out: dict[str, tuple[str, dict[str, Any]]] = {
        "paths": ("top", {"dimension": "path", "window": window, "limit": top}),
        "hosts": ("hosts", {"window": sliding}),
        "alerts": ("alerts", {}),
        "summary": ("summary", {"limit": top}),
        "series": ("series", {"window": sliding, "step_secs": max(1.0, length / POINTS)}),
    }
    if secs is not None:
        out["overview"] = ("overview", {"window": window})
    return out


def file_problems(status: dict[str, Any]) -> list[dict[str, str]]:
    """``{monitor, path, state, error}`` of every file the pipeline's monitors cannot read
    (``status`` is :meth:`Pipeline.status`); the page lists them so a page of zeros says
    why."""
    out = []
    for name, actor in sorted((status.get("actors") or {}).items()):
        for f in actor.get("files") or []:
            if f.get("state") in FILE_PROBLEMS:
                out.append({"monitor": name, "path": str(f.get("path")),
                            "state": str(f.get("state")), "error": str(f.get("error") or "")})
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
                                       self._files(), return_exceptions=True)
        files = results[-1]
        snapshot: dict[str, Any] = {"time": time.time(), "window": window, "errors": {},
                                    "files": files if isinstance(files, list) else []}
        if window_secs(window) is None:
            snapshot["series_window"] = ALL_SERIES_WINDOW
        for name, result in zip(wanted, results[:-1], strict=True):
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

    async def _files(self) -> list[dict[str, str]]:
        """The monitors' unreadable files (none when this pipeline has no monitor)."""
        pipeline = self.querier.pipeline
        if pipeline is None or not pipeline.names("monitor"):
            return []
        return file_problems(await self.querier.run(self._monitors, pipeline))

    def _monitors(self, pipeline: PipelineAPI) -> dict[str, Any]:
        """Each monitor's status (pool thread), shaped as :meth:`Pipeline.status`."""
        actors: dict[str, Any] = {}
        for name in pipeline.names("monitor"):
            try:
                actors[name] = pipeline.ask(name, Query("status"), self.querier.timeout)
            except QueryError:
                continue
        return {"actors": actors}
