"""Signal handling for the command line only (library code never installs handlers)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType


class StopFlag:
    """Set by SIGINT or SIGTERM; the command's main loop waits on it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None  # the signal number that stopped us
        self.handlers: dict[int, Callable[[], None]] = {}

    def install(self, extra: dict[int, Callable[[], None]] | None = None) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for number, fn in (extra or {}).items():
            self.handlers[number] = fn
            signal.signal(number, self._other)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.signal = int(signum)
        self.event.set()

    def _other(self, signum: int, frame: FrameType | None) -> None:
        self.handlers[signum]()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)
