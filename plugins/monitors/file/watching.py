"""Directory watches through watchdog's inotify observer; events are hints, never the truth.

The monitor watches the parent directories of its files, not the files (a rotated file's
name moves, a watch on it would follow the wrong file). An event only says "look here
soon": the monitor still stats its files periodically, because inotify drops events when
its queue overflows and cannot watch at all past the kernel's limits. When a watch cannot
be added (the kernel's ``max_user_watches`` / ``max_user_instances``, or our own
``max_watched_dirs``), that directory is polled instead, with a warning: never a silent stop.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyEmitter

#: Events that matter; open/close/attribute events are left out to keep the traffic low.
EVENTS: list[type[FileSystemEvent]] = [
    FileModifiedEvent, FileCreatedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent]

#: hint(kind, path, dest): ``kind`` is ``modified``, ``created``, ``deleted``, ``moved``
#: (``dest`` is the new name) or ``dir`` (a directory changed: search again).
Hint = Callable[[str, str, str], None]


class _Handler(FileSystemEventHandler):
    """Turns watchdog events into hints (runs in watchdog's dispatch thread)."""

    def __init__(self, hint: Hint) -> None:
        self.hint = hint

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if event.is_directory:
            self.hint("dir", src, dest)
        elif event.event_type in ("modified", "created", "deleted", "moved"):
            self.hint(event.event_type, src, dest)


class _GatheringEmitter(InotifyEmitter):
    """watchdog's inotify emitter, reading the kernel's queue at most once per ``gather``.

    Between two reads the kernel folds identical consecutive events into one (every append
    to a busy file is an IN_MODIFY), so a file written 5,000 times a second costs a few
    dozen events a second instead of 5,000, at most ``gather`` seconds late. The first
    event after a quiet spell is read at once.
    """

    gather = 0.05

    def on_thread_start(self) -> None:
        super().on_thread_start()
        inner = getattr(getattr(self, "_inotify", None), "_inotify", None)
        read = getattr(inner, "read_events", None)
        if inner is None or read is None:
            return  # another watchdog layout: events are simply not gathered
        gather = self.gather
        last = [0.0]

        def gathered(*args: Any, **kwargs: Any) -> Any:
            wait = last[0] + gather - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            events = read(*args, **kwargs)
            last[0] = time.monotonic()
            return events

        inner.read_events = gathered


class Watcher:
    """Keeps one inotify watch per wanted directory; reports what it must poll instead."""

    def __init__(self, hint: Hint, max_dirs: int, log: logging.Logger,
                 gather_secs: float = 0.05) -> None:
        self._handler = _Handler(hint)
        self._emitter = type("GatheringEmitter", (_GatheringEmitter,), {"gather": gather_secs})
        self.max_dirs = max_dirs
        self.log = log
        self._observer: Any = None
        self._lock = threading.Lock()
        #: directory -> (watch, (dev, inode) of the directory when it was watched)
        self.watches: dict[str, tuple[Any, tuple[int, int]]] = {}
        #: directories that exist but are polled (a watch could not be added)
        self.polled: set[str] = set()
        self.fallback_reason = ""

    def _start_observer(self) -> Any:
        if self._observer is None:
            observer = BaseObserver(self._emitter, timeout=0.2)
            observer.name = "omphalos-watchdog"
            observer.daemon = True
            observer.start()
            self._observer = observer
        return self._observer

    def _alive(self, watch: Any) -> bool:
        observer = self._observer
        if observer is None:
            return False
        return any(e.watch == watch and e.is_alive() for e in observer.emitters)

    def sync(self, wanted: dict[str, bool]) -> bool:
        """Watch exactly the existing directories of ``wanted`` (dir -> recursive).

        True when a watch was added: what was created before it was not reported, so the
        caller looks again.
        """
        added = False
        with self._lock:
            for path in list(self.watches):
                if path not in wanted:
                    self._drop(path)
            self.polled &= set(wanted)
            for path, recursive in wanted.items():
                try:
                    st = os.stat(path)
                except OSError:
                    self._drop(path)  # vanished: found again by a later sync
                    self.polled.discard(path)
                    continue
                key = (st.st_dev, st.st_ino)
                held = self.watches.get(path)
                if held is not None and held[1] == key and self._alive(held[0]):
                    continue
                self._drop(path)
                added = self._add(path, recursive, key) or added
        return added

    def _add(self, path: str, recursive: bool, key: tuple[int, int]) -> bool:
        if len(self.watches) >= self.max_dirs:
            self._fall_back(path, f"more than max_watched_dirs = {self.max_dirs} directories")
            return False
        try:
            watch = self._start_observer().schedule(self._handler, path, recursive=recursive,
                                                    event_filter=EVENTS)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM):
                self._fall_back(path, f"inotify limit reached ({exc.strerror})")
            else:
                self._fall_back(path, f"cannot watch: {exc}")
            return False
        self.watches[path] = (watch, key)
        self.polled.discard(path)
        return True

    def _fall_back(self, path: str, why: str) -> None:
        if path not in self.polled:
            self.log.warning("polling %s instead of watching it: %s", path, why)
        self.polled.add(path)
        self.fallback_reason = why

    def _drop(self, path: str) -> None:
        held = self.watches.pop(path, None)
        if held is None or self._observer is None:
            return
        try:
            self._observer.unschedule(held[0])
        except (KeyError, OSError, RuntimeError):
            pass  # the emitter already stopped itself (its directory was deleted)

    def stop(self) -> None:
        """Stop the observer and its threads (waits at most a few seconds)."""
        with self._lock:
            observer, self._observer = self._observer, None
            self.watches.clear()
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
