"""``window``: sliding windows over event time, alerts, and per-minute history in SQLite.

Each window (``windows = 1m/1s, 5m/5s, 1h/1m``: LENGTH/STEP) is a ring of buckets of STEP
seconds of **event time** (the records' ``time``, not when they arrived). Every bucket holds
the same breakdowns as the summary (totals, status codes, durations sketch, and a
Space-Saving table of ``capacity`` keys per dimension), so memory is bounded by
``buckets x dimensions x 2 x capacity`` whatever the traffic.

The window's head is the newest event time seen (``clock = event``), the wall clock
(``clock = wall``), or, by default (``auto``), the wall clock while the newest event is
within ``live_lag_secs`` of it (live tailing: windows decay when traffic stops) and the
newest event time otherwise (replaying old logs). Lines that arrive late or out of order go
into the bucket of their own timestamp while it is inside the window; older ones are only
counted, as ``late``.

A batch is grouped by event second with ``itertools.groupby`` over the time column, each run
aggregated column-wise once (:mod:`.aggregate`), its keys made the shared objects of
:class:`~omphalos.lib.collectors.aggregate.SharedKeys`, and the aggregate added in one
pass (:func:`~omphalos.lib.collectors.aggregate.add_to_all`) to the bucket of every window
that contains it and to their part of the batch's host. Queries merge the buckets of one
window (at most a few dozen tables of ``capacity`` keys): no raw data is kept or scanned.

Alerts (:mod:`.alerts`) are evaluated here, over these windows, every tick and before an
``alerts`` query. History (:mod:`.history`): every minute of event time is rolled up into
SQLite; a restarted collector loads the newest minutes back into its windows, and
``series`` queries longer than the longest window read the minutes from SQLite.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.derived import STATIC_EXTENSIONS, prepare
from omphalos.lib.collectors.aggregate import (
    BYTE_DIMENSIONS,
    COMPOSITES,
    Breakdown,
    SharedKeys,
    add_to_all,
    aggregate,
    merged_top,
)
from omphalos.lib.collectors.alerts import AlertState, Condition, beyond, resolve_level
from omphalos.lib.collectors.history import History, restore, rollup
from omphalos.lib.collectors.interleave import InterleavedCollector
from omphalos.lib.collectors.sketch import quantiles_of
from omphalos.lib.geoip import check_database
from omphalos.lib.hll import union_estimate
from omphalos.messages import Batch, Query
from omphalos.query import (
    DEFAULT_DIMENSIONS,
    DIMENSIONS,
    KINDS,
    classes_of,
    compile_filter,
    validate,
    window_label,
    window_secs,
)
from omphalos.records import Columns
from omphalos.state import DurableConfig, object_state, restore_object

__all__ = ["WindowConfig", "WindowCollector", "WindowStore", "Ring", "parse_windows"]

CLOCKS = ("auto", "event", "wall")


@dataclass(frozen=True)
class WindowConfig(DurableConfig):
    """Options of the window collector (windows, memory, clock, history, alert rules, and
    those of a durable state)."""

    windows: tuple[str, ...] = option(["1m/1s", "5m/5s", "1h/1m"],
                                      "Windows kept, each LENGTH/STEP (30s, 5m, 1h...): "
                                      "LENGTH of event time in buckets of STEP; every STEP "
                                      "must be a multiple of the smallest one.")
    capacity: int = option(100, "Keys per dimension each bucket keeps (Space-Saving).")
    dimensions: tuple[str, ...] = option(list(DEFAULT_DIMENSIONS), "Dimensions counted (the "
                                         "summary's list; default: all but country).")
    max_hosts: int = option(16, "Source hosts whose counts each bucket also keeps apart "
                                "(top and series of one web server: the query's host); "
                                "0: none.")
    static_extensions: tuple[str, ...] = option(list(STATIC_EXTENSIONS),
                                                "File extensions the static dimension "
                                                "counts. Default: GoAccess's list.")
    geoip_database: str = option("", "MaxMind DB file (.mmdb: GeoLite2-Country, DB-IP's "
                                     "IP to Country Lite...) the country dimension reads; "
                                     "needs the maxminddb package. Empty: the registries' "
                                     "data the iptocc package ships.")

    drill: bool = option(True, "Also count (path, status) and (path, client) pairs, for "
                               "drill queries.")
    clock: str = option("auto", "Window head: event (newest event time), wall (wall clock) "
                                "or auto (wall clock while events are live, else event).")
    live_lag_secs: float = option(300.0, "auto clock: events newer than this (seconds "
                                         "behind the wall clock) count as live.")
    history: bool = option(True, "Keep per-minute rollups in SQLite (answers after a "
                                 "restart, series longer than the windows).")
    history_path: str = option("", "SQLite file of the rollups; empty: "
                                   "STATE_DIR/history-NAME.sqlite.")
    retention_secs: float = option(86400.0, "Seconds of rollups kept in SQLite.")
    history_top: int = option(100, "Top rows per dimension kept in each minute's rollup.")
    history_flush_secs: float = option(5.0, "Seconds between writes of changed minutes.")
    alert_window: str = option("1m", "Window the alert rules look at.")
    baseline_window: str = option("1h", "Window giving the baseline request rate.")
    min_requests: int = option(20, "Requests needed in the alert window before the "
                                   "error-rate and duration rules judge.")
    error_rate_pct: float = option(5.0, "Site-wide 5xx share (%) that fires; 0: off.")
    path_error_rate_pct: float = option(20.0, "5xx share (%) of one path that fires; 0: off.")
    spike_factor: float = option(3.0, "Fire when the rate exceeds this many times the "
                                      "baseline rate; 0: off.")
    drop_ratio: float = option(0.2, "Fire when the rate falls below this fraction of the "
                                    "baseline rate (traffic drop); 0: off.")
    min_baseline_rate: float = option(0.5, "Baseline requests/s below which the spike and "
                                           "drop rules stay quiet.")
    p95_threshold_secs: float = option(0.0, "Fire when p95 duration exceeds this; 0: off.")
    silent_host_secs: float = option(300.0, "Fire when a source host sent nothing for this "
                                            "long; 0: off.")
    alert_history: int = option(200, "Alert changes kept in the history.")
    resolve_ratio: float = option(0.8, "Hysteresis: a firing alert resolves only once its "
                                       "value is back past this fraction of its threshold "
                                       "(4% for a 5% error rate; for the drop rule, the "
                                       "threshold divided by it); 1: no hysteresis.")
    fire_after_secs: float = option(0.0, "A condition must hold this long before it fires "
                                         "(0: at once).")
    resolve_after_secs: float = option(30.0, "A firing alert's value must stay past its "
                                             "resolve level this long before it resolves.")

    def validate(self) -> None:
        """The durable-state checks, and a readable ``geoip_database``."""
        super().validate()
        check_database(self.geoip_database)


def parse_windows(specs: Iterable[str]) -> list[tuple[float, float]]:
    """``["5m/5s"]`` -> ``[(300.0, 5.0)]``; ValueError for a bad or inconsistent spec."""
    out = []
    for spec in specs:
        length_text, sep, step_text = spec.partition("/")
        length = window_secs(length_text)
        step = window_secs(step_text) if sep else 1.0
        if length is None or step is None:
            raise ValueError(f"window {spec!r}: 'all' is not a sliding window")
        if step > length or abs(length / step - round(length / step)) > 1e-9:
            raise ValueError(f"window {spec!r}: the length must be a multiple of the step")
        out.append((length, step))
    if not out:
        raise ValueError("at least one window is needed")
    fine = min(step for _, step in out)
    for length, step in out:
        if abs(step / fine - round(step / fine)) > 1e-9:
            raise ValueError(f"window {window_label(length)}/{window_label(step)}: step "
                             f"must be a multiple of the smallest step {window_label(fine)}")
    return out


class Ring:
    """The buckets of one window: ``{bucket index: Breakdown}``, index = time // step."""

    def __init__(self, length: float, step: float, make: Callable[[], Breakdown]) -> None:
        self.length, self.step = length, step
        self.n = round(length / step)
        self.make = make
        self.buckets: dict[int, Breakdown] = {}
        self.late = 0
        self.first: float | None = None
        self.dirty: set[int] = set()  # minutes whose rollup the history has not written
        self.changed: set[int] = set()  # buckets the durable state has not saved
        self.removed: set[int] = set()  # saved buckets dropped since the last save
        self.stored: set[int] = set()  # buckets the state file holds

    @property
    def label(self) -> str:
        return window_label(self.length)

    def index(self, t: float) -> int:
        return math.floor(t / self.step)

    def lowest(self, head: float) -> int:
        """The oldest bucket index inside the window ending at ``head``."""
        return self.index(head) - self.n + 1

    def add(self, t: float, agg: Any, count: int, head: float, host: str | None = None
            ) -> bool:
        """Add ``agg`` (events at time ``t``, of source ``host``) unless it is older than
        the window."""
        if not self.live(t, count, head):
            return False
        add_to_all(self.targets(t, host), agg)
        return True

    def live(self, t: float, count: int, head: float) -> bool:
        """Whether time ``t`` is inside the window ending at ``head``; when not, its
        ``count`` events are counted as late."""
        if self.index(t) < self.lowest(head):
            self.late += count
            return False
        return True

    def targets(self, t: float, host: str | None = None) -> list[Breakdown]:
        """The breakdowns events at time ``t`` (inside the window) of source ``host`` go
        into: their bucket (made when new) and, when hosts are kept apart, its part of
        ``host`` (split out of the bucket first when a second host arrives). Call it just
        before the events are added (a split copies the bucket as it is)."""
        idx = self.index(t)
        bucket = self.buckets.get(idx)
        if bucket is None:
            self.buckets[idx] = bucket = self.make()
        self.dirty.add(idx)
        self.changed.add(idx)
        if self.first is None or t < self.first:
            self.first = t
        per_host = bucket.per_host
        if per_host is None:
            return [bucket]
        if host is None:  # lines of no known host: the sole host's part is no longer whole
            per_host.split(bucket)
            return [bucket]
        part = per_host.target(host, bucket)
        return [bucket] if part is None else [bucket, part]

    def expire(self, head: float, keep_dirty: bool = False) -> None:
        """Drop buckets older than the window (but, with ``keep_dirty``, not those whose
        rollup is still to be written to the history)."""
        lo = self.lowest(head)
        for idx in [i for i in self.buckets if i < lo]:
            if keep_dirty and idx in self.dirty:
                continue
            del self.buckets[idx]
            self.dirty.discard(idx)
            self.changed.discard(idx)
            if idx in self.stored:  # one made and dropped between two saves: nothing to do
                self.stored.discard(idx)
                self.removed.add(idx)

    #: Ring attributes that come from the config or are bookkeeping of the saves.
    NOT_STATE = ("length", "step", "n", "make", "buckets", "changed", "removed", "stored")

    def state_parts(self, name: str, full: bool, head: float, keep_dirty: bool = False
                    ) -> tuple[dict[str, Any], list[str]]:
        """``bucket/NAME/INDEX`` parts of the buckets changed (all with ``full``), and the
        names of those dropped since the last save (``NAME``: the ring's key). Buckets
        already older than the window ending at ``head`` are not saved (the next expiry
        drops them), unless, with ``keep_dirty`` (the minute ring of a collector with a
        history), the history has still to write them. (An old log replayed at full speed
        makes and leaves hundreds of one-second buckets between two saves: only the
        window's are written.)"""
        prefix = f"bucket/{name}"
        lo = self.lowest(head)
        changed = self.buckets if full else self.changed
        dirty = self.dirty if keep_dirty else ()
        saved = [i for i in changed if i in self.buckets and (i >= lo or i in dirty)]
        parts = {f"{prefix}/{i}": self.buckets[i].to_state() for i in saved}
        dropped = [f"{prefix}/{i}" for i in self.removed]
        if full:
            self.stored = set(saved)
        else:
            self.stored.update(saved)
        self.changed = set()
        self.removed = set()
        return parts, dropped

    def window(self, head: float) -> list[tuple[int, Breakdown]]:
        """Buckets inside the window ending at ``head``, oldest first."""
        lo, hi = self.lowest(head), self.index(head)
        return sorted((i, b) for i, b in self.buckets.items() if lo <= i <= hi)

    def span(self, head: float) -> float:
        """Seconds of the window that hold data (short while the collector warms up)."""
        if self.first is None:
            return self.step
        start = max(self.first, (self.lowest(head)) * self.step)
        return max(self.step, min(self.length, head - start))


