"""Test-side writers of log lines: what Apache and nginx write for each directive.

Written independently of the parsers (from the servers' documentation) so that a round
trip render -> parse checks the compilers rather than repeating them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class Sample:
    """The values one line carries, in the units the servers log them."""

    time: int  # epoch seconds
    zone_minutes: int
    client: str
    user: str | None
    method: str
    path: str
    query: str | None
    protocol: str
    status: int
    bytes: int
    referer: str | None
    agent: str | None
    duration_ms: int
    vhost: str
    dash_bytes: bool  # write 0 bytes as '-' where the server would (%b)


def _zone(minutes: int, colon: bool = False) -> str:
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}" if colon else f"{sign}{h:02d}{m:02d}"


def local(s: Sample) -> datetime:
    return datetime.fromtimestamp(s.time, UTC).astimezone(
        timezone(timedelta(minutes=s.zone_minutes)))


def clf_time(s: Sample) -> str:
    t = local(s)
    return (f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year:04d}:{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d} {_zone(s.zone_minutes)}")


def iso_time(s: Sample) -> str:
    return local(s).strftime("%Y-%m-%dT%H:%M:%S") + _zone(s.zone_minutes, colon=True)


def uri(s: Sample) -> str:
    return s.path + (f"?{s.query}" if s.query is not None else "")


def dash(value: Any) -> str:
    return "-" if value is None else str(value)


#: Apache directive -> (record fields it sets, writer).
APACHE: dict[str, tuple[tuple[str, ...], Any]] = {
    "%h": (("client",), lambda s: s.client),
    "%a": (("client",), lambda s: s.client),
    "%l": ((), lambda s: "-"),
    "%u": (("user",), lambda s: dash(s.user)),
    "%t": (("time",), lambda s: f"[{clf_time(s)}]"),
    "%{%d/%b/%Y:%H:%M:%S %z}t": (("time",), clf_time),
    "%{sec}t": (("time",), lambda s: str(s.time)),
    "%{%Y-%m-%d %H:%M:%S}t": (("time",), lambda s: datetime.fromtimestamp(s.time, UTC)
                              .strftime("%Y-%m-%d %H:%M:%S")),
    "%{msec_frac}t": ((), lambda s: "000"),
    "%{msec}t": (("time",), lambda s: str(s.time * 1000)),
    "%r": (("method", "path", "query", "protocol"),
           lambda s: f"{s.method} {uri(s)} {s.protocol}"),
    "%m": (("method",), lambda s: s.method),
    "%U": (("path",), lambda s: s.path),
    "%q": (("query",), lambda s: f"?{s.query}" if s.query is not None else ""),
    "%H": (("protocol",), lambda s: s.protocol),
    "%>s": (("status",), lambda s: str(s.status)),
    "%s": (("status",), lambda s: str(s.status)),
    "%b": (("bytes",), lambda s: "-" if s.bytes == 0 and s.dash_bytes else str(s.bytes)),
    "%B": (("bytes",), lambda s: str(s.bytes)),
    "%{Referer}i": (("referer",), lambda s: dash(s.referer)),
    "%{User-agent}i": (("agent",), lambda s: dash(s.agent)),
    "%{User-Agent}i": (("agent",), lambda s: dash(s.agent)),
    "%D": (("duration_us",), lambda s: str(s.duration_ms * 1000)),
    "%T": (("duration_s",), lambda s: str(s.duration_ms // 1000)),
    "%{ms}T": (("duration_ms",), lambda s: str(s.duration_ms)),
    "%v": (("vhost",), lambda s: s.vhost),
}

#: nginx variable -> (record fields it sets, writer).
NGINX: dict[str, tuple[tuple[str, ...], Any]] = {
    "$remote_addr": (("client",), lambda s: s.client),
    "$remote_user": (("user",), lambda s: dash(s.user)),
    "$time_local": (("time",), clf_time),
    "$time_iso8601": (("time",), iso_time),
    "$msec": (("time",), lambda s: f"{s.time}.000"),
    "$request": (("method", "path", "query", "protocol"),
                 lambda s: f"{s.method} {uri(s)} {s.protocol}"),
    "$request_method": (("method",), lambda s: s.method),
    "$request_uri": (("path", "query"), uri),
    "$server_protocol": (("protocol",), lambda s: s.protocol),
    "$status": (("status",), lambda s: str(s.status)),
    "$body_bytes_sent": (("bytes",), lambda s: str(s.bytes)),
    "$http_referer": (("referer",), lambda s: dash(s.referer)),
    "$http_user_agent": (("agent",), lambda s: dash(s.agent)),
    "$request_time": (("duration_s3",), lambda s: f"{s.duration_ms / 1000:.3f}"),
    "$host": (("vhost",), lambda s: s.vhost),
}

APACHE_TOKEN = re.compile(r"%(?:\{[^}]*\})?[<>]?[a-zA-Z%]")
NGINX_TOKEN = re.compile(r"\$\w+")


def render(kind: str, fmt: str, s: Sample) -> tuple[str, set[str]]:
    """The line ``fmt`` writes for ``s``, and the record fields it carries."""
    table, token = (APACHE, APACHE_TOKEN) if kind == "apache" else (NGINX, NGINX_TOKEN)
    out, fields, position = [], set(), 0
    for match in token.finditer(fmt):
        out.append(fmt[position:match.start()])
        known = table.get(match[0])
        if known is None:
            out.append("-")  # a variable the record lacks: absent
        else:
            fields.update(known[0])
            out.append(known[1](s))
        position = match.end()
    out.append(fmt[position:])
    return "".join(out), fields


def expected(s: Sample, fields: set[str]) -> dict[str, Any]:
    """The record fields the parser must give back for a line carrying ``fields``."""
    out: dict[str, Any] = {
        "time": float(s.time) if "time" in fields else 0.0,
        "client": s.client if "client" in fields else "",
        "user": s.user if "user" in fields else None,
        "method": s.method if "method" in fields else None,
        "path": s.path if "path" in fields else "",
        "query": s.query if "query" in fields else None,
        "protocol": s.protocol if "protocol" in fields else None,
        "status": s.status if "status" in fields else 0,
        "bytes": s.bytes if "bytes" in fields else 0,
        "referer": s.referer if "referer" in fields else None,
        "agent": s.agent if "agent" in fields else None,
        "duration": None,
    }
    if "duration_us" in fields or "duration_ms" in fields or "duration_s3" in fields:
        out["duration"] = s.duration_ms / 1000
    elif "duration_s" in fields:
        out["duration"] = float(s.duration_ms // 1000)
    return out
