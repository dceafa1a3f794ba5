"""Where the console's answers come from: one small interface, two implementations.

A :class:`DataSource` takes a query and a callback and returns at once; the answer (or the
reason there is none) is handed to the callback on a worker thread, never on the caller's.
The console's UI thread therefore never waits on a collector, however slow or dead.

- :class:`LocalSource` asks a :class:`~omphalos.pipeline.Pipeline` running in this process
  (``Pipeline.ask_async`` gives a pykka Future, waited on by a worker with a timeout);
- :class:`RemoteSource` asks a collector daemon's HTTP API (``GET /api/v1/query/{kind}``)
  with the standard library only.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pykka

from omphalos.messages import Query
from omphalos.pipeline import Pipeline, QueryError
from omphalos.switching import quick_switching

log = logging.getLogger("omphalos.output.httptop")


#: The pseudo-kind of the pipeline's own health (``Pipeline.status()``, ``/api/v1/status``).
STATUS = "pipeline_status"


class Unavailable(Exception):
    """No collector serves this kind (or this window): shown as unavailable, not an error."""


@dataclass(frozen=True)
class Reply:
    """The outcome of one query: ``value`` when answered, else ``error`` (a short reason).

    ``unavailable`` is true when no collector serves the kind, as opposed to a failure
    (a timeout, a dead collector, a refused connection).
    """

    kind: str
    params: Mapping[str, Any]
    value: Any = None
    error: str | None = None
    unavailable: bool = False
    asked_at: float = 0.0
    answered_at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.error is None


Callback = Callable[[Reply], None]


class DataSource(Protocol):
    """Asynchronous queries: :meth:`submit` returns at once; ``on_done`` runs later,
    on a worker thread, exactly once per submit (also when the source is closed)."""

    #: Shown in the header: what is being watched.
    description: str

    def submit(self, kind: str, params: Mapping[str, Any], on_done: Callback) -> None:
        """Ask ``kind`` with ``params`` (``kind`` may be :data:`STATUS`)."""

    def close(self, wait_secs: float = 0.0) -> None:
        """Stop the workers (waiting at most ``wait_secs`` for them to end); queries not
        yet started get a "closed" reply, running ones end with their answer."""


class _Workers:
    """A few daemon threads running blocking jobs from a queue (not concurrent.futures:
    its threads are joined at interpreter exit, which would hold ``q`` hostage to a slow
    collector)."""

    def __init__(self, count: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Reply], Callback, Reply] | None] = (
            queue.SimpleQueue())
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], Reply], on_done: Callback, closed: Reply) -> None:
        if self._closed.is_set():
            on_done(closed)
            return
        self._jobs.put((job, on_done, closed))

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, on_done, closed = item
            if self._closed.is_set():
                reply = closed
            else:
                try:
                    reply = job()
                except Exception as exc:  # noqa: BLE001 - reported on screen, never raised
                    reply = _failed(closed, f"{type(exc).__name__}: {exc}")
            try:
                on_done(reply)
            except Exception:  # a broken callback must not kill the worker
                log.exception("httptop callback failed")

    def close(self, wait_secs: float = 0.0) -> None:
        self._closed.set()
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + wait_secs
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _failed(template: Reply, error: str, unavailable: bool = False) -> Reply:
    return Reply(template.kind, template.params, error=error, unavailable=unavailable,
                 asked_at=template.asked_at)


class LocalSource:
    """Queries a pipeline running in this process, through ``Pipeline.ask_async``."""

    def __init__(self, pipeline: Pipeline, *, timeout_secs: float = 30.0, workers: int = 8,
                 description: str = "local") -> None:
        self.pipeline = pipeline
        self.timeout_secs = timeout_secs
        self.description = description
        self._workers = _Workers(workers, "httptop-local")

    def submit(self, kind: str, params: Mapping[str, Any], on_done: Callback) -> None:
        template = Reply(kind, dict(params), error="closed", asked_at=time.monotonic())
        self._workers.submit(lambda: self._ask(template), on_done, template)

    def _ask(self, template: Reply) -> Reply:
        if template.kind == STATUS:
            return self._status(template)
        try:  # routed by the collectors' declarations: nothing is asked to find out
            name = self.pipeline.answering(template.kind, template.params)
        except QueryError as exc:  # none declares it serves this (QueryRefused), or none
            return _failed(template, str(exc), unavailable=True)
        try:
            future = self.pipeline.ask_async(name, Query(template.kind, dict(template.params)))
            with quick_switching(self.pipeline.settings.query_switch_interval_ms / 1000):
                value = future.get(timeout=self.timeout_secs)
        except ValueError as exc:  # the collector refuses the query as asked
            return _failed(template, str(exc), unavailable=True)
        except QueryError as exc:
            return _failed(template, str(exc), unavailable=False)
        except pykka.Timeout:
            return _failed(template, f"{name} did not answer within {self.timeout_secs:g}s",
                           unavailable=False)
        except pykka.ActorDeadError:
            return _failed(template, f"{name} is not running", unavailable=False)
        return Reply(template.kind, template.params, value=value, asked_at=template.asked_at)

    def _status(self, template: Reply) -> Reply:
        """The supervisor's health (read without asking anyone) plus each monitor's status."""
        health = self.pipeline.health.snapshot()
        actors = health.setdefault("actors", {})
        for name in self.pipeline.names("monitor"):
            try:
                actors.setdefault(name, {}).update(
                    self.pipeline.ask_async(name, Query("status")).get(
                        timeout=min(self.timeout_secs, 5.0)))
            except (pykka.Timeout, pykka.ActorDeadError, QueryError, ValueError) as exc:
                actors.setdefault(name, {})["error"] = str(exc) or type(exc).__name__
        return Reply(template.kind, template.params, value=health, asked_at=template.asked_at)

    def close(self, wait_secs: float = 0.0) -> None:
        """Stop the workers, waiting at most ``wait_secs`` for them to end."""
        self._workers.close(wait_secs)


class RemoteSource:
    """Queries a collector daemon's HTTP API (``--connect HOST:PORT``)."""

    def __init__(self, address: str, *, token: str | None = None, timeout_secs: float = 30.0,
                 workers: int = 8) -> None:
        self.base = parse_address(address)
        self.token = token
        self.timeout_secs = timeout_secs
        self.description = self.base.split("://", 1)[1]
        self._workers = _Workers(workers, "httptop-remote")

    def submit(self, kind: str, params: Mapping[str, Any], on_done: Callback) -> None:
        template = Reply(kind, dict(params), error="closed", asked_at=time.monotonic())
        self._workers.submit(lambda: self._ask(template), on_done, template)

    def url(self, kind: str, params: Mapping[str, Any]) -> str:
        """The URL of one query (parameters that are None are left out)."""
        if kind == STATUS:
            return f"{self.base}/api/v1/status"
        query = {k: _as_text(v) for k, v in params.items() if v is not None}
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.base}/api/v1/query/{urllib.parse.quote(kind)}{suffix}"

    def _ask(self, template: Reply) -> Reply:
        if template.kind == "clear_alert":
            request = urllib.request.Request(
                f"{self.base}/api/v1/alerts/clear", method="POST",
                data=json.dumps({k: v for k, v in template.params.items() if v is not None}
                                ).encode(),
                headers={"Content-Type": "application/json"})
        else:
            request = urllib.request.Request(self.url(template.kind, template.params))
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_secs) as response:
                value = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            reason = _error_text(exc)
            unavailable = exc.code in (400, 404)  # not served (params are checked here first)
            return _failed(template, f"HTTP {exc.code}: {reason}", unavailable=unavailable)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            why = getattr(exc, "reason", None) or exc
            return _failed(template, f"{self.description}: {why}")
        return Reply(template.kind, template.params, value=value, asked_at=template.asked_at)

    def close(self, wait_secs: float = 0.0) -> None:
        """Stop the workers, waiting at most ``wait_secs`` for them to end."""
        self._workers.close(wait_secs)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode("utf-8", "replace"))
        return str(body.get("error", body)) if isinstance(body, dict) else str(body)
    except (ValueError, OSError):
        return str(exc.reason)


def parse_address(address: str) -> str:
    """``HOST:PORT`` (or a URL) as the API's base URL; ValueError when it is not one."""
    text = address.strip().rstrip("/")
    if "://" not in text:
        text = f"http://{text}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--connect {address!r}: expected HOST:PORT or http://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"--connect {address!r}: the port is not a number") from None
    if port is None:
        raise ValueError(f"--connect {address!r}: expected HOST:PORT (the port is missing)")
    return f"{parts.scheme}://{parts.netloc}"
