"""The collectors' query API answered from the cluster, with aggregations.

Each query kind is one ``_search`` with ``size: 0`` (no documents, only aggregations) over a
time range, built by a ``*_body`` function and read back by the matching ``*_answer``
function into the shape :mod:`omphalos.query` documents. Time ranges: the query's ``window``
ending at ``until`` (epoch seconds, default now), or ``since``..``until`` for ``all``, so a
console or page can look at days of history. Durations are stored in nanoseconds (ECS
``event.duration``) and answered in seconds.

Differences from the in-memory collectors: ``filter`` on a top list is applied to the
``FILTER_FETCH`` most frequent keys of the range; ``lines`` equals ``requests`` and
``unparsed`` is 0 (unparsed lines are not stored in the cluster); rows carry bytes for every
dimension (the in-memory ones count them for some only); ``error_bound`` is the engine's
``doc_count_error_upper_bound`` (each shard returns at least ``SHARD_SIZE_MIN`` terms, so it
is 0 unless a shard holds more distinct keys than that).
"""

from __future__ import annotations

import math
from typing import Any

from omphalos.derived import STATIC_EXTENSIONS
from omphalos.query import STATUS_CLASSES, compile_filter, sort_key, window_label

from .derived_fields import DAY, EXTENSION, STORED, VISITOR

__all__ = ["FIELDS", "TIME", "TimeRange", "range_body", "summary_body", "summary_answer",
           "top_body", "top_answer", "series_body", "series_answer", "overview_body",
           "overview_answer", "hosts_body", "hosts_answer", "drill_body", "drill_answer"]

TIME = "@timestamp"
STATUS = "http.response.status_code"
BYTES = "http.response.body.bytes"
DURATION = "event.duration"
PATH = "url.path"
#: Query dimension -> the keyword field it aggregates on.
FIELDS: dict[str, str] = {
    "path": PATH,
    "client": "source.address",
    "host": "host.name",
    "status": STATUS,
    "agent": "user_agent.original",
    "referer": "http.request.referrer",
    "method": "http.request.method",
    # the derived dimensions, stored at index time (.derived_fields)
    **STORED,
    "remote_user": "user.name",
    "visitors": DAY,
    "not_found": PATH,  # of the documents answered 404
    "static": PATH,  # of the documents whose url.extension is static
}
#: ``precision_threshold`` of the visitors' ``cardinality``: the engines' largest, below
#: which counts are close to exact (HyperLogLog++ above it).
VISITORS_PRECISION = 40_000
#: Keys fetched before a ``filter`` regex is applied to a top list.
FILTER_FETCH = 2000
#: Points a series over ``all`` has when no step is given.
AUTO_POINTS = 60


