"""nginx ``log_format`` strings compiled into fast parsers (the ``nginx``, ``auto`` and
``preset`` parsers share them).

Paste the ``log_format`` directive (or just its string) from nginx.conf, or name a preset.
Each ``$variable`` maps to a record field; the others go to ``extra`` under their own name.
"""

from __future__ import annotations

import re

from omphalos.lib.parsers.formatstr import (
    Part,
    assemble,
    check_preset_name,
    unquote_config,
)
from omphalos.lib.parsers.linefmt import VARIABLES, LineFormat, Variable, extra_variable

V = VARIABLES
COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')

#: Named formats: nginx's built-in ``combined``, the ``main`` of the stock nginx.conf, and
#: the usual additions of the request time.
PRESETS: dict[str, str] = {
    "combined": COMBINED,
    "main": COMBINED + ' "$http_x_forwarded_for"',
    "combined_rt": COMBINED + " $request_time",
    "main_rt": COMBINED + ' "$http_x_forwarded_for" $request_time',
    "vhost_combined": "$host " + COMBINED,
    "upstream_time": COMBINED + ' rt=$request_time uct="$upstream_connect_time" '
                                'uht="$upstream_header_time" urt="$upstream_response_time"',
    "common": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent',
}

#: nginx always writes seconds with milliseconds (``0.250``), which tells it from ``%D``.
REQUEST_TIME = Variable("duration_s", r"\d++\.\d++|-", r"\d++\.\d++|-")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

#: Variables that fill a record field.
KNOWN: dict[str, Variable] = {
    "remote_addr": V["client"], "realip_remote_addr": V["client"],
    "remote_user": V["user"], "time_local": V["time_clf"], "time_iso8601": V["time_iso"],
    "msec": V["time_epoch"], "request": V["request"], "request_method": V["method"],
    "server_protocol": V["protocol"], "uri": V["path"], "document_uri": V["path"],
    "args": V["query"], "query_string": V["query"], "request_uri": V["uri"],
    "status": V["status"], "body_bytes_sent": V["bytes"], "http_referer": V["referer"],
    "http_user_agent": V["agent"], "request_time": REQUEST_TIME, "host": V["vhost"],
    "server_name": V["vhost"], "http_host": V["vhost"],
    "http_x_forwarded_for": Variable("extra:forwarded_for", r"\S++", r"\S++"),
}


def compile_nginx(text: str, name: str = "") -> LineFormat:
    """A :class:`LineFormat` for nginx ``log_format`` string ``text`` (or a preset name)."""
    fmt = PRESETS.get(text.strip())
    if fmt is None:
        check_preset_name(text, "$", PRESETS)
        fmt = unquote_config(text, "log_format")
    parts: list[Part] = []
    position = 0
    for match in VARIABLE.finditer(fmt):
        parts.append(fmt[position:match.start()])
        var = match[1] or match[2]
        parts.append((var, KNOWN.get(var) or extra_variable(var, False)))
        position = match.end()
    parts.append(fmt[position:])
    return assemble(name or f"nginx:{text.strip()[:40]}", parts)
