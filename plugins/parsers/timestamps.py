"""Timestamp conversion to UTC epoch seconds, cached: a log repeats each second many times."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from datetime import UTC

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def parse_clf_time(text: str) -> float:
    """``10/Oct/2000:13:55:36 -0700`` (Apache ``%t``, nginx ``$time_local``) to epoch UTC."""
    if len(text) < 20 or text[2] != "/" or text[6] != "/" or text[11] != ":":
        raise ValueError(f"bad timestamp {text!r}")
    day, month, year = int(text[0:2]), MONTHS[text[3:6]], int(text[7:11])
    hour, minute = int(text[12:14]), int(text[15:17])
    second_text = text[18:].split(" ", 1)
    second = float(second_text[0])
    offset = 0
    if len(second_text) == 2:
        zone = second_text[1].strip()
        if zone and zone not in ("Z", "UTC", "GMT"):
            sign = -1 if zone[0] == "-" else 1
            digits = zone.lstrip("+-").replace(":", "")
            offset = sign * (int(digits[0:2]) * 3600 + int(digits[2:4]) * 60)
    if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise ValueError(f"bad timestamp {text!r}")
    return calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)) + second - offset


def parse_iso_time(text: str) -> float:
    """ISO 8601 (``2000-10-10T13:55:36+02:00``, nginx ``$time_iso8601``) to epoch UTC."""
    from datetime import datetime

    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


class TimeCache:
    """Memoises a timestamp parser; parsing the same text twice costs one dict lookup."""

    def __init__(self, parse: Callable[[str], float], max_entries: int = 200_000) -> None:
        self.parse = parse
        self.max_entries = max_entries
        self.cache: dict[str, float] = {}

    def one(self, text: str) -> float:
        value = self.cache.get(text)
        if value is None:
            if len(self.cache) >= self.max_entries:
                self.cache.clear()
            value = self.cache[text] = self.parse(text)
        return value

    def many(self, texts: Iterable[str]) -> list[float]:
        """All of ``texts`` converted; raises ValueError if any is malformed."""
        texts = list(texts)
        cache = self.cache
        missing = set(texts).difference(cache)
        if missing:
            if len(cache) + len(missing) > self.max_entries:
                cache.clear()
            for text in missing:
                cache[text] = self.parse(text)
        return list(map(cache.__getitem__, texts))
