"""``timeseries``: per-interval rollups written to a time-series database.

Requests by status class and host, by path for each interval's busiest paths, bytes, and
duration percentiles (see :mod:`.rollup` and :mod:`.lineproto`), written as InfluxDB line
protocol over HTTP (:mod:`.influx`). Changed buckets are written every
``flush_interval_secs`` through the framework's storage shipper (:mod:`omphalos.shipping`,
as the Elasticsearch collector does): retries with backoff, the bounded disk spool while
the database is down, and ``Applied`` sent to the transport only once the batch's rollups
are written or spooled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.messages import Applied, Batch, Deliver
from omphalos.plugin import CollectorPlugin
from omphalos.shipping import (
    check_delivery_options,
    check_url,
    open_shipper,
    replier,
    reply_later,
    snapshot,
)

from .influx import InfluxWriter
from .lineproto import lines
from .rollup import Rollups

__all__ = ["TimeseriesCollector", "TimeseriesConfig"]


@dataclass(frozen=True)
class TimeseriesConfig:
    """Options of the time-series collector."""

    url: str = option("http://127.0.0.1:8086", "Base URL of the InfluxDB-compatible HTTP API "
                                              "(POST URL/write).")
    database: str = option("omphalos", "Database (InfluxDB 1.x; the bucket mapping for 2.x/3.x).")
    retention_policy: str = option("", "Retention policy; empty: the database's default.")
    username: str = option("", "User for basic authentication; empty for none.")
    password: str = option("", "Password for basic authentication.")
    token: str = option("", "API token (InfluxDB 2.x/3.x: Authorization: Token ...).")
    create_database: bool = option(True, "Send CREATE DATABASE when first connecting "
                                         "(InfluxDB 1.x).")
    measurement_prefix: str = option("http", "Prefix of the measurement names.")
    interval_secs: int = option(10, "Width of a rollup interval, in seconds of record time.")
    top_paths: int = option(20, "Paths written per interval; the others are summed as "
                                "(other).")
    max_open_buckets: int = option(1000, "Intervals kept in memory for late records.")
    max_samples: int = option(10000, "Durations sampled per host and interval for "
                                     "percentiles.")
    flush_interval_secs: float = option(1.0, "Seconds between two writes of changed "
                                             "intervals.")
    timeout_secs: float = option(10.0, "Timeout of each write.")
    max_retries: int = option(5, "Direct attempts of a write before it goes to the spool.")
    retry_backoff_secs: float = option(0.2, "First retry delay; doubles per attempt.")
    max_backoff_secs: float = option(30.0, "Longest delay between retries.")
    spool_dir: str = option("", "Spool directory; empty: STATE_DIR/spool/COMPONENT.")
    spool_max_bytes: int = option(64 << 20, "Bound of the disk spool, in bytes; when full, "
                                            "monitors are slowed down.")

    def validate(self) -> None:
        """Reject values no database could work with (ValueError(reason, key))."""
        check_url(self.url, "url")
        for key in ("interval_secs", "max_open_buckets", "max_samples"):
            if getattr(self, key) < 1:
                raise ValueError("must be 1 or more", key)
        if self.top_paths < 0:
            raise ValueError("must be 0 or more", "top_paths")
        if not self.database:
            raise ValueError("a database name is needed", "database")
        check_delivery_options(self)


class TimeseriesCollector(CollectorPlugin[TimeseriesConfig]):
    """Rolls records up per interval and writes the rollups as line protocol."""

    name = "timeseries"
    description = "Per-interval rollups to InfluxDB-compatible time-series databases"
    Config: ClassVar[type] = TimeseriesConfig
    config: TimeseriesConfig

    def tick_interval(self) -> float:
        return max(0.05, min(1.0, self.config.flush_interval_secs / 2))

    def setup(self) -> None:
        cfg = self.config
        self.run_id = uuid.uuid4().hex[:8]
        self.rollups = Rollups(cfg.interval_secs, self.run_id, cfg.max_open_buckets,
                               cfg.max_samples)
        self.writer = InfluxWriter(cfg.url, cfg.database, retention_policy=cfg.retention_policy,
                                   username=cfg.username, password=cfg.password,
                                   token=cfg.token, create_database=cfg.create_database,
                                   timeout_secs=cfg.timeout_secs, log=self.log)
        self.shipper = open_shipper(self, self.writer)  # its spool's closing registered
        self.spool = self.shipper.spool
        self._replies: list[tuple[Any, Applied]] = []
        self._last_flush = time.monotonic()
        self.shipper.start()
        self.resources.callback(self.shipper.stop, timeout=max(1.0, cfg.timeout_secs))

    def teardown(self) -> None:
        """The last rollups to the shipper; ``self.resources`` then stops it and closes the
        spool."""
        self._write()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            self.receive(message.batch)
            reply_later(self._replies, self.context.name, message)
            return None
        return super().handle(message)

    def apply(self, batch: Batch) -> None:
        self.rollups.add(batch)

    def on_tick(self, now: float) -> None:
        if now - self._last_flush >= self.config.flush_interval_secs:
            self._write()

    def flush(self) -> None:
        self._write()

    def _write(self) -> None:
        """Changed intervals to the shipper; the waiting replies ride on them."""
        self._last_flush = time.monotonic()
        buckets = self.rollups.take_dirty()
        replies, self._replies = self._replies, []
        if not buckets and not replies:
            return
        cfg = self.config
        text = "".join(line + "\n" for b in buckets
                       for line in lines(b, cfg.measurement_prefix, cfg.top_paths))
        self.counters["intervals_written"] += len(buckets)
        self.shipper.submit(text.encode("utf-8", "surrogatepass"),
                            replier(replies, self.counters))

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["counters"].update(snapshot(self.writer.counters))
        out["counters"].update(snapshot(self.shipper.counters))
        out["counters"]["intervals_reopened"] = self.rollups.reopened
        out.update(self.shipper.outbox.status())
        out.update({"run": self.run_id, "open_intervals": len(self.rollups.buckets),
                    "pending_payloads": self.shipper.pending,
                    "down": self.shipper.down, "last_error": self.shipper.last_error})
        return out
