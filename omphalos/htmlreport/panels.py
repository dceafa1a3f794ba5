"""The panels of a report and their data, asked of a pipeline's summary collector.

A report is the ``summary`` answer plus one ``top`` answer (``window = all``) per panel.
A panel whose dimension the log's format lacks (no TLS fields in a combined log) is kept
with no rows and a note, so every report has the same panels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omphalos.pipeline import QueryError

__all__ = ["Panel", "PANELS", "gather"]


@dataclass(frozen=True)
class Panel:
    """One panel: the dimension it lists, its title, and its chart (``bars`` over the
    keys in key order, or none)."""

    dimension: str
    title: str
    chart: str = ""
    sort_keys: bool = False


#: GoAccess's panels in its order, then what Omphalos adds (source hosts, methods).
PANELS: tuple[Panel, ...] = (
    Panel("visitors", "Unique visitors per day", "bars", sort_keys=True),
    Panel("path", "Requested files (URLs)"),
    Panel("static", "Static requests"),
    Panel("not_found", "Not found URLs (404s)"),
    Panel("client", "Visitor hostnames and IPs"),
    Panel("os", "Operating systems"),
    Panel("browser", "Browsers"),
    Panel("device", "Devices"),
    Panel("crawler", "Crawlers (no: not a crawler)"),
    Panel("hour", "Time distribution (hour of day, UTC)", "bars", sort_keys=True),
    Panel("vhost", "Virtual hosts"),
    Panel("referer", "Referrer URLs"),
    Panel("referring_site", "Referring sites"),
    Panel("status", "HTTP status codes"),
    Panel("remote_user", "Remote users (HTTP authentication)"),
    Panel("country", "Geo location (country)"),
    Panel("protocol", "HTTP protocols"),
    Panel("method", "HTTP methods"),
    Panel("tls", "TLS version and cipher"),
    Panel("mime", "MIME types"),
    Panel("cache", "Cache status"),
    Panel("agent", "User agents"),
    Panel("host", "Source hosts (web servers)"),
)

Query = Callable[..., Any]


def gather(query: Query, limit: int, files: list[str]) -> dict[str, Any]:
    """Everything a report shows: ``summary``, and per panel its rows (or why none)."""
    summary = query("summary", limit=limit)
    panels = []
    for panel in PANELS:
        entry: dict[str, Any] = {"dimension": panel.dimension, "title": panel.title,
                                 "chart": panel.chart, "rows": [], "note": ""}
        try:
            answer = query("top", dimension=panel.dimension, window="all", limit=limit)
        except (QueryError, ValueError) as exc:  # not counted here: the panel says why
            entry["note"] = f"not counted: {exc}"
        else:
            entry["rows"] = answer["rows"]
            entry["error_bound"] = answer.get("error_bound", 0)
            if not entry["rows"]:
                entry["note"] = "this log's format does not have it"
        if panel.sort_keys:
            entry["rows"] = sorted(entry["rows"], key=lambda r: r["key"])
        panels.append(entry)
    visitors = next(p for p in panels if p["dimension"] == "visitors")
    general = {
        "requests": summary.get("requests", 0), "lines": summary.get("lines", 0),
        "unparsed": summary.get("unparsed", 0), "bytes": summary.get("bytes", 0),
        "unique_visitors": sum(r.get("visitors", 0) for r in visitors["rows"]),
        "first_time": summary.get("first_time"), "last_time": summary.get("last_time"),
        "files": files, "generated": time.time(),
        "duration": summary.get("duration", {}),
        "status_class": summary.get("status_class", {}),
    }
    return {"general": general, "panels": panels}
