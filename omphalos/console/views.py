"""The console's views (what a table lists) and columns (what it shows of each row)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import fmt


@dataclass(frozen=True)
class View:
    """One table: the ``top`` dimension it lists, its title and the key that shows it."""

    name: str
    dimension: str
    title: str
    key: str
    #: The summary's list to fall back on when no collector serves ``top`` for it.
    summary_key: str


VIEWS: tuple[View, ...] = (
    View("paths", "path", "paths", "1", "top_paths"),
    View("clients", "client", "clients", "2", "top_clients"),
    View("hosts", "host", "source hosts", "3", "hosts"),
    View("status", "status", "status codes", "4", "status"),
    View("agents", "agent", "user agents", "5", "top_agents"),
    View("referers", "referer", "referrers", "6", "top_referers"),
    # GoAccess's panels (docs/goaccess.rst): four on keys, the others through tab
    View("visitors", "visitors", "unique visitors per day", "7", ""),
    View("browsers", "browser", "browsers", "8", ""),
    View("os", "os", "operating systems", "9", ""),
    View("crawlers", "crawler", "crawlers", "0", ""),
    View("devices", "device", "devices", "", ""),
    View("notfound", "not_found", "not found (404)", "", ""),
    View("static", "static", "static files", "", ""),
    View("hours", "hour", "hour of day (UTC)", "", ""),
    View("vhosts", "vhost", "virtual hosts", "", ""),
    View("sites", "referring_site", "referring sites", "", ""),
    View("protocols", "protocol", "protocols", "", ""),
    View("users", "remote_user", "remote users", "", ""),
    View("methods", "method", "methods", "", ""),
    View("tls", "tls", "TLS", "", ""),
    View("mime", "mime", "MIME types", "", ""),
    View("cache", "cache", "cache status", "", ""),
    View("countries", "country", "countries", "", ""),
)
VIEW_BY_NAME = {v.name: v for v in VIEWS}
#: Views with a key of their own (the others are reached with tab).
VIEW_BY_KEY = {v.key: v for v in VIEWS if v.key}

WINDOWS: tuple[str, ...] = ("1m", "5m", "1h", "all")


@dataclass(frozen=True)
class Column:
    """A numeric column: its title, width, the ``sort`` it stands for, how to show a row.

    ``drop`` orders which columns go first when the terminal is narrow (lower goes first;
    ``hits`` never goes).
    """

    name: str
    title: str
    width: int
    sort: str
    text: Callable[[dict[str, Any]], str]
    drop: int
    attr: str | None = None


def _status(cls: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: fmt.count((row.get("status") or {}).get(cls))


COLUMNS: tuple[Column, ...] = (
    Column("hits", "hits", 7, "hits", lambda r: fmt.count(r.get("hits")), 99),
    Column("rate", "req/s", 7, "rate", lambda r: fmt.rate(r.get("rate")), 4),
    Column("2xx", "2xx", 6, "2xx", _status("2xx"), 2, "c2xx"),
    Column("3xx", "3xx", 6, "3xx", _status("3xx"), 0, "c3xx"),
    Column("4xx", "4xx", 6, "4xx", _status("4xx"), 5, "c4xx"),
    Column("5xx", "5xx", 6, "5xx", _status("5xx"), 6, "c5xx"),
    Column("bytes", "bytes", 7, "bytes", lambda r: fmt.size(r.get("bytes")), 3),
    Column("p95", "p95", 6, "p95", lambda r: fmt.duration(r.get("p95")), 1),
)
SORTS: tuple[str, ...] = tuple(c.sort for c in COLUMNS)
#: The ``visitors`` view's own column, next to its hits: the day's unique visitors (the
#: rows' HyperLogLog estimate, GoAccess's "Visitors"). Not a sort of the query (``sort``
#: empty): it never drops before hits' neighbours.
VISITORS = Column("visitors", "visitors", 8, "", lambda r: fmt.count(r.get("visitors")), 98)


def columns_for(dimension: str) -> tuple[Column, ...]:
    """The numeric columns of a view listing ``dimension`` (visitors rows have their own)."""
    if dimension == "visitors":
        return (COLUMNS[0], VISITORS, *COLUMNS[1:])
    return COLUMNS
#: The narrowest key column before numeric columns are dropped to make room.
MIN_KEY_WIDTH = 14


def fit_columns(width: int, dimension: str = "") -> tuple[int, list[Column]]:
    """The key column's width and the numeric columns of a view of ``dimension`` that fit
    in ``width`` characters."""
    columns = columns_for(dimension)
    shown = list(columns)
    for victim in sorted(columns, key=lambda c: c.drop):
        used = sum(c.width + 1 for c in shown)
        if width - used >= MIN_KEY_WIDTH or victim.name == "hits":
            break
        shown.remove(victim)
    key_width = max(1, width - sum(c.width + 1 for c in shown))
    return key_width, shown
