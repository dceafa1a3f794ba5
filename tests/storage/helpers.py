"""Shared helpers of the storage tests: HTTP calls, a reply-collecting actor, test batches."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pykka

from omphalos.directory import Directory
from omphalos.messages import Applied, Batch, Source
from omphalos.plugin import PluginContext
from omphalos.records import Columns
from omphalos.settings import Settings


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """One JSON request; (status, decoded answer)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replies(pykka.ThreadingActor):
    """A real actor standing where a transport would: it collects ``Applied`` replies."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[Applied] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Applied):
            self.applied.append(message)
            return None
        return len(self.applied)


def context(tmp_path: Path, name: str) -> PluginContext:
    return PluginContext(name=name, settings=Settings(state_dir=str(tmp_path / "state")),
                         directory=Directory())


def batch(seq: int, start_offset: int, times: list[float], *, file_id: str = "f1",
          host: str = "web1", extra: list[dict[str, Any] | None] | None = None,
          durations: list[float | None] | None = None, status: int = 200) -> Batch:
    """A batch of ``len(times)`` requests, 100 bytes per line, offsets from ``start_offset``."""
    n = len(times)
    offsets = [start_offset + 100 * i for i in range(n)]
    cols = Columns(time=list(times), client=[f"10.0.0.{i % 7}" for i in range(n)],
                   path=[f"/p{i % 3}" for i in range(n)], status=[status] * n,
                   bytes=[10 * (i + 1) for i in range(n)], offset=offsets,
                   method=["GET"] * n, protocol=["HTTP/1.1"] * n, extra=extra,
                   duration=durations)
    return Batch(Source(host, "/var/log/access.log", file_id, "monitor:test"), seq,
                 start_offset, start_offset + 100 * n, cols, n)
