"""Is a freshly started role really running? Asked before a daemon says "started".

A component whose ``setup`` fails (a web port already taken, a history file it may not
write) dies in its actor thread after :meth:`Pipeline.start` has returned; the supervisor
restarts it with backoff and gives up 20-30 s later. A daemon that reported "started" on
``start()`` alone would leave its init script claiming success for a dying process, so the
role asks every component for its status (answered only once ``setup`` is done) and then
watches the supervisor's health for a moment: any death is the reason it is not ready.
"""

from __future__ import annotations

import time
from typing import Any

from omphalos.messages import Query
from omphalos.pipeline import QueryError

__all__ = ["not_ready"]

#: Seconds the supervisor's health is watched after every component answered.
SETTLE_SECS = 0.5


def not_ready(pipeline: Any, timeout: float = 10.0, settle: float = SETTLE_SECS) -> str | None:
    """Why ``pipeline`` (started) is not ready; None once every component runs."""
    deadline = time.monotonic() + timeout
    unanswered: dict[str, str] = {}
    for name in pipeline.components:
        left = max(0.5, deadline - time.monotonic())
        try:
            pipeline.ask(name, Query("status"), timeout=left)
        except QueryError as exc:
            unanswered[name] = str(exc)
    settled = time.monotonic() + (settle if not unanswered else max(settle, 1.0))
    while True:
        reason = _failure(pipeline)
        if reason is not None:
            return reason
        if time.monotonic() >= settled:
            break
        time.sleep(0.05)
    if unanswered:
        return "; ".join(unanswered.values())
    return None


def _failure(pipeline: Any) -> str | None:
    """The first component the supervisor saw die, with its error."""
    snapshot = pipeline.health.snapshot()
    for name, child in snapshot["actors"].items():
        if child["restarts"] or child["state"] in ("restarting", "failed") \
                or child["last_error"]:
            return f"{name} failed to start: {child['last_error'] or child['state']}"
    if snapshot["reasons"]:
        return "; ".join(snapshot["reasons"])
    return None
