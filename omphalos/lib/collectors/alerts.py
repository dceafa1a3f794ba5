"""Alert rules and their state: fire, stay while the condition holds, resolve, clear by hand.

The rules are evaluated by the ``window`` collector (:mod:`.window`) over its sliding
windows, once per tick and before answering an ``alerts`` query. A rule evaluation yields
the set of conditions that hold now, each with a stable id (``error_rate``,
``path_error_rate:/login``, ``silent_host:web3``...). :class:`AlertState` turns successive
sets into events:

- a condition that starts to hold **fires** (it is listed in ``firing``);
- it stays firing while it holds, and **resolves** by itself when it no longer does;
- an operator may **clear** it by hand (one path's alerts, or all of them): it leaves
  ``firing`` at once and is not fired again until its condition has stopped holding once
  (so a cleared alert does not come straight back on the next tick).

Every change is logged (logger ``omphalos.collector.NAME``) and kept in a bounded history.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Condition", "AlertState", "RULES"]

#: The rule kinds, with what they watch.
RULES: dict[str, str] = {
    "error_rate": "share of 5xx answers site-wide over the alert window above a percentage",
    "path_error_rate": "share of 5xx answers of one path over the alert window above a "
                       "percentage",
    "rate_spike": "request rate over the alert window above k times the baseline window's",
    "rate_drop": "request rate over the alert window below a fraction of the baseline's",
    "p95_duration": "95th percentile of durations over the alert window above a threshold",
    "silent_host": "a source host sent nothing for longer than a number of seconds",
}


@dataclass(frozen=True)
class Condition:
    """A rule's condition that holds now, for one scope (site, a path or a host)."""

    rule: str
    scope: str  # "site" | "path" | "host"
    key: str | None  # the path or host, None for the site
    message: str
    value: float
    threshold: float

    @property
    def id(self) -> str:
        return self.rule if self.key is None else f"{self.rule}:{self.key}"


class AlertState:
    """Firing alerts, hand-cleared ones and the history of changes."""

    def __init__(self, log: logging.Logger, history: int = 200) -> None:
        self.log = log
        self.firing: dict[str, dict[str, Any]] = {}
        self.suppressed: set[str] = set()
        self.history: deque[dict[str, Any]] = deque(maxlen=history)

    def _event(self, now: float, event: str, row: dict[str, Any]) -> None:
        item = {"time": now, "id": row["id"], "event": event, "rule": row["rule"],
                "scope": row["scope"], "path": row["path"], "host": row.get("host"),
                "message": row["message"], "value": row["value"],
                "threshold": row["threshold"]}
        self.history.append(item)
        self.log.warning("alert %s: %s (%s)", event, row["id"], row["message"])

    def update(self, now: float, conditions: Iterable[Condition]) -> None:
        """Fire what newly holds, resolve what no longer does, re-arm cleared ones."""
        holding = {c.id: c for c in conditions}
        for cid, cond in holding.items():
            row = self.firing.get(cid)
            if row is not None:
                row.update(message=cond.message, value=cond.value)
            elif cid not in self.suppressed:
                row = {"id": cid, "rule": cond.rule, "scope": cond.scope,
                       "path": cond.key if cond.scope == "path" else None,
                       "host": cond.key if cond.scope == "host" else None,
                       "since": now, "message": cond.message, "value": cond.value,
                       "threshold": cond.threshold}
                self.firing[cid] = row
                self._event(now, "fired", row)
        for cid in [c for c in self.firing if c not in holding]:
            self._event(now, "resolved", self.firing.pop(cid))
        self.suppressed &= holding.keys()

    def clear(self, now: float, path: str | None = None, everything: bool = False) -> int:
        """Clear by hand the alerts of ``path`` (or all of them); how many were cleared."""
        ids = [cid for cid, row in self.firing.items()
               if everything or (path is not None and row["path"] == path)]
        for cid in ids:
            self._event(now, "cleared", self.firing.pop(cid))
            self.suppressed.add(cid)
        return len(ids)

    def answer(self, history: int = 50) -> dict[str, Any]:
        return {"firing": sorted(self.firing.values(), key=lambda r: r["since"]),
                "history": list(self.history)[-history:]}
