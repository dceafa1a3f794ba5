"""The one query API of every collector: the kinds, their parameters, their answers.

Collectors answer :class:`omphalos.messages.Query` ``(kind, params)``, asked in-process with
``Pipeline.query(kind, collector=None, **params)`` (which tries the pipeline's collectors in
order until one answers) and, unchanged, as JSON over HTTP at
``GET /api/v1/query/{kind}?param=value``. A collector raises :class:`ValueError` for a kind
or a window it does not serve, so the next collector is asked. Answers are JSON-able dicts;
keys are only ever added, never renamed or removed.

Parameters arrive as Python values in-process and as strings over HTTP: :func:`validate`
turns both into the same checked, typed dict (a bad one raises ``ValueError`` with the
reason), so every collector and the HTTP layer share one set of rules.

Kinds (parameters with defaults; the answer):

``summary`` ``{limit=20}``
    Totals since start: the shape of :mod:`omphalos.report` (``requests``, ``bytes``,
    ``status``, ``status_class``, ``top_paths``, ``hosts``...) plus ``rate``, ``methods``,
    ``top_clients``, ``top_agents``, ``top_referers``, ``duration`` (p50/p95/p99/mean).
``top`` ``{dimension=path, window=all, limit=20, sort=hits, filter=None, host=None}``
    ``dimension`` is one of :data:`DIMENSIONS`, ``sort`` one of :data:`SORTS`, ``filter`` a
    regular expression searched in the key, compiled by RE2 (linear time whatever the
    pattern; no backreferences or lookaround: refused). ``host``: only the lines of that
    source host (web server). Answer :class:`TopAnswer`.
``series`` ``{window=5m, step_secs=0 (the window's bucket), path=None, host=None}``
    Answer :class:`SeriesAnswer`: one point per step, oldest first. ``step_secs`` is at
    most :data:`MAX_WINDOW_SECS` and gives at most :data:`MAX_POINTS` points; a step
    longer than the window gives one point.
``overview`` ``{window=1m}``
    The header numbers of a console or page: :class:`OverviewAnswer`.
``drill`` ``{path, window=5m, limit=20}``
    One path in detail: :class:`DrillAnswer`.
``hosts`` ``{window=5m}``
    Source hosts (the web servers of the fleet): :class:`HostsAnswer`.
``alerts`` ``{}``
    Firing alerts and the recent history of changes: :class:`AlertsAnswer`.
``clear_alert`` ``{path}`` or ``{all=true}``
    Clear alerts by hand (one path's, or every one): ``{"cleared": n}``.
``reset`` ``{}``
    Start the running summary over: ``{"reset": true}``.
``status`` ``{}``
    The actor's own status (counters).

Windows are written ``30s``, ``1m``, ``5m``, ``1h``, ``1d`` or as a number of seconds, at
most :data:`MAX_WINDOW_SECS` (ten years); ``all`` means since start (the summary
collector). :func:`window_secs` parses them.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, Protocol, TypedDict

import re2

from .derived import DERIVED_DIMENSIONS

__all__ = ["DIMENSIONS", "BASE_DIMENSIONS", "SORTS", "KINDS", "STATUS_CLASSES", "validate",
           "window_secs", "window_label", "status_class", "compile_filter", "sort_key", "TopRow",
           "TopAnswer", "SeriesPoint", "SeriesAnswer", "OverviewAnswer", "DrillAnswer",
           "HostRow", "HostsAnswer", "AlertRow", "AlertEvent", "AlertsAnswer", "KindSpec",
           "Filter", "DEFAULT_DIMENSIONS", "OPT_IN_DIMENSIONS", "MAX_LIMIT", "MAX_WINDOW_SECS",
           "MAX_POINTS"]

#: What a ``top`` list can be grouped by (names of :class:`omphalos.records.Record` fields,
#: ``host`` being the source host, the web server).
#: The first seven are columns of the record; the others are derived from it
#: (:mod:`omphalos.derived`: GoAccess's panels).
BASE_DIMENSIONS: tuple[str, ...] = ("path", "client", "host", "status", "agent", "referer",
                                    "method")
DIMENSIONS: tuple[str, ...] = BASE_DIMENSIONS + DERIVED_DIMENSIONS
#: Counted only when a collector's ``dimensions`` names them: ``country`` costs a lookup per
#: distinct client (a quarter more replay time on a log of many clients), and GoAccess too
#: shows countries only when given a database.
OPT_IN_DIMENSIONS: tuple[str, ...] = ("country",)
#: What the collectors count unless told: every dimension but the opt-in ones.
DEFAULT_DIMENSIONS: tuple[str, ...] = tuple(d for d in DIMENSIONS
                                            if d not in OPT_IN_DIMENSIONS)
#: Status classes, the keys of every ``status`` breakdown.
STATUS_CLASSES: tuple[str, ...] = ("1xx", "2xx", "3xx", "4xx", "5xx")
#: What a ``top`` list can be sorted by (descending).
SORTS: tuple[str, ...] = ("hits", "rate", "bytes", "errors", "p95", *STATUS_CLASSES)
#: Largest ``limit`` a query may ask (answers stay small).
MAX_LIMIT = 1000
#: Longest window a query may name (ten years, in seconds).
MAX_WINDOW_SECS = 10 * 365 * 86400.0
#: Most points a ``series`` may have: ``window / step_secs`` may not exceed it.
MAX_POINTS = 10_000
#: Longest ``filter`` pattern, in characters, and the memory RE2 may use to compile it.
MAX_FILTER_CHARS = 1024
MAX_FILTER_MEMORY = 8 << 20

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


# -- answer shapes (documentation for clients; collectors build plain dicts) -----------------
class TopRow(TypedDict):
    """One row of a ``top`` list. ``errors`` counts 5xx answers (server errors);
    ``p95`` is the duration's 95th percentile in seconds, None when the format has none.
    ``hits`` may be too low by at most the answer's ``error_bound`` (0 = exact);
    ``rate`` is hits per second over the window (or since start). ``bytes`` is None for
    dimensions whose bytes are not counted per key (only path and host are); ``status``
    also has ``1xx``."""

    key: str
    hits: int
    rate: float
    bytes: int | None
    errors: int
    status: dict[str, int]
    p95: float | None
    #: Fastest, mean and slowest duration of the key (seconds, within the sketch's 1%),
    #: None without durations; only the dimensions of
    #: ``omphalos.counting.DURATION_DIMENSIONS`` keep durations per key.
    min: float | None
    avg: float | None
    max: float | None
    #: ``visitors`` rows only: the day's unique visitors (HyperLogLog, 0.81% standard
    #: error).
    visitors: NotRequired[int]


class TopAnswer(TypedDict):
    """``top``: ``rows`` sorted by ``sort``; ``error_bound`` is the most any ``hits`` may be
    under-counted (0 when exact): ``hits <= true <= hits + error_bound``."""

    dimension: str
    window: str
    sort: str
    rows: list[TopRow]
    error_bound: int


class SeriesPoint(TypedDict):
    """One step of a ``series``: ``t`` is the step's start (epoch seconds)."""

    t: float
    requests: int
    bytes: int
    p50: float | None
    p95: float | None
    p99: float | None
    #: Series read from the history (``"source": "history"``) of the whole site: the
    #: step's unique visitors (its minutes' HyperLogLogs merged, per UTC date, summed over
    #: the dates it spans; 0.81% standard error).
    visitors: NotRequired[int]
    # plus "1xx".."5xx": int (not identifiers, so not declarable here)


