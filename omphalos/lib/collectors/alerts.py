"""Alert rules and their state: fire, stay while the condition holds, resolve, clear by hand.

The rules are evaluated by the ``window`` collector (:mod:`.window`) over its sliding
windows, once per tick and before answering an ``alerts`` query. A rule evaluation yields
the set of conditions that hold now, each with a stable id (``error_rate``,
``path_error_rate:/login``, ``silent_host:web3``...). :class:`AlertState` turns successive
sets into events:

- a condition that starts to hold **fires** (it is listed in ``firing``) once it has held
  for ``fire_after_secs``;
- it stays firing while its value stays beyond the lower *resolve* level (the threshold
  times ``resolve_ratio``, e.g. 4% for a 5% error-rate threshold: hysteresis), and
  **resolves** by itself once the value has stayed on the calm side of that level for
  ``resolve_after_secs``. A share oscillating between 5.0% and 5.6% around a 5% threshold
  therefore fires once and stays firing, instead of flapping;
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

from omphalos.state import object_state, restore_object

__all__ = ["Condition", "AlertState", "RULES", "beyond", "resolve_level"]

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


def resolve_level(threshold: float, ratio: float, above: bool = True) -> float:
    """The level a firing alert must get back past to resolve: ``threshold * ratio`` for
    rules that fire above their threshold, ``threshold / ratio`` for those that fire below
    (a traffic drop). ``ratio`` 1 means no hysteresis."""
    return threshold * ratio if above else threshold / ratio


def beyond(value: float, threshold: float, ratio: float, above: bool = True) -> bool:
    """True when ``value`` is past the resolve level: a rule then reports a Condition (which
    fires only past ``threshold`` itself, and keeps a firing alert from resolving)."""
    level = resolve_level(threshold, ratio, above)
    return value > level if above else value < level


@dataclass(frozen=True)
class Condition:
    """A rule's value for one scope (site, a path or a host), past its resolve level.

    ``threshold`` is where it fires, ``resolve`` where a firing alert resolves (on the
    calm side of it); ``above`` is False for rules that fire below their threshold.
    """

    rule: str
    scope: str  # "site" | "path" | "host"
    key: str | None  # the path or host, None for the site
    message: str
    value: float
    threshold: float
    resolve: float | None = None  # None: the threshold itself (no hysteresis)
    above: bool = True

    @property
    def id(self) -> str:
        return self.rule if self.key is None else f"{self.rule}:{self.key}"

    @property
    def over(self) -> bool:
        """Past the firing threshold itself (not only past the resolve level)."""
        return self.value > self.threshold if self.above else self.value < self.threshold


class AlertState:
    """Firing alerts, those about to fire, hand-cleared ones and the history of changes.

    Everything it needs to carry on lives in this object (``firing`` rows with their
    ``calm_since``, ``pending``, ``suppressed``, ``history``), so it is kept as a whole.
    ``fire_after_secs``: how long a condition must hold before it fires;
    ``resolve_after_secs``: how long a firing alert's value must stay on the calm side of
    its resolve level before it resolves (0 and 0: at once, as soon as it changes).
    """

    def __init__(self, log: logging.Logger, history: int = 200, *,
                 fire_after_secs: float = 0.0, resolve_after_secs: float = 0.0) -> None:
        self.log = log
        self.fire_after_secs = fire_after_secs
        self.resolve_after_secs = resolve_after_secs
        self.firing: dict[str, dict[str, Any]] = {}
        #: id -> since when its condition has held past the threshold, not yet fired
        self.pending: dict[str, float] = {}
        self.suppressed: set[str] = set()
        self.history: deque[dict[str, Any]] = deque(maxlen=history)

    def to_state(self) -> dict[str, Any]:
        """Every attribute but the logger, as plain data (durable collector state): the
        firing alerts, the hand-cleared ones, the history, and whatever is added later
        (an attribute added must hold plain data, or an object with ``to_state`` and
        ``restore_state``: a state file holds nothing else)."""
        return object_state(self, skip=("log",))

    def restore_state(self, data: dict[str, Any]) -> None:
        """Load a saved alert state (attributes this version lacks are ignored)."""
        restore_object(self, data, keep=("log",))

    def _event(self, now: float, event: str, row: dict[str, Any], message: str) -> None:
        item = {"time": now, "id": row["id"], "event": event, "rule": row["rule"],
                "scope": row["scope"], "path": row["path"], "host": row.get("host"),
                "message": message, "value": row["value"],
                "threshold": row["threshold"], "resolve": row.get("resolve")}
        self.history.append(item)
        self.log.warning("alert %s: %s: %s", event, row["id"], message)

    def update(self, now: float, conditions: Iterable[Condition]) -> None:
        """Fire what has held long enough, resolve what has been calm long enough, re-arm
        cleared ones once their condition is gone."""
        holding = {c.id: c for c in conditions}
        for cid, cond in holding.items():
            row = self.firing.get(cid)
            if row is not None:  # still past the resolve level: not calm
                row.update(message=cond.message, value=cond.value, calm_since=None,
                           peak=_peak(row.get("peak"), cond))
                continue
            if cid in self.suppressed or not cond.over:
                self.pending.pop(cid, None)
                continue
            since = self.pending.setdefault(cid, now)
            if now - since < self.fire_after_secs:
                continue
            del self.pending[cid]
            row = {"id": cid, "rule": cond.rule, "scope": cond.scope,
                   "path": cond.key if cond.scope == "path" else None,
                   "host": cond.key if cond.scope == "host" else None,
                   "since": now, "message": cond.message, "value": cond.value,
                   "threshold": cond.threshold,
                   "resolve": cond.threshold if cond.resolve is None else cond.resolve,
                   "above": cond.above, "peak": cond.value, "calm_since": None}
            self.firing[cid] = row
            self._event(now, "fired", row, cond.message)
        for cid in [c for c in self.pending if c not in holding]:
            del self.pending[cid]
        for cid in [c for c in self.firing if c not in holding]:
            row = self.firing[cid]
            calm = row.get("calm_since")
            if calm is None:
                row["calm_since"] = calm = now
            if now - calm >= self.resolve_after_secs:
                self._event(now, "resolved", self.firing.pop(cid), _resolved(row, now - calm))
        self.suppressed &= holding.keys()

    def clear(self, now: float, path: str | None = None, everything: bool = False) -> int:
        """Clear by hand the alerts of ``path`` (or all of them); how many were cleared."""
        ids = [cid for cid, row in self.firing.items()
               if everything or (path is not None and row["path"] == path)]
        for cid in ids:
            row = self.firing.pop(cid)
            self._event(now, "cleared", row, f"cleared by hand ({row['message']})")
            self.suppressed.add(cid)
        return len(ids)

    def answer(self, history: int = 50) -> dict[str, Any]:
        return {"firing": sorted(self.firing.values(), key=lambda r: r["since"]),
                "history": list(self.history)[-history:]}


def _peak(peak: float | None, cond: Condition) -> float:
    """The worst value seen while firing (highest, or lowest for a rule that fires below)."""
    if peak is None:
        return cond.value
    return max(peak, cond.value) if cond.above else min(peak, cond.value)


def _resolved(row: dict[str, Any], calm_secs: float) -> str:
    """What a resolution says: back on the calm side of the resolve level, for how long,
    and where it fired (never the last firing message: that would read as still failing)."""
    side = "below" if row.get("above", True) else "above"
    fired = "above" if row.get("above", True) else "below"
    return (f"back {side} {row['resolve']:.3g} for {calm_secs:.0f}s (fires {fired} "
            f"{row['threshold']:.3g}; worst {row.get('peak', row['value']):.3g})")
