"""Signal handling for the command line only (library code never installs handlers)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType

#: How often ``StopFlag.wait`` looks at the flag: the longest a stop signal waits unseen.
POLL_SECS = 0.05


class StopFlag:
    """Set by SIGINT or SIGTERM; the command's main loop waits on it.

    The handlers only assign attributes: taking a lock in a signal handler (as
    ``threading.Event.set`` does) deadlocks when a second signal arrives while the first
    handler holds it. Other signals' callbacks are queued and run by :meth:`wait`, in the
    main loop, for the same reason.
    """

    def __init__(self) -> None:
        self.signal: int | None = None  # the signal number that stopped us
        self.handlers: dict[int, Callable[[], None]] = {}
        self._queued: list[int] = []

    def install(self, extra: dict[int, Callable[[], None]] | None = None) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for number, fn in (extra or {}).items():
            self.handlers[number] = fn
            signal.signal(number, self._other)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.signal = int(signum)

    def _other(self, signum: int, frame: FrameType | None) -> None:
        self._queued.append(int(signum))

    @property
    def is_set(self) -> bool:
        return self.signal is not None

    def set(self, signum: int = signal.SIGTERM) -> None:
        """Stop as if ``signum`` had arrived (from code, not from a handler)."""
        self.signal = int(signum)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` s; True as soon as a stop signal came. Runs queued
        callbacks of other signals (SIGHUP, SIGUSR1) on the way."""
        deadline = time.monotonic() + timeout
        while True:
            while self._queued:
                self.handlers[self._queued.pop(0)]()
            if self.signal is not None:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_SECS, left))