class SeriesAnswer(TypedDict):
    """Windows longer than the collector's longest are read from its SQLite history (the
    answer then has ``"source": "history"`` and steps of at least a minute)."""

    window: str
    step: float
    path: str | None
    points: list[dict[str, Any]]


class OverviewAnswer(TypedDict):
    """``rate`` is requests per second over the last complete buckets (about ten seconds);
    ``sparkline`` the requests per second of each bucket of the window, oldest first;
    ``late`` the lines that arrived after their bucket had left this window; ``head`` the
    window's end (epoch seconds, event time or wall clock: see the window collector)."""

    window: str
    rate: float
    requests: int
    bytes: int
    bytes_rate: float
    status_class: dict[str, int]
    hosts: int
    sparkline: list[float]
    p50: float | None
    p95: float | None
    p99: float | None
    late: int
    unparsed: int
    head: float


class DrillAnswer(TypedDict):
    path: str
    window: str
    requests: int
    status: dict[str, int]
    clients: list[TopRow]
    series: list[dict[str, Any]]


class HostRow(TypedDict):
    """``last_seen`` is the event time of the host's newest record (epoch seconds)."""

    host: str
    requests: int
    rate: float
    last_seen: float | None
    silent: bool


class HostsAnswer(TypedDict):
    window: str
    rows: list[HostRow]


