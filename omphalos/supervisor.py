"""Restarts dead actors with exponential backoff; gives up and marks the pipeline degraded.

pykka has no supervision. Each plugin's ``on_failure`` hook reports its death here; a
periodic liveness check catches actors that stopped without saying so. A child that dies more
than ``max_restarts`` times within ``restart_window_secs`` is given up: the pipeline is then
*degraded*, which ``Pipeline.status()``, the outputs and the exit status of ``omphalos run``
show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from .directory import Directory
from .settings import Settings

log = logging.getLogger("omphalos.supervisor")

MAX_BACKOFF_SECS = 30.0


@dataclass
class ChildState:
    """What the supervisor knows of one child; read by ``status``."""

    name: str
    state: str = "starting"  # starting, running, restarting, failed, stopped
    restarts: int = 0
    last_error: str = ""
    restart_times: deque[float] = field(default_factory=deque)
    restart_at: float = 0.0


#: What a child's death is called until (or unless) it reports why it died.
UNEXPECTED = "stopped unexpectedly"


@dataclass(frozen=True)
class ChildFailed:
    """Child ``name`` died of ``error``."""

    name: str
    error: str


class Health:
    """Thread-safe view of the children's states, readable without asking any actor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.children: dict[str, ChildState] = {}
        self.degraded_reasons: list[str] = []

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "degraded": bool(self.degraded_reasons),
                "reasons": list(self.degraded_reasons),
                "actors": {n: {"state": c.state, "restarts": c.restarts,
                               "last_error": c.last_error}
                           for n, c in self.children.items()},
            }

    @property
    def degraded(self) -> bool:
        with self._lock:
            return bool(self.degraded_reasons)

    def update(self, fn: Callable[[], None]) -> None:
        with self._lock:
            fn()


class Supervisor(pykka.ThreadingActor):
    """Owns the children's lifecycles after start: restart on failure, give up when flapping.

    ``start_child(name)`` is a callable from the pipeline that builds and starts a fresh
    actor for ``name`` and registers it in the directory.
    """

    def __init__(self, settings: Settings, directory: Directory, health: Health,
                 start_child: Callable[[str], pykka.ActorRef[Any]]) -> None:
        super().__init__()
        self.settings = settings
        self.directory = directory
        self.health = health
        self.start_child = start_child
        #: deaths reported before the child was watched (it failed in its setup)
        self._early: dict[str, str] = {}

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ChildFailed):
            self._failed(message.name, message.error)
        elif message == "tick":
            self._tick(time.monotonic())
        return None

    def watch(self, name: str) -> None:
        """Start supervising ``name`` (already started by the pipeline)."""
        def add() -> None:
            self.health.children.setdefault(name, ChildState(name)).state = "running"

        self.health.update(add)
        early = self._early.pop(name, None)
        if early is not None:
            self._failed(name, early)

    def _failed(self, name: str, error: str) -> None:
        child = self.health.children.get(name)
        if child is None:
            if error != UNEXPECTED:
                self._early[name] = error  # its watch comes next
            return
        if child.state == "stopped":
            return
        if child.state in ("failed", "restarting"):
            if child.last_error == UNEXPECTED and error != UNEXPECTED:
                # the actor's own report of this death came after the tick noticed it
                def explain(c: ChildState = child) -> None:
                    c.last_error = error

                self.health.update(explain)
            return
        now = time.monotonic()
        window = self.settings.restart_window_secs
        while child.restart_times and now - child.restart_times[0] > window:
            child.restart_times.popleft()

        def mark() -> None:
            child.last_error = error
            if len(child.restart_times) >= self.settings.max_restarts:
                child.state = "failed"
                reason = (f"{name} died {len(child.restart_times) + 1} times within "
                          f"{window:g}s (last: {error}); given up")
                self.health.degraded_reasons.append(reason)
                log.error("pipeline degraded: %s", reason)
                return
            delay = min(MAX_BACKOFF_SECS,
                        self.settings.restart_backoff_secs * 2 ** len(child.restart_times))
            child.restart_times.append(now)
            child.state = "restarting"
            child.restart_at = now + delay
            log.warning("%s died (%s); restarting in %.1fs", name, error, delay)

        self.health.update(mark)
        if child.state == "failed":
            self.directory.unregister(name)

    def _tick(self, now: float) -> None:
        for child in list(self.health.children.values()):
            if child.state == "restarting" and now >= child.restart_at:
                try:
                    self.start_child(child.name)
                except Exception as exc:  # noqa: BLE001 - counts as another death
                    child.state = "running"
                    self._failed(child.name, f"restart failed: {exc}")
                    continue

                def running(c: ChildState = child) -> None:
                    c.state = "running"
                    c.restarts += 1

                self.health.update(running)
            elif child.state == "running":
                ref = self.directory.get(child.name)
                if ref is None or not ref.is_alive():
                    self._failed(child.name, UNEXPECTED)

    def forget(self, name: str) -> None:
        """Stop supervising ``name`` (a reload is about to stop or rebuild it)."""
        def drop() -> None:
            self.health.children.pop(name, None)

        self.health.update(drop)
        self._early.pop(name, None)

    def stop_watching(self) -> None:
        def mark() -> None:
            for child in self.health.children.values():
                if child.state != "failed":
                    child.state = "stopped"

        self.health.update(mark)


class SupervisorTicker:
    """Sends the supervisor its liveness ticks from a small thread of its own."""

    def __init__(self, ref: pykka.ActorRef[Any], interval: float = 0.1) -> None:
        self._ref = ref
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="omphalos-supervisor-tick",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._ref.tell("tick")
            except pykka.ActorDeadError:
                return