class TimeRange:
    """``[lo, hi)`` in epoch seconds; either end None for open."""

    def __init__(self, lo: float | None, hi: float | None, window: float | None) -> None:
        self.lo, self.hi, self.window = lo, hi, window

    @classmethod
    def of(cls, window: float | None, since: float | None, until: float | None,
           now: float) -> TimeRange:
        if window is not None:
            hi = until if until is not None else now
            return cls(hi - window, hi, window)
        return cls(since, until, None)

    def query(self, path: str | None = None, host: str | None = None,
              more: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The range, and the documents of one ``path``, of one source ``host``, and those
        ``more`` filters select."""
        bounds: dict[str, Any] = {"format": "epoch_millis"}
        if self.lo is not None:
            bounds["gte"] = int(self.lo * 1000)
        if self.hi is not None:
            bounds["lt"] = int(self.hi * 1000)
        filters: list[dict[str, Any]] = []
        if len(bounds) > 1:
            filters.append({"range": {TIME: bounds}})
        if path is not None:
            filters.append({"term": {PATH: path}})
        if host is not None:
            filters.append({"term": {"host.name": host}})
        filters += more or []
        return {"bool": {"filter": filters}}

    @property
    def label(self) -> str:
        return window_label(self.window)


def _classes() -> dict[str, Any]:
    """One single-bucket filter per status class (orderable: ``{"s5xx": "desc"}``)."""
    return {f"s{c}": {"filter": {"range": {STATUS: {"gte": int(c[0]) * 100,
                                                    "lt": int(c[0]) * 100 + 100}}}}
            for c in STATUS_CLASSES}


def _percentiles(*percents: float) -> dict[str, Any]:
    return {"percentiles": {"field": DURATION, "percents": list(percents)}}


def _secs(value: Any) -> float | None:
    return None if value is None else float(value) / 1e9


def _pct(agg: dict[str, Any] | None, p: float) -> float | None:
    if not agg:
        return None
    values = agg.get("values") or {}
    for key in (f"{p:.1f}", str(p), f"{p:g}"):
        if key in values:
            return _secs(values[key])
    return None


def _status_of(bucket: dict[str, Any]) -> dict[str, int]:
    return {c: int(bucket.get(f"s{c}", {}).get("doc_count", 0)) for c in STATUS_CLASSES}


def _total(response: dict[str, Any]) -> int:
    total = response.get("hits", {}).get("total", 0)
    return int(total["value"] if isinstance(total, dict) else total)


#: The key a record without the field is counted under, as the in-memory collectors show it.
MISSING = "-"


#: Terms each shard returns, at least (a daily index is one shard per day): the engine's
#: default (``1.5 * size + 10``) made top lists over a few days miss keys.
SHARD_SIZE_MIN = 1000
SHARD_SIZE_MAX = 10_000


#: Fields only some formats log: documents without them are not counted (no ``-`` bucket),
#: as the in-memory collectors leave such a dimension out for a format that lacks it.
FORMAT_FIELDS = frozenset({STORED["vhost"], STORED["tls"], STORED["mime"], STORED["cache"]})


def _terms(field: str, size: int, **extra: Any) -> dict[str, Any]:
    """A terms aggregation; on keyword fields, documents lacking the field (no referer, no
    agent) form the ``-`` bucket, as in the in-memory collectors' answers."""
    if field != STATUS and field not in FORMAT_FIELDS:
        extra = {"missing": MISSING, **extra}
    shard_size = min(max(size * 10, SHARD_SIZE_MIN), SHARD_SIZE_MAX)
    return {"terms": {"field": field, "size": size, "shard_size": max(shard_size, size),
                      **extra}}


def _error_bound(agg: dict[str, Any]) -> int:
    """How many hits a key of a terms aggregation may be missing (0: exact)."""
    return int(agg.get("doc_count_error_upper_bound") or 0)


# -- range: the first and last record time ------------------------------------------------------
def range_body(span: TimeRange, path: str | None = None,
               host: str | None = None) -> dict[str, Any]:
    return {"size": 0, "track_total_hits": True, "query": span.query(path, host),
            "aggs": {"first": {"min": {"field": TIME}}, "last": {"max": {"field": TIME}}}}


def range_answer(response: dict[str, Any]) -> tuple[float | None, float | None]:
    aggs = response.get("aggregations", {})
    lo, hi = aggs.get("first", {}).get("value"), aggs.get("last", {}).get("value")
    return (None if lo is None else lo / 1000.0, None if hi is None else hi / 1000.0)


def _rate(hits: int, span: TimeRange, first: float | None, last: float | None) -> float:
    """Hits per second of the window (or of the records' span), rounded to 3 decimals as
    the in-memory collectors answer it."""
    secs = span.window or ((last - first) if first is not None and last is not None else 0.0)
    return round(hits / secs, 3) if secs and secs > 0 else float(hits)


# -- summary -----------------------------------------------------------------------------------
def _row_aggs() -> dict[str, Any]:
    """What one top-list row needs below its terms bucket: bytes, p95, the status classes."""
    return {"bytes": {"sum": {"field": BYTES}}, "dur": _percentiles(95), **_classes()}


#: The summary's top lists (answer key, dimension), rows of the same shape as ``top``'s.
_SUMMARY_TOPS = (("top_clients", "client"), ("top_hosts", "host"), ("top_agents", "agent"),
                 ("top_referers", "referer"))


def summary_body(span: TimeRange, limit: int) -> dict[str, Any]:
    return {"size": 0, "track_total_hits": True, "query": span.query(), "aggs": {
        "bytes": {"sum": {"field": BYTES}},
        "status": _terms(STATUS, 1000),
        "paths": {**_terms(PATH, limit), "aggs": _row_aggs()},
        "hosts": _terms("host.name", 1000),
        "methods": _terms("http.request.method", 50),
        **{key: {**_terms(FIELDS[dim], limit), "aggs": _row_aggs()}
           for key, dim in _SUMMARY_TOPS},
        "duration": _percentiles(50, 95, 99),
        "duration_mean": {"avg": {"field": DURATION}},
        "first": {"min": {"field": TIME}},
        "last": {"max": {"field": TIME}},
    }}


def summary_answer(response: dict[str, Any], span: TimeRange) -> dict[str, Any]:
    """The ``summary`` shape of the in-memory collector (top lists as ``top`` rows)."""
    aggs = response.get("aggregations", {})
    requests = _total(response)
    status = {str(b["key"]): int(b["doc_count"]) for b in aggs["status"]["buckets"]}
    classes: dict[str, int] = {}
    for code, count in status.items():
        classes[f"{int(code) // 100}xx"] = classes.get(f"{int(code) // 100}xx", 0) + count
    first, last = range_answer(response)
    mean = aggs.get("duration_mean", {}).get("value")
    size = int(aggs["bytes"]["value"] or 0)
    rate_of = (lambda h: _rate(h, span, first, last))  # noqa: E731
    paths = _rows(aggs["paths"]["buckets"], rate_of)
    answer = {
        "requests": requests,
        "lines": requests,
        "unparsed": 0,
        "unparsed_reasons": {},
        "bytes": size,
        "status": dict(sorted(status.items())),
        "status_class": dict(sorted(classes.items())),
        "top_paths": [{"path": r["key"], "hits": r["hits"], "bytes": r["bytes"]}
                      for r in paths],
        "paths": paths,
        "hosts": {str(b["key"]): int(b["doc_count"]) for b in aggs["hosts"]["buckets"]},
        "methods": {str(b["key"]): int(b["doc_count"]) for b in aggs["methods"]["buckets"]},
        "duration": {"p50": _pct(aggs.get("duration"), 50), "p95": _pct(aggs.get("duration"), 95),
                     "p99": _pct(aggs.get("duration"), 99), "mean": _secs(mean)},
        "first_time": first,
        "last_time": last,
        "since": first,
        "rate": _rate(requests, span, first, last),
        "bytes_rate": _rate(size, span, first, last),
        "window": span.label,
        "bad_lines": [],
        "error_bounds": {"path": _error_bound(aggs["paths"]),
                         **{dim: _error_bound(aggs[key]) for key, dim in _SUMMARY_TOPS}},
        "source": "elasticsearch",
    }
    for key, _dim in _SUMMARY_TOPS:
        answer[key] = _rows(aggs[key]["buckets"], rate_of)
    return answer


# -- top lists ---------------------------------------------------------------------------------
#: Each sort's bucket order; ties are broken by hits, as the in-memory collectors do (so
#: the keys kept at the cut are the same).
_ORDER: dict[str, Any] = {
    "hits": {"_count": "desc"}, "rate": {"_count": "desc"},
    **{sort: [{path: "desc"}, {"_count": "desc"}] for sort, path in (
        ("bytes", "bytes"), ("errors", "s5xx"), ("p95", "dur.95"),
        *((c, f"s{c}") for c in STATUS_CLASSES))}}


def dimension_filter(dimension: str, static_extensions: tuple[str, ...] = STATIC_EXTENSIONS
                     ) -> list[dict[str, Any]]:
    """The documents a filtered dimension counts: answered 404 (``not_found``), of a static
    extension (``static``: the extensions without their dot); none for the others."""
    if dimension == "not_found":
        return [{"term": {STATUS: 404}}]
    if dimension == "static":
        return [{"terms": {EXTENSION: sorted({e.lstrip(".").lower()
                                              for e in static_extensions})}}]
    return []


def top_body(span: TimeRange, dimension: str, sort: str, limit: int,
             pattern: str | None, host: str | None = None,
             static_extensions: tuple[str, ...] = STATIC_EXTENSIONS) -> dict[str, Any]:
    size = max(limit, FILTER_FETCH) if pattern else limit
    row: dict[str, Any] = {"bytes": {"sum": {"field": BYTES}}, "dur": _percentiles(95),
                           "dstats": {"stats": {"field": DURATION}}, **_classes()}
    if dimension == "visitors":
        row["visitors"] = {"cardinality": {"field": VISITOR,
                                           "precision_threshold": VISITORS_PRECISION}}
    query = span.query(host=host, more=dimension_filter(dimension, static_extensions))
    return {"size": 0, "track_total_hits": True, "query": query, "aggs": {
        "first": {"min": {"field": TIME}}, "last": {"max": {"field": TIME}},
        "top": {**_terms(FIELDS[dimension], size, order=_ORDER[sort]), "aggs": row}}}


def _rows(buckets: list[dict[str, Any]], rate_of: Any) -> list[dict[str, Any]]:
    rows = []
    for b in buckets:
        status = _status_of(b)
        hits = int(b["doc_count"])
        rows.append({"key": str(b["key"]), "hits": hits, "rate": rate_of(hits),
                     "bytes": int(b.get("bytes", {}).get("value") or 0),
                     "errors": status["5xx"], "status": status,
                     "p95": _pct(b.get("dur"), 95),
                     **{k: _secs((b.get("dstats") or {}).get(k)) for k in ("min", "avg", "max")}})
        if "visitors" in b:
            rows[-1]["visitors"] = int(b["visitors"].get("value") or 0)
    return rows


def top_answer(response: dict[str, Any], span: TimeRange, dimension: str, sort: str,
               limit: int, pattern: str | None, host: str | None = None) -> dict[str, Any]:
    aggs = response.get("aggregations", {})
    first, last = range_answer(response)
    rows = _rows(aggs["top"]["buckets"], lambda h: _rate(h, span, first, last))
    regex = compile_filter(pattern)
    if regex is not None:
        rows = [r for r in rows if regex.search(r["key"])]
    rows.sort(key=sort_key(sort), reverse=True)
    return {"dimension": dimension, "window": span.label, "sort": sort, "rows": rows[:limit],
            "error_bound": _error_bound(aggs["top"]), "host": host}


# -- series ------------------------------------------------------------------------------------
def auto_step(lo: float, hi: float, step: float) -> float:
    """``step`` when given, else about AUTO_POINTS steps over ``[lo, hi]`` (whole seconds)."""
    if step > 0:
        return step
    return float(max(1, math.ceil((hi - lo) / AUTO_POINTS)))


def _histogram(lo: float, hi: float, step: float, sub: dict[str, Any]) -> dict[str, Any]:
    start = math.floor(lo / step) * step
    return {"date_histogram": {
        "field": TIME, "fixed_interval": f"{round(step * 1000)}ms", "min_doc_count": 0,
        "extended_bounds": {"min": int(start * 1000), "max": int(max(start, hi - 1e-3) * 1000)}},
        "aggs": sub}


def series_body(span: TimeRange, lo: float, hi: float, step: float,
                path: str | None, host: str | None = None) -> dict[str, Any]:
    return {"size": 0, "query": span.query(path, host), "aggs": {"series": _histogram(
        lo, hi, step, {"bytes": {"sum": {"field": BYTES}}, "dur": _percentiles(50, 95, 99),
                       **_classes()})}}


def _points(agg: dict[str, Any]) -> list[dict[str, Any]]:
    points = []
    for b in agg.get("buckets", []):
        point: dict[str, Any] = {"t": b["key"] / 1000.0, "requests": int(b["doc_count"]),
                                 "bytes": int(b.get("bytes", {}).get("value") or 0)}
        point.update(_status_of(b))
        for p in (50, 95, 99):
            point[f"p{p}"] = _pct(b.get("dur"), p)
        points.append(point)
    return points


def series_answer(response: dict[str, Any], span: TimeRange, step: float,
                  path: str | None, host: str | None = None) -> dict[str, Any]:
    out = {"window": span.label, "step": step, "path": path,
           "points": _points(response.get("aggregations", {}).get("series", {}))}
    if host is not None:
        out["host"] = host
    return out


# -- overview ----------------------------------------------------------------------------------
def overview_body(span: TimeRange, lo: float, hi: float, step: float) -> dict[str, Any]:
    return {"size": 0, "track_total_hits": True, "query": span.query(), "aggs": {
        "bytes": {"sum": {"field": BYTES}}, "hosts": {"cardinality": {"field": "host.name"}},
        "dur": _percentiles(50, 95, 99), **_classes(),
        "series": _histogram(lo, hi, step, {})}}


def overview_answer(response: dict[str, Any], span: TimeRange, lo: float, hi: float,
                    step: float) -> dict[str, Any]:
    aggs = response.get("aggregations", {})
    requests = _total(response)
    size = int(aggs["bytes"]["value"] or 0)
    secs = max(hi - lo, step)
    counts = [int(b["doc_count"]) for b in aggs["series"]["buckets"]]
    return {"window": span.label, "rate": (counts[-1] / step) if counts else 0.0,
            "requests": requests, "bytes": size, "bytes_rate": size / secs,
            "status_class": _status_of(aggs), "hosts": int(aggs["hosts"]["value"] or 0),
            "sparkline": [c / step for c in counts],
            "p50": _pct(aggs.get("dur"), 50), "p95": _pct(aggs.get("dur"), 95),
            "p99": _pct(aggs.get("dur"), 99), "late": 0, "unparsed": 0}


# -- hosts -------------------------------------------------------------------------------------
def hosts_body(span: TimeRange) -> dict[str, Any]:
    return {"size": 0, "query": span.query(), "aggs": {
        "first": {"min": {"field": TIME}}, "last": {"max": {"field": TIME}},
        "hosts": {**_terms("host.name", 10000), "aggs": {"seen": {"max": {"field": TIME}}}}}}


def hosts_answer(response: dict[str, Any], span: TimeRange, silent_secs: float
                 ) -> dict[str, Any]:
    aggs = response.get("aggregations", {})
    first, last = range_answer(response)
    end = span.hi if span.hi is not None else last
    rows = []
    for b in aggs["hosts"]["buckets"]:
        seen = b["seen"]["value"]
        seen = None if seen is None else seen / 1000.0
        hits = int(b["doc_count"])
        rows.append({"host": str(b["key"]), "requests": hits,
                     "rate": _rate(hits, span, first, last), "last_seen": seen,
                     "silent": seen is None or (end is not None and end - seen > silent_secs)})
    return {"window": span.label, "rows": rows}


# -- drill -------------------------------------------------------------------------------------
def drill_body(span: TimeRange, path: str, limit: int, lo: float, hi: float,
               step: float) -> dict[str, Any]:
    return {"size": 0, "track_total_hits": True, "query": span.query(path), "aggs": {
        "first": {"min": {"field": TIME}}, "last": {"max": {"field": TIME}},
        "status": _terms(STATUS, 1000),
        "clients": {**_terms(FIELDS["client"], limit), "aggs": {
            "bytes": {"sum": {"field": BYTES}}, "dur": _percentiles(95), **_classes()}},
        "series": _histogram(lo, hi, step, {
            "bytes": {"sum": {"field": BYTES}}, "dur": _percentiles(50, 95, 99), **_classes()})}}


def drill_answer(response: dict[str, Any], span: TimeRange, path: str) -> dict[str, Any]:
    aggs = response.get("aggregations", {})
    first, last = range_answer(response)
    return {"path": path, "window": span.label, "requests": _total(response),
            "status": {str(b["key"]): int(b["doc_count"]) for b in aggs["status"]["buckets"]},
            "clients": _rows(aggs["clients"]["buckets"], lambda h: _rate(h, span, first, last)),
            "series": _points(aggs["series"])}
