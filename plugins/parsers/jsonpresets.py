"""Key mappings for the JSON access logs of Caddy and Traefik, on the ``json`` parser.

Both are :class:`.jsonl.JsonFormat` with a fixed mapping (written from each server's
documentation of its log fields); :func:`detect_json` tells them apart from generic JSON
lines by the keys of the first object.
"""

from __future__ import annotations

import json

from .jsonl import JsonFormat

#: Caddy's ``http.log.access`` entries (``log { format json }``, the default).
CADDY_FIELDS: dict[str, str] = {
    "ts": "time", "request.remote_ip": "client", "user_id": "user",
    "request.method": "method", "request.uri": "uri", "request.proto": "protocol",
    "status": "status", "size": "bytes", "duration": "duration", "request.host": "vhost",
    "request.headers.User-Agent.0": "agent", "request.headers.Referer.0": "referer",
    "request.client_ip": "extra:client_ip", "request.remote_port": "extra:remote_port",
    "bytes_read": "extra:bytes_read", "logger": "extra:logger",
    "request.tls.server_name": "extra:tls_server_name",
}
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
    fmt = JsonFormat(CADDY_FIELDS, keep_unmapped=False)
    fmt.name = "caddy"
    return fmt


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
