"""Key mappings for the JSON access logs of Caddy and Traefik, on the ``json`` parser.

Both are :class:`.jsonl.JsonFormat` with a fixed mapping (written from each server's
documentation of its log fields); :func:`detect_json` tells them apart from generic JSON
lines by the keys of the first object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from omphalos.lib.parsers.json_format import JsonFormat
from omphalos.records import Columns

#: Caddy's ``http.log.access`` entries (``log { format json }``, the default), as the
#: ``json`` parser's dotted keys (``fields = ...`` gives the same result, more slowly).
CADDY_FIELDS: dict[str, str] = {
    "ts": "time", "request.remote_ip": "client", "user_id": "user",
    "request.method": "method", "request.uri": "uri", "request.proto": "protocol",
    "status": "status", "size": "bytes", "duration": "duration", "request.host": "vhost",
    "request.headers.User-Agent.0": "agent", "request.headers.Referer.0": "referer",
    "request.client_ip": "extra:client_ip", "request.remote_port": "extra:remote_port",
    "bytes_read": "extra:bytes_read", "logger": "extra:logger",
    "request.tls.server_name": "extra:tls_server_name",
}
#: The same, on the flat keys :func:`_caddy_flat` makes (a dot in a key would mean nesting).
_FLAT_FIELDS: dict[str, str] = {key.replace(".", "_").replace("-", "_"): target
                                for key, target in CADDY_FIELDS.items()}


def _first(value: Any) -> Any:
    """A header's first value (Caddy logs each header as a list)."""
    return (value[0] if value else None) if type(value) is list else value


def _caddy_flat(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One Caddy entry with its nested request fields lifted to the top (plain lookups:
    walking the dotted keys generically cost four times the JSON decoding)."""
    request = obj.get("request")
    if type(request) is not dict:
        request = {}
    headers = request.get("headers")
    if type(headers) is not dict:
        headers = {}
    tls = request.get("tls")
    return {
        "ts": obj.get("ts"), "request_remote_ip": request.get("remote_ip"),
        "user_id": obj.get("user_id"), "request_method": request.get("method"),
        "request_uri": request.get("uri"), "request_proto": request.get("proto"),
        "status": obj.get("status"), "size": obj.get("size"),
        "duration": obj.get("duration"), "request_host": request.get("host"),
        "request_headers_User_Agent_0": _first(headers.get("User-Agent")),
        "request_headers_Referer_0": _first(headers.get("Referer")),
        "request_client_ip": request.get("client_ip"),
        "request_remote_port": request.get("remote_port"),
        "bytes_read": obj.get("bytes_read"), "logger": obj.get("logger"),
        "request_tls_server_name": tls.get("server_name") if type(tls) is dict else None,
    }


class CaddyFormat(JsonFormat):
    """Caddy's JSON access log: each entry flattened once, then the flat mapping."""

    name = "caddy"

    def __init__(self) -> None:
        super().__init__(_FLAT_FIELDS, keep_unmapped=False)

    def columns(self, objs: Sequence[Mapping[str, Any]], offsets: list[int]) -> Columns:
        return super().columns(list(map(_caddy_flat, objs)), offsets)
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
