"""``elasticsearch``: every record kept in Elasticsearch or OpenSearch, queried back with
aggregations.

The actor turns each applied batch into bulk operations (ECS documents with ids derived from
host, file identity and offset, see :mod:`.ecs`), buffers them up to ``batch_docs`` or
``flush_interval_secs``, and hands them to a :class:`omphalos.shipping.Shipper` worker that indexes,
retries and spools. ``Applied`` goes back to the transport only once the batch is durable
(indexed or spooled), so monitors slow down instead of anything being dropped when the
cluster is down and the spool full. Queries (``summary``, ``top``, ``series``, ``overview``,
``hosts``, ``drill``) are answered from the cluster (see :mod:`.aggs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from omphalos.config import option
from omphalos.derived import STATIC_EXTENSIONS
from omphalos.lib.geoip import check_database
from omphalos.messages import Applied, Batch, Deliver, Query
from omphalos.plugin import CollectorPlugin
from omphalos.query import validate, window_secs
from omphalos.shipping import (
    check_delivery_options,
    check_url,
    nothing,
    open_shipper,
    replier,
    reply_later,
    snapshot,
)

from . import aggs
from .bulk import BulkSender
from .client import Auth, Cluster, ClusterError
from .ecs import Op, bulk_lines
from .template import index_template

__all__ = ["ElasticsearchCollector", "ElasticsearchConfig"]


@dataclass(frozen=True)
class ElasticsearchConfig:
    """Options of the Elasticsearch/OpenSearch collector."""

    hosts: tuple[str, ...] = option(("http://127.0.0.1:9200",),
                                    "Cluster URLs (comma-separated); the first that answers "
                                    "is used.")
    username: str = option("", "User for basic authentication; empty for none.")
    password: str = option("", "Password for basic authentication.")
    api_key: str = option("", "API key (base64 id:key) instead of a user; empty for none.")
    ca_certs: str = option("", "CA bundle file for https; empty: the system's.")
    verify_certs: bool = option(True, "Check the cluster's TLS certificate.")
    index_mode: Literal["daily", "datastream"] = option(
        "daily", "daily: index into PREFIX-YYYY.MM.DD by record time; datastream: append to "
                 "the data stream named by data_stream.")
    index_prefix: str = option("omphalos", "Prefix of the daily indices.")
    data_stream: str = option("logs-omphalos.access-default",
                              "Data stream name when index_mode = datastream.")
    template_name: str = option("omphalos", "Name of the index template installed at start.")
    install_template: bool = option(True, "Install (or update) the index template when the "
                                          "cluster is first reached.")
    replicas: int = option(-1, "number_of_replicas in the template; -1 leaves the cluster's "
                               "default.")
    batch_docs: int = option(1000, "Documents per bulk request at most.")
    flush_interval_secs: float = option(1.0, "Longest time a document waits in the buffer "
                                             "before it is sent.")
    timeout_secs: float = option(10.0, "Timeout of each request to the cluster.")
    max_retries: int = option(5, "Direct attempts of a bulk request (on 429, 5xx or an "
                                 "unreachable cluster) before it goes to the spool.")
    retry_backoff_secs: float = option(0.2, "First retry delay; doubles per attempt.")
    max_backoff_secs: float = option(30.0, "Longest delay between retries.")
    spool_dir: str = option("", "Spool directory; empty: STATE_DIR/spool/COMPONENT.")
    spool_max_bytes: int = option(256 << 20, "Bound of the disk spool, in bytes; when full, "
                                             "monitors are slowed down.")
    query_timeout_secs: float = option(4.0, "Timeout of a query's search request.")
    silent_secs: float = option(60.0, "A host with no record for this long before the end of "
                                      "the range is reported silent.")
    static_extensions: tuple[str, ...] = option(list(STATIC_EXTENSIONS),
                                                "File extensions the static dimension "
                                                "answers (with or without the dot, one dot "
                                                "each; applied at query time). Default: "
                                                "GoAccess's list.")
    geoip_database: str = option("", "MaxMind DB file (.mmdb) the country stored in each "
                                     "document comes from (at index time); needs the "
                                     "maxminddb package. Empty: the registries' data the "
                                     "iptocc package ships.")

    def validate(self) -> None:
        """Reject values no cluster could work with (ValueError(reason, key))."""
        if not self.hosts:
            raise ValueError("at least one cluster URL is needed", "hosts")
        for host in self.hosts:
            check_url(host, "hosts")
        if self.batch_docs < 1:
            raise ValueError("must be 1 or more", "batch_docs")
        if self.replicas < -1:
            raise ValueError("must be -1 (the cluster's default) or more", "replicas")
        check_delivery_options(self)
        check_database(self.geoip_database)


class ElasticsearchCollector(CollectorPlugin[ElasticsearchConfig]):
    """Indexes records into Elasticsearch/OpenSearch and answers queries from it."""

    name = "elasticsearch"
    description = "Every record in Elasticsearch/OpenSearch (ECS); queries by aggregations"
    Config: ClassVar[type] = ElasticsearchConfig
    answers: ClassVar[frozenset[str]] = frozenset(
        {"summary", "top", "series", "overview", "hosts", "drill"})
    config: ElasticsearchConfig

    @classmethod
    def declines(cls, config: ElasticsearchConfig, query: Query) -> str | None:
        """Top lists of the indexed fields (every dimension: the derived ones are stored
        in each document, :mod:`.derived_fields`)."""
        if query.kind == "top":
            dim = query.params.get("dimension", "path")
            if dim not in aggs.FIELDS:
                return f"{dim!r} is not an indexed field"
        return super().declines(config, query)

    def tick_interval(self) -> float:
        return max(0.05, min(1.0, self.config.flush_interval_secs / 2))

    # -- lifecycle -------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.config
        self.auth = Auth(tuple(cfg.hosts), cfg.username, cfg.password, cfg.api_key,
                         cfg.ca_certs, cfg.verify_certs, cfg.timeout_secs)
        self.sender = BulkSender(self.auth, self._install_template, self.log)
        self.resources.callback(self.sender.close)
        self.shipper = open_shipper(self, self.sender)  # its spool's closing registered
        self.spool = self.shipper.spool
        self._ops: list[Op] = []
        self._replies: list[tuple[Any, Applied]] = []
        self._since = 0.0
        self.shipper.start()
        self.resources.callback(self.shipper.stop, timeout=max(1.0, cfg.timeout_secs))

    def teardown(self) -> None:
        """The buffered operations to the shipper; ``self.resources`` then stops it, closes
        the spool and the sender."""
        self._flush_buffer()

    def _install_template(self, cluster: Cluster) -> None:
        cfg = self.config
        if not cfg.install_template:
            return
        datastream = cfg.index_mode == "datastream"
        patterns = [cfg.data_stream] if datastream else [f"{cfg.index_prefix}-*"]
        body = index_template(patterns, data_stream=datastream,
                              replicas=cfg.replicas if cfg.replicas >= 0 else None)
        cluster.request("PUT", f"/_index_template/{cfg.template_name}", body)

    # -- data --------------------------------------------------------------------------------------
    def handle(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            self.receive(message.batch)
            reply_later(self._replies, self.context.name, message)
            if not self._ops or len(self._ops) >= self.config.batch_docs:
                self._flush_buffer()
            return None
        return super().handle(message)

    def apply(self, batch: Batch) -> None:
        cfg = self.config
        stream = cfg.data_stream if cfg.index_mode == "datastream" else None
        if not self._ops:
            self._since = time.monotonic()
        self._ops.extend(bulk_lines(batch, index_prefix=cfg.index_prefix, data_stream=stream,
                                    geoip_database=cfg.geoip_database))

    def on_tick(self, now: float) -> None:
        if self._ops and now - self._since >= self.config.flush_interval_secs:
            self._flush_buffer()

    def flush(self) -> None:
        self._flush_buffer()

    def _flush_buffer(self) -> None:
        """Hand the buffer to the shipper in bulk-sized payloads; replies ride on the last."""
        ops, replies = self._ops, self._replies
        if not ops and not replies:
            return
        self._ops, self._replies = [], []
        size = self.config.batch_docs
        chunks = [ops[i:i + size] for i in range(0, len(ops), size)] or [[]]
        for i, chunk in enumerate(chunks):
            payload = b"".join(b"%b\n%b\n" % op for op in chunk)
            last = i == len(chunks) - 1
            self.shipper.submit(payload, replier(replies, self.counters) if last else nothing)

    # -- queries -----------------------------------------------------------------------------------
    def answer(self, query: Query) -> Any:
        kind = query.kind
        if kind not in self.answers:
            return super().answer(query)
        params = dict(query.params)
        since = _epoch(params.pop("since", None), "since")
        until = _epoch(params.pop("until", None), "until")
        p = validate(kind, params)
        cluster = self._cluster()
        window = window_secs(p.get("window", "all")) if kind != "summary" else None
        span = aggs.TimeRange.of(window, since, until, time.time())
        if kind == "summary":
            return aggs.summary_answer(self._search(cluster, aggs.summary_body(span, p["limit"])),
                                       span)
        if kind == "top":
            body = aggs.top_body(span, p["dimension"], p["sort"], p["limit"], p["filter"],
                                 p["host"], tuple(self.config.static_extensions))
            return aggs.top_answer(self._search(cluster, body), span, p["dimension"], p["sort"],
                                   p["limit"], p["filter"], p["host"])
        if kind == "hosts":
            return aggs.hosts_answer(self._search(cluster, aggs.hosts_body(span)), span,
                                     self.config.silent_secs)
        lo, hi = self._bounds(cluster, span, p.get("path"), p.get("host"))
        if lo is None or hi is None:
            return _empty(kind, span, p)
        step = aggs.auto_step(lo, hi, p.get("step_secs", 0.0) if kind == "series" else 0.0)
        if kind == "series":
            body = aggs.series_body(span, lo, hi, step, p["path"], p["host"])
            return aggs.series_answer(self._search(cluster, body), span, step, p["path"],
                                      p["host"])
        if kind == "overview":
            body = aggs.overview_body(span, lo, hi, step)
            return aggs.overview_answer(self._search(cluster, body), span, lo, hi, step)
        body = aggs.drill_body(span, p["path"], p["limit"], lo, hi, step)
        return aggs.drill_answer(self._search(cluster, body), span, p["path"])

    def _cluster(self) -> Cluster:
        try:
            return self.sender.cluster()
        except ClusterError as exc:
            raise ValueError(f"{self.context.name}: cluster unavailable: {exc}") from None

    def _index_pattern(self) -> str:
        cfg = self.config
        return cfg.data_stream if cfg.index_mode == "datastream" else f"{cfg.index_prefix}-*"

    def _search(self, cluster: Cluster, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = cluster.request("POST", f"/{self._index_pattern()}/_search", body,
                                     params={"ignore_unavailable": "true",
                                             "allow_no_indices": "true"})
        except ClusterError as exc:
            raise ValueError(f"{self.context.name}: search failed: {exc}") from None
        return dict(answer)

    def _bounds(self, cluster: Cluster, span: aggs.TimeRange, path: str | None,
                host: str | None = None) -> tuple[float | None, float | None]:
        if span.lo is not None and span.hi is not None:
            return span.lo, span.hi
        first, last = aggs.range_answer(self._search(cluster, aggs.range_body(span, path,
                                                                              host)))
        lo = span.lo if span.lo is not None else first
        hi = span.hi if span.hi is not None else (None if last is None else last + 1e-3)
        return lo, hi

    def status(self) -> dict[str, Any]:
        out = super().status()
        counters = out["counters"]
        counters.update(snapshot(self.sender.counters))
        counters.update(snapshot(self.shipper.counters))
        cluster = self.sender.connected
        out.update({
            "cluster": None if cluster is None else {
                "flavor": cluster.info.flavor, "version": cluster.info.version,
                "client": cluster.client_name},
            "buffered_docs": len(self._ops),
            "pending_payloads": self.shipper.pending,
            "spool": self.spool.status(),
            "down": self.shipper.down,
            "last_error": self.shipper.last_error,
            "refused_by_type": snapshot(self.sender.refused_by_type),
        })
        out.update(self.shipper.outbox.status())  # held, paused, disk_full, warning, spool
        return out


def _epoch(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not epoch seconds") from None


def _empty(kind: str, span: aggs.TimeRange, p: dict[str, Any]) -> dict[str, Any]:
    """The answer for a range holding no record."""
    if kind == "series":
        return {"window": span.label, "step": p.get("step_secs", 0.0), "path": p.get("path"),
                "points": []}
    if kind == "drill":
        return {"path": p["path"], "window": span.label, "requests": 0, "status": {},
                "clients": [], "series": []}
    return {"window": span.label, "rate": 0.0, "requests": 0, "bytes": 0, "bytes_rate": 0.0,
            "status_class": {}, "hosts": 0, "sparkline": [], "p50": None, "p95": None,
            "p99": None, "late": 0, "unparsed": 0}
