"""The optional fast JSON decoder (msgspec, ``pip install omphalos[fast]``) and the rule
for when its answer may stand in for the stdlib's.

msgspec decodes a chunk straight into typed structs holding only the keys a preset maps
(the rest of each line is validated and skipped, never built into objects), which is what
makes Caddy's long nested lines cheap. Its results are used only where they are provably
what ``json.loads`` gives: wherever msgspec refuses the text (NaN, lone surrogate escapes,
numbers out of a double's range, a value of another type than the struct says) the
caller decodes with the stdlib, as without msgspec, and :func:`decodable` sends to the
stdlib every chunk on which msgspec could accept what the stdlib refuses:

- bytes that are not strict UTF-8 (the stdlib's ``surrogatepass`` takes encoded
  surrogates, and msgspec does not check the strings it skips);
- a line that could nest deeper than :data:`SAFE_DEPTH` (the stdlib's limit is the
  interpreter's recursion limit, less the caller's stack; msgspec's is slightly higher);
- a run of digits longer than the interpreter's integer-string limit (the stdlib refuses
  such an integer, msgspec skips it).

``tests/parsers/test_json_accel.py`` proves the equality on crafted hostile lines.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

try:
    import msgspec
except ImportError:  # pragma: no cover - the stdlib alone gives the same results
    msgspec = None  # type: ignore[assignment]

__all__ = ["DECODE_ERRORS", "SAFE_DEPTH", "decodable", "decode", "msgspec"]

#: Nesting a line may have for msgspec's answer to be used (far below the stdlib's limit
#: of about the recursion limit, 1,000 by default, less the caller's stack).
SAFE_DEPTH = 250
#: A line shorter than this cannot nest :data:`SAFE_DEPTH` deep (each level takes an
#: opening and a closing bracket) nor hold an integer over the integer-string limit
#: (at least 640 digits where one is set).
_SHORT = 2 * SAFE_DEPTH

#: What msgspec raises for text it does not take (the caller then asks the stdlib).
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    (msgspec.DecodeError, RecursionError) if msgspec is not None else (RecursionError,))


#: One line's JSON value, decoded by msgspec (any JSON value; only after :func:`decodable`).
decode: Callable[[bytes], Any] = (msgspec.json.Decoder().decode if msgspec is not None
                                  else json.loads)


def _strict_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _long_line_ok(line: bytes) -> bool:
    """A line of :data:`_SHORT` bytes or more: fewer opening brackets than
    :data:`SAFE_DEPTH`, and no digit run the stdlib would refuse as an integer."""
    if line.count(b"[") + line.count(b"{") >= SAFE_DEPTH:
        return False
    limit = sys.get_int_max_str_digits()
    return not (limit and len(line) > limit and _digit_run(limit).search(line))


_RUNS: dict[int, re.Pattern[bytes]] = {}


def _digit_run(limit: int) -> re.Pattern[bytes]:
    pattern = _RUNS.get(limit)
    if pattern is None:
        pattern = _RUNS[limit] = re.compile(rb"[0-9]{%d}" % (limit + 1))
    return pattern


def decodable(data: bytes, lines: list[bytes]) -> bool:
    """Whether msgspec's decoding of ``data`` (whose lines are ``lines``), where it
    succeeds, is the stdlib's (see the module doc)."""
    if msgspec is None or not _strict_utf8(data):
        return False
    if max(map(len, lines), default=0) < _SHORT:
        return True
    return all(_long_line_ok(line) for line in lines if len(line) >= _SHORT)
