"""Key mappings for the JSON access logs of Caddy and Traefik, on the ``json`` parser.

Both are :class:`.jsonl.JsonFormat` with a fixed mapping (written from each server's
documentation of its log fields); :func:`detect_json` tells them apart from generic JSON
lines by the keys of the first object.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from omphalos.records import Columns

from . import caddy_fast, json_accel
from .convert import none_for_dash
from .extras import ExtraColumns
from .json_accel import DECODE_ERRORS, msgspec
from .json_format import JsonFormat, split_uris
from .linefmt import Result

#: Caddy's ``http.log.access`` entries (``log { format json }``, the default), as the
#: ``json`` parser's dotted keys (``fields = ...`` gives the same result, more slowly).
#: :class:`CaddyFormat` reads exactly these shapes: top-level keys, ``request.KEY``,
#: ``request.headers.NAME.0`` and ``request.tls.KEY``.
CADDY_FIELDS: dict[str, str] = {
    "ts": "time", "request.remote_ip": "client", "user_id": "user",
    "request.method": "method", "request.uri": "uri", "request.proto": "protocol",
    "status": "status", "size": "bytes", "duration": "duration", "request.host": "vhost",
    "request.headers.User-Agent.0": "agent", "request.headers.Referer.0": "referer",
    "request.client_ip": "extra:client_ip", "request.remote_port": "extra:remote_port",
    "bytes_read": "extra:bytes_read", "logger": "extra:logger",
    "request.tls.server_name": "extra:tls_server_name",
}
def _column(objs: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    """Every object's value under ``key`` (None where it has none), at C speed."""
    return list(map(dict.get, objs, repeat(key)))  # type: ignore[arg-type]


def _objects(values: list[Any]) -> list[dict[str, Any]]:
    """``values`` with anything but an object (a missing or odd ``request``) as ``{}``."""
    if set(map(type, values)) == {dict}:
        return values
    return [v if type(v) is dict else {} for v in values]


def _firsts(values: list[Any]) -> list[Any]:
    """Each header's first value (Caddy logs each header as a list)."""
    if set(map(type, values)) == {list} and 0 not in map(len, values):
        return list(map(itemgetter(0), values))
    return [(v[0] if v else None) if type(v) is list else v for v in values]


#: Caddy's record targets that are text in the structs, converted as ``_texts`` does.
_TEXT_TARGETS = frozenset({"client", "user", "method", "protocol", "referer", "agent"})


