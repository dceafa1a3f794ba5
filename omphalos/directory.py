"""Names to live actor references, so that a restarted actor is found under its old name."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka

log = logging.getLogger("omphalos.directory")


class Directory:
    """Thread-safe map from a component's name (``monitor:web``) to its current ActorRef.

    Actors address each other by name through this map, never by holding a reference, so
    the supervisor can replace a dead actor and the others keep talking to the new one.
    """

    def __init__(self) -> None:
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._lock = threading.Lock()
        self.undeliverable = 0  # messages sent to a name with no live actor

    def register(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._refs[name] = ref

    def unregister(self, name: str) -> None:
        with self._lock:
            self._refs.pop(name, None)

    def get(self, name: str) -> pykka.ActorRef[Any] | None:
        with self._lock:
            return self._refs.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._refs)

    def tell(self, name: str, message: Any) -> bool:
        """Send ``message`` to ``name``; False (and counted) when nobody lives there."""
        ref = self.get(name)
        if ref is None:
            self.undeliverable += 1
            return False
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            self.undeliverable += 1
            return False
        return True
