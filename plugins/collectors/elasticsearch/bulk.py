"""The bulk sender: one ``_bulk`` request, per-document results sorted into done, retry later,
and refused for good.

Per item: 2xx is indexed; 409 on a ``create`` (data streams) means the document is already
there (a re-sent line); 429 and 5xx are returned for a later retry; anything else (a mapping
conflict: ``mapper_parsing_exception``, ``document_parsing_exception``...) is refused for
good: counted by error type and logged with the reason, a few per minute at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from .client import RETRYABLE, Auth, Cluster, ClusterError, connect

__all__ = ["BulkSender"]

#: Refused documents logged per minute at most (all are counted).
LOG_PER_MINUTE = 10


class BulkSender:
    """Sends NDJSON bulk payloads; connects (and installs the template) on first use.

    ``setup(cluster)`` runs once per connection (installs the index template); an error
    there leaves the sender unconnected and the payload is retried later.
    """

    def __init__(self, auth: Auth, setup: Callable[[Cluster], None],
                 log: logging.Logger) -> None:
        self.auth = auth
        self._setup = setup
        self.log = log
        self.counters: Counter[str] = Counter()
        self.refused_by_type: Counter[str] = Counter()
        self._cluster: Cluster | None = None
        self._lock = threading.Lock()
        self._logged: list[float] = []

    def cluster(self) -> Cluster:
        """The connected cluster (detecting it and installing the template when needed)."""
        with self._lock:
            if self._cluster is not None:
                return self._cluster
            cluster = connect(self.auth)
            try:
                self._setup(cluster)
            except ClusterError as exc:
                cluster.close()
                raise ClusterError(None, f"setup failed: {exc}") from exc
            self.log.info("connected to %s %s (%s) with %s", cluster.info.flavor,
                          cluster.info.version, cluster.info.cluster_name, cluster.client_name)
            self._cluster = cluster
            return cluster

    @property
    def connected(self) -> Cluster | None:
        return self._cluster

    def __call__(self, payload: bytes) -> bytes:
        """Send ``payload``; return the operations to retry (b"" when none)."""
        if not payload:
            return b""
        answer = self.cluster().bulk(payload)
        items = answer.get("items", [])
        if not answer.get("errors"):
            self.counters["docs_indexed"] += len(items)
            return b""
        lines = payload.split(b"\n")
        retry: list[bytes] = []
        for i, item in enumerate(items):
            op, result = next(iter(item.items()))
            status = int(result.get("status", 0))
            if status < 300:
                self.counters["docs_indexed"] += 1
            elif status == 409 and op == "create":
                self.counters["docs_existing"] += 1
            elif status in RETRYABLE:
                self.counters["docs_retried"] += 1
                retry += lines[2 * i: 2 * i + 2]
            else:
                self._refused(result, status)
        return b"\n".join(retry) + b"\n" if retry else b""

    def _refused(self, result: dict[str, Any], status: int) -> None:
        error = result.get("error") or {}
        kind = error.get("type", str(status)) if isinstance(error, dict) else str(status)
        reason = error.get("reason", "") if isinstance(error, dict) else str(error)
        self.counters["docs_refused"] += 1
        self.refused_by_type[kind] += 1
        now = time.monotonic()
        self._logged = [t for t in self._logged if now - t < 60]
        if len(self._logged) < LOG_PER_MINUTE:
            self._logged.append(now)
            self.log.error("document %s refused for good (%s): %s: %s", result.get("_id"),
                           status, kind, reason)

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
