"""A short thread switch interval while a query waits, for answers in milliseconds.

Python lets a thread run for ``sys.getswitchinterval()`` (5 ms by default) before a waiting
thread may take over. While the pipeline ingests, the threads that read, parse and count
are always runnable, so a query waits that long at every hand-over (the asking thread
hands the query to the collector's thread, which hands the answer back), several times
5 ms in all. A shorter interval for everybody would cost the ingest about a fifth of its
speed, so it is shortened only while some query waits for its answer and restored after.
The interval is one setting of the whole process: nested and concurrent waits share it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quick_switching"]

_lock = threading.Lock()
_waiting = 0
_saved = 0.0


@contextmanager
def quick_switching(secs: float) -> Iterator[None]:
    """Within the block, threads switch at least every ``secs`` seconds (0: unchanged)."""
    global _waiting, _saved
    if secs <= 0:
        yield
        return
    with _lock:
        if _waiting == 0:
            _saved = sys.getswitchinterval()
        _waiting += 1
        if secs < sys.getswitchinterval():
            sys.setswitchinterval(secs)
    try:
        yield
    finally:
        with _lock:
            _waiting -= 1
            if _waiting == 0:
                sys.setswitchinterval(_saved)