class WindowStore:
    """The windows and everything asked of them (no actor: tests drive it directly)."""

    def __init__(self, config: WindowConfig, clock: Callable[[], float] = time.time) -> None:
        if config.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {config.clock!r}")
        unknown = set(config.dimensions) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"unknown dimension(s) {', '.join(sorted(unknown))}")
        self.config = config
        self.clock = clock
        self.dimensions = tuple(config.dimensions) + (tuple(COMPOSITES) if config.drill
                                                       else ())
        self.byte_dimensions = BYTE_DIMENSIONS
        self.rings: dict[str, Ring] = {}
        for length, step in parse_windows(config.windows):
            self.rings[window_label(length)] = Ring(length, step, self._make)
        if not any(r.step == 60 for r in self.rings.values()):
            # the minute rollups of the history come from a ring of one-minute buckets
            self.rings["_minutes"] = Ring(600.0, 60.0, self._make)
        self.fine = min(r.step for r in self.rings.values())
        self.shared = SharedKeys()
        self.newest: float | None = None
        self.host_last: dict[str, float] = {}
        self.unparsed = 0
        self.lines = 0
        for name in (config.alert_window, config.baseline_window):
            self.ring(window_label(window_secs(name)))

    def _make(self) -> Breakdown:
        return Breakdown(self.config.capacity, self.dimensions, self.byte_dimensions, slack=2,
                         max_hosts=self.config.max_hosts)

    def _of_host(self, buckets: list[Breakdown], host: str | None) -> list[Breakdown]:
        """``buckets``, or their parts of source ``host`` (ValueError when hosts are not
        kept apart)."""
        if host is None:
            return buckets
        if not self.config.max_hosts:
            raise ValueError("this collector does not keep source hosts apart "
                             "(max_hosts = 0)")
        out = []
        for b in buckets:
            if b.per_host is not None:
                part = b.per_host.parts(b).get(host)
                if part is not None:
                    out.append(part)
        return out

    # -- time ---------------------------------------------------------------------------
    def head(self) -> float:
        """The end of every window now (see the module doc for the clock modes)."""
        wall = self.clock()
        mode = self.config.clock
        if mode == "wall" or self.newest is None:
            return wall if mode != "event" or self.newest is None else self.newest
        if mode == "event" or wall - self.newest > self.config.live_lag_secs:
            return self.newest
        return max(self.newest, wall)

    def ring(self, label: str) -> Ring:
        ring = self.rings.get(label)
        if ring is None or label.startswith("_"):
            served = ", ".join(k for k in self.rings if not k.startswith("_"))
            raise ValueError(f"window {label!r} is not kept here (windows: {served})")
        return ring

    @property
    def minute_ring(self) -> Ring:
        return next(r for r in self.rings.values() if r.step == 60)

    # -- adding -------------------------------------------------------------------------
    def add(self, cols: Columns, host: str, lines: int = 0, unparsed: int = 0) -> None:
        """Add a batch's records (grouped by event time) to every window."""
        self.lines += lines
        self.unparsed += unparsed
        n = len(cols)
        if not n:
            return
        times = cols.time
        newest = max(times)
        if self.newest is None or newest > self.newest:
            self.newest = newest
        if newest > self.host_last.get(host, -math.inf):
            self.host_last[host] = newest
        head = self.head()
        fine = self.fine
        keys = list(map(int, times)) if fine == 1 else [math.floor(t / fine) for t in times]
        start = 0
        runs = [(k, len(list(g))) for k, g in groupby(keys)]
        rings = list(self.rings.values())
        for key, length in runs:
            stop = start + length
            t = key * fine
            part = cols if length == n else cols.slice(start, stop)
            start = stop
            live = [r for r in rings if r.live(t, length, head)]
            if not live:
                continue
            agg = aggregate(part, host, self.dimensions, self.byte_dimensions,
                            static_extensions=self.config.static_extensions,
                            geoip_database=self.config.geoip_database)
            self.shared.share(agg)
            # every window's bucket (and host part) of this second, counted in one go
            add_to_all([b for r in live for b in r.targets(t, host)], agg)

    def expire(self) -> None:
        head = self.head()
        minutes = self.minute_ring
        for r in self.rings.values():
            r.expire(head, keep_dirty=self.config.history and r is minutes)

    # -- queries ------------------------------------------------------------------------
    def _tables(self, ring: Ring, dim: str) -> list[Any]:
        return [b.tables[dim] for _, b in ring.window(self.head()) if dim in b.tables]

    def top(self, p: dict[str, Any]) -> dict[str, Any]:
        ring = self.ring(p["window"])
        dim = p["dimension"]
        if dim not in self.dimensions:
            raise ValueError(f"this collector does not count {dim!r}")
        buckets = self._of_host([b for _, b in ring.window(self.head())], p.get("host"))
        tables = [b.tables[dim] for b in buckets if dim in b.tables]
        uniques = [b.visitors for b in buckets] if dim == "visitors" else []
        rows = merged_top(tables, dim, p["limit"], p["sort"], compile_filter(p["filter"]),
                          ring.span(self.head()), dim in self.byte_dimensions,
                          uniques=uniques)
        return {"dimension": dim, "window": ring.label, "sort": p["sort"], "rows": rows,
                "error_bound": sum(t.floor for t in tables), "host": p.get("host")}

    def _point(self, t: float, buckets: list[Breakdown], path: str | None) -> dict[str, Any]:
        point: dict[str, Any] = {"t": t, "requests": 0, "bytes": 0}
        codes: Counter[int] = Counter()
        durations: Counter[int] = Counter()
        if path is None:
            for b in buckets:
                point["requests"] += b.requests
                point["bytes"] += b.bytes
                codes.update(b.status)
                durations.update(b.durations.counts)
            classes = classes_of(codes)
        else:
            classes = dict.fromkeys(("1xx", "2xx", "3xx", "4xx", "5xx"), 0)
            for b in buckets:
                table = b.tables.get("path")
                if table is None or path not in table.hits:
                    continue
                row = table.row(path)
                point["requests"] += row["hits"]
                point["bytes"] += row["bytes"]
                for c in classes:
                    classes[c] += row["status"].get(c, 0)
                durations.update(table.durations.get(path, {}))
        point.update({c: classes[c] for c in ("1xx", "2xx", "3xx", "4xx", "5xx")})
        point["p50"], point["p95"], point["p99"] = quantiles_of(durations, (0.5, 0.95, 0.99))
        return point

    def series(self, window: str, step_secs: float = 0.0, path: str | None = None,
               history: History | None = None, host: str | None = None) -> dict[str, Any]:
        length = window_secs(window)
        assert length is not None
        ring = self.rings.get(window)
        if ring is None and history is not None and length > max(
                r.length for r in self.rings.values()):
            if host is not None:
                raise ValueError("the per-minute history is of the whole fleet: a series "
                                 "of one host covers the windows kept only")
            return self._history_series(history, length, step_secs, path)
        ring = self.ring(window)
        head = self.head()
        # a step longer than the window is one point (and never a loop over its length)
        per = max(1, min(ring.n, round(step_secs / ring.step))) if step_secs else 1
        step = per * ring.step
        buckets = dict(ring.window(head))
        lo = ring.lowest(head)
        first = lo - (lo % per)
        points = []
        for slot in range(first, ring.index(head) + 1, per):
            members = [buckets[i] for i in range(slot, slot + per) if i in buckets]
            points.append(self._point(slot * ring.step, self._of_host(members, host), path))
        out = {"window": ring.label, "step": step, "path": path, "points": points}
        if host is not None:
            out["host"] = host
        return out

    def _history_series(self, history: History, length: float, step_secs: float,
                        path: str | None) -> dict[str, Any]:
        head = self.head()
        step = max(60.0, round(min(step_secs or 60.0, length) / 60.0) * 60.0)
        rows = history.load(head - length)
        groups: dict[float, list[Breakdown]] = {}
        for minute, data in rows:
            slot = math.floor(minute / step) * step
            groups.setdefault(slot, []).append(
                restore(data, self.config.capacity, self.dimensions, self.byte_dimensions))
        points = [self._point(slot, groups[slot], path) for slot in sorted(groups)]
        if path is None and "visitors" in self.dimensions:
            for point in points:  # the unique visitors of the point's minutes, per date
                members = [b.visitors for b in groups[point["t"]]]
                days = {day for u in members for day in u.sketches}
                point["visitors"] = sum(union_estimate(members, day) for day in days)
        return {"window": window_label(length), "step": step, "path": path, "points": points,
                "source": "history"}

    def overview(self, window: str) -> dict[str, Any]:
        ring = self.ring(window)
        head = self.head()
        buckets = ring.window(head)
        total = self._point(0.0, [b for _, b in buckets], None)
        hosts: set[Any] = set()
        for _, b in buckets:
            table = b.tables.get("host")
            if table is not None:
                hosts.update(table.hits)
        by_index = dict(buckets)
        hi = ring.index(head)
        spark = [round(by_index[i].requests / ring.step, 3) if i in by_index else 0.0
                 for i in range(ring.lowest(head), hi + 1)]
        # "now": the last complete buckets (about ten seconds), the head's one is partial
        recent = max(1, min(ring.n - 1, round(10.0 / ring.step))) if ring.n > 1 else 1
        done = [by_index[i] for i in range(hi - recent, hi) if i in by_index]
        if done and ring.n > 1:
            secs = recent * ring.step
            rate = sum(b.requests for b in done) / secs
            bytes_rate = sum(b.bytes for b in done) / secs
        else:
            span = ring.span(head)
            rate, bytes_rate = total["requests"] / span, total["bytes"] / span
        return {"window": ring.label, "rate": round(rate, 3), "requests": total["requests"],
                "bytes": total["bytes"], "bytes_rate": round(bytes_rate, 3),
                "status_class": {c: total[c] for c in ("1xx", "2xx", "3xx", "4xx", "5xx")},
                "hosts": len(hosts), "sparkline": spark, "p50": total["p50"],
                "p95": total["p95"], "p99": total["p99"], "late": ring.late,
                "unparsed": self.unparsed, "head": head}

    def drill(self, path: str, window: str, limit: int) -> dict[str, Any]:
        ring = self.ring(window)
        if "path_status" not in self.dimensions:
            raise ValueError("drill needs drill = yes in the window collector's config")
        codes: Counter[int] = Counter()
        for table in self._tables(ring, "path_status"):
            for key, hits in table.hits.items():
                if key[0] == path:
                    codes[key[1]] += hits
        clients = merged_top(self._tables(ring, "path_client"), "path_client", limit,
                             secs=ring.span(self.head()), with_bytes=False,
                             select=lambda k: bool(k[0] == path), label=lambda k: str(k[1]))
        series = self.series(ring.label, 0.0, path)["points"]
        return {"path": path, "window": ring.label, "requests": sum(codes.values()),
                "status": {str(k): v for k, v in sorted(codes.items())}, "clients": clients,
                "series": series}

    def hosts(self, window: str) -> dict[str, Any]:
        ring = self.ring(window)
        head = self.head()
        counts: Counter[Any] = Counter()
        for table in self._tables(ring, "host"):
            counts.update(table.hits)
        span = ring.span(head)
        silent_after = self.config.silent_host_secs
        rows = []
        for host in sorted(set(self.host_last) | set(counts)):
            last = self.host_last.get(host)
            rows.append({"host": host, "requests": counts.get(host, 0),
                         "rate": round(counts.get(host, 0) / span, 3), "last_seen": last,
                         "silent": bool(silent_after and last is not None
                                        and head - last > silent_after)})
        return {"window": ring.label, "rows": rows}

    # -- alert rules --------------------------------------------------------------------
    def conditions(self) -> list[Condition]:
        """The alert conditions that hold now."""
        c = self.config
        ratio = min(1.0, max(c.resolve_ratio, 1e-6))
        head = self.head()
        out: list[Condition] = []
        ring = self.ring(window_label(window_secs(c.alert_window)))
        buckets = [b for _, b in ring.window(head)]
        now = self._point(0.0, buckets, None)
        requests = now["requests"]
        where = f"over {ring.label}"

        def add(rule: str, scope: str, key: str | None, message: str, value: float,
                threshold: float, above: bool = True) -> None:
            if beyond(value, threshold, ratio, above):
                out.append(Condition(rule, scope, key, message, value, threshold,
                                     round(resolve_level(threshold, ratio, above), 6), above))

        if c.error_rate_pct and requests >= c.min_requests:
            pct = 100.0 * now["5xx"] / requests
            add("error_rate", "site", None, f"{pct:.1f}% of requests failed (5xx) {where}",
                round(pct, 3), c.error_rate_pct)
        if c.path_error_rate_pct and requests >= c.min_requests:
            tables = [b.tables["path"] for b in buckets if "path" in b.tables]
            rows = merged_top(tables, "path", 1000, "errors", None, 1.0)
            for row in rows:
                if not row["errors"]:
                    break
                if row["hits"] < c.min_requests:
                    continue
                pct = 100.0 * row["errors"] / row["hits"]
                add("path_error_rate", "path", row["key"],
                    f"{row['key']}: {pct:.1f}% failed (5xx) {where}", round(pct, 3),
                    c.path_error_rate_pct)
        if c.spike_factor or c.drop_ratio:
            base_ring = self.ring(window_label(window_secs(c.baseline_window)))
            base_span = base_ring.span(head)
            if base_span >= 2 * ring.length:
                base_rate = sum(b.requests for _, b in base_ring.window(head)) / base_span
                rate = requests / ring.span(head)
                if base_rate >= c.min_baseline_rate:
                    if c.spike_factor:
                        add("rate_spike", "site", None,
                            f"{rate:.1f} req/s {where}, {rate / base_rate:.1f}x the "
                            f"{base_ring.label} baseline ({base_rate:.1f} req/s)",
                            round(rate, 3), round(c.spike_factor * base_rate, 3))
                    if c.drop_ratio:
                        add("rate_drop", "site", None,
                            f"{rate:.1f} req/s {where}, down from {base_rate:.1f} req/s "
                            f"({base_ring.label} baseline)",
                            round(rate, 3), round(c.drop_ratio * base_rate, 3), above=False)
        if c.p95_threshold_secs and now["p95"] is not None:
            counted = sum(sum(b.durations.counts.values()) for b in buckets)
            if counted >= c.min_requests:
                add("p95_duration", "site", None, f"p95 duration {now['p95']:.3f}s {where}",
                    round(now["p95"], 6), c.p95_threshold_secs)
        if c.silent_host_secs:
            for host, last in self.host_last.items():
                add("silent_host", "host", host, f"{host} silent for {head - last:.0f}s",
                    round(head - last, 3), c.silent_host_secs)
        return out

    # -- history ------------------------------------------------------------------------
    def rollups(self, top: int) -> list[tuple[int, dict[str, Any]]]:
        """Rollups of the minutes changed since the last call."""
        ring = self.minute_ring
        out = [(i * 60, rollup(ring.buckets[i], top)) for i in sorted(ring.dirty)
               if i in ring.buckets]
        ring.dirty.clear()
        return out

    def meta(self) -> dict[str, Any]:
        return {"newest": self.newest, "host_last": self.host_last, "unparsed": self.unparsed,
                "lines": self.lines, "late": {k: r.late for k, r in self.rings.items()},
                "first": {k: r.first for k, r in self.rings.items()}}

    #: Store attributes that come from the config (left out of the saved state).
    NOT_STATE = ("config", "clock", "dimensions", "byte_dimensions", "rings", "fine",
                 "shared")

    def state_parts(self, full: bool) -> tuple[dict[str, Any], list[str]]:
        """The changed buckets of every ring, and ``meta``: the store's counts and each
        ring's own (late lines, first time, minutes the history has still to write)."""
        meta = object_state(self, skip=self.NOT_STATE)
        meta["rings"] = {name: object_state(r, skip=Ring.NOT_STATE)
                         for name, r in self.rings.items()}
        parts: dict[str, Any] = {"meta": meta}
        dropped: list[str] = []
        head = self.head()
        minutes = self.minute_ring
        for name, ring in self.rings.items():
            changed, gone = ring.state_parts(name, full, head,
                                             keep_dirty=self.config.history and ring is minutes)
            parts.update(changed)
            dropped += gone
        return parts, dropped

    def restore_state(self, parts: dict[str, Any]) -> None:
        """Load saved buckets and counts (buckets of windows no longer kept are ignored)."""
        meta = dict(parts.get("meta", {}))
        rings = meta.pop("rings", {})
        restore_object(self, meta)
        for name, saved in rings.items():
            if name in self.rings:
                restore_object(self.rings[name], saved)
        for part, data in parts.items():
            kind, _, rest = part.partition("/")
            name, _, index = rest.rpartition("/")
            ring = self.rings.get(name)
            if kind != "bucket" or ring is None:
                continue
            bucket = self._make()
            bucket.restore_state(data)
            ring.buckets[int(index)] = bucket
            ring.stored.add(int(index))

    def restore(self, history: History) -> int:
        """Load the newest minutes of ``history`` into the windows; minutes loaded."""
        meta = history.meta()
        newest = meta.get("newest")
        if newest is None:
            return 0
        self.newest = float(newest)
        self.host_last.update({str(k): float(v) for k, v in meta.get("host_last", {}).items()})
        self.unparsed = int(meta.get("unparsed", 0))
        self.lines = int(meta.get("lines", 0))
        for name, late in meta.get("late", {}).items():
            if name in self.rings:
                self.rings[name].late = int(late)
        for name, first in meta.get("first", {}).items():
            if name in self.rings and first is not None:
                self.rings[name].first = float(first)
        head = self.head()
        longest = max(r.length for r in self.rings.values())
        rows = history.load(head - longest - 60)
        for minute, data in rows:
            b = restore(data, self.config.capacity, self.dimensions, self.byte_dimensions)
            for r in self.rings.values():
                idx = r.index(minute)
                if idx < r.lowest(head):
                    continue
                bucket = r.buckets.get(idx)
                if bucket is None:
                    r.buckets[idx] = bucket = self._make()
                bucket.merge(b)
                if r.first is None or minute < r.first:
                    r.first = float(minute)
        return len(rows)


