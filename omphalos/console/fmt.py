"""Numbers, sizes, durations and sparklines as short text for narrow columns."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

SPARKS = "▁▂▃▄▅▆▇█"


def count(n: float | None) -> str:
    """``1234`` -> ``1234``, ``12345`` -> ``12.3k``, ``1.5e6`` -> ``1.5M`` (at most 5 chars)."""
    if n is None:
        return "-"
    n = float(n)
    if abs(n) < 10_000:
        return f"{n:.0f}"
    for unit, size in (("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)):
        if abs(n) < size * 999.5:
            value = n / size
            return f"{value:.1f}{unit}" if abs(value) < 99.95 else f"{value:.0f}{unit}"
    return f"{n / 1e15:.0f}P"


def rate(r: float | None) -> str:
    """Requests per second: ``0.25`` -> ``0.25``, ``12.3`` -> ``12.3``, big ones as count."""
    if r is None or not math.isfinite(r):
        return "-"
    if r < 10:
        return f"{r:.2f}"
    if r < 1000:
        return f"{r:.1f}"
    return count(r)


def size(n: float | None) -> str:
    """Bytes: ``512`` -> ``512B``, ``2048`` -> ``2.0K``, ``3e9`` -> ``2.8G``."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"  # pragma: no cover - loop always returns


def duration(secs: float | None) -> str:
    """Request durations: ``0.0042`` -> ``4ms``, ``1.5`` -> ``1.50s``; None -> ``-``."""
    if secs is None or not math.isfinite(secs):
        return "-"
    if secs < 1:
        return f"{secs * 1000:.0f}ms"
    if secs < 100:
        return f"{secs:.2f}s"
    return f"{secs:.0f}s"


def age(secs: float) -> str:
    """How long ago: ``42s``, ``3m``, ``2h``, ``5d``."""
    secs = max(0.0, secs)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= span:
            return f"{secs // span:.0f}{unit}"
    return f"{secs:.0f}s"


def since(epoch: float | None, now: float | None = None) -> str:
    """Age of an epoch time, or ``-``."""
    if epoch is None:
        return "-"
    return age((time.time() if now is None else now) - epoch)


def percent(part: float, whole: float) -> str:
    """``part`` of ``whole`` as a whole percentage (``-`` when ``whole`` is 0)."""
    if not whole:
        return "-"
    return f"{100.0 * part / whole:.0f}%"


def sparkline(values: Sequence[float | None], width: int) -> str:
    """The last ``width`` values as block characters scaled to their maximum."""
    if width <= 0:
        return ""
    tail = [0.0 if v is None else max(0.0, float(v)) for v in values][-width:]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return SPARKS[0] * len(tail)
    last = len(SPARKS) - 1
    return "".join(SPARKS[min(last, round(v / top * last))] for v in tail)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, marking the cut with ``…``."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width > 1 else text[:1]
