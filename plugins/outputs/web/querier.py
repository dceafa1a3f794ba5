"""Asking the collectors from the event loop without ever blocking it.

Every ask goes through :meth:`omphalos.pipeline.Pipeline.ask` (which always has a timeout)
on a small thread pool owned by the web output; the event loop only awaits the pool's
future. Which collector answers is decided by the collectors' declarations
(:meth:`Pipeline.answering`), before anything is asked; a ``ValueError`` of the collector
asked is its answer (a parameter it refuses), reported as a bad query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from omphalos.api import PipelineAPI
from omphalos.messages import Query
from omphalos.pipeline import QueryError, QueryRefused


class BadQuery(ValueError):
    """No collector accepts the query as asked (the reasons are the collectors')."""


class Unavailable(RuntimeError):
    """No collector could answer: none running, dead, or too slow."""


class Querier:
    """Asks the pipeline's collectors (``collectors``, or all of them when empty)."""

    def __init__(self, pipeline: PipelineAPI | None, collectors: Sequence[str], timeout: float,
                 executor: ThreadPoolExecutor) -> None:
        self.pipeline = pipeline
        self.collectors = tuple(collectors)
        self.timeout = timeout
        self.executor = executor

    def names(self) -> list[str]:
        """The collectors asked, in order."""
        if self.collectors:
            return list(self.collectors)
        return list(self.pipeline.names("collector")) if self.pipeline is not None else []

    def ask_sync(self, kind: str, params: dict[str, Any] | None = None,
                 collector: str | None = None) -> Any:
        """Blocking ask (call it only from a pool thread): the first collector's answer
        (or only ``collector``'s)."""
        if self.pipeline is None:
            raise Unavailable("no collector in this pipeline")
        try:
            name = self.pipeline.answering(kind, params, collector, among=self.names())
        except QueryRefused as exc:
            raise BadQuery(str(exc)) from None
        except QueryError as exc:
            raise Unavailable(str(exc)) from None
        try:
            return self.pipeline.ask(name, Query(kind, dict(params or {})), self.timeout)
        except QueryError as exc:
            raise Unavailable(str(exc)) from None
        except ValueError as exc:
            raise BadQuery(str(exc)) from None

    def kinds(self) -> frozenset[str]:
        """The query kinds the collectors asked declare they answer."""
        if self.pipeline is None:
            return frozenset()
        return frozenset(self.pipeline.kinds_answered(self.names()))

    async def ask(self, kind: str, params: dict[str, Any] | None = None,
                  collector: str | None = None) -> Any:
        """The answer to ``kind`` without blocking the loop (BadQuery / Unavailable)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.ask_sync, kind, params,
                                          collector)

    async def status(self) -> Any:
        """:meth:`Pipeline.status` (every actor's status, the health), off the loop."""
        if self.pipeline is None:
            raise Unavailable("no pipeline")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.pipeline.status)

    async def run(self, func: Any, *args: Any) -> Any:
        """Run a blocking ``func(*args)`` on the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, func, *args)
