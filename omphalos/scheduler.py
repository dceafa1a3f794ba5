"""One timer thread that sends ``Tick`` messages to actors at their chosen intervals."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Any

from .directory import Directory
from .messages import Tick


class Scheduler:
    """Sends ``Tick(now)`` to named actors every ``interval`` seconds.

    pykka has no timers; one thread for the whole pipeline is cheaper than one per actor.
    Ticks go through the :class:`Directory`, so a restarted actor keeps getting them. A tick
    is skipped, not queued, while the previous one is still unprocessed, so a busy actor
    never accumulates a backlog of ticks.
    """

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._heap: list[tuple[float, int, str, float]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def every(self, name: str, interval: float) -> None:
        """Tick ``name`` every ``interval`` seconds from now on."""
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + interval, next(self._counter), name,
                                        interval))
            self._cond.notify()

    def cancel(self, name: str) -> None:
        with self._cond:
            self._heap = [e for e in self._heap if e[2] != name]
            heapq.heapify(self._heap)

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="omphalos-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, name, interval = self._heap[0]
                now = time.monotonic()
                if due > now:
                    self._cond.wait(due - now)
                    continue
                heapq.heapreplace(self._heap, (max(due + interval, now), next(self._counter),
                                               name, interval))
            ref = self._directory.get(name)
            inbox: Any = ref.actor_inbox if ref is not None else None
            if ref is not None and inbox.qsize() < 2:
                try:
                    ref.tell(Tick(now))
                except Exception:  # noqa: BLE001 - a dead actor is the supervisor's business
                    pass
