"""What ``omphalos status`` shows of a file monitor: every file, how far it was read and
committed, the watch mode, and ``disk full: PATH`` while checkpoints cannot be written."""

from __future__ import annotations

import os
import time
from typing import Any

from .rotation import FileTracker
from .tailing import Tailer
from .watching import Watcher


def _size(tailer: Tailer) -> int:
    try:
        return os.fstat(tailer.fd).st_size if tailer.fd >= 0 else tailer.size
    except OSError:
        return tailer.size


def _state(tailer: Tailer, size: int) -> str:
    if tailer.error:
        return "error"
    if tailer.truncated:
        return "waiting"
    if not tailer.attached:
        return "deleted" if tailer.deleted else "rotated"
    return "reading" if tailer.position + tailer.held < size else "waiting"


def _entry(path: str, state: str, error: str) -> dict[str, Any]:
    return {"path": path, "file_id": "", "state": state, "size": 0, "read": 0,
            "committed": 0, "error": error}


def file_status(tracker: FileTracker, missing_roots: list[str], watcher: Watcher | None,
                follow: bool, in_flight: int, disk_full: str) -> dict[str, Any]:
    """The monitor-specific part of the status (the base class adds name and counters).

    ``idle``: everything read and acknowledged, nothing followed still to open, and
    checkpoints written (a monitor paused by a full disk is not idle). ``paused``:
    ``disk full: PATH`` while checkpoints cannot be written (reading waits), else empty.
    """
    files: list[dict[str, Any]] = []
    behind = 0
    idle = in_flight == 0 and not disk_full and not tracker.followed
    for tailer in tracker.tails.values():
        size = _size(tailer)
        behind += max(0, size - tailer.committed)
        if not tailer.truncated and (tailer.long_head is not None
                                     or tailer.position + tailer.held < size):
            idle = False
        files.append({"path": tailer.path, "file_id": tailer.file_id,
                      "state": _state(tailer, size), "size": size, "read": tailer.position,
                      "committed": tailer.committed, "error": tailer.error})
    for path, info in tracker.paths.items():
        if info.key is None and info.state != "open":
            files.append(_entry(path, info.state, info.error))
    for root in missing_roots:
        files.append(_entry(root, "missing", "directory not found"))
    if watcher is None:
        watch_mode = "polling" if follow else "none"
    else:
        watch_mode = "events+polling" if watcher.polled else "events"
    return {"files": files, "files_watched": len(tracker.tails), "bytes_behind": behind,
            "in_flight": in_flight, "idle": idle, "watch_mode": watch_mode,
            "polled_dirs": sorted(watcher.polled) if watcher is not None else [],
            "paused": disk_full,
            "time": time.time()}
