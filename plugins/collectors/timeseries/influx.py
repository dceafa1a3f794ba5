"""Writing line protocol over HTTP: ``POST /write?db=DB&precision=s``.

InfluxDB 1.x answers 204; 400 means the points were refused (a field of another type than
before, a malformed line): not retried, counted and logged with the server's reason. 429, 5xx
and an unreachable server are retried by the shipper. A missing database (404) is created
once when ``create_database`` is on, otherwise retried later.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from omphalos.shipping import StoreError

__all__ = ["InfluxWriter"]


class InfluxWriter:
    """The shipper's sender for one InfluxDB-compatible endpoint."""

    def __init__(self, url: str, database: str, *, retention_policy: str = "",
                 username: str = "", password: str = "", token: str = "",
                 create_database: bool = True, timeout_secs: float = 10.0,
                 log: logging.Logger | None = None) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.create_database = create_database
        self.timeout = timeout_secs
        self.log = log or logging.getLogger("omphalos.collector.timeseries")
        self.headers = {"Content-Type": "text/plain; charset=utf-8"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        elif username:
            basic = base64.b64encode(f"{username}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {basic}"
        self.counters: Counter[str] = Counter()
        self._database_ready = not create_database

    def _post(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, bytes]:
        query = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{self.url}{path}?{query}", data=body,
                                         headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:
            raise StoreError(None, f"{self.url}: {exc}") from None

    def ensure_database(self) -> None:
        """``CREATE DATABASE`` (InfluxDB 1.x; a no-op when it exists)."""
        if self._database_ready:
            return
        status, body = self._post("/query", {"q": f'CREATE DATABASE "{self.database}"'}, b"")
        if status >= 500 or status == 429:
            raise StoreError(status, _reason(body))
        if status >= 300:
            self.log.warning("CREATE DATABASE %s answered %s: %s (writing anyway)",
                             self.database, status, _reason(body))
        self._database_ready = True

    def __call__(self, payload: bytes) -> bytes:
        """Write ``payload``; b"" when done (StoreError for the shipper to retry)."""
        if not payload:
            return b""
        self.ensure_database()
        params = {"db": self.database, "precision": "s"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        status, body = self._post("/write", params, payload)
        if status < 300:
            self.counters["points_written"] += payload.count(b"\n")
            return b""
        if status == 404 and self.create_database:
            self._database_ready = False
        if status == 400:
            self.counters["points_refused"] += payload.count(b"\n")
            self.log.error("points refused for good: %s", _reason(body))
            return b""
        raise StoreError(status, _reason(body))


def _reason(body: bytes) -> str:
    try:
        answer = json.loads(body)
        return str(answer.get("error", answer))[:500]
    except (ValueError, AttributeError):
        return body[:500].decode("utf-8", "replace")
