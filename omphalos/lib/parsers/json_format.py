"""JSON lines (one object per line, as nginx ``escape=json`` or Caddy write them): the
format the ``json`` parser and the servers' JSON presets read.

A mapping says which JSON key fills which record field (``remote_addr=client``); dotted keys
reach into nested objects (``http.request.method=method``). Keys the mapping does not name
go to ``extra`` unless ``keep_unmapped`` is off. Lines are decoded by msgspec where it is
installed and gives what the stdlib gives (:mod:`.json_accel`); otherwise a whole chunk is
decoded with one ``json.loads`` call when every line is an object, else line by line.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter, mul
from typing import Any

from omphalos.lib.parsers import json_accel
from omphalos.lib.parsers.convert import line_offsets, none_for_dash, split_request
from omphalos.lib.parsers.extras import ExtraColumns
from omphalos.lib.parsers.linefmt import BAD_LINE_SAMPLE_CHARS, Result, line_problem
from omphalos.lib.parsers.timestamps import TimeCache, parse_any_time
from omphalos.messages import BadLine
from omphalos.records import Columns
from omphalos.validate import OUT_OF_RANGE, extra_column_ok

#: Record fields (and pseudo-fields) a JSON key may be mapped to.
TARGETS = ("time", "client", "user", "method", "path", "query", "protocol", "status", "bytes",
           "referer", "agent", "duration", "duration_ms", "duration_us", "duration_ns",
           "request", "uri",
           "vhost", "ignore")

#: The keys nginx, Apache (mod_log_json-like setups), Caddy and ECS-style logs use most.
DEFAULT_FIELDS: dict[str, str] = {
    "time": "time", "timestamp": "time", "@timestamp": "time", "time_local": "time",
    "time_iso8601": "time", "ts": "time", "msec": "time",
    "remote_addr": "client", "client": "client", "client_ip": "client", "ip": "client",
    "remote_user": "user", "user": "user",
    "request": "request", "method": "method", "request_method": "method",
    "uri": "uri", "request_uri": "uri", "url": "uri", "path": "path",
    "args": "query", "query": "query", "query_string": "query",
    "protocol": "protocol", "server_protocol": "protocol",
    "status": "status", "status_code": "status",
    "body_bytes_sent": "bytes", "bytes": "bytes", "size": "bytes", "bytes_sent": "bytes",
    "http_referer": "referer", "referer": "referer", "referrer": "referer",
    "http_user_agent": "agent", "user_agent": "agent", "agent": "agent",
    "request_time": "duration", "duration": "duration", "duration_ms": "duration_ms",
    "host": "vhost",
}


class OutOfRange(ValueError):
    """A number no record field can hold (non-finite, or too large to be one)."""


def _text(value: Any) -> str | None:
    if value is None or value == "-" or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _int(value: Any) -> int:
    if value is None or value == "-" or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"bad number {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise OutOfRange(f"{value!r} is not a finite number")
    return int(value)


def _texts(values: list[Any]) -> list[str | None]:
    """A column of JSON values as text; all strings (the usual case) at C speed."""
    if set(map(type, values)) == {str}:
        return none_for_dash(values)
    return list(map(_text, values))


def _ints(values: list[Any]) -> list[int]:
    if set(map(type, values)) == {int}:
        return values
    return list(map(_int, values))


def _float(value: Any, scale: float) -> float | None:
    if value is None or value == "-" or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"bad number {value!r}")
    return float(value) * scale


def _floats(values: list[Any], scale: float) -> list[float | None]:
    """A column of JSON numbers times ``scale``; all numbers (the usual case) at C speed."""
    if set(map(type, values)) <= {int, float}:
        return list(map(mul, map(float, values), repeat(scale)))
    return [_float(v, scale) for v in values]


def split_uris(uris: list[str | None]) -> tuple[list[str], list[str | None]]:
    """(path, query) of each URI (text, None for none: the path is then empty); the query
    is None where a URI has no ``?``, the text after the first one otherwise."""
    if None in uris:
        uris = [v or "" for v in uris]
    if "?" not in "\n".join(uris):  # type: ignore[arg-type]
        return uris, [None] * len(uris)  # type: ignore[return-value]
    parts = list(map(str.partition, uris, repeat("?")))  # type: ignore[arg-type]
    return (list(map(itemgetter(0), parts)),
            [query if sep else None for _, sep, query in parts])


#: Order in which targets fill the fields they share, where several spellings are present
#: in one line: a field named directly wins over one derived from ``uri``, which wins over
#: one split from ``request``.
_RANK = {"uri": 1, "request": 2}
#: The record fields each target fills (a target not listed fills the field of its name).
_FIELDS_OF: dict[str, tuple[str, ...]] = {
    "uri": ("path", "query"), "request": ("method", "path", "query", "protocol"),
    "duration_ms": ("duration",), "duration_us": ("duration",), "duration_ns": ("duration",),
    "vhost": ("extra:vhost",),
}


def _shared_fields(targets: Iterable[str]) -> set[str]:
    """The fields that more than one of ``targets`` fills."""
    seen: Counter[str] = Counter()
    for target in targets:
        seen.update(_FIELDS_OF.get(target, (target,)))
    return {name for name, count in seen.items() if count > 1}


#: A line holding two top-level objects has a ``}`` then a ``,`` then a ``{`` (JSON spaces
#: between); a chunk in which no line has this cannot hide lines that join (see
#: :meth:`JsonFormat.parse`).
_TWO_OBJECTS = re.compile(rb"\}[ \t\r]*,[ \t\r]*\{")


def _unmapped(objs: Sequence[Mapping[str, Any]], keys: set[str], top: set[str]
              ) -> tuple[list[str], list[list[Any]]] | list[dict[str, Any]]:
    """Per object, its keys in ``keys`` (those no mapping names) with their values. When
    every object has all of them (one log's lines usually have the same keys): the keys
    (in the order the lines write them) and one column per key, for the dicts to be built
    a column at a time; otherwise the dicts, object by object."""
    names = [k for k in objs[0] if k in keys]  # in the order the lines write them
    columns = [list(map(dict.get, objs, repeat(k))) for k in names]  # type: ignore[arg-type]
    if len(names) != len(keys) or any(None in column for column in columns):
        # some object lacks one of them (or has it null): object by object
        return [{k: v for k, v in o.items() if k not in top} for o in objs]
    return names, columns


class JsonFormat:
    """JSON lines to columns, with a key -> field mapping."""

    name = "json"

    def __init__(self, fields: Mapping[str, str] | None = None, keep_unmapped: bool = True
                 ) -> None:
        self.fields = dict(DEFAULT_FIELDS if fields is None else fields)
        for key, target in self.fields.items():
            if target not in TARGETS and not target.startswith("extra:"):
                raise ValueError(f"{key}={target}: unknown field (one of "
                                 f"{', '.join(TARGETS)} or extra:NAME)")
        self.keep_unmapped = keep_unmapped
        self.top_keys = {k.split(".", 1)[0] for k in self.fields}
        self._times = TimeCache(parse_any_time)

    @staticmethod
    def _get(obj: Mapping[str, Any], key: str) -> Any:
        if key in obj:
            return obj[key]
        value: Any = obj
        for part in key.split("."):
            if isinstance(value, list) and part.isdigit():  # a list item: headers.X.0
                value = value[int(part)] if int(part) < len(value) else None
                continue
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    def _targets(self, objs: Sequence[Mapping[str, Any]], present: set[str]
                 ) -> dict[str, list[Any]]:
        """Per target, the value of each line: of the first of its spellings (keys mapped
        to it) that the line has, None where it has none. A spelling missing from a line
        never hides another spelling that line has."""
        groups: dict[str, list[Any]] = {}
        for key, target in self.fields.items():
            if key.split(".", 1)[0] not in present:
                continue  # most of the default mapping's keys: skipped at set speed
            if key in present:
                values = list(map(dict.get, objs, repeat(key)))  # type: ignore[arg-type]
            else:
                values = [self._get(o, key) for o in objs]
            if values[0] is None and values.count(None) == len(values):
                continue  # (the first line's value tested first: no pass when it has one)
            old = groups.get(target)
            groups[target] = values if old is None else [
                a if a is not None else b for a, b in zip(old, values)]
        return groups

    def columns(self, objs: Sequence[Mapping[str, Any]], offsets: list[int],
                raw: tuple[bytes, int] | None = None) -> Columns:
        """Decoded objects to Columns; ValueError/TypeError when a value is malformed.
        ``raw`` (the chunk, ending with a newline, and its start) stands in for
        ``offsets`` when every line of the chunk is one of ``objs``."""
        n = len(objs)
        out = Columns(offset=offsets, raw=raw)
        present: set[str] = set().union(*objs)  # (iterating a dict gives its keys)
        extra = self.mapped(self._targets(objs, present), n, out)
        if self.keep_unmapped and not present <= self.top_keys:
            top = self.top_keys
            rest = _unmapped(objs, present - top, top)
            if isinstance(rest, tuple):  # columns: added to the mapped extra ones, which
                names, columns = rest    # win for a name both have (a later key wins)
                extra = {**dict(zip(names, columns)), **extra}
            elif any(rest):
                for name, values in extra.items():
                    for row, value in zip(rest, values):
                        row[name] = value
                out.extra = [r or None for r in rest]
                return out
        self.set_extra(out, extra, n)
        return out

    @staticmethod
    def set_extra(out: Columns, extra: dict[str, list[Any]], n: int) -> None:
        """Store the ``extra`` columns of ``out`` (dicts made when read)."""
        if extra:
            out.set_lazy_extra(ExtraColumns(extra, None, n, text=False))
            out.extra_checked = all(map(extra_column_ok, extra.values()))

    def mapped(self, groups: dict[str, list[Any]], n: int, out: Columns
               ) -> dict[str, list[Any]]:
        """Fill ``out``'s fields from ``groups`` (target -> each line's value, see
        :meth:`_targets`); returns the ``extra`` columns the mapping names (NAME ->
        values). ValueError/TypeError when a value is malformed."""
        out.time, out.client, out.path = [0.0] * n, [""] * n, [""] * n
        out.status, out.bytes = [0] * n, [0] * n
        fields: dict[str, list[Any]] = {}
        # per field filled so far: which lines hold a value (None: every line does); only
        # computed for a field that more than one target fills (uri and path, say)
        have: dict[str, list[bool] | None] = {}
        shared = _shared_fields(groups)
        for target in sorted(groups, key=lambda t: _RANK.get(t, 0)):
            values = groups[target]
            mask: list[bool] | None = None
            if shared and not shared.isdisjoint(_FIELDS_OF.get(target, (target,))) and (
                    None in values):
                mask = [v is not None for v in values]
            for name, column in self._fill(target, values).items():
                if name not in have:
                    fields[name], have[name] = column, mask
                    continue
                held = have[name]
                if held is None:
                    continue  # a spelling of higher rank gave every line this field
                fields[name] = [old if h else new
                                for old, new, h in zip(fields[name], column, held)]
                have[name] = (None if mask is None else
                              [h or m for h, m in zip(held, mask)])
        for name, column in fields.items():
            if not name.startswith("extra:"):
                setattr(out, name, column)
        return {name[6:]: column for name, column in fields.items()
                if name.startswith("extra:")}

    def _fill(self, target: str, values: list[Any]) -> dict[str, list[Any]]:
        """The record fields (``extra:NAME`` for extra ones) that ``target`` gives each
        line, from its JSON values (None where the line has none)."""
        if target == "time":
            times = self._times
            kinds = set(map(type, values))
            if kinds == {str}:
                return {"time": times.many(values)}
            if kinds <= {int, float} and max(values) <= 1e11:  # epoch seconds (Caddy's)
                return {"time": list(map(float, values))}
            return {"time": [times.one(v) if isinstance(v, str) else
                             (parse_any_time(v) if v is not None else 0.0) for v in values]}
        if target in ("client", "path"):
            texts = _texts(values)
            return {target: texts if None not in texts else [v or "" for v in texts]}
        if target in ("user", "method", "query", "protocol", "referer", "agent"):
            return {target: _texts(values)}
        if target in ("status", "bytes"):
            return {target: _ints(values)}
        if target.startswith("duration"):
            scale = {"duration": 1.0, "duration_ms": 0.001, "duration_us": 1e-6,
                     "duration_ns": 1e-9}[target]
            return {"duration": _floats(values, scale)}
        if target == "uri":
            path, query = split_uris(_texts(values))
            return {"path": path, "query": query}
        if target == "request":
            parts = [split_request(_text(v) or "") for v in values]
            return {"method": [p[0] or None for p in parts], "path": [p[1] for p in parts],
                    "query": [p[2] or None for p in parts],
                    "protocol": [p[3] or None for p in parts]}
        if target == "vhost":
            return {"extra:vhost": _texts(values)}
        if target.startswith("extra:"):
            return {target: values}
        return {}  # "ignore"

    def parse(self, data: bytes, start: int) -> Result:
        """Complete lines of JSON objects to columns; never raises for bad input.

        The fast path decodes the whole chunk with one ``json.loads`` of its lines joined
        into an array. That decoding is taken only when it gives exactly one object per
        line and no line has ``}``, ``,``, ``{`` in a row: every line then starts a new
        top-level object and none holds two, so each line is one object by itself (lines
        that are invalid alone cannot join into valid ones). Anything else is decoded line
        by line, where a failure of any kind is that line's alone.
        """
        if not data:
            return Columns(), 0, [], Counter()
        fast = self._accelerated(data if data.endswith(b"\n") else data + b"\n", start)
        if fast is not None:
            return fast
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        offsets = line_offsets(lines, start)  # each line's start, at C speed
        objs: Any = None
        if _TWO_OBJECTS.search(data) is None:
            try:
                objs = json.loads(b"[" + b",\n".join(lines) + b"]")
            except Exception:  # noqa: BLE001 - ValueError, RecursionError...: line by line
                objs = None
        if (isinstance(objs, list) and len(objs) == len(lines)
                and set(map(type, objs)) == {dict}):
            try:
                return self.columns(objs, offsets), len(lines), [], Counter()
            except Exception:  # noqa: BLE001 - a bad value: find its line below
                pass
        return self._slow(lines, offsets)

    def _accelerated(self, data: bytes, start: int) -> Result | None:
        """Every line an object decoded by msgspec (line by line: no line can join another
        or hold two), where its answer is the stdlib's (:func:`.json_accel.decodable`);
        None (the stdlib takes the chunk) otherwise, or where a value does not convert."""
        lines = data.split(b"\n")
        lines.pop()
        if not json_accel.decodable(data, lines):
            return None
        try:
            objs = list(map(json_accel.decode, lines))
        except json_accel.DECODE_ERRORS:
            return None
        if set(map(type, objs)) != {dict}:
            return None
        try:
            return self.columns(objs, [], (data, start)), len(lines), [], Counter()
        except Exception:  # noqa: BLE001 - a bad value: the stdlib path finds its line
            return None

    def _slow(self, lines: list[bytes], offsets: list[int]) -> Result:
        """Line by line: bad lines set aside, the good objects converted together."""
        good: list[dict[str, Any]] = []
        kept: list[int] = []
        texts: list[str] = []
        bad: list[BadLine] = []
        reasons: Counter[str] = Counter()
        for raw, offset in zip(lines, offsets):
            line = raw.decode("utf-8", "replace").rstrip("\r")
            reason = line_problem(line)
            if reason is None:
                try:
                    obj = json.loads(line)
                except RecursionError:
                    reason = "invalid JSON: nested too deeply"
                except Exception:  # noqa: BLE001 - whatever the decoder raises: this line's
                    reason = "invalid JSON"
                else:
                    if isinstance(obj, dict):
                        good.append(obj)
                        kept.append(offset)
                        texts.append(line)
                        continue
                    reason = "not a JSON object"
            reasons[reason] += 1
            bad.append(BadLine(offset, reason, line[:BAD_LINE_SAMPLE_CHARS]))
        try:
            return self.columns(good, kept), len(lines), bad, reasons
        except Exception:  # noqa: BLE001 - a bad value: find its lines one by one
            pass
        objs, places = [], []
        for obj, offset, line in zip(good, kept, texts):
            try:
                self.columns([obj], [offset])
            except Exception as exc:  # noqa: BLE001 - a failure of any kind: this line's
                if isinstance(exc, OutOfRange | OverflowError):
                    reason, text = OUT_OF_RANGE, OUT_OF_RANGE
                else:
                    reason, text = "bad value", f"bad value: {str(exc)[:80]}"
                reasons[reason] += 1
                bad.append(BadLine(offset, text, line[:BAD_LINE_SAMPLE_CHARS]))
            else:
                objs.append(obj)
                places.append(offset)
        bad.sort(key=lambda b: b.offset)
        return self.columns(objs, places), len(lines), bad, reasons
