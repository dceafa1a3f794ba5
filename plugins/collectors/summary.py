"""``summary``: running totals since start: requests, bytes, status mix, top lists.

Counts since start (or the last ``reset`` query): requests, requests per second, bytes, per
status code and class, and per path, client, source host, method, status, user agent and
referer a top list kept by a bounded-memory heavy-hitter table (:mod:`.topk`, Space-Saving
in its Misra-Gries form): at most ``4 x capacity`` keys per dimension whatever the number of
distinct values, and each count is under-counted by at most ``requests / (capacity + 1)``
(the ``error_bounds`` of the answer give the actual bound per dimension). Durations (when
the format has them) go into a mergeable DDSketch (:mod:`.sketch`), site-wide and per
path: p50/p95/p99 within 1%.

Batches are aggregated column-wise (:mod:`.aggregate`) before they reach the tables, or
arrive already reduced to counts (:mod:`omphalos.counts`) from senders that count where
they parse (``workers = N``). Answers
the ``summary``, ``top`` (``window=all``) and ``reset`` queries of :mod:`omphalos.query`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.counting import reduce_counts
from omphalos.counts import BatchAgg
from omphalos.derived import STATIC_EXTENSIONS, prepare
from omphalos.lib.collectors.aggregate import Breakdown, aggregate
from omphalos.lib.collectors.interleave import InterleavedCollector
from omphalos.lib.collectors.sketch import quantiles_of
from omphalos.lib.geoip import check_database
from omphalos.messages import BadLine, Batch, Query
from omphalos.query import DEFAULT_DIMENSIONS, DIMENSIONS, compile_filter, validate
from omphalos.records import Columns
from omphalos.state import DurableConfig, restore_object


@dataclass(frozen=True)
class SummaryConfig(DurableConfig):
    """Options of the summary collector (and those of a durable state)."""

    top: int = option(20, "Entries in each top list a query returns by default.")
    bad_lines_kept: int = option(100, "Most recent unparsed lines kept to show.")
    capacity: int = option(2000, "Keys each top table keeps (memory is at most four times "
                                 "this per dimension). Counts are at most "
                                 "requests / (capacity + 1) too low.")
    dimensions: tuple[str, ...] = option(list(DEFAULT_DIMENSIONS), "Dimensions counted: path, "
                                         "client, host, status, agent, referer, method and "
                                         "the derived ones (browser, os, device, crawler, "
                                         "visitors, vhost, protocol, referring_site, "
                                         "remote_user, not_found, static, hour, tls, mime, "
                                         "cache, country; see omphalos.derived). Default: "
                                         "all but country (a lookup per distinct client: "
                                         "name it to count it).")
    max_hosts: int = option(64, "Source hosts whose counts are also kept apart (top lists "
                                "of one web server: the top query's host); 0: none.")
    whole_batches: bool = option(False, "Apply each batch whole instead of a slice at a "
                                        "time between queries: less work per line, and "
                                        "answers that never depend on timing, but a query "
                                        "waits behind a whole batch. omphalos replay sets "
                                        "it (nobody asks before the end).")
    static_extensions: tuple[str, ...] = option(list(STATIC_EXTENSIONS),
                                                "File extensions the static dimension "
                                                "counts (lower case, with the dot). "
                                                "Default: GoAccess's list.")
    geoip_database: str = option("", "MaxMind DB file (.mmdb: GeoLite2-Country, DB-IP's "
                                     "IP to Country Lite...) the country dimension reads; "
                                     "needs the maxminddb package. Empty: the registries' "
                                     "data the iptocc package ships.")

    def validate(self) -> None:
        """The durable-state checks, and a readable ``geoip_database``."""
        super().validate()
        check_database(self.geoip_database)


def _duration_stats(counts: dict[int, int] | Counter[int]) -> dict[str, float | None]:
    p50, p95, p99 = quantiles_of(counts, (0.5, 0.95, 0.99))
    return {"p50": p50, "p95": p95, "p99": p99}


class SummaryCollector(InterleavedCollector[SummaryConfig]):
    """Counts everything since start (or the last reset)."""

    name = "summary"
    description = "Running summary since start: totals, status mix, bounded top lists"
    Config: ClassVar[type] = SummaryConfig
    answers: ClassVar[frozenset[str]] = frozenset({"summary", "top", "reset"})

    @classmethod
    def declines(cls, config: SummaryConfig, query: Query) -> str | None:
        """Top lists since start only, of the dimensions counted."""
        if query.kind == "top":
            try:
                p = validate("top", query.params)
            except ValueError:
                return None  # a bad parameter: the collector says which when asked
            if p["window"] != "all":
                return f"counts since start: window must be 'all', not {p['window']!r}"
            if p["dimension"] not in config.dimensions:
                return f"does not count {p['dimension']!r}"
        return super().declines(config, query)

    @classmethod
    def counted_dimensions(cls, config: SummaryConfig) -> tuple[str, ...] | None:
        """A summary is all counts: it can be fed batches reduced to counts."""
        return tuple(config.dimensions)

    @classmethod
    def counted_capacity(cls, config: SummaryConfig) -> int:
        """The top tables keep ``capacity`` keys of each batch: a sender may cut to that."""
        return int(config.capacity)

    @classmethod
    def counting_options(cls, config: SummaryConfig) -> dict[str, Any]:
        """The options of ``config`` that change how records are counted (what
        :meth:`apply` passes to ``aggregate``): counts made elsewhere for this collector
        must be made with them."""
        return {"static_extensions": tuple(config.static_extensions),
                "geoip_database": config.geoip_database}

    @classmethod
    def count_records(cls, records: Columns, host: str, dimensions: Iterable[str],
                      options: dict[str, Any]) -> BatchAgg:
        """``records`` reduced to the counts this collector takes in, counted with
        ``options`` (:meth:`counting_options`; a parallel replay's workers count their
        lines with it: :mod:`omphalos.replaying`)."""
        return aggregate(records, host, dimensions, **options)

    @classmethod
    def cut_counts(cls, counts: BatchAgg, capacity: int) -> BatchAgg:
        """``counts`` cut to ``capacity`` keys per dimension the way a top table of that
        capacity cuts a batch: a table fed the result ends as if fed ``counts``."""
        return reduce_counts(counts, capacity)

    def setup(self) -> None:
        unknown = set(self.config.dimensions) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"{self.context.name}: unknown dimension(s) {sorted(unknown)}")
        prepare(self.config.dimensions)
        if self.config.whole_batches:  # a slice as large as any batch
            self.min_slice_lines = self.max_slice_lines = 1 << 62  # type: ignore[misc]
        self.reset()

    def reset(self) -> None:
        self.state_changed()
        self.started = time.time()
        self.lines = 0
        self.unparsed = 0
        self.unparsed_reasons: Counter[str] = Counter()
        self.bad_lines: list[BadLine] = []
        self.duration_sum = 0.0
        self.duration_count = 0
        self.breakdown = Breakdown(self.config.capacity, self.config.dimensions,
                                   max_hosts=self.config.max_hosts)

    def state_parts(self, full: bool) -> tuple[dict[str, Any], list[str]]:
        """The totals and the breakdown, whole: bounded by the tables' capacity."""
        totals = {"started": self.started, "lines": self.lines, "unparsed": self.unparsed,
                  "unparsed_reasons": dict(self.unparsed_reasons),
                  "bad_lines": [(b.offset, b.reason, b.line) for b in self.bad_lines],
                  "duration_sum": self.duration_sum, "duration_count": self.duration_count}
        return {"totals": totals, "breakdown": self.breakdown.to_state()}, []

    def restore_state(self, parts: dict[str, Any]) -> None:
        totals = dict(parts.get("totals", {}))
        self.bad_lines = [BadLine(*row) for row in totals.pop("bad_lines", [])]
        restore_object(self, totals)
        if "breakdown" in parts:
            self.breakdown.restore_state(parts["breakdown"])

    # compatibility with the first version's attributes
    @property
    def requests(self) -> int:
        return self.breakdown.requests

    @property
    def bytes(self) -> int:
        return self.breakdown.bytes

    def apply(self, batch: Batch) -> None:
        cols = batch.records
        self.lines += batch.lines
        self.unparsed += batch.unparsed
        if batch.unparsed_reasons:
            self.unparsed_reasons.update(batch.unparsed_reasons)
        if batch.bad:
            self.bad_lines.extend(batch.bad)
            del self.bad_lines[: -self.config.bad_lines_kept]
        if batch.counts is not None:  # counted by the sender
            agg = batch.counts
        elif len(cols):
            agg = aggregate(cols, batch.source.host, self.config.dimensions,
                            **self.counting_options(self.config))
        else:
            return
        self.duration_sum += agg.duration_sum
        self.duration_count += agg.duration_count
        self.breakdown.add(agg, batch.source.host)

    def answer(self, query: Query) -> Any:
        if query.kind not in self.answers:
            return super().answer(query)
        params = validate(query.kind, query.params)
        if query.kind == "summary":
            return self.summary(params["limit"])
        if query.kind == "top":
            return self.top(params)
        self.reset()
        return {"reset": True}

    def elapsed(self) -> float:
        """Seconds the counts cover: event time span when known, else since start."""
        b = self.breakdown
        if b.first is not None and b.last is not None and b.last > b.first:
            return b.last - b.first
        return max(time.time() - self.started, 1e-9)

    def top(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["window"] != "all":
            raise ValueError(f"{self.context.name} counts since start: window must be 'all', "
                             f"not {params['window']!r}")
        breakdown = self.breakdown.for_host(params["host"])
        rows, bound = breakdown.top(params["dimension"], params["limit"], params["sort"],
                                         compile_filter(params["filter"]), self.elapsed())
        return {"dimension": params["dimension"], "window": "all", "sort": params["sort"],
                "rows": rows, "error_bound": bound, "host": params["host"]}

    def _rows(self, dim: str, limit: int) -> list[dict[str, Any]]:
        if dim not in self.breakdown.tables:
            return []
        return self.breakdown.top(dim, limit, secs=self.elapsed())[0]

    def summary(self, limit: int) -> dict[str, Any]:
        b = self.breakdown
        paths = self._rows("path", limit)
        path_table = b.tables.get("path")
        for row in paths:
            dur = path_table.durations.get(row["key"]) if path_table is not None else None
            if dur:
                n = sum(dur.values())
                stats = _duration_stats(dur)
                # summed in bucket order: the same figure however the lines were batched
                mean = sum(b.durations.value(i) * c for i, c in sorted(dur.items())) / n
                row["duration"] = {"mean": mean, **stats}
        host_table = b.tables.get("host")
        hosts = dict(sorted(host_table.hits.items(), key=lambda kv: -kv[1])) \
            if host_table is not None else {}
        elapsed = self.elapsed()
        duration: dict[str, Any] = {"count": self.duration_count}
        if self.duration_count:
            # to the nanosecond: the float sum's last bits depend on how lines were batched
            duration.update(mean=round(self.duration_sum / self.duration_count, 9),
                            **_duration_stats(b.durations.counts))
        return {
            "requests": b.requests,
            "lines": self.lines,
            "unparsed": self.unparsed,
            "unparsed_reasons": dict(self.unparsed_reasons),
            "bytes": b.bytes,
            "status": {str(k): v for k, v in sorted(b.status.items())},
            "status_class": {k: v for k, v in b.status_classes().items() if v},
            "top_paths": [{"path": r["key"], "hits": r["hits"], "bytes": r["bytes"]}
                          for r in paths],
            "hosts": {str(k): v for k, v in hosts.items()},
            "first_time": b.first,
            "last_time": b.last,
            "since": self.started,
            "bad_lines": [{"offset": x.offset, "reason": x.reason, "line": x.line}
                          for x in self.bad_lines[-10:]],
            # added by the extended summary (issue 5)
            "rate": round(b.requests / elapsed, 3),
            "bytes_rate": round(b.bytes / elapsed, 3),
            "paths": paths,
            "methods": {r["key"]: r["hits"] for r in self._rows("method", limit)},
            "top_clients": self._rows("client", limit),
            "top_hosts": self._rows("host", limit),
            "top_agents": self._rows("agent", limit),
            "top_referers": self._rows("referer", limit),
            "duration": duration,
            "error_bounds": {dim: t.error_bound() for dim, t in b.tables.items()},
        }
