"""JSON lines (one object per line, as nginx ``escape=json`` or Caddy write them).

A mapping says which JSON key fills which record field (``remote_addr=client``); dotted keys
reach into nested objects (``http.request.method=method``). Keys the mapping does not name
go to ``extra`` unless ``keep_unmapped`` is off. A whole chunk is decoded with one
``json.loads`` call when every line is an object; otherwise line by line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import methodcaller
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.convert import CONVERSION_ERRORS, none_for_dash, split_request
from omphalos.lib.parsers.linefmt import BAD_LINE_SAMPLE_CHARS, Result, line_problem
from omphalos.lib.parsers.timestamps import TimeCache, parse_any_time
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns

#: Record fields (and pseudo-fields) a JSON key may be mapped to.
TARGETS = ("time", "client", "user", "method", "path", "query", "protocol", "status", "bytes",
           "referer", "agent", "duration", "duration_ms", "duration_us", "request", "uri",
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


def _text(value: Any) -> str | None:
    if value is None or value == "-" or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _int(value: Any) -> int:
    if value is None or value == "-" or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"bad number {value!r}")
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
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    def columns(self, objs: Sequence[Mapping[str, Any]], offsets: list[int]) -> Columns:
        """Decoded objects to Columns; ValueError/TypeError when a value is malformed."""
        n = len(objs)
        out = Columns(offset=offsets)
        out.time, out.client, out.path = [0.0] * n, [""] * n, [""] * n
        out.status, out.bytes = [0] * n, [0] * n
        extra: dict[str, list[Any]] = {}
        present: set[str] = set().union(*map(dict.keys, objs))  # type: ignore[arg-type]
        for key, target in self.fields.items():
            if key.split(".", 1)[0] not in present:
                continue  # most of the default mapping's keys: skipped at set speed
            if key in present:
                values = list(map(methodcaller("get", key), objs))
            else:
                values = [self._get(o, key) for o in objs]
            if all(v is None for v in values):
                continue
            self._fill(out, target, values, extra)
        if self.keep_unmapped and not present <= self.top_keys:
            top = self.top_keys
            rest = [{k: v for k, v in o.items() if k not in top} for o in objs]
            if any(rest):
                for name, values in extra.items():
                    for row, value in zip(rest, values):
                        row[name] = value
                out.extra = [r or None for r in rest]
                return out
        if extra:
            names = list(extra)
            out.extra = [dict(zip(names, vals)) for vals in zip(*extra.values())]
        return out

    def _fill(self, out: Columns, target: str, values: list[Any],
              extra: dict[str, list[Any]]) -> None:
        if target == "time":
            times = self._times
            if set(map(type, values)) == {str}:
                out.time = times.many(values)
            else:
                out.time = [times.one(v) if isinstance(v, str) else
                            (parse_any_time(v) if v is not None else 0.0) for v in values]
        elif target in ("client", "path"):
            setattr(out, target, [v or "" for v in _texts(values)])
        elif target in ("user", "method", "query", "protocol", "referer", "agent"):
            setattr(out, target, _texts(values))
        elif target in ("status", "bytes"):
            setattr(out, target, _ints(values))
        elif target.startswith("duration"):
            scale = {"duration": 1.0, "duration_ms": 0.001, "duration_us": 1e-6}[target]
            out.duration = [_float(v, scale) for v in values]
        elif target == "uri":
            paths, queries = [], []
            for v in _texts(values):
                path, sep, query = (v or "").partition("?")
                paths.append(path)
                queries.append(query if sep else None)
            out.path = paths
            if out.query is None:
                out.query = queries
        elif target == "request":
            parts = [split_request(_text(v) or "") for v in values]
            out.method = [p[0] or None for p in parts]
            out.path = [p[1] for p in parts]
            out.query = [p[2] or None for p in parts]
            out.protocol = [p[3] or None for p in parts]
        elif target == "vhost":
            extra["vhost"] = [_text(v) for v in values]
        elif target.startswith("extra:"):
            extra[target[6:]] = values

    def parse(self, data: bytes, start: int) -> Result:
        """Complete lines of JSON objects to columns; never raises for bad input."""
        if not data:
            return Columns(), 0, [], Counter()
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        offsets, offset = [], start
        for raw in lines:
            offsets.append(offset)
            offset += len(raw) + 1
        try:
            objs = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            objs = None
        if (isinstance(objs, list) and len(objs) == len(lines)
                and all(isinstance(o, dict) for o in objs)):
            try:
                return self.columns(objs, offsets), len(lines), [], Counter()
            except CONVERSION_ERRORS:
                pass
        return self._slow(lines, offsets)

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
                except ValueError:
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
        except CONVERSION_ERRORS:
            pass
        objs, places = [], []
        for obj, offset, line in zip(good, kept, texts):
            try:
                self.columns([obj], [offset])
            except CONVERSION_ERRORS as exc:
                reasons["bad value"] += 1
                bad.append(BadLine(offset, f"bad value: {str(exc)[:80]}",
                                   line[:BAD_LINE_SAMPLE_CHARS]))
            else:
                objs.append(obj)
                places.append(offset)
        bad.sort(key=lambda b: b.offset)
        return self.columns(objs, places), len(lines), bad, reasons


FIELDS_DOC = ("JSON key -> record field items (key=field, comma separated; dotted keys reach "
              "into nested objects; fields: " + ", ".join(TARGETS) + ", extra:NAME). Empty: "
              "the usual nginx/ECS-like keys.")


@dataclass(frozen=True)
class JsonConfig(ParserConfig):
    """Options of the ``json`` parser."""

    fields: dict[str, str] = option({}, FIELDS_DOC)  # noqa: RUF009 (a default_factory)
    keep_unmapped: bool = option(True, "Keep keys the mapping does not name in extra.")

    def validate(self) -> None:
        try:
            JsonFormat(self.fields or None)
        except ValueError as exc:
            raise ValueError(str(exc), "fields") from None


class JsonParser(BaseParser[JsonConfig]):
    """One JSON object per line, keys mapped to record fields."""

    name = "json"
    description = "JSON lines, with a configurable mapping of keys to record fields"
    Config: ClassVar[type] = JsonConfig

    def setup(self) -> None:
        super().setup()
        self.format = JsonFormat(self.config.fields or None, self.config.keep_unmapped)

    def parse_lines(self, chunk: LineChunk) -> Result:
        return self.format.parse(chunk.data, chunk.start)
