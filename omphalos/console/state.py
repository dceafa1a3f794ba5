"""What the console shows, as plain data: the user's choices, the answers, the derivations.

Nothing here touches urwid or threads: the UI thread owns one :class:`ConsoleState`, feeds
it replies (:meth:`ConsoleState.accept`) and draws what :meth:`header`, :meth:`table_rows`
and :meth:`alerts` derive from it. When a collector does not serve a kind (only the
running summary is configured, say) the derivations fall back on the ``summary`` answer.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .source import STATUS, Reply
from .views import SORTS, VIEW_BY_NAME, WINDOWS, View

CLASSES = ("2xx", "3xx", "4xx", "5xx")


@dataclass
class Slot:
    """One thing the screen shows, asked again every refresh: its last reply and whether a
    query for it is on its way (at most one at a time, so a slow collector's inbox never
    fills up)."""

    name: str
    reply: Reply | None = None
    last_ok: Reply | None = None
    pending_since: float | None = None
    pending_params: dict[str, Any] | None = None
    unavailable: bool = False

    def age(self, now: float) -> float | None:
        """Seconds since the data shown was asked; None when there is none."""
        return None if self.last_ok is None else now - self.last_ok.asked_at


@dataclass
class Header:
    """The numbers of the header (None where nothing answered them)."""

    rate: float | None = None
    requests: int | None = None  # in the window
    total: int | None = None  # since start (the running summary)
    bytes_rate: float | None = None
    status: dict[str, int] = field(default_factory=dict)
    sparkline: list[float] = field(default_factory=list)
    hosts: int | None = None
    silent: int = 0
    degraded: list[str] = field(default_factory=list)
    behind_bytes: int = 0
    window: str = ""  # the window of ``requests`` (``all``: since start, no window count)
    source_note: str = ""  # "since start" when the header falls back on the summary


@dataclass
class ConsoleState:
    """The user's choices and the latest answers; owned by the UI thread."""

    view: str = "paths"
    window: str = "5m"
    sort: str = "hits"
    reverse: bool = False  # ascending instead of descending
    filter: str = ""
    paused: bool = False
    help: bool = False
    drill: str | None = None
    selected: str | None = None
    message: str = ""
    limit: int = 200
    slots: dict[str, Slot] = field(default_factory=dict)
    #: The table's window is not served (only the running summary is): ask for ``all``.
    table_all: bool = False
    #: (monotonic time, total requests) of successive summaries, for rates without windows.
    totals: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=120))

    def __post_init__(self) -> None:
        for name in ("overview", "table", "alerts", "hosts", "health", "summary", "drill"):
            self.slots.setdefault(name, Slot(name))

    # -- choices -----------------------------------------------------------------------------
    @property
    def current(self) -> View:
        return VIEW_BY_NAME[self.view]

    def cycle_window(self) -> None:
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.table_all = False

    def move_sort(self, step: int) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + step) % len(SORTS)]

    def set_filter(self, text: str) -> str | None:
        """Set the regex filter; the error text when it is not a regular expression."""
        try:
            re.compile(text)
        except re.error as exc:
            return f"not a regular expression: {exc}"
        self.filter = text
        return None

    # -- what to ask ---------------------------------------------------------------------------
    def wanted(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Slot name -> (kind, params) of every query the screen needs now."""
        out: dict[str, tuple[str, dict[str, Any]]] = {
            "overview": ("overview", {"window": self._window_or("1m")}),
            "table": ("top", {"dimension": self.current.dimension,
                              "window": "all" if self.table_all else self.window,
                              "limit": self.limit, "sort": self.sort,
                              "filter": self.filter or None}),
            "alerts": ("alerts", {}),
            "hosts": ("hosts", {"window": self._window_or("5m")}),
            "health": (STATUS, {}),
        }
        fallback = self.slots["overview"].unavailable or self.slots["table"].unavailable
        out["summary"] = ("summary", {"limit": self.limit if fallback else 1})
        if self.drill is not None:
            out["drill"] = ("drill", {"path": self.drill, "window": self._window_or("5m")})
        return out

    def _window_or(self, default: str) -> str:
        return self.window if self.window != "all" else default

    # -- answers ---------------------------------------------------------------------------------
    def accept(self, slot_name: str, reply: Reply, now: float | None = None) -> bool:
        """Take a reply; False when it answers a question no longer asked (a view since
        switched), which is then dropped."""
        slot = self.slots[slot_name]
        sent = slot.pending_params
        slot.pending_since = None
        slot.pending_params = None
        wanted = self.wanted().get(slot_name)
        if wanted is not None and sent is not None and wanted[1] != sent:
            return False
        slot.reply = reply
        if reply.ok:
            slot.last_ok = reply
            slot.unavailable = False
            if slot_name == "summary":
                value = reply.value or {}
                self.totals.append((reply.answered_at if now is None else now,
                                    int(value.get("requests", 0)), int(value.get("bytes", 0))))
        elif reply.unavailable and slot_name == "table" and sent is not None \
                and sent.get("window") != "all":
            self.table_all = True  # no collector has this window: show since start
        elif reply.unavailable:
            slot.unavailable = True
            slot.last_ok = None
        return True

    def stale(self, now: float, after: float) -> float | None:
        """Age of the oldest data shown when some of it is stale (or asked and not yet
        answered for longer than ``after``), else None."""
        ages: list[float] = []
        for name in ("overview", "table", "drill"):
            slot = self.slots[name]
            if name == "drill" and self.drill is None:
                continue
            if slot.unavailable and name != "drill":
                slot = self.slots["summary"]
            if slot.pending_since is not None and now - slot.pending_since > after:
                ages.append(now - slot.pending_since)
            age = slot.age(now)
            if age is not None and age > after:
                ages.append(age)
        return max(ages) if ages else None

    # -- derivations -------------------------------------------------------------------------------
    def header(self) -> Header:
        """The header's numbers from the overview, hosts and health answers (or summary)."""
        out = Header(window=self.window)
        overview = _value(self.slots["overview"])
        summary = _value(self.slots["summary"])
        if overview is not None:
            out.rate = _num(overview.get("rate"))
            out.requests = _int(overview.get("requests"))
            out.bytes_rate = _num(overview.get("bytes_rate"))
            out.status = _classes(overview.get("status_class"))
            # the last bucket (the window's head) is still filling: left out, so a steady
            # rate does not seem to drop at the right edge
            out.sparkline = [float(v or 0) for v in overview.get("sparkline") or []][:-1]
            out.hosts = _int(overview.get("hosts"))
            if self.window == "all":  # the rate is the last minute's; no window count
                out.requests = None
        elif summary is not None:
            out.source_note = "since start"
            out.window = "all"
            out.requests = _int(summary.get("requests"))
            out.status = _classes(summary.get("status_class"))
            hosts = summary.get("hosts")
            out.hosts = len(hosts) if isinstance(hosts, Mapping | list) else _int(hosts)
            rates = self.rates()
            if rates:
                out.rate, out.bytes_rate = rates[-1]
                out.sparkline = [r for r, _ in rates]
            if out.rate is None and isinstance(summary.get("rate"), int | float):
                out.rate = float(summary["rate"])
        if summary is not None:
            out.total = _int(summary.get("requests"))
        hosts = _value(self.slots["hosts"])
        if hosts is not None:
            rows = hosts.get("rows") or []
            out.silent = sum(1 for r in rows if r.get("silent"))
            if out.hosts is None:
                out.hosts = len(rows)
        health = _value(self.slots["health"])
        health_reply = self.slots["health"].reply
        if health is not None:
            out.degraded = list(health.get("reasons") or [])
            for name, actor in sorted((health.get("actors") or {}).items()):
                state = actor.get("state")
                if state in ("failed", "restarting", "stopped") or actor.get("error"):
                    why = actor.get("error") or state
                    entry = f"{name} {why}"
                    if not any(name in r for r in out.degraded):
                        out.degraded.append(entry)
                out.behind_bytes += int(actor.get("bytes_behind") or 0)
        if health_reply is not None and not health_reply.ok and not health_reply.unavailable:
            out.degraded.append(f"unreachable: {health_reply.error}")
        return out

    def rates(self) -> list[tuple[float, float]]:
        """(req/s, bytes/s) between successive summaries (when no collector has windows)."""
        points = list(self.totals)
        return [((r1 - r0) / (t1 - t0), (b1 - b0) / (t1 - t0))
                for (t0, r0, b0), (t1, r1, b1) in itertools.pairwise(points) if t1 > t0]

    def table_rows(self) -> list[dict[str, Any]] | None:
        """The rows of the current view, filtered and sorted; None when nothing answered."""
        top = self._table_answer()
        summary = _value(self.slots["summary"])
        if top is not None:
            rows = [dict(r) for r in top.get("rows") or []]
        elif self.slots["table"].unavailable and summary is not None:
            rows = summary_rows(summary, self.current)
        else:
            return None
        rows = [r for r in rows if r.get("key") is not None]
        pattern = _compiled(self.filter)
        if pattern is not None:
            rows = [r for r in rows if pattern.search(str(r["key"]))]
        rows.sort(key=sort_key(self.sort), reverse=not self.reverse)
        return rows

    def _table_answer(self) -> dict[str, Any] | None:
        """The last ``top`` answer if it lists the current view's dimension."""
        slot = self.slots["table"]
        value = _value(slot)
        if value is None or slot.last_ok is None or \
                slot.last_ok.params.get("dimension") != self.current.dimension:
            return None
        return value

    def table_note(self) -> str:
        """Why the table looks as it does: waiting, unavailable, an error, a fallback."""
        slot = self.slots["table"]
        if slot.unavailable:
            summary = self.slots["summary"]
            if summary.unavailable:
                return "not served by any collector of this pipeline"
            if _value(summary) is None:
                return "waiting for the summary…"
            return "since start (no collector serves windows here)"
        if self._table_answer() is None:
            if slot.reply is not None and slot.reply.error and not slot.reply.unavailable:
                return f"no answer: {slot.reply.error}"
            return "waiting for the collector…"
        if self.table_all and self.window != "all":
            return f"since start: no collector here keeps a {self.window} window"
        if slot.reply is not None and slot.reply.error:
            return f"last query failed: {slot.reply.error}"
        return ""

    def alerts(self) -> tuple[list[dict[str, Any]], str]:
        """Firing alerts (newest first) and a note (unavailable, error), from the answer."""
        slot = self.slots["alerts"]
        if slot.unavailable:
            return [], "alerts: not served by this pipeline's collectors"
        value = _value(slot)
        if value is None:
            if slot.reply is not None and slot.reply.error:
                return [], f"alerts: {slot.reply.error}"
            return [], "alerts: waiting…"
        firing = sorted(value.get("firing") or [], key=lambda a: -float(a.get("since") or 0))
        return firing, ""

    def selected_path(self) -> str | None:
        """The path ``c`` clears the alert of: the drilled path, or the selected row's."""
        if self.drill is not None:
            return self.drill
        if self.view == "paths":
            return self.selected
        return None


def summary_rows(summary: Mapping[str, Any], view: View) -> list[dict[str, Any]]:
    """A view's rows from the running summary: its lists of ``{path|key, hits, bytes}``,
    or ``{key: hits}`` mappings (``hosts``, ``status``)."""
    data = summary.get(view.summary_key)
    since = summary.get("since")
    elapsed = max(1.0, time.time() - float(since)) if isinstance(since, int | float) else None
    rows: list[dict[str, Any]] = []
    if isinstance(data, Mapping):
        items: list[dict[str, Any]] = [{"key": k, "hits": v} for k, v in data.items()]
    elif isinstance(data, list):
        items = [dict(d) for d in data if isinstance(d, Mapping)]
    else:
        return rows
    for item in items:
        key = item.get("key", item.get(view.dimension, item.get("path")))
        hits = _int(item.get("hits")) or 0
        status = _classes(item.get("status"))
        if view.dimension == "status" and key is not None and str(key).isdigit():
            status = {f"{int(key) // 100}xx": hits}
        rows.append({"key": str(key) if key is not None else None, "hits": hits,
                     "rate": _num(item.get("rate")) if item.get("rate") is not None
                     else (hits / elapsed if elapsed else None),
                     "bytes": _int(item.get("bytes")) or 0,
                     "errors": _int(item.get("errors")) or status.get("5xx", 0),
                     "status": status, "p95": _num(item.get("p95"))})
    return rows


def sort_key(sort: str) -> Any:
    """Orders rows by ``sort`` (a column's sort name); rows without a value come last
    (descending), ties are broken by hits."""
    def key(row: Mapping[str, Any]) -> tuple[bool, float, float]:
        value = (row.get("status") or {}).get(sort) if sort in CLASSES else row.get(sort)
        number = _num(value)
        return (number is not None, number or 0.0, _num(row.get("hits")) or 0.0)
    return key


def _compiled(text: str) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _value(slot: Slot) -> dict[str, Any] | None:
    if slot.last_ok is None or not isinstance(slot.last_ok.value, dict):
        return None
    return slot.last_ok.value


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _classes(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int | float)}
