"""Range and type checks of records: the one place that decides what a value may be.

Two users:

- every parser's batch goes through :func:`enforce_ranges` (called by
  :class:`omphalos.plugin.ParserPlugin` for whatever ``parse`` returned, so a new parser or
  preset is checked without doing anything): a line holding an integer outside
  ``[0, 2**63)`` (``status``, ``bytes``), a non-finite float or one of magnitude 2**63 or
  more (``time``, ``duration``: no sum of them a collector keeps can overflow) or an
  ``extra`` value no encoder can carry (an integer outside the signed 64-bit range, a
  non-finite float, nesting deeper than :data:`MAX_DEPTH`) becomes unparsed with the reason
  :data:`OUT_OF_RANGE`. Nothing out of range reaches an encoder, a sketch or an answer.
  The ``extra`` dicts of a parser that set :attr:`.Columns.extra_checked` are not looked
  at line by line: it built them from text cut from the line (the regex formats, declared
  per target in :data:`.linefmt.PLAIN_EXTRA_TARGETS`) or checked each of their columns
  with :func:`extra_column_ok` (JSON formats).
- a batch decoded from the wire goes through :func:`check_batch` before any collector sees
  it: the type and range of every element of every column, the column lengths and the
  contents of a counted batch (:class:`ValueError` with the reason otherwise).

Answers sent as JSON go through :func:`finite_json`, which never writes NaN or Infinity.

The checks are whole-column operations (``min``/``max``/``sum``/``set(map(type, ...))`` run
at C speed); only a column that fails them is looked at line by line.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from itertools import repeat
from typing import Any

from .counts import BatchAgg
from .messages import BadLine, Batch, LineChunk
from .records import COLUMN_FIELDS, OPTIONAL_COLUMNS, Columns

__all__ = ["OUT_OF_RANGE", "MAX_INT", "MAX_DEPTH", "out_of_range_rows", "extra_column_ok",
           "enforce_ranges",
           "check_columns", "check_counts", "check_batch", "Rejects", "finite_json"]

#: The unparsed reason of a line holding a value out of range.
OUT_OF_RANGE = "value out of range"
#: Integer fields (``status``, ``bytes``, ``offset``) lie in ``[0, MAX_INT)``.
MAX_INT = 1 << 63
#: Deepest nesting of lists and maps an ``extra`` value may have (msgpack and JSON encoders
#: refuse or recurse on deeper ones).
MAX_DEPTH = 32
#: Longest sample of a rejected line kept in a :class:`BadLine`, in characters.
SAMPLE_CHARS = 2048

_INT_FIELDS = ("status", "bytes")
_FLOAT_FIELDS = ("time", "duration")
_TEXT_FIELDS = ("client", "path")
_OPTIONAL_TEXT = ("user", "method", "query", "protocol", "referer", "agent")
_NONE = type(None)
#: Types of ``extra`` values that are always fine.
_PLAIN: set[type] = {str, _NONE, bool}


# -- value predicates ----------------------------------------------------------------------
def _int_ok(value: Any) -> bool:
    return 0 <= value < MAX_INT


def _float_ok(value: Any) -> bool:
    try:
        return math.isfinite(value) and -MAX_INT < value < MAX_INT
    except (TypeError, OverflowError):  # an int too large to be a float
        return False


def _floats_ok(values: Sequence[Any]) -> bool:
    """True when every value is finite and of magnitude under 2**63 (a finite sum proves
    them finite: NaN and inf spread; min and max bound them), so that no sum of them a
    collector keeps can overflow either."""
    if not values:
        return True
    try:
        total = sum(values)
        return math.isfinite(total) and -MAX_INT < min(values) and max(values) < MAX_INT
    except (TypeError, OverflowError):
        return False


def value_ok(value: Any, depth: int = 0) -> bool:
    """True when an ``extra`` value can be carried by every encoder: strings, booleans,
    None, signed 64-bit integers, finite floats, and lists and string-keyed maps of these
    nested at most :data:`MAX_DEPTH` deep."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -MAX_INT <= value < MAX_INT
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if kind is list or kind is tuple:
        return all(value_ok(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and value_ok(v, depth + 1) for k, v in value.items())
    return False


def _extra_ok(extra: dict[str, Any] | None) -> bool:
    if extra is None:
        return True
    if type(extra) is not dict:
        return False
    for key, value in extra.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if kind is str or value is None:
            continue
        if not value_ok(value, 1):
            return False
    return True


# -- parsed batches ----------------------------------------------------------------------
def out_of_range_rows(cols: Columns) -> list[int]:
    """Indexes of the lines of ``cols`` holding a value out of range, in order ([] for
    none: the usual case, found with a few whole-column passes)."""
    bad: set[int] = set()
    for name in _INT_FIELDS:
        values = getattr(cols, name)
        if not values:
            continue
        try:
            fine = min(values) >= 0 and max(values) < MAX_INT
        except TypeError:
            fine = False
        if not fine:
            bad.update(i for i, v in enumerate(values)
                       if not (isinstance(v, int) and _int_ok(v)))
    for name in _FLOAT_FIELDS:
        values = getattr(cols, name)
        if not values:
            continue
        present = values if name == "time" else [v for v in values if v is not None]
        if not _floats_ok(present):
            bad.update(i for i, v in enumerate(values)
                       if v is not None and not _float_ok(v))
    if not cols.extra_checked and cols.extra is not None:  # checked: not made into dicts
        bad.update(i for i, e in enumerate(cols.extra) if e is not None and not _extra_ok(e))
    return sorted(bad)


def extra_column_ok(values: Sequence[Any]) -> bool:
    """True when every value of one ``extra`` field's column (one value per line) passes
    :func:`value_ok`: what a parser checks before it sets :attr:`.Columns.extra_checked`.
    Columns of text and None, or of integers, are decided at C speed."""
    kinds = set(map(type, values))
    if kinds <= _PLAIN:
        return True
    if kinds <= _PLAIN | {int}:
        ints = values if kinds == {int} else [v for v in values if type(v) is int]
        return -MAX_INT <= min(ints) and max(ints) < MAX_INT
    return all(map(value_ok, values, repeat(1)))


def _line_at(data: bytes, start: int, offset: int) -> str:
    """The text of the line starting at byte ``offset`` of a chunk that starts at ``start``."""
    at = offset - start
    if not 0 <= at < len(data):
        return ""
    end = data.find(b"\n", at)
    raw = data[at:end if end >= 0 else len(data)]
    return raw[: SAMPLE_CHARS * 4].decode("utf-8", "replace").rstrip("\r")[:SAMPLE_CHARS]


def enforce_ranges(batch: Batch, chunk: LineChunk | None = None, sample: int = 20
                   ) -> tuple[Batch, list[BadLine]]:
    """``batch`` without its lines holding a value out of range (now unparsed, reason
    :data:`OUT_OF_RANGE`), and those lines as :class:`BadLine` (text taken from ``chunk``).
    ``batch`` itself is returned when every value is in range."""
    if batch.counts is not None or not len(batch.records):
        return batch, []
    cols = batch.records
    rows = out_of_range_rows(cols)
    if not rows:
        return batch, []
    offsets = cols.offsets()
    rejected = [BadLine(offsets[i], OUT_OF_RANGE,
                        _line_at(chunk.data, chunk.start, offsets[i]) if chunk else "")
                for i in rows]
    gone = set(rows)
    kept = cols.select([i for i in range(len(cols)) if i not in gone])
    reasons = Counter(batch.unparsed_reasons)
    reasons[OUT_OF_RANGE] += len(rows)
    room = max(sample - len(batch.bad), 0)
    bad = tuple(sorted((*batch.bad, *rejected[:room]), key=lambda b: b.offset))
    out = Batch(batch.source, batch.seq, batch.start, batch.end, kept, batch.lines,
                unparsed=batch.unparsed + len(rows), unparsed_reasons=dict(reasons), bad=bad)
    return out, rejected


# -- decoded batches -----------------------------------------------------------------------
def _types(values: Sequence[Any]) -> set[type]:
    return set(map(type, values))


def check_columns(cols: Columns) -> None:
    """Every element of every column of the right type and in range, every column of the
    same length; ValueError naming the column otherwise."""
    n = len(cols.time)
    for name in COLUMN_FIELDS:
        values = getattr(cols, name)
        if values is None:
            if name not in OPTIONAL_COLUMNS:
                raise ValueError(f"column {name} is missing")
            continue
        if type(values) is not list:
            raise ValueError(f"column {name} is not a list")
        if len(values) != n:
            raise ValueError(f"column {name} has {len(values)} values, expected {n}")
    for name in (*_INT_FIELDS, "offset"):
        values = getattr(cols, name)
        if values and not _types(values) <= {int}:
            raise ValueError(f"column {name}: expected integers")
        if values and not (min(values) >= 0 and max(values) < MAX_INT):
            raise ValueError(f"column {name}: {OUT_OF_RANGE}")
    for name in _TEXT_FIELDS:
        if not _types(getattr(cols, name)) <= {str}:
            raise ValueError(f"column {name}: expected strings")
    for name in _OPTIONAL_TEXT:
        values = getattr(cols, name)
        if values is not None and not _types(values) <= {str, _NONE}:
            raise ValueError(f"column {name}: expected strings or null")
    if not _types(cols.time) <= {float, int} or not _floats_ok(cols.time):
        raise ValueError(f"column time: expected finite numbers ({OUT_OF_RANGE})")
    if cols.duration is not None:
        if not _types(cols.duration) <= {float, int, _NONE}:
            raise ValueError("column duration: expected numbers or null")
        if not _floats_ok([v for v in cols.duration if v is not None]):
            raise ValueError(f"column duration: {OUT_OF_RANGE}")
    if cols.extra is not None and not all(map(_extra_ok, cols.extra)):
        raise ValueError("column extra: expected maps of plain values or null")


def _count_map(value: Any, what: str) -> None:
    if type(value) not in (dict, Counter):
        raise ValueError(f"counts: {what} are not a map")
    for key, count in value.items():
        if not (type(count) is int and _int_ok(count)):
            raise ValueError(f"counts: {what}: a count is not a whole number in range")
        if not (key is None or type(key) is str
                or (type(key) is int and -MAX_INT <= key < MAX_INT)):
            raise ValueError(f"counts: {what}: a key is not a string or a whole number")


def check_counts(agg: BatchAgg) -> None:
    """Every number of a counted batch a whole number in range or a finite float."""
    for name in ("requests", "bytes", "duration_count"):
        value = getattr(agg, name)
        if not (type(value) is int and _int_ok(value)):
            raise ValueError(f"counts: {name}: {OUT_OF_RANGE}")
    for name in ("first", "last", "duration_sum"):
        if not _float_ok(getattr(agg, name)):
            raise ValueError(f"counts: {name}: {OUT_OF_RANGE}")
    _count_map(agg.status, "status")
    _count_map(agg.durations, "duration buckets")
    for dim, d in agg.dims.items():
        _count_map(d.hits, f"{dim} hits")
        _count_map(d.bytes, f"{dim} bytes")
        for cls, counts in d.classes.items():
            _count_map(counts, f"{dim} {cls}")
        for buckets in (d.durations or {}).values():
            _count_map(buckets, f"{dim} duration buckets")
        if not (type(d.cut) is int and _int_ok(d.cut)):
            raise ValueError(f"counts: {dim} cut: {OUT_OF_RANGE}")
        if d.total is not None and not (type(d.total) is int and _int_ok(d.total)):
            raise ValueError(f"counts: {dim} total: {OUT_OF_RANGE}")


def check_batch(batch: Batch) -> None:
    """A decoded batch checked completely (ValueError with the reason): its columns or its
    counts, its line accounting, its unparsed reasons."""
    for name in ("seq", "start", "end", "lines", "unparsed"):
        value = getattr(batch, name)
        if not (type(value) is int and _int_ok(value)):
            raise ValueError(f"batch {name}: {OUT_OF_RANGE}")
    if batch.start > batch.end:
        raise ValueError("batch start is after its end")
    for reason, count in batch.unparsed_reasons.items():
        if type(reason) is not str or not (type(count) is int and _int_ok(count)):
            raise ValueError("unparsed reasons are not counts by reason")
    if batch.counts is not None:
        check_counts(batch.counts)
        return
    check_columns(batch.records)
    if len(batch.records) + batch.unparsed > batch.lines:
        raise ValueError(f"{len(batch.records)} records and {batch.unparsed} unparsed lines "
                         f"in a batch of {batch.lines} lines")


class Rejects:
    """Malformed messages counted per sender, each sender logged at most once a minute.

    A receiver calls :meth:`note` for every message it drops: a hostile or broken sender
    cannot flood the log, and ``status`` shows who sends what (:meth:`by_sender`). At most
    ``max_senders`` senders are tracked (the least recent are forgotten).
    """

    def __init__(self, log: logging.Logger, name: str, interval_secs: float = 60.0,
                 max_senders: int = 1024) -> None:
        self.log = log
        self.name = name
        self.interval_secs = interval_secs
        self.max_senders = max_senders
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()  # noted from an I/O thread, read by status()

    def note(self, sender: str, reason: str, now: float | None = None) -> bool:
        """Count a malformed message from ``sender``; True when it was logged."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._counts[sender] = self._counts.get(sender, 0) + 1
            self._counts.move_to_end(sender)
            if len(self._counts) > self.max_senders:
                old, _ = self._counts.popitem(last=False)
                self._logged.pop(old, None)
            count = self._counts[sender]
            last = self._logged.get(sender)
            if last is not None and now - last < self.interval_secs:
                return False
            self._logged[sender] = now
        self.log.warning("%s: dropped a malformed message from %s (%d from it so far; logged "
                         "at most once a minute per sender): %s", self.name, sender, count,
                         reason)
        return True

    def by_sender(self) -> dict[str, int]:
        """Malformed messages dropped, per sender."""
        with self._lock:
            return dict(self._counts)


# -- answers -----------------------------------------------------------------------------
def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (lists, tuples, maps)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {k: _finite(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_finite(v) for v in value]
    return value


def finite_json(data: Any, **kwargs: Any) -> tuple[str, bool]:
    """``data`` as strict JSON text, never holding NaN or Infinity (RFC 8259 has neither):
    a non-finite float is written as null. Also says whether any had to be replaced.
    ``kwargs`` go to :func:`json.dumps` (values JSON cannot hold are written as strings)."""
    kwargs.setdefault("default", str)
    try:
        return json.dumps(data, allow_nan=False, **kwargs), False
    except ValueError:
        return json.dumps(_finite(data), allow_nan=False, **kwargs), True