class AlertRow(TypedDict):
    """A firing alert. ``id`` is stable for the same rule and scope (``rule`` or
    ``rule:path`` or ``rule:host``)."""

    id: str
    rule: str
    scope: str  # "site" | "path" | "host"
    path: str | None
    since: float
    message: str
    value: float
    threshold: float


class AlertEvent(TypedDict):
    """One change: ``event`` is ``fired``, ``resolved`` or ``cleared``."""

    time: float
    id: str
    event: str
    rule: str
    scope: str
    path: str | None
    message: str


class AlertsAnswer(TypedDict):
    firing: list[AlertRow]
    history: list[AlertEvent]


# -- parameters --------------------------------------------------------------------------------
def window_secs(window: str | float | int | None) -> float | None:
    """Seconds of ``window`` (``"5m"`` -> 300.0); None for ``"all"`` (since start)."""
    if window is None:
        return None
    if isinstance(window, bool):
        raise ValueError(f"window: {window!r} is not a duration")
    if isinstance(window, int | float):
        secs = float(window)
    else:
        if window.strip().lower() == "all":
            return None
        match = _WINDOW_RE.match(window)
        if not match:
            raise ValueError(f"window: {window!r} is not a duration like 30s, 5m, 1h or 'all'")
        secs = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not math.isfinite(secs) or secs <= 0:
        raise ValueError(f"window: {window!r} must be a positive duration")
    if secs > MAX_WINDOW_SECS:
        raise ValueError(f"window: {window!r} is longer than {window_label(MAX_WINDOW_SECS)}")
    return secs


def window_label(secs: float | None) -> str:
    """The short name of a window: 300 -> ``"5m"``, None -> ``"all"``."""
    if secs is None:
        return "all"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size and secs % size == 0:
            return f"{int(secs // size)}{unit}"
    return f"{secs:g}s"


def _as_int(name: str, lo: int, hi: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{name}: {value!r} is not an integer")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {value!r} is not an integer") from None
        if not lo <= number <= hi:
            raise ValueError(f"{name}: {number} is not between {lo} and {hi}")
        return number
    return convert


def _as_float(name: str, lo: float, hi: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"{name}: {value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{name}: {value!r} is not a number") from None
        if not math.isfinite(number) or not lo <= number <= hi:
            raise ValueError(f"{name}: {value!r} must be a number from {lo:g} to {hi:g}")
        return number
    return convert


