"""``/metrics``: the collectors' counters as Prometheus families (official prometheus_client).

Design: a custom ``Collector`` that, at each scrape, asks the ``metrics`` collector (see
collectors.metrics) for its totals since start and yields them as families. Nothing is
counted twice and nothing is kept in the web output itself, so a scrape always shows what
the collectors know. It runs on the web output's ask pool, never on the event loop. Each
server has its own registry, so an embedding program's global registry is left alone.

Families:

- ``omphalos_http_requests_total{host, status}``: requests by source host and status code;
- ``omphalos_http_response_bytes_total{host}``: response bytes;
- ``omphalos_http_request_duration_seconds{host}``: histogram of request durations;
- ``omphalos_log_lines_total{host}``, ``omphalos_log_unparsed_lines_total{host}``;
- ``omphalos_alerts_firing``: alerts firing now (when a collector answers ``alerts``);
- ``omphalos_pipeline_degraded``: 1 when the supervisor gave up restarting an actor;
- ``omphalos_metrics_source_up``: 0 when no collector answers ``metrics`` (add a
  ``[collector:metrics]`` section).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from .querier import BadQuery, Querier, Unavailable

log = logging.getLogger("omphalos.output.web.metrics")


class PipelineCollector:
    """A prometheus_client custom collector reading the pipeline's collectors."""

    def __init__(self, querier: Querier) -> None:
        self.querier = querier

    def _ask(self, kind: str) -> Any:
        try:
            return self.querier.ask_sync(kind)
        except (BadQuery, Unavailable) as exc:
            log.debug("/metrics: no %s answer: %s", kind, exc)
            return None

    def collect(self) -> Iterator[Metric]:
        answer = self._ask("metrics")
        source_up = GaugeMetricFamily("omphalos_metrics_source_up",
                                      "1 when a collector answers the metrics query")
        source_up.add_metric([], 1.0 if answer is not None else 0.0)
        yield source_up
        if answer is not None:
            yield from families(answer)
        alerts = self._ask("alerts")
        if isinstance(alerts, dict) and isinstance(alerts.get("firing"), list):
            firing = GaugeMetricFamily("omphalos_alerts_firing", "Alerts firing now")
            firing.add_metric([], float(len(alerts["firing"])))
            yield firing
        pipeline = self.querier.pipeline
        if pipeline is not None:
            degraded = GaugeMetricFamily("omphalos_pipeline_degraded",
                                         "1 when an actor was given up after too many "
                                         "restarts")
            degraded.add_metric([], 1.0 if pipeline.degraded else 0.0)
            yield degraded


def families(answer: dict[str, Any]) -> Iterator[Metric]:
    """Prometheus families of a ``metrics`` answer."""
    requests = CounterMetricFamily("omphalos_http_requests",
                                   "Requests by source host and status code",
                                   labels=["host", "status"])
    sent = CounterMetricFamily("omphalos_http_response_bytes", "Response bytes by source host",
                               labels=["host"])
    lines = CounterMetricFamily("omphalos_log_lines", "Log lines read by source host",
                                labels=["host"])
    unparsed = CounterMetricFamily("omphalos_log_unparsed_lines",
                                   "Log lines that did not parse, by source host",
                                   labels=["host"])
    duration = HistogramMetricFamily("omphalos_http_request_duration_seconds",
                                     "Request durations by source host (formats that log "
                                     "one)", labels=["host"])
    for host, counts in sorted(answer.get("hosts", {}).items()):
        for status, n in counts.get("status", {}).items():
            requests.add_metric([host, str(status)], float(n))
        sent.add_metric([host], float(counts.get("bytes", 0)))
        lines.add_metric([host], float(counts.get("lines", 0)))
        unparsed.add_metric([host], float(counts.get("unparsed", 0)))
        hist = counts.get("duration") or {}
        buckets = [(_le(bound), float(n)) for bound, n in hist.get("buckets", [])]
        if buckets:
            duration.add_metric([host], buckets, float(hist.get("sum", 0.0)))
    yield from (requests, sent, lines, unparsed, duration)


def _le(bound: Any) -> str:
    if bound == "+Inf":
        return "+Inf"
    return repr(float(bound))


def make_registry(querier: Querier) -> CollectorRegistry:
    """A registry of its own holding only the pipeline collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(querier))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition format (blocking: run it on the ask pool)."""
    return bytes(generate_latest(registry))
