"""Whole-column conversions: lists of matched text to the record's typed columns.

Each function takes a whole column (a list of strings) and runs at C speed where it can
(``map(int, ...)``, a set to find out whether any ``-`` is there at all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import add
from typing import Any

from omphalos.records import Columns

from .timestamps import zone_offset

#: What a malformed value raises while a column is converted.
CONVERSION_ERRORS = (ValueError, KeyError, IndexError, OverflowError, TypeError)


def as_list(values: Sequence[str]) -> list[str]:
    return values if isinstance(values, list) else list(values)


def none_for_dash(values: Sequence[str]) -> list[str | None]:
    distinct = set(values)
    if "-" not in distinct and "" not in distinct:
        return as_list(values)  # type: ignore[return-value]
    if distinct <= {"-", ""}:
        return [None] * len(values)
    return [None if v == "-" or v == "" else v for v in values]


def none_for_empty(values: Sequence[str]) -> list[str | None]:
    if "" not in set(values):
        return list(values)
    return [v or None for v in values]


def dash_to_empty(values: Sequence[str]) -> list[str]:
    if "-" not in set(values):
        return list(values)
    return ["" if v == "-" else v for v in values]


def ints(values: Sequence[str]) -> list[int]:
    try:
        return list(map(int, values))
    except ValueError:
        return [0 if v == "-" or v == "" else int(v) for v in values]


def floats(values: Sequence[str], scale: float) -> list[float | None]:
    if scale == 1.0:
        try:
            return list(map(float, values))
        except ValueError:
            pass
    return [None if v == "-" or v == "" else float(v) * scale for v in values]


def query_q(values: Sequence[str]) -> list[str | None]:
    return [v[1:] if v else None for v in values]


def plus_to_space(values: Sequence[str]) -> list[str | None]:
    return [None if v == "-" or v == "" else v.replace("+", " ") for v in values]


def split_uri(uri: str) -> tuple[str, str | None]:
    """``/a?b=1`` to (``/a``, ``b=1``); the query is None when there is no ``?``."""
    path, sep, query = uri.partition("?")
    return path, (query if sep else None)


def split_request(request: str) -> tuple[str, str, str, str]:
    """A request line (maybe garbage) to (method, path, query, protocol); '' = absent."""
    parts = request.split(" ")
    if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
        method, target, protocol = parts[0], " ".join(parts[1:-1]), parts[-1]
    elif len(parts) == 2:
        method, target, protocol = parts[0], parts[1], ""
    else:
        return "", request, "", ""
    path, _, query = target.partition("?")
    return method, path, query, protocol


def unescape(value: str) -> str:
    """Undo the escaping Apache and nginx apply to quoted values (``\\"``, ``\\x22``)."""
    if "\\" not in value:
        return value
    value = value.replace('\\"', '"')
    if "\\x" in value:
        value = re.sub(r"\\x([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)), value)
    return value.replace("\\\\", "\\")


def concat(parts: Sequence[Columns]) -> Columns:
    """One :class:`Columns` holding ``parts`` in order (optional columns filled with None)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Columns()
    if len(parts) == 1:
        return parts[0]
    out = Columns()
    for name in ("time", "client", "path", "status", "bytes"):
        setattr(out, name, [v for p in parts for v in getattr(p, name)])
    out.offset = [v for p in parts for v in p.offsets()]
    for name in ("user", "method", "query", "protocol", "referer", "agent", "duration",
                 "extra"):
        if any(getattr(p, name) is not None for p in parts):
            setattr(out, name, [v for p in parts for v in p.column(name)])
    return out


def line_offsets(lines: Sequence[bytes], start: int) -> list[int]:
    n = len(lines)
    return list(map(add, accumulate(map(len, lines), initial=start), range(n)))[:n]


_ZONES: dict[str, int] = {}


def zone_seconds(zone: str) -> int:
    """``+0200`` to 7200 (cached): a separate ``%{%z}t`` applied to a zone-less time."""
    seconds = _ZONES.get(zone)
    if seconds is None:
        if len(_ZONES) > 1000:
            _ZONES.clear()
        seconds = _ZONES[zone] = zone_offset(zone)
    return seconds


def extra_dicts(keys: list[str], rows: list[tuple[str | None, ...]]
                 ) -> list[dict[str, Any] | None]:
    """One ``extra`` dict per row; rows with the same values share one (read-only) dict,
    which is most of them (server address, port, sub-status ...)."""
    distinct = set(rows)
    if len(distinct) * 4 <= len(rows):
        table = {values: dict(zip(keys, values)) for values in distinct}
        return list(map(table.__getitem__, rows))
    return list(map(dict, map(zip, repeat(keys), rows)))


def join_space(a: str, b: str) -> str:
    return f"{a} {b}"
