"""The collectors' dead-letter file: batches that made a collector raise, kept to look at.

A batch that passed every check (:mod:`omphalos.validate`) and still makes a collector's
``apply`` raise is a bug or a value nobody foresaw. Restarting the collector would not help:
the batch is re-sent and raises again, and the restarts end in a degraded pipeline. Instead
the collector *quarantines* it: the batch is appended to ``quarantine/COMPONENT.jsonl`` under
the state directory (one JSON object a line: time, collector, reason, source, byte range and
the batch in the wire format, base64), counted, and acknowledged as rejected so it is never
re-sent. The collector keeps its state and stays up.

The file is bounded: once it would pass ``quarantine_max_bytes`` (``[omphalos]`` setting,
default 16 MiB) it is renamed to ``.1`` (replacing the older one) and a new one started, so
at most twice that much is kept, the newest batches always among it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from typing import Any

from .messages import Batch
from .wire import encode_batch

__all__ = ["Quarantine", "DEFAULT_MAX_BYTES"]

#: Default bound of one quarantine file (16 MiB); ``[omphalos] quarantine_max_bytes``.
DEFAULT_MAX_BYTES = 16 << 20

log = logging.getLogger("omphalos.quarantine")


class Quarantine:
    """An append-only, size-bounded JSON-lines file of quarantined batches."""

    def __init__(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def add(self, batch: Batch, collector: str, reason: str) -> bool:
        """Append ``batch``; False (and a log line) when it could not be written (the batch
        is still counted and rejected by the caller: a full disk never stops a collector)."""
        record: dict[str, Any] = {
            "time": time.time(), "collector": collector, "reason": reason[:1000],
            "host": batch.source.host, "path": batch.source.path,
            "file_id": batch.source.file_id, "origin": batch.source.origin,
            "seq": batch.seq, "start": batch.start, "end": batch.end, "lines": batch.lines,
            "records": len(batch.records)}
        try:
            record["batch"] = base64.b64encode(encode_batch(batch)).decode("ascii")
        except Exception as exc:  # noqa: BLE001 - kept without its body, with the reason
            record["batch_error"] = f"{type(exc).__name__}: {exc}"[:1000]
        line = json.dumps(record, default=str) + "\n"
        if len(line) > self.max_bytes:
            record.pop("batch", None)
            record["batch_error"] = f"batch larger than quarantine_max_bytes ({self.max_bytes})"
            line = json.dumps(record, default=str) + "\n"
        try:
            with self._lock:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                try:
                    size = os.path.getsize(self.path)
                except FileNotFoundError:
                    size = 0
                if size and size + len(line) > self.max_bytes:
                    os.replace(self.path, self.path + ".1")
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(line)
        except OSError as exc:
            log.error("cannot write the quarantine file %s: %s", self.path, exc)
            return False
        return True
