"""A one-line progress bar on a terminal; nothing at all when output is piped."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``Progress(total).update(done)`` redraws at most ten times a second."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, done: int, lines: int = 0) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._drawn < 0.1:
            return
        self._drawn = now
        fraction = min(done / self.total, 1.0)
        width = 30
        bar = "#" * int(fraction * width)
        rate = lines / max(now - self.started, 1e-6)
        self.stream.write(f"\r[{bar:<{width}}] {fraction:6.1%}  {rate:,.0f} lines/s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()
