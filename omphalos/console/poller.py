"""Which queries the screen needs, when, and how their answers come back to the UI thread.

The UI thread calls :meth:`Poller.poll` (on its timer, and right after a key changed what
is shown); the poller submits to the :class:`~.source.DataSource` every query the state
wants whose slot has no query on its way. Answers arrive on worker threads: they are put on
a thread-safe queue and ``wake()`` is called (the app writes one byte to the pipe urwid
watches); the UI thread then takes them with :meth:`drain`. Nothing but ``wake`` and the
queue is touched from another thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from .source import DataSource, Reply
from .state import ConsoleState

#: The order slots are asked in when only a few queries may be on their way.
PRIORITY = ("health", "table", "overview", "drill", "alerts", "summary", "hosts")
#: Slots not counted against ``max_pending``: the pipeline's health asks the supervisor and
#: the monitors, never a collector, and must show even when collectors are stuck.
UNCOUNTED = frozenset({"health"})
#: A kind no collector serves is asked again only after this many seconds.
UNAVAILABLE_BACKOFF_SECS = 30.0


class Poller:
    """Keeps at most one query per slot and ``max_pending`` in all on their way.

    A collector answers its queries one at a time: one pending query per slot keeps the
    screen fresh, and a slow collector's inbox never holds more than a handful; kinds no
    collector serves are asked again only every ``UNAVAILABLE_BACKOFF_SECS``.
    """

    def __init__(self, source: DataSource, state: ConsoleState, wake: Callable[[], None], *,
                 refresh_secs: float = 1.0, max_pending: int = 8,
                 clock: Callable[[], float]) -> None:
        self.source = source
        self.state = state
        self.wake = wake
        self.refresh_secs = refresh_secs
        self.max_pending = max_pending
        self.clock = clock
        self.inbox: queue.SimpleQueue[tuple[str, Reply]] = queue.SimpleQueue()
        self._asked_at: dict[str, float] = {}
        self._closed = threading.Event()
        #: one-off queries (clearing alerts) on their way: tag -> what to run with the reply
        self.actions: dict[str, Callable[[Reply], None]] = {}
        self._action_seq = 0

    def poll(self, *, force: bool = False) -> int:
        """Submit what is due: a slot not asked for ``refresh_secs``, or whose question
        changed (a key switched the view); how many were submitted.

        While paused only changed questions are asked, and only when ``force``d (a key).
        """
        if self._closed.is_set() or (self.state.paused and not force):
            return 0
        now = self.clock()
        wanted = self.state.wanted()
        pending = sum(1 for n, s in self.state.slots.items()
                      if s.pending_since is not None and n not in UNCOUNTED)
        submitted = 0
        for name in PRIORITY:
            if name not in wanted:
                continue
            slot = self.state.slots[name]
            if slot.pending_since is not None or (pending >= self.max_pending
                                                  and name not in UNCOUNTED):
                continue
            kind, params = wanted[name]
            current = slot.reply is not None and dict(slot.reply.params) == params
            every = max(self.refresh_secs, UNAVAILABLE_BACKOFF_SECS if slot.unavailable else 0)
            due = now - self._asked_at.get(name, float("-inf")) >= every
            if current and (self.state.paused or not due):
                continue
            slot.pending_since = now
            slot.pending_params = params
            self._asked_at[name] = now
            pending += name not in UNCOUNTED
            submitted += 1
            self.source.submit(kind, params, self._done_callback(name))
        return submitted

    def act(self, kind: str, params: dict[str, Any], then: Callable[[Reply], None]) -> None:
        """Ask something once (clear an alert); ``then`` runs on the UI thread with the reply."""
        self._action_seq += 1
        tag = f"action:{self._action_seq}"
        self.actions[tag] = then
        self.source.submit(kind, params, self._done_callback(tag))

    def _done_callback(self, name: str) -> Callable[[Reply], None]:
        def done(reply: Reply) -> None:  # runs on a worker thread
            self.inbox.put((name, reply))
            if not self._closed.is_set():
                self.wake()
        return done

    def drain(self) -> int:
        """Take every reply that arrived into the state (UI thread); how many changed it."""
        changed = 0
        while True:
            try:
                name, reply = self.inbox.get_nowait()
            except queue.Empty:
                return changed
            if name.startswith("action:"):
                then = self.actions.pop(name, None)
                if then is not None:
                    then(reply)
                changed += 1
            elif self.state.accept(name, reply):
                changed += 1

    def close(self) -> None:
        self._closed.set()
        self.source.close()
