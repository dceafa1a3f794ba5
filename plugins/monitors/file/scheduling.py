"""Discovery scheduling: when to search for files, which directories to watch, and the
queue of hints the watcher thread hands to the actor.

Hints arrive in watchdog's thread; they are queued in order (a move's new name must be
followed in the order the moves happened) and the actor is woken once per burst. A full
search (:class:`~.discovery.Discovery`) runs at start, on a directory event, when a watch
was added (what was created before it was not reported), and every
``discover_interval_secs`` as a safety net.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from collections.abc import Callable, Iterable

from .discovery import Discovery

#: One hint: (kind, path, dest), see :data:`.watching.Hint`.
HintEvent = tuple[str, str, str]


class HintQueue:
    """Hints from the watcher thread, in order; ``wake()`` is called once per burst."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._events: list[HintEvent] = []
        self._modified: set[HintEvent] = set()
        self._pending = False

    def put(self, kind: str, path: str, dest: str) -> None:
        """Called in watchdog's thread."""
        event = (kind, path, dest)
        with self._lock:
            if kind == "modified" and event in self._modified:
                return  # already waiting: one look at a busy file is enough
            if kind == "modified":
                self._modified.add(event)
            self._events.append(event)
            if self._pending:
                return
            self._pending = True
        self._wake()

    def take(self) -> list[HintEvent]:
        """The hints so far (the actor's thread); the next hint wakes the actor again."""
        with self._lock:
            events, self._events = self._events, []
            self._modified.clear()
            self._pending = False
        return events


class DiscoverySchedule:
    """What to read (``Discovery``), when to search again, and the directories to watch."""

    def __init__(self, discovery: Discovery, interval_secs: float) -> None:
        self.discovery = discovery
        self.interval_secs = interval_secs
        self.next_at = 0.0
        #: configured directories that do not exist (reported ``missing``)
        self.missing_roots: list[str] = []

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def wanted(self) -> list[str]:
        """The files to read now: every match, then the explicit paths (even if absent)."""
        self.missing_roots = [root for root in self.discovery.roots()
                              if not os.path.isdir(root)]
        self.next_at = time.monotonic() + self.interval_secs
        return list(dict.fromkeys([*self.discovery.scan(), *self.discovery.explicit_paths()]))

    def matches(self, path: str) -> bool:
        """True when ``path`` is one the patterns name (so a file there is read)."""
        if self.discovery.excluded(path):
            return False
        for pattern in self.discovery.patterns:
            if pattern.explicit:
                if path == pattern.glob:
                    return True
            elif fnmatch.fnmatchcase(path, pattern.glob) and (
                    pattern.recursive or path.count(os.sep) == pattern.glob.count(os.sep)):
                return True
        return False

    def watch_roots(self, open_parents: Iterable[str]) -> dict[str, bool]:
        """Directories to watch -> recursively: the patterns' roots, plus the parents of
        open files and of symlinks' targets that no root covers."""
        roots = self.discovery.roots()
        parents = set(open_parents)
        parents.update(os.path.dirname(os.path.realpath(p))  # symlinks' targets
                       for p in self.discovery.explicit_paths() if os.path.islink(p))
        for parent in parents:
            if parent and not any(
                    parent == r or (rec and parent.startswith(r.rstrip(os.sep) + os.sep))
                    for r, rec in roots.items()):
                roots[parent] = False
        return roots
