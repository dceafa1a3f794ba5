"""``webhook``: posts a JSON alert to a URL when server errors pile up.

An example third-party plugin. It is a *collector*: it sees every batch of records (already
de-duplicated by the base class), keeps the recent server errors, and from its periodic
tick, never from ``apply``, posts an alert when there are too many. Posting happens in the
actor's own thread with a short timeout, so a slow webhook delays only this plugin's
alerts, never the pipeline.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.messages import Batch, Query
from omphalos.plugin import CollectorPlugin

__version__ = "0.1.0"


@dataclass(frozen=True)
class WebhookConfig:
    """Options of the webhook alert collector (every one has a default and a doc)."""

    url: str = option("", "Where alerts are POSTed as JSON (http or https).")
    min_status: int = option(500, "Responses with this status or more count as errors.")
    min_errors: int = option(10, "Errors within window_secs that raise an alert.")
    window_secs: float = option(60.0, "Seconds over which errors are counted.")
    cooldown_secs: float = option(300.0, "Least seconds between two alerts.")
    timeout_secs: float = option(5.0, "Longest wait for the webhook to answer.")

    def validate(self) -> None:
        """Called by Omphalos when the config is read: bad values name their key."""
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL", "url")
        if self.min_errors < 1:
            raise ValueError("must be at least 1", "min_errors")


class WebhookAlerts(CollectorPlugin[WebhookConfig]):
    """Counts recent server errors; posts an alert when there are too many."""

    name = "webhook"
    description = "Posts a JSON alert to a webhook when server errors pile up"
    Config: ClassVar[type] = WebhookConfig
    tick_secs = 1.0

    def setup(self) -> None:
        # (arrival time, status, host, path) of recent errors; arrival time, not log time,
        # so that replaying an old log alerts too
        self.errors: deque[tuple[float, int, str, str]] = deque()
        self.last_alert = float("-inf")

    def apply(self, batch: Batch) -> None:
        cols = batch.records
        now = time.monotonic()
        for status, path in zip(cols.status, cols.path):
            if status >= self.config.min_status:
                self.errors.append((now, status, batch.source.host, path))
        self.counters["errors"] = len(self.errors)

    def tick_interval(self) -> float:
        return min(self.tick_secs, float(self.config.window_secs))

    def on_tick(self, now: float) -> None:
        while self.errors and now - self.errors[0][0] > self.config.window_secs:
            self.errors.popleft()
        if (len(self.errors) >= self.config.min_errors
                and now - self.last_alert >= self.config.cooldown_secs):
            self.last_alert = now
            self.post(self.alert())

    def alert(self) -> dict[str, Any]:
        return {"alert": "server errors", "collector": self.context.name,
                "errors": len(self.errors), "window_secs": self.config.window_secs,
                "statuses": {str(k): v for k, v in Counter(e[1] for e in self.errors).items()},
                "hosts": sorted({e[2] for e in self.errors}),
                "sample": [e[3] for e in list(self.errors)[-5:]], "time": time.time()}

    def post(self, alert: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.config.url, data=json.dumps(alert).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_secs) as reply:
                reply.read()
            self.counters["alerts_sent"] += 1
        except (urllib.error.URLError, OSError) as exc:
            # a webhook that is down must not kill the collector: count it, log it
            self.counters["alerts_failed"] += 1
            self.log.warning("cannot post alert to %s: %s", self.config.url, exc)

    def answer(self, query: Query) -> Any:
        if query.kind == "alerts":
            return {"recent_errors": len(self.errors), **self.counters}
        return super().answer(query)
