"""The console's widgets. Each renders at any size it is given, 1x1 included.

:class:`ConsoleWidget` lays the screen out by hand (header, column titles, table or drill or
help, alerts panel, footer) so that every part gets a height that fits, and below
:data:`MIN_COLS` x :data:`MIN_ROWS` it shows one short "terminal too small" line instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import urwid

from . import fmt
from .state import CLASSES, ConsoleState, Header
from .views import VIEWS, fit_columns

MIN_COLS = 40
MIN_ROWS = 10
HEADER_ROWS = 3

Markup = list[Any]

KEYS_HELP: tuple[tuple[str, str], ...] = (
    ("1..6, tab", "views: paths, clients, source hosts, status codes, agents, referrers"),
    ("7 8 9 0", "visitors per day, browsers, operating systems, crawlers (tab: the "
                "other GoAccess panels)"),
    ("up/down, pgup/pgdn", "select a row"),
    ("enter", "drill into the selected path (esc goes back)"),
    ("< >", "sort by the column to the left / right"),
    ("r", "reverse the sort order"),
    ("/", "filter the rows by a regular expression (empty: no filter)"),
    ("w", "window: 1m, 5m, 1h, all"),
    ("c", "clear the selected path's alert"),
    ("C", "clear every alert of the site"),
    ("p", "pause / resume the display"),
    ("?", "this help (any key closes it)"),
    ("q, ctrl-c", "quit"),
)


def _clip_markup(markup: Markup, width: int) -> Markup:
    out: Markup = []
    left = width
    for part in markup:
        attr, text = part if isinstance(part, tuple) else (None, part)
        if left <= 0:
            break
        piece = text[:left]
        left -= len(piece)
        out.append((attr, piece) if attr else piece)
    return out or [""]


def line(markup: Markup, width: int) -> urwid.Canvas:
    """One clipped line of markup as a canvas exactly ``width`` wide."""
    return urwid.Text(_clip_markup(markup, width) if width > 0 else [""],
                      wrap="clip").render((width,))


# -- header --
def header_markup(state: ConsoleState, head: Header, *, source: str, stale: float | None,
                  width: int) -> list[Markup]:
    """The three header lines."""
    view = state.current
    mode: tuple[str, str]
    if state.paused:
        mode = ("paused", " PAUSED ")
    elif stale is not None:
        mode = ("stale", f" STALE {fmt.age(stale)} ")
    else:
        mode = ("live", "live")
    title: Markup = [("title", "httptop"), " ", mode, " ", ("label", source), "  ",
                     ("label", "view "), ("value", view.title), ("label", "  window "),
                     ("value", state.window)]
    if state.filter:
        title += [("label", "  filter "), ("value", f"/{state.filter}/")]
    total = sum(head.status.values())
    return [title, numbers_markup(head, total, width), third_line(head, width)]


def numbers_markup(head: Header, total: int, width: int) -> Markup:
    """Header line 2: what fits of rate, window count, total, bytes/s, status mix, hosts.

    Whole items, by priority, never a word cut in two: at 80 columns the less important
    items (bytes/s, 1xx..., the host count) are left out before the status mix is.
    """
    items: list[tuple[int, Markup]] = [
        (0, [("value", fmt.rate(head.rate)), ("label", " req/s")])]
    if head.requests is not None and head.window != "all" and not head.source_note:
        items.append((1, [("value", fmt.count(head.requests)),
                          ("label", f" in {head.window}")]))
    items.append((2, [("value", fmt.count(head.total)), ("label", " since start")]))
    items.append((5, [("value", fmt.size(head.bytes_rate)), ("label", "/s")]))
    mix: Markup = []
    for cls in CLASSES:
        mix += [(f"c{cls}", f"{cls} {fmt.percent(head.status.get(cls, 0), total)}"), " "]
    items.append((3, mix[:-1]))
    items.append((4, [("label", "hosts "), ("value", fmt.count(head.hosts))]))
    if head.silent:
        items.append((1, [("bad", f"{head.silent} silent")]))
    if head.source_note:  # rates from successive summaries: say what the numbers are
        items.append((6, [("note", "(no windows here)")]))

    def length(markup: Markup) -> int:
        return sum(len(p[1] if isinstance(p, tuple) else p) for p in markup)

    kept = list(items)
    while kept and sum(length(m) for _, m in kept) + 2 * (len(kept) - 1) > width:
        kept.remove(max(kept, key=lambda item: item[0]))
    out: Markup = []
    for _, markup in kept:
        out += (["  "] if out else []) + markup
    return out


def third_line(head: Header, width: int) -> Markup:
    """Header line 3: the sparkline, then the pipeline's health."""
    spark_width = max(0, min(40, width // 3))
    third: Markup = [("spark", fmt.sparkline(head.sparkline, spark_width).ljust(spark_width)),
                     " "]
    if head.degraded:
        third += [("bad", " DEGRADED "), " ", ("alert", "; ".join(head.degraded))]
    else:
        third += [("ok", "pipeline ok")]
    if head.behind_bytes:
        third += [("label", "  behind "), ("value", fmt.size(head.behind_bytes))]
    return third


# -- table --
def column_titles(width: int, sort: str, reverse: bool, key_title: str,
                  dimension: str = "") -> Markup:
    key_width, shown = fit_columns(width, dimension)
    out: Markup = [("colhead", fmt.clip(key_title, key_width).ljust(key_width))]
    for col in shown:
        arrow = "▲" if reverse else "▼"
        title = f"{arrow}{col.title}" if col.sort == sort else col.title
        out += [" ", ("sorted" if col.sort == sort else "colhead", title.rjust(col.width))]
    return out


def row_markup(row: dict[str, Any], width: int, focus: bool = False,
               dimension: str = "") -> Markup:
    """One table row: the key, clipped, then the numbers that fit (those of a view of
    ``dimension``)."""
    key_width, shown = fit_columns(width, dimension)
    key = fmt.clip(str(row.get("key", "")), key_width).ljust(key_width)
    if focus:
        text = key + "".join(" " + c.text(row).rjust(c.width)[-c.width:] for c in shown)
        return [("focus", text)]
    out: Markup = [key]
    for col in shown:
        value = col.text(row).rjust(col.width)[-col.width:]
        attr = col.attr if col.attr and value.strip() not in ("0", "-") else None
        out += [" ", (attr, value) if attr else value]
    return out


class RowWidget(urwid.Widget):
    """One selectable table row, laid out for the width it is rendered at."""

    _sizing = frozenset([urwid.FLOW])
    _selectable = True
    ignore_focus = False

    def __init__(self, row: dict[str, Any], dimension: str = "") -> None:
        super().__init__()
        self.row = row
        self.dimension = dimension

    @property
    def key(self) -> str:
        return str(self.row.get("key", ""))

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        (width,) = size
        return line(row_markup(self.row, width, focus, self.dimension), width)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        return key


class Table(urwid.ListBox):
    """The rows of the current view; the selection follows its key across refreshes."""

    def __init__(self) -> None:
        self.walker = urwid.SimpleFocusListWalker([])
        super().__init__(self.walker)

    def set_rows(self, rows: list[dict[str, Any]], selected: str | None,
                 dimension: str = "") -> None:
        """Show ``rows`` (of a view of ``dimension``), the row of ``selected`` focused."""
        focus = 0
        widgets = []
        for i, row in enumerate(rows):
            widget = RowWidget(row, dimension)
            if selected is not None and widget.key == selected:
                focus = i
            widgets.append(widget)
        self.walker[:] = widgets
        if widgets:
            self.walker.set_focus(focus)

    def selected_key(self) -> str | None:
        widget = self.focus
        return widget.key if isinstance(widget, RowWidget) else None

    def texts(self) -> list[str]:
        return [w.key for w in self.walker if isinstance(w, RowWidget)]


# -- drill, help, alerts --
def drill_markup(state: ConsoleState, width: int) -> list[Markup]:
    """One path in detail: its status mix, its clients, its rate over time."""
    path = state.drill or ""
    slot = state.slots["drill"]
    lines: list[Markup] = [[("title", "path "), ("value", path), ("note", "   (esc: back)")]]
    value = slot.last_ok.value if slot.last_ok is not None else None
    if not isinstance(value, dict):
        if slot.unavailable:
            lines.append([("note", "drill: not served by this pipeline's collectors")])
            row = next((r for r in state.table_rows() or [] if r.get("key") == path), None)
            if row is not None:
                lines.append(["hits ", ("value", fmt.count(row.get("hits"))), "  bytes ",
                              ("value", fmt.size(row.get("bytes")))])
        elif slot.reply is not None and slot.reply.error:
            lines.append([("error", f"no answer: {slot.reply.error}")])
        else:
            lines.append([("note", "waiting for the collector…")])
        return lines
    status = value.get("status") or {}
    lines.append(["requests ", ("value", fmt.count(value.get("requests"))), "  window ",
                  ("value", str(value.get("window", state.window)))])
    mix: Markup = [("label", "status ")]
    for code, n in sorted(status.items(), key=lambda kv: str(kv[0])):
        cls = f"c{str(code)[:1]}xx"
        mix += [(cls if cls[1:] in CLASSES else "value", f"{code}:{fmt.count(n)}"), " "]
    lines.append(mix)
    series = value.get("series") or []
    rates = [float(p.get("requests") or 0) for p in series if isinstance(p, dict)]
    lines.append([("label", "rate  "), ("spark", fmt.sparkline(rates, max(1, width - 6)))])
    lines.append([("colhead", "clients")])
    for row in value.get("clients") or []:
        lines.append(row_markup(dict(row), width))
    return lines


def help_markup() -> list[Markup]:
    out: list[Markup] = [[("title", "httptop keys")], [""]]
    for keys, what in KEYS_HELP:
        out.append([("key", keys.ljust(20)), what])
    return out


def alerts_markup(firing: list[dict[str, Any]], note: str, width: int, rows: int,
                  now: float | None = None) -> list[Markup]:
    """The alerts panel in at most ``rows`` lines (a title line, then the alerts)."""
    if rows <= 0:
        return []
    if not firing:
        return [[("note", note or "alerts: none firing")]]
    now = time.time() if now is None else now
    lines: list[Markup] = [[("alert", f"alerts: {len(firing)} firing"),
                            ("note", "  (c: clear selected path, C: clear all)")]]
    for alert in firing[: rows - 1]:
        scope = alert.get("path") if alert.get("scope") == "path" else alert.get("scope")
        lines.append([("alert", "● "), ("value", str(alert.get("rule", "?"))), " ",
                      ("label", str(scope or "site")), " ",
                      ("note", f"{fmt.since(alert.get('since'), now)} ago: "),
                      str(alert.get("message", ""))])
    if len(firing) > rows - 1 and rows > 1:
        lines[-1] = [("note", f"… and {len(firing) - rows + 2} more")]
    return lines


def too_small(width: int, height: int) -> urwid.Canvas:
    """The one line shown when the terminal is smaller than the console can use."""
    for text in (f"terminal too small ({width}x{height}, need {MIN_COLS}x{MIN_ROWS})",
                 "terminal too small", "too small", "small", "!"):
        if len(text) <= width:
            break
    widget = urwid.Filler(urwid.Text(text[:width], wrap="clip"), valign="top")
    return widget.render((width, height))


def footer_hints(current: str, width: int) -> Markup:
    """The key hints: quit and help first (always visible at 40 columns and more), then
    the other keys, then the views as far as they fit."""
    hints: Markup = [("key", "q"), ("footer", " quit  "), ("key", "?"), ("footer", " help  "),
                     ("key", "/"), ("footer", " filter  "), ("key", "w"),
                     ("footer", " window  "), ("key", "<>"), ("footer", " sort ")]
    used = sum(len(text) for _, text in hints)
    for view in VIEWS:
        attr = "sorted" if view.name == current else "footer"
        piece = [" ", ("key", view.key), (attr, view.name)]
        size = 1 + len(view.key) + len(view.name)
        if used + size > width:
            break
        hints += piece
        used += size
    return hints


# -- the whole screen --
class ConsoleWidget(urwid.Widget):
    """Header, column titles, body (table, drill or help), alerts panel, footer.

    ``source`` names what is watched; ``clock`` and ``stale_after`` decide the stale mark.
    The footer shows ``state.message``, the key hints, or the filter prompt while editing.
    """

    _sizing = frozenset([urwid.BOX])
    _selectable = True

    def __init__(self, state: ConsoleState, *, source: str, stale_after: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.state = state
        self.source = source
        self.stale_after = stale_after
        self.clock = clock
        self.table = Table()
        self.prompt: urwid.Edit | None = None
        self.drawn: list[str] = []  # the rows of the table last set, for tests and the app

    # -- data ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Take the state's rows into the table (keeping the selection) and redraw."""
        rows = self.state.table_rows() or []
        self.table.set_rows(rows, self.state.selected, self.state.current.dimension)
        self.drawn = self.table.texts()
        self._invalidate()

    def selected(self) -> str | None:
        return self.table.selected_key()

    # -- layout ---------------------------------------------------------------------------------
    def heights(self, rows: int) -> tuple[int, int]:
        """(alerts panel, body) heights for a screen ``rows`` high (header 3, titles 1,
        footer 1 around them)."""
        firing, _ = self.state.alerts()
        free = rows - HEADER_ROWS - 2
        alerts = min(len(firing) + 1 if firing else 1, max(1, free // 3))
        return alerts, max(1, free - alerts)

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:
        cols, rows = size
        if cols < MIN_COLS or rows < MIN_ROWS:
            return too_small(cols, rows)
        now = self.clock()
        state = self.state
        stale = None if state.paused else state.stale(now, self.stale_after)
        head = state.header()
        parts: list[urwid.Canvas] = [line(m, cols) for m in header_markup(
            state, head, source=self.source, stale=stale, width=cols)]
        alerts_rows, body_rows = self.heights(rows)
        parts.append(self._titles(cols))
        parts.append(self._body(cols, body_rows))
        firing, note = state.alerts()
        alert_lines = alerts_markup(firing, note, cols, alerts_rows)
        alert_lines += [[""]] * (alerts_rows - len(alert_lines))
        parts += [line(m, cols) for m in alert_lines[:alerts_rows]]
        parts.append(self._footer(cols))
        return urwid.CanvasCombine([(c, None, False) for c in parts])

    def _titles(self, cols: int) -> urwid.Canvas:
        state = self.state
        if state.help or state.drill is not None:
            return line([("colhead", " " * cols)], cols)
        note = state.table_note()
        key_title = state.current.title + (f" ({note})" if note else "")
        return line(column_titles(cols, state.sort, state.reverse, key_title,
                                  state.current.dimension), cols)

    def _body(self, cols: int, rows: int) -> urwid.Canvas:
        state = self.state
        if state.help or state.drill is not None:
            lines = help_markup() if state.help else drill_markup(state, cols)
            lines = (lines + [[""]] * rows)[:rows]
            return urwid.CanvasCombine([(line(m, cols), None, False) for m in lines])
        if not self.table.walker:
            return urwid.SolidFill(" ").render((cols, rows))
        return self.table.render((cols, rows), focus=True)

    def _footer(self, cols: int) -> urwid.Canvas:
        if self.prompt is not None:
            if self.state.message:  # why the pattern was refused, after it
                return line([("key", "/"), self.prompt.edit_text, "  ",
                             ("error", self.state.message)], cols)
            canvas = self.prompt.render((cols,), focus=True)
            if canvas.rows() != 1:  # a long pattern wraps: show its end on one line
                return line([("key", "/"), self.prompt.edit_text[-(cols - 2):]], cols)
            return canvas
        if self.state.message:
            return line([("footer", self.state.message)], cols)
        return line(footer_hints(self.state.view, cols), cols)

    # -- keys ------------------------------------------------------------------------------------
    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        """Keys for the filter prompt and the table's movement; others go to the app."""
        cols, rows = size
        if self.prompt is not None:
            if key in ("enter", "esc"):
                return key
            if key == "ctrl u":  # as in a shell: clear the line
                self.prompt.set_edit_text("")
                self.state.message = ""
                self._invalidate()
                return None
            left = self.prompt.keypress((max(1, cols),), key)
            if left is None:
                self.state.message = ""  # typing again: the last refusal is stale
            self._invalidate()
            return left
        if self.state.help or self.state.drill is not None:
            return key
        if key in ("up", "down", "page up", "page down", "home", "end") and self.table.walker:
            if cols >= MIN_COLS and rows >= MIN_ROWS:
                _, body_rows = self.heights(rows)
                if key == "home":
                    self.table.set_focus(0)
                elif key == "end":
                    self.table.set_focus(len(self.table.walker) - 1)
                else:
                    self.table.keypress((cols, body_rows), key)
                self.state.selected = self.table.selected_key()
                self._invalidate()
            return None
        return key

    def open_prompt(self) -> None:
        """The filter prompt, empty: typing gives a new pattern, enter on nothing removes
        the filter (the current one is shown in the header)."""
        self.prompt = urwid.Edit(("key", "/"), "")
        self._invalidate()

    def close_prompt(self) -> str | None:
        """Close the filter prompt; the text typed (None when there was no prompt)."""
        text = self.prompt.edit_text if self.prompt is not None else None
        self.prompt = None
        self._invalidate()
        return text

