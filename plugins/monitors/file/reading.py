"""Reading: turn what the open files hold into chunks, while there is credit.

:class:`Reader` goes round the files worth a read (``FileTracker.ready``) and emits whole
lines (:class:`~.tailing.LineCutter`) until credit runs out or nothing moves; it sends a
held partial line when its time-out expires or its rotated file went quiet, and closes a
rotated or deleted file once it was read and committed to its end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from .rotation import FileTracker
from .tailing import LineCutter, Piece, Tailer

#: emit(tailer, pieces): send the pieces of ``tailer`` downstream.
Emit = Callable[[Tailer, list[Piece]], None]


class Reader:
    """Reads the tracker's files; see the module doc."""

    def __init__(self, tracker: FileTracker, cutter: LineCutter, counters: Counter[str],
                 *, follow: bool, rotate_wait_secs: float,
                 partial_line_timeout_secs: float) -> None:
        self.tracker = tracker
        self.cutter = cutter
        self.counters = counters
        self.follow = follow
        self.rotate_wait_secs = rotate_wait_secs
        self.partial_line_timeout_secs = partial_line_timeout_secs

    def pump(self, has_credit: Callable[[], bool], emit: Emit) -> None:
        """Read and emit while there is credit and something to read."""
        ready, tails = self.tracker.ready, self.tracker.tails
        while ready:
            moved_any = False
            for key in list(ready):
                if not has_credit():
                    return
                tailer = tails.get(key)
                if tailer is None or tailer.fd < 0 or tailer.truncated:
                    ready.pop(key, None)
                    continue
                try:
                    pieces, moved = self.cutter.read(tailer, final=not self.follow)
                except OSError as exc:
                    tailer.error = str(exc)
                    self.counters["read_errors"] += 1
                    ready.pop(key, None)
                    continue
                tailer.error = ""
                if pieces:
                    emit(tailer, pieces)
                    tailer.quiet_since = None
                if moved:
                    moved_any = True
                else:
                    ready.pop(key, None)
            if not moved_any:
                return

    def flush_quiet(self, now: float, has_credit: Callable[[], bool], emit: Emit) -> None:
        """Send held partial lines whose time is up; close rotated files read to the end."""
        timeout = self.partial_line_timeout_secs
        for tailer in list(self.tracker.tails.values()):
            if tailer.behind() or tailer.truncated:
                tailer.quiet_since = None
                continue
            if tailer.quiet_since is None:
                tailer.quiet_since = now
                continue
            quiet = now - tailer.quiet_since
            gone = not tailer.attached and quiet >= self.rotate_wait_secs
            if tailer.held and ((timeout and quiet >= timeout) or gone):
                if has_credit():
                    try:
                        pieces, _ = self.cutter.read(tailer, final=True)
                    except OSError as exc:
                        tailer.error = str(exc)
                        continue
                    emit(tailer, pieces)
                    self.counters["partial_lines_flushed"] += len(pieces)
                continue
            if gone and tailer.committed >= tailer.position:
                self.tracker.close(tailer)