class WindowCollector(InterleavedCollector[WindowConfig]):
    """Sliding windows of event time; alerts; per-minute history in SQLite."""

    name = "window"
    description = "Sliding windows (1m/5m/1h) over event time, alerts, SQLite history"
    Config: ClassVar[type] = WindowConfig
    tick_secs = 1.0
    answers: ClassVar[frozenset[str]] = frozenset(
        {"top", "series", "overview", "drill", "hosts", "alerts", "clear_alert"})

    @classmethod
    def declines(cls, config: WindowConfig, query: Query) -> str | None:
        """Only the windows kept (a longer series from the history), the dimensions
        counted, drill queries only with ``drill = yes``."""
        reason = super().declines(config, query)
        if reason is not None or "window" not in KINDS[query.kind].params:
            return reason
        try:
            p = validate(query.kind, query.params)
            kept = {window_label(length): length for length, _ in parse_windows(
                config.windows)}
        except ValueError:
            return None  # a bad parameter or config: the collector says which when asked
        label = p["window"]
        if label == "all":
            return "keeps sliding windows, not 'all'"
        length = window_secs(label) or 0.0
        longer_series = (query.kind == "series" and config.history
                         and length > max(kept.values()))
        if label not in kept and not longer_series:
            return f"does not keep window {label!r} (windows: {', '.join(kept)})"
        if query.kind == "drill" and not config.drill:
            return "counts no drill pairs (drill = no)"
        if query.kind == "top" and p["dimension"] not in config.dimensions:
            return f"does not count {p['dimension']!r}"
        return None

    def setup(self) -> None:
        self.store = WindowStore(self.config)
        prepare(self.config.dimensions)
        self.alerts = AlertState(self.log, self.config.alert_history,
                                 fire_after_secs=self.config.fire_after_secs,
                                 resolve_after_secs=self.config.resolve_after_secs)
        self.history: History | None = None
        self._flushed = time.monotonic()
        if self.config.history:
            path = self.config.history_path or os.path.join(
                self.context.settings.state_path,
                "history-" + re.sub(r"[^\w.-]", "_", self.context.name.split(":", 1)[-1])
                + ".sqlite")
            self.history = History(path, self.config.retention_secs)
            self.resources.callback(self.history.close)  # after teardown's last write
            # a durable state restores the windows exactly (restore_state); without one,
            # the minutes' rollups give back their top rows
            loaded = 0 if self.saved.parts else self.store.restore(self.history)
            if loaded:
                self.log.info("restored %d minutes of history from %s", loaded, path)

    def state_parts(self, full: bool) -> tuple[dict[str, Any], list[str]]:
        """The windows' changed buckets and counts, and the alert state as a whole."""
        parts, dropped = self.store.state_parts(full)
        parts["alerts"] = self.alerts.to_state()
        return parts, dropped

    def restore_state(self, parts: dict[str, Any]) -> None:
        self.store.restore_state(parts)
        if "alerts" in parts:
            self.alerts.restore_state(parts["alerts"])

    def teardown(self) -> None:
        self.write_history()

    def flush(self) -> None:
        self.drain()
        self.write_history()

    def apply(self, batch: Batch) -> None:
        self.store.add(batch.records, batch.source.host, batch.lines, batch.unparsed)

    def slice_stop(self, batch: Batch, start: int, stop: int) -> int:
        """A slice ends where a bucket of the finest step does (up to ``max_slice_lines``
        further): a bucket's lines of one batch are counted in one piece, not in two."""
        times = batch.records.time
        limit = min(len(times), start + self.max_slice_lines)
        if stop >= limit:
            return stop
        fine = self.store.fine
        floor = math.floor
        key = floor(times[stop - 1] / fine)
        while stop < limit and floor(times[stop] / fine) == key:
            stop += 1
        return stop

    def on_tick(self, now: float) -> None:
        self.store.expire()
        self.alerts.update(self.store.head(), self.store.conditions())
        self.state_changed()  # buckets expired, alerts changed: saved once a tick at most
        if now - self._flushed >= self.config.history_flush_secs:
            self.write_history()

    def write_history(self) -> None:
        """Write the minutes that changed (and the meta data) to SQLite."""
        self._flushed = time.monotonic()
        if self.history is None:
            return
        rows = self.store.rollups(self.config.history_top)
        if rows or self.store.newest is not None:
            self.history.write(rows, self.store.meta(), self.store.head())
            self.counters["history_minutes_written"] += len(rows)

    def answer(self, query: Query) -> Any:
        kind = query.kind
        if kind not in self.answers:
            return super().answer(query)
        p = validate(kind, query.params)
        s = self.store
        if kind == "top":
            if p["window"] == "all":
                raise ValueError(f"{self.context.name} keeps sliding windows, not 'all'")
            return s.top(p)
        if kind == "series":
            return s.series(p["window"], p["step_secs"], p["path"], self.history, p["host"])
        if kind == "overview":
            return s.overview(p["window"])
        if kind == "drill":
            return s.drill(p["path"], p["window"], p["limit"])
        if kind == "hosts":
            return s.hosts(p["window"])
        head = s.head()
        if kind == "alerts":
            self.alerts.update(head, s.conditions())
            return self.alerts.answer()
        cleared = self.alerts.clear(head, p["path"], p["all"])
        self.state_changed()
        return {"cleared": cleared}

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(windows=[k for k in self.store.rings if not k.startswith("_")],
                   head=self.store.head(), firing=len(self.alerts.firing),
                   late={k: r.late for k, r in self.store.rings.items()})
        return out
