"""While a pipeline runs: say when a monitored path is missing or unreadable, and when it
is read again. Once per change, never once per look: a missing file is one warning."""

from __future__ import annotations

import logging
import time
from typing import Any

from omphalos.messages import Query

log = logging.getLogger("omphalos.cli.files")

__all__ = ["FileWatch"]

#: File states of the monitors' status that mean "nothing is read from this path".
PROBLEM_STATES = ("missing", "error")


class FileWatch:
    """Looks at the monitors' file states every ``every`` seconds (from the main loop)."""

    def __init__(self, pipeline: Any, every: float = 2.0) -> None:
        self.pipeline = pipeline
        self.every = every
        self._next = 0.0
        self.problems: dict[str, str] = {}  # path -> what was logged about it

    def check(self, now: float | None = None) -> None:
        """Log what changed since the last look (call it often; it looks every ``every``)."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return
        self._next = now + self.every
        seen: dict[str, str] = {}
        for name in self.pipeline.names("monitor"):
            try:
                status = self.pipeline.ask(name, Query("status"), timeout=2.0)
            except Exception:  # noqa: BLE001 - a dead monitor is the supervisor's to report
                continue
            for f in status.get("files") or []:
                path, state = str(f.get("path")), str(f.get("state"))
                if state not in PROBLEM_STATES:
                    continue
                error = str(f.get("error") or "")
                error = error[:1].lower() + error[1:]  # "Permission denied" mid-sentence
                if state == "missing":
                    text = f"{name}: {path}: {error or 'no such file'}; waiting for it"
                else:
                    text = f"{name}: cannot read {path}: {error or 'error'}"
                seen[path] = text
                if self.problems.get(path) != text:
                    (log.warning if state == "missing" else log.error)("%s", text)
        for path in set(self.problems) - set(seen):
            log.info("now reading %s", path)
        self.problems = seen
