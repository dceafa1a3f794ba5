"""Asking the collectors from the event loop without ever blocking it.

Every ask goes through :meth:`omphalos.pipeline.Pipeline.ask` (which always has a timeout)
on a small thread pool owned by the web output; the event loop only awaits the pool's
future. A collector that raises ``ValueError`` does not serve the kind (or the window), so
the next one is asked, like :meth:`Pipeline.query` does.

Collectors that declare the kinds they answer (``answers`` on the class) are asked only for
those; a collector that refused a kind (and window) is not asked it again for
:data:`REFUSAL_SECS`, so an open page does not send every collector every question each
second only to be refused.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from omphalos.messages import Query
from omphalos.pipeline import QueryError

#: Seconds a collector's refusal of a (kind, window) is remembered.
REFUSAL_SECS = 60.0


class BadQuery(ValueError):
    """No collector accepts the query as asked (the reasons are the collectors')."""


class Unavailable(RuntimeError):
    """No collector could answer: none running, dead, or too slow."""


class Querier:
    """Asks the pipeline's collectors (``collectors``, or all of them when empty)."""

    def __init__(self, pipeline: Any, collectors: Sequence[str], timeout: float,
                 executor: ThreadPoolExecutor) -> None:
        self.pipeline = pipeline
        self.collectors = tuple(collectors)
        self.timeout = timeout
        self.executor = executor
        self._refused: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The collectors asked, in order."""
        if self.collectors:
            return list(self.collectors)
        return list(self.pipeline.names("collector")) if self.pipeline is not None else []

    def ask_sync(self, kind: str, params: dict[str, Any] | None = None,
                 collector: str | None = None) -> Any:
        """Blocking ask (call it only from a pool thread): the first collector's answer
        (or only ``collector``'s)."""
        names = [collector] if collector else self.names()
        if not names:
            raise Unavailable("no collector in this pipeline")
        refused: list[str] = []
        failed: list[str] = []
        memo_key = str((params or {}).get("window", ""))
        now = time.monotonic()
        for name in names:
            why = None if collector else self._refusal(name, kind, memo_key, now)
            if why is not None:
                refused.append(why)
                continue
            try:
                return self.pipeline.ask(name, Query(kind, dict(params or {})), self.timeout)
            except QueryError as exc:
                failed.append(str(exc))
            except ValueError as exc:
                refused.append(str(exc))
                if not collector:
                    with self._lock:
                        self._refused[(name, kind, memo_key)] = (now + REFUSAL_SECS, str(exc))
        if failed:
            raise Unavailable("; ".join(failed + refused))
        raise BadQuery("; ".join(refused))

    def _refusal(self, name: str, kind: str, window: str, now: float) -> str | None:
        """Why ``name`` will not answer ``kind`` (declared, or refused lately); None: ask."""
        components = getattr(self.pipeline, "components", {})
        declared = getattr(getattr(components.get(name), "cls", None), "answers", None)
        if isinstance(declared, (set, frozenset)) and kind not in declared:
            return f"{name} does not answer {kind!r} queries"
        with self._lock:
            memo = self._refused.get((name, kind, window))
            if memo is None:
                return None
            if memo[0] <= now:
                del self._refused[(name, kind, window)]
                return None
            return memo[1]

    async def ask(self, kind: str, params: dict[str, Any] | None = None,
                  collector: str | None = None) -> Any:
        """The answer to ``kind`` without blocking the loop (BadQuery / Unavailable)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.ask_sync, kind, params,
                                          collector)

    async def status(self) -> Any:
        """:meth:`Pipeline.status` (every actor's status, the health), off the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.pipeline.status)

    async def run(self, func: Any, *args: Any) -> Any:
        """Run a blocking ``func(*args)`` on the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, func, *args)
