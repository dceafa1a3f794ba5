"""Timestamp conversion to UTC epoch seconds, cached: a log repeats each second many times.

Every parser here turns the text of a timestamp into seconds since the epoch, UTC, applying
the zone offset the text carries (``+0200``) or, when it carries none, taking it as UTC.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def zone_offset(zone: str) -> int:
    """``+0200``, ``-07:00``, ``Z`` or ``UTC`` to seconds east of UTC."""
    zone = zone.strip()
    if not zone or zone in ("Z", "UTC", "GMT"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone.lstrip("+-").replace(":", "")
    if len(digits) != 4 or not digits.isdigit() or digits[0:2] > "23" or digits[2:4] > "59":
        raise ValueError(f"bad zone {zone!r}")
    return sign * (int(digits[0:2]) * 3600 + int(digits[2:4]) * 60)


def _check(year: int, month: int, day: int, hour: int, minute: int, second: float,
           text: str) -> None:
    """ValueError unless the fields name a real moment: no 31 February (``timegm`` would
    quietly make it 2 March), no hour 24; second 60 is a leap second."""
    if not (1 <= month <= 12 and 1 <= year <= 9999 and 1 <= day
            and day <= calendar.monthrange(year, month)[1] and 0 <= hour < 24
            and 0 <= minute < 60 and 0 <= second < 61):
        raise ValueError(f"bad timestamp {text!r}")


def parse_clf_time(text: str) -> float:
    """``10/Oct/2000:13:55:36 -0700`` (Apache ``%t``, nginx ``$time_local``) to epoch UTC."""
    if len(text) < 20 or text[2] != "/" or text[6] != "/" or text[11] != ":":
        raise ValueError(f"bad timestamp {text!r}")
    day, month, year = int(text[0:2]), MONTHS[text[3:6]], int(text[7:11])
    hour, minute = int(text[12:14]), int(text[15:17])
    second_text = text[18:].split(" ", 1)
    second = float(second_text[0])
    offset = zone_offset(second_text[1]) if len(second_text) == 2 else 0
    _check(year, month, day, hour, minute, second, text)
    return calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)) + second - offset


def parse_w3c_time(text: str) -> float:
    """``2000-10-10 13:55:36`` (W3C ``date`` and ``time``, always UTC) to epoch UTC."""
    if len(text) < 16 or text[4] != "-" or text[7] != "-" or text[10] != " ":
        raise ValueError(f"bad timestamp {text!r}")
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    parts = text[11:].split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"bad timestamp {text!r}")
    hour, minute = int(parts[0]), int(parts[1])
    second = float(parts[2]) if len(parts) == 3 else 0.0
    _check(year, month, day, hour, minute, second, text)
    return calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)) + second


def parse_iso_time(text: str) -> float:
    """ISO 8601 (``2000-10-10T13:55:36+02:00``, nginx ``$time_iso8601``) to epoch UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def parse_any_time(value: object) -> float:
    """A JSON timestamp: epoch seconds (or milliseconds when huge), ISO 8601 or CLF text."""
    if isinstance(value, bool):
        raise ValueError(f"bad timestamp {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
        return number / 1000.0 if number > 1e11 else number
    if not isinstance(value, str):
        raise ValueError(f"bad timestamp {value!r}")
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return parse_any_time(float(text))
    if len(text) > 2 and text[2] == "/":
        return parse_clf_time(text)
    return parse_iso_time(text)


#: strftime directives a format string may use, with the text each one matches.
STRFTIME_PATTERNS = {
    "Y": r"\d{4}", "m": r"\d{1,2}", "d": r"\d{1,2}", "e": r" ?\d{1,2}", "H": r"\d{1,2}",
    "M": r"\d{1,2}", "S": r"\d{1,2}", "y": r"\d{2}", "b": r"[A-Za-z]{3}", "h": r"[A-Za-z]{3}",
    "B": r"[A-Za-z]+", "a": r"[A-Za-z]{3}", "A": r"[A-Za-z]+", "j": r"\d{1,3}",
    "z": r"[+-]\d{2}:?\d{2}|Z", "Z": r"[A-Za-z]+", "f": r"\d{1,6}", "I": r"\d{1,2}",
    "p": r"[AaPp][Mm]", "%": "%",
}
#: Shorthand directives, expanded before anything else.
STRFTIME_SHORTHANDS = {"T": "%H:%M:%S", "F": "%Y-%m-%d", "D": "%m/%d/%y", "R": "%H:%M"}


def _expand(fmt: str) -> str:
    return re.sub(r"%([TFDR])", lambda m: STRFTIME_SHORTHANDS[m[1]], fmt)


def strftime_regex(fmt: str) -> str:
    """The regex (no groups) matching what strftime ``fmt`` writes; ValueError if unknown."""
    out, i, fmt = [], 0, _expand(fmt)
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            directive = fmt[i + 1]
            if directive not in STRFTIME_PATTERNS:
                raise ValueError(f"unsupported time directive %{directive} in {fmt!r}")
            out.append(f"(?:{STRFTIME_PATTERNS[directive]})")
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


def strftime_parser(fmt: str) -> Callable[[str], float]:
    """A parser for timestamps written with strftime ``fmt`` (UTC unless ``%z`` says)."""
    fmt = _expand(fmt).replace("%e", "%d").replace("%h", "%b")

    def parse(text: str) -> float:
        value = datetime.strptime(text.strip() if "%e" not in fmt else text, fmt)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()

    return parse


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
        if not isinstance(texts, list):
            texts = list(texts)
        cache = self.cache
        missing = set(texts).difference(cache)
        if missing:
            if len(cache) + len(missing) > self.max_entries:
                cache.clear()
            for text in missing:
                cache[text] = self.parse(text)
        return list(map(cache.__getitem__, texts))