def _as_bool(name: str) -> Callable[[Any], bool]:
    def convert(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{name}: {value!r} is not true or false")
    return convert


def _one_of(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = str(value).strip()
        if text not in choices:
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return text
    return convert


def _text(name: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
        return value
    return convert


def _window(value: Any) -> str:
    return window_label(window_secs(value))


class Filter(Protocol):
    """A compiled ``filter``: what :func:`compile_filter` returns."""

    def search(self, text: str) -> Any: ...


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's 400, not our stderr
    options.max_mem = MAX_FILTER_MEMORY
    return options


_RE2_OPTIONS = _re2_options()


def compile_filter(pattern: str | None) -> Filter | None:
    """The ``filter`` parameter as a compiled regular expression (searched, not matched).

    Compiled by RE2 (``google-re2``), whose search time is linear in the key's length for
    any pattern: a filter with catastrophic backtracking under Python's ``re`` costs no
    more than any other. RE2 has no backreferences or lookaround: such a pattern, one
    longer than :data:`MAX_FILTER_CHARS` or one needing more than
    :data:`MAX_FILTER_MEMORY` bytes compiled is refused (ValueError: a 400 over HTTP).
    """
    if pattern is None or pattern == "":
        return None
    if len(pattern) > MAX_FILTER_CHARS:
        raise ValueError(f"filter: longer than {MAX_FILTER_CHARS} characters")
    if _nested_repetition(pattern):
        raise ValueError(f"filter: {pattern!r} repeats a group that itself repeats (like "
                         "'(a+)+'): refused, as such a pattern backtracks exponentially in "
                         "most engines; write it without the nested repetition")
    try:
        compiled: Filter = re2.compile(pattern, _RE2_OPTIONS)
    except Exception as exc:  # noqa: BLE001 - re2 raises its own error types
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"filter: {pattern!r} is not a regular expression RE2 accepts "
                         f"(no backreferences or lookaround): {reason}") from None
    return compiled


#: Python's own regex parser (no stubs ship for it), used to see a filter's structure.
_sre_parser: Any = importlib.import_module("re._parser")
_sre_constants: Any = importlib.import_module("re._constants")
#: The repeat operators of Python's regex parser (greedy, lazy, possessive).
_REPEAT_OPS = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT,
               _sre_constants.POSSESSIVE_REPEAT)


def _repeats(op: Any, av: Any) -> bool:
    """Whether a parsed regex item repeats its body more than once (``+``, ``*``, ``{2,}``)."""
    return op in _REPEAT_OPS and av[1] > 1


def _nested_repetition(pattern: str) -> bool:
    """Whether ``pattern`` repeats something that itself repeats (``(a+)+``, ``(x*y)*``,
    ``(.*a){20}``): the shape of catastrophic backtracking (ReDoS). RE2 would run it in
    linear time, but the API refuses it: a filter is text a client sends, and the same
    pattern given to another tool (or a log search) is a denial of service. A pattern
    Python's parser does not read is left to RE2."""
    try:
        parsed = _sre_parser.parse(pattern)
    except Exception:  # noqa: BLE001 - RE2 syntax Python lacks: RE2 decides
        return False

    def walk(items: Any, inside_repeat: bool) -> bool:
        for op, av in items:
            if op in _REPEAT_OPS:
                if inside_repeat and av[1] > 1:
                    return True
                if walk(av[2], inside_repeat or _repeats(op, av)):
                    return True
            elif op is _sre_constants.SUBPATTERN:
                if walk(av[-1], inside_repeat):
                    return True
            elif op is _sre_constants.BRANCH:
                if any(walk(branch, inside_repeat) for branch in av[1]):
                    return True
            elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
                if walk(av[1], inside_repeat):
                    return True
        return False

    return walk(parsed, False)


def _filter(value: Any) -> str:
    text = str(value)
    compile_filter(text)
    return text


@dataclass(frozen=True)
class KindSpec:
    """A query kind: its parameters (name -> (converter, default)) and which are required.

    A default of ``None`` means the parameter is optional and absent when not given.
    """

    doc: str
    params: Mapping[str, tuple[Callable[[Any], Any], Any]]
    required: tuple[str, ...] = ()


_LIMIT = (_as_int("limit", 1, MAX_LIMIT), 20)

KINDS: dict[str, KindSpec] = {
    "summary": KindSpec("Totals since start (the report shape, keys only added).",
                        {"limit": _LIMIT}),
    "top": KindSpec("A top list of one dimension over a window.", {
        "dimension": (_one_of("dimension", DIMENSIONS), "path"),
        "window": (_window, "all"),
        "limit": _LIMIT,
        "sort": (_one_of("sort", SORTS), "hits"),
        "filter": (_filter, None),
        "host": (_text("host"), None),
    }),
    "series": KindSpec("Requests, bytes, status classes and percentiles per step.", {
        "window": (_window, "5m"),
        "step_secs": (_as_float("step_secs", 0.0, MAX_WINDOW_SECS), 0.0),
        "path": (_text("path"), None),
        "host": (_text("host"), None),
    }),
    "overview": KindSpec("The header numbers over a window.", {"window": (_window, "1m")}),
    "drill": KindSpec("One path in detail.", {
        "path": (_text("path"), None),
        "window": (_window, "5m"),
        "limit": _LIMIT,
    }, required=("path",)),
    "hosts": KindSpec("Source hosts: requests, rate, last seen, silent.",
                      {"window": (_window, "5m")}),
    "alerts": KindSpec("Firing alerts and the history of changes.", {}),
    "clear_alert": KindSpec("Clear alerts by hand: one path's, or all.", {
        "path": (_text("path"), None),
        "all": (_as_bool("all"), False),
    }),
    "reset": KindSpec("Start the running summary over.", {}),
    "status": KindSpec("The actor's status.", {}),
}


def validate(kind: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``params`` of ``kind`` checked and converted, defaults filled in.

    Raises ValueError naming the kind or parameter and the reason: unknown kind, unknown
    parameter, wrong type or value, missing required parameter.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown query kind {kind!r} (known: {', '.join(KINDS)})")
    params = dict(params or {})
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise ValueError(f"{kind}: unknown parameter(s) {', '.join(unknown)} "
                         f"(known: {', '.join(spec.params) or 'none'})")
    out: dict[str, Any] = {}
    for name, (convert, default) in spec.params.items():
        if name in params and params[name] is not None:
            out[name] = convert(params[name])
        elif name in spec.required:
            raise ValueError(f"{kind}: parameter {name!r} is required")
        elif default is not None:
            out[name] = convert(default)
        else:
            out[name] = None
    if kind == "clear_alert" and not out["all"] and out["path"] is None:
        raise ValueError("clear_alert: give path=... or all=true")
    if kind == "series" and out["step_secs"]:
        length = window_secs(out["window"])
        if length is not None and length / out["step_secs"] > MAX_POINTS:
            raise ValueError(f"series: step_secs {out['step_secs']:g} gives more than "
                             f"{MAX_POINTS} points over {out['window']}")
    return out


# -- shared helpers ----------------------------------------------------------------------------
def status_class(code: int) -> str:
    """``"2xx"`` for 200..299 and so on; ``"other"`` for codes outside 100..599 (0 = none)."""
    return f"{code // 100}xx" if 100 <= code < 600 else "other"


def classes_of(codes: Mapping[int, int] | Iterable[tuple[int, int]]) -> dict[str, int]:
    """Status-code counts folded into status-class counts (every class present, maybe 0)."""
    out = dict.fromkeys(STATUS_CLASSES, 0)
    items = codes.items() if isinstance(codes, Mapping) else codes
    for code, count in items:
        cls = status_class(int(code))
        out[cls] = out.get(cls, 0) + count
    return out


def sort_key(sort: str) -> Callable[[Mapping[str, Any]], Any]:
    """Key function ordering top rows by ``sort`` descending (use with ``reverse=True``);
    rows without a value (``p95`` None) come last; ties broken by hits."""
    if sort in STATUS_CLASSES:
        return lambda row: (row["status"].get(sort, 0), row["hits"])
    if sort == "p95":
        return lambda row: (row["p95"] is not None, row["p95"] or 0.0, row["hits"])
    return lambda row: (row[sort], row["hits"])
