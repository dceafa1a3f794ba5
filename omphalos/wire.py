"""The wire format of batches and acknowledgements: versioned msgpack.

Every message is one msgpack array ``[MAGIC, version, kind, body]``: ``MAGIC`` is ``"om"``,
``version`` the format version (:data:`VERSION`), ``kind`` ``"b"`` for a :class:`Batch` or
``"a"`` for an :class:`Ack`, ``body`` a map with short keys. Maps rather than positional
arrays keep the format open: a newer reader fills in defaults for keys an older writer did
not know, and an older reader ignores keys it does not know. Columns travel as one list per
field (the columnar layout of :class:`omphalos.records.Columns`); absent optional columns are
left out.

Version 2 adds batches reduced to counts (:mod:`omphalos.counts`, key ``"g"`` in place of
the columns). A message carries the lowest version that can read it: everything but a
counted batch is still written as version 1, so older collectors keep reading newer
monitors.

Anything that is not a well-formed message of a version this module reads raises
:class:`WireError` (never another exception), so a receiver drops it and counts it. A batch
is checked completely (:func:`omphalos.validate.check_batch`: the type and range of every
column element, the column lengths, the contents of a counted batch) before it is returned,
so a well-formed message holding values of the wrong type never reaches a collector.
Equal strings of a column are then made one object (:func:`shared_values`): msgpack makes
a new string per value, while a batch's agents, referers, methods and paths repeat, so a
decoded batch of a combined log holds less than half the memory it would.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .counts import counts_from_wire, counts_to_wire
from .messages import Ack, BadLine, Batch, Source
from .records import COLUMN_FIELDS, OPTIONAL_COLUMNS, Columns
from .validate import check_batch

__all__ = ["VERSION", "MAGIC", "DEFAULT_MAX_BYTES", "WireError", "encode_batch",
           "encode_ack", "decode", "decode_batch", "decode_ack", "shared_values"]

MAGIC = "om"
#: The newest version this module writes; it reads every version from 1 up to this one.
VERSION = 2
#: Largest message a receiver accepts unless configured otherwise (64 MiB).
DEFAULT_MAX_BYTES = 64 << 20
_REQUIRED_COLUMNS = tuple(f for f in COLUMN_FIELDS if f not in OPTIONAL_COLUMNS)
#: The columns of strings (or nulls) whose equal values a decoded batch shares.
SHARED_COLUMNS = ("client", "user", "method", "path", "query", "protocol", "referer", "agent")


class WireError(ValueError):
    """A message that cannot be read: garbage, truncated, oversized or of an unknown version."""


def _pack(kind: str, body: dict[str, Any], version: int = 1) -> bytes:
    data: bytes = msgpack.packb([MAGIC, version, kind, body], use_bin_type=True)
    return data


def encode_batch(batch: Batch) -> bytes:
    """``batch`` as bytes (line offsets are computed if the parser left them lazy); a batch
    reduced to counts travels as its counts (version 2)."""
    src = batch.source
    body: dict[str, Any] = {
        "h": src.host, "p": src.path, "f": src.file_id, "o": src.origin,
        "q": batch.seq, "s": batch.start, "e": batch.end, "l": batch.lines,
    }
    if batch.counts is not None:
        body["g"] = counts_to_wire(batch.counts)
    else:
        cols = batch.records
        cols.offsets()
        body["c"] = {name: getattr(cols, name) for name in COLUMN_FIELDS
                     if getattr(cols, name) is not None}
    if batch.unparsed:
        body["u"] = batch.unparsed
        body["r"] = batch.unparsed_reasons
    if batch.bad:
        body["x"] = [[b.offset, b.reason, b.line] for b in batch.bad]
    return _pack("b", body, 2 if batch.counts is not None else 1)


def encode_ack(ack: Ack) -> bytes:
    """``ack`` as bytes."""
    return _pack("a", {"o": ack.origin, "q": ack.seq, "f": ack.file_id, "e": ack.end,
                       "k": ack.accepted})


def decode(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Batch | Ack:
    """The Batch or Ack in ``data``; WireError for anything else."""
    if len(data) > max_bytes:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        message = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # noqa: BLE001 - msgpack raises many types for garbage
        raise WireError(f"not msgpack: {type(exc).__name__}") from None
    if not (isinstance(message, list) and len(message) == 4 and message[0] == MAGIC):
        raise WireError("not an omphalos message")
    _, version, kind, body = message
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise WireError(f"unsupported wire version {version!r} (this reads 1 to {VERSION})")
    if not isinstance(body, dict):
        raise WireError("message body is not a map")
    try:
        if kind == "b":
            return _batch(body)
        if kind == "a":
            return _ack(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"malformed {kind!r} message: {type(exc).__name__}: {exc}") from None
    raise WireError(f"unknown message kind {kind!r}")


def decode_batch(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Batch:
    """The Batch in ``data``; WireError when it holds anything else."""
    message = decode(data, max_bytes)
    if not isinstance(message, Batch):
        raise WireError("expected a batch")
    return message


def decode_ack(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Ack:
    """The Ack in ``data``; WireError when it holds anything else."""
    message = decode(data, max_bytes)
    if not isinstance(message, Ack):
        raise WireError("expected an acknowledgement")
    return message


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _batch(body: dict[str, Any]) -> Batch:
    source = Source(_str(body["h"]), _str(body["p"]), _str(body["f"]), _str(body["o"]))
    start, end = _int(body["s"]), _int(body["e"])
    if not 0 <= start <= end:
        raise ValueError("bad byte range")
    cols = Columns()
    counts = None
    if "g" in body:
        counts = counts_from_wire(body["g"])
        raw_columns: Any = {}
    else:
        raw_columns = body["c"]
        if not isinstance(raw_columns, dict):
            raise TypeError("columns are not a map")
    n = -1
    for name in COLUMN_FIELDS:
        values = raw_columns.get(name)
        if values is None:
            if name in _REQUIRED_COLUMNS and counts is None:
                raise KeyError(f"column {name}")
            continue
        if not isinstance(values, list):
            raise TypeError(f"column {name} is not a list")
        if n < 0:
            n = len(values)
        elif len(values) != n:
            raise ValueError(f"column {name} has {len(values)} values, expected {n}")
        setattr(cols, name, values)
    reasons = body.get("r", {})
    if not isinstance(reasons, dict):
        raise TypeError("unparsed reasons are not a map")
    bad_lines = body.get("x", ())
    if not isinstance(bad_lines, list | tuple):
        raise TypeError("bad lines are not a list")
    bad = tuple(BadLine(_int(b[0]), _str(b[1]), _str(b[2])) for b in bad_lines)
    batch = Batch(source, _int(body["q"]), start, end, cols, _int(body["l"]),
                  unparsed=_int(body.get("u", 0)), unparsed_reasons=reasons, bad=bad,
                  counts=counts)
    check_batch(batch)  # every element's type and range: nothing odd reaches a collector
    for name in SHARED_COLUMNS:  # strings or nulls only, checked just above
        values = getattr(cols, name)
        if values:
            setattr(cols, name, shared_values(values))
    return batch


def shared_values(values: list[Any]) -> list[Any]:
    """``values`` with all equal values made one object, the first of them (a dict
    look-up per value, at C speed). Only for strings and nulls, whose equal values are
    interchangeable (not numbers: ``1 == True``, ``0.0 == -0.0``): what a collector counts
    or keeps is the same, but the batch holds each distinct value once."""
    seen: dict[Any, Any] = {}
    return list(map(seen.setdefault, values, values))


def _ack(body: dict[str, Any]) -> Ack:
    return Ack(_str(body["o"]), _int(body["q"]), _str(body["f"]), _int(body["e"]),
               bool(body.get("k", True)))