class CaddyFormat(JsonFormat):
    """Caddy's JSON access log: each mapped key's column taken from the nested objects a
    whole column at a time (walking the dotted keys line by line cost four times the JSON
    decoding, flattening each entry in Python still twice). With msgspec installed, a
    chunk is decoded into structs of the mapped keys only (:meth:`_fast`,
    :mod:`.caddy_fast`)."""

    name = "caddy"

    def __init__(self) -> None:
        super().__init__(CADDY_FIELDS, keep_unmapped=False)

    def parse(self, data: bytes, start: int) -> Result:
        if data and msgspec is not None:
            fast = self._fast(data if data.endswith(b"\n") else data + b"\n", start)
            if fast is not None:
                return fast
        return super().parse(data, start)

    def _fast(self, data: bytes, start: int) -> Result | None:
        """Every line one entry, decoded by msgspec into :class:`.caddy_fast.Entry` structs,
        mapped as :meth:`_targets` maps dicts; None (the dict path takes the chunk)
        where msgspec refuses it, its answer might not be the stdlib's
        (:func:`.json_accel.decodable`), or a value does not convert."""
        lines = data.split(b"\n")
        lines.pop()
        if not json_accel.decodable(data, lines):
            return None
        try:  # line by line: no line can join another or hold two entries
            entries = list(map(caddy_fast.ENTRY, lines))
        except DECODE_ERRORS:
            return None
        n = len(lines)
        out = Columns(raw=(data, start))
        try:
            self._typed(caddy_fast.record_columns(entries),
                        n, out)
            # the extras' types are declared (text, 64-bit integers): they never fail to
            # convert nor need the range check
        except Exception:  # noqa: BLE001 - a bad value: the stdlib path finds its line
            return None
        out.set_lazy_extra(caddy_fast.StructExtra(entries, self._extras))
        out.extra_checked = True
        return out, n, [], Counter()

    def _typed(self, groups: dict[str, list[Any]], n: int, out: Columns) -> None:
        """What :meth:`mapped` fills from ``groups`` when its values have the types
        :class:`.caddy_fast.Entry` declares (text, numbers, None), without the type tests
        the dict path needs: text converts the same with None among it, and a number
        column holding None fails its conversion here (a comparison, ``float``), which
        the dict path's own code then does (Caddy's record targets share no field: each
        fills its own)."""
        out.time, out.client, out.path = [0.0] * n, [""] * n, [""] * n
        out.status, out.bytes = [0] * n, [0] * n
        for target, values in groups.items():
            if target in _TEXT_TARGETS:
                texts = none_for_dash(values)
                setattr(out, target, texts if target != "client" or None not in texts
                        else [v or "" for v in texts])
            elif target == "uri":
                out.path, out.query = split_uris(none_for_dash(values))
            else:
                try:
                    if target in ("status", "bytes"):
                        min(values)  # ints as declared; TypeError where one is None
                        setattr(out, target, values)
                    elif target == "duration":
                        out.duration = list(map(float, values))  # x 1.0: the same floats
                    elif max(values) <= 1e11:  # time: epoch seconds (Caddy's)
                        out.time = list(map(float, values))
                    else:
                        raise TypeError("not epoch seconds")
                except TypeError:
                    for name, column in self._fill(target, values).items():
                        setattr(out, name, column)

    def _targets(self, objs: Sequence[Mapping[str, Any]], present: set[str]
                 ) -> dict[str, list[Any]]:
        requests = _objects(_column(objs, "request"))
        headers = _objects(_column(requests, "headers"))
        groups: dict[str, list[Any]] = {}
        for key, target in CADDY_FIELDS.items():
            parts = key.split(".")
            if len(parts) == 1:
                values = _column(objs, key)
            elif parts[1] == "headers":
                values = _firsts(_column(headers, parts[2]))
            elif parts[1] == "tls":
                tls = _column(requests, "tls")
                values = ([None] * len(tls) if tls.count(None) == len(tls) else
                          [t.get(parts[2]) if type(t) is dict else None for t in tls])
            else:
                values = _column(requests, parts[1])
            if values.count(None) != len(values):
                groups[target] = values
        return groups

    def _extras(self, entries: list[Any]) -> ExtraColumns | None:
        """The chunk's ``extra`` columns from its entries, as :meth:`mapped` fills them
        (the extra targets share no field, so each fills its own, in the mapping's
        order)."""
        extra: dict[str, list[Any]] = {}
        for target, values in caddy_fast.extra_targets(entries, CADDY_FIELDS).items():
            extra.update((name[6:], column) for name, column in
                         self._fill(target, values).items())
        return ExtraColumns(extra, None, len(entries), text=False) if extra else None


#: Traefik's access log with ``format: json`` (header fields when ``fields.headers`` keeps
#: them: ``request_User-Agent``, ``request_Referer``).
TRAEFIK_FIELDS: dict[str, str] = {
    "StartUTC": "time", "ClientHost": "client", "ClientUsername": "user",
    "RequestMethod": "method", "RequestPath": "uri", "RequestProtocol": "protocol",
    "DownstreamStatus": "status", "DownstreamContentSize": "bytes",
    "Duration": "duration_ns", "RequestHost": "vhost", "request_User-Agent": "agent",
    "request_Referer": "referer",
}


def caddy_format() -> JsonFormat:
    return CaddyFormat()


def traefik_json_format() -> JsonFormat:
    fmt = JsonFormat(TRAEFIK_FIELDS, keep_unmapped=True)
    fmt.name = "traefik_json"
    return fmt


def detect_json(first_line: str) -> JsonFormat:
    """Caddy's, Traefik's or generic JSON lines, by the keys of ``first_line``."""
    try:
        obj = json.loads(first_line)
    except ValueError:
        return JsonFormat()
    if isinstance(obj, dict):
        request = obj.get("request")
        if isinstance(request, dict) and "remote_ip" in request and "ts" in obj:
            return caddy_format()
        if "DownstreamStatus" in obj or "RequestMethod" in obj:
            return traefik_json_format()
    return JsonFormat()
