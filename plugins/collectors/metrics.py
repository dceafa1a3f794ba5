"""``metrics``: a collector that keeps what Prometheus wants: counters, not windows.

Per source host it counts requests by status code, response bytes, lines read and lines
that did not parse, and a cumulative histogram of request durations (for formats that log
one). It answers the ``metrics`` query with these totals since start; the web output's
``/metrics`` turns them into Prometheus families. Counters restart from zero when the
collector does, which Prometheus handles as a counter reset.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.messages import Batch, Query
from omphalos.plugin import CollectorPlugin

#: prometheus_client's default buckets (seconds).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                   7.5, 10.0)


@dataclass(frozen=True)
class MetricsConfig:
    """Options of the metrics collector."""

    buckets: tuple[float, ...] = option(DEFAULT_BUCKETS, "Upper bounds (seconds) of the "
                                                         "duration histogram's buckets.")

    def validate(self) -> None:
        if not self.buckets or list(self.buckets) != sorted(set(self.buckets)):
            raise ValueError("must be increasing numbers, at least one", "buckets")
        if self.buckets[0] <= 0:
            raise ValueError("must be positive", "buckets")


@dataclass
class HostCounts:
    """Everything counted for one source host."""

    status: Counter[int] = field(default_factory=Counter)
    bytes: int = 0
    lines: int = 0
    unparsed: int = 0
    duration_buckets: list[int] = field(default_factory=list)  # not cumulative; +Inf last
    duration_sum: float = 0.0
    duration_count: int = 0


class MetricsCollector(CollectorPlugin[MetricsConfig]):
    """Counts per host and status, bytes and a duration histogram, for ``/metrics``."""

    name = "metrics"
    description = "Counters and a duration histogram per source host, for Prometheus"
    Config: ClassVar[type] = MetricsConfig
    answers: ClassVar[frozenset[str]] = frozenset({"metrics"})

    def setup(self) -> None:
        self.hosts: dict[str, HostCounts] = {}

    def _host(self, host: str) -> HostCounts:
        counts = self.hosts.get(host)
        if counts is None:
            counts = HostCounts(duration_buckets=[0] * (len(self.config.buckets) + 1))
            self.hosts[host] = counts
        return counts

    def apply(self, batch: Batch) -> None:
        counts = self._host(batch.source.host)
        cols = batch.records
        counts.lines += batch.lines
        counts.unparsed += batch.unparsed
        if not len(cols):
            return
        counts.status.update(cols.status)
        counts.bytes += sum(cols.bytes)
        if cols.duration is not None:
            bounds = self.config.buckets
            for value in cols.duration:
                if value is None:
                    continue
                counts.duration_buckets[bisect.bisect_left(bounds, value)] += 1
                counts.duration_sum += value
                counts.duration_count += 1

    def answer(self, query: Query) -> Any:
        if query.kind == "metrics":
            return self.metrics()
        return super().answer(query)

    def metrics(self) -> dict[str, Any]:
        """Totals since start per host; histogram buckets cumulative, ``"+Inf"`` last."""
        bounds: list[float | str] = [*map(float, self.config.buckets), "+Inf"]
        hosts = {}
        for host, counts in self.hosts.items():
            running = 0
            cumulative = []
            for bound, n in zip(bounds, counts.duration_buckets):
                running += n
                cumulative.append([bound, running])
            hosts[host] = {"status": {str(k): v for k, v in sorted(counts.status.items())},
                           "bytes": counts.bytes, "lines": counts.lines,
                           "unparsed": counts.unparsed,
                           "duration": {"buckets": cumulative, "sum": counts.duration_sum,
                                        "count": counts.duration_count}}
        return {"hosts": hosts}
