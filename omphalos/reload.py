"""Applying a changed config to a running :class:`~omphalos.pipeline.Pipeline`.

A reload goes through the same path as a start: the new config is checked and built into
component specs first (a bad config changes nothing), then compared with the running ones:

``added`` / ``removed``
    components only in the new / old config: started / stopped.
``changed``
    same name, but another plugin class or other options (or, for an output, other
    collectors to read): stopped and started again with the new config.
``rewired``
    only who feeds whom differs (a transport gains a collector, a collector gains an
    output): the running actor keeps its state and is told its new neighbours.
``paused``
    monitors upstream of a removed or changed component. Before anything is stopped they
    are told to stop reading, their batches in flight are awaited (so every offset that
    reached a collector is committed), then they are restarted from their checkpoints.

Everything else keeps running untouched, so a collector that did not change keeps its
counts and its de-duplication memory: no line is lost (monitors resume from committed
offsets) or counted twice (collectors drop what they already applied). A monitor without
checkpoints (``checkpoints = no``) that is paused starts over from ``start_at``.

A changed ``[omphalos]`` section affects every actor: the whole pipeline is stopped and
started again (collectors then start empty).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import ConfigSource
from .settings import Settings
from .topology import ComponentSpec

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger("omphalos.reload")

#: Kinds through which data flows towards collectors, upstream first.
DATA_KINDS = ("monitor", "parser", "transport", "collector")


@dataclass(frozen=True)
class ReloadPlan:
    """What a reload does, by component name (see the module doc for each group)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    rewired: tuple[str, ...] = ()
    paused: tuple[str, ...] = ()
    settings_changed: bool = False
    #: ``workers = N``: the worker processes restarted (they deal their inputs anew).
    workers_restarted: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.rewired
                    or self.paused or self.settings_changed or self.workers_restarted)

    @property
    def to_stop(self) -> tuple[str, ...]:
        """Running components stopped by the reload."""
        return self.removed + self.changed + self.paused

    @property
    def to_start(self) -> tuple[str, ...]:
        """Components (re)started by the reload."""
        return self.added + self.changed + self.paused

    def as_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed),
                "changed": list(self.changed), "rewired": list(self.rewired),
                "paused": list(self.paused), "settings_changed": self.settings_changed,
                "workers_restarted": self.workers_restarted}

    def describe(self) -> str:
        """One line for the log."""
        if self.empty:
            return "nothing changed"
        workers = [f"{self.workers_restarted} workers restarted"] if self.workers_restarted \
            else []
        if self.settings_changed:
            return "; ".join(["[omphalos] settings changed: every component restarted",
                              *workers])
        parts = [f"{label} {', '.join(names)}" for label, names in (
            ("added", self.added), ("removed", self.removed), ("changed", self.changed),
            ("rewired", self.rewired), ("paused", self.paused)) if names]
        return "; ".join(parts + workers)


def _rebuild_needed(old: ComponentSpec, new: ComponentSpec) -> bool:
    if old.cls is not new.cls or old.kind != new.kind or old.config != new.config:
        return True
    # an output reads the collectors it was given when it started
    return new.kind == "output" and old.inputs != new.inputs


def _upstream_monitors(names: Iterable[str], specs: Mapping[str, ComponentSpec]) -> set[str]:
    """Monitors whose data reaches any of ``names`` in the graph ``specs``."""
    found: set[str] = set()
    todo = [n for n in names if n in specs and specs[n].kind in DATA_KINDS]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = specs[name]
        if spec.kind == "monitor":
            found.add(name)
            continue
        todo.extend(n for n in spec.inputs if n in specs)
    return found


def plan_reload(old: Mapping[str, ComponentSpec], new: Mapping[str, ComponentSpec],
                *, settings_changed: bool = False) -> ReloadPlan:
    """Compare two sets of component specs (name -> spec) and say what a reload does."""
    if settings_changed:
        return ReloadPlan(added=tuple(n for n in new if n not in old),
                          removed=tuple(n for n in old if n not in new),
                          changed=tuple(n for n in new if n in old), settings_changed=True)
    added = tuple(n for n in new if n not in old)
    removed = tuple(n for n in old if n not in new)
    changed = tuple(n for n in new if n in old and _rebuild_needed(old[n], new[n]))
    rewired = tuple(n for n in new if n in old and n not in changed
                    and (old[n].inputs, old[n].outputs) != (new[n].inputs, new[n].outputs))
    upstream = _upstream_monitors(removed + changed, old)
    paused = tuple(n for n in new if n in upstream and n not in changed)
    return ReloadPlan(added, removed, changed, rewired, paused)


def _specs_from(pipeline: Pipeline, config: Any
                ) -> tuple[dict[str, ComponentSpec], Settings, ConfigSource | None]:
    from .pipeline import Pipeline as PipelineClass

    fresh = PipelineClass.from_config(config, kinds=pipeline.kinds,
                                      registry=pipeline.registry)
    return fresh.components, fresh.settings, fresh.config


def reload_pipeline(pipeline: Pipeline, config: Any, *, timeout: float = 10.0) -> ReloadPlan:
    """Apply ``config`` (path, dict or ConfigSource) to ``pipeline``; returns the plan.

    Raises ConfigError, before touching anything, when the new config is wrong. Runs in the
    caller's thread and goes through the pipeline's lifecycle methods only: actors are
    stopped, started and told their new neighbours (:class:`~omphalos.messages.Rewire`)
    through their inboxes and the supervisor's, never changed from this thread.
    """
    components, settings, source = _specs_from(pipeline, config)
    return apply_reload(pipeline, components, settings, source, timeout=timeout)


def apply_reload(pipeline: Pipeline, components: Mapping[str, ComponentSpec],
                 settings: Settings, source: ConfigSource | None, *,
                 timeout: float = 10.0) -> ReloadPlan:
    """Bring ``pipeline`` to the component specs ``components`` (already built and
    checked), changing only what differs; returns the plan applied. A
    :class:`~omphalos.workers.WorkerPipeline` reloads its own process's part with it."""
    plan = plan_reload(pipeline.components, components,
                       settings_changed=settings != pipeline.settings)
    if not pipeline.started:
        pipeline.adopt(components.values(), settings, source)
        return plan
    if plan.settings_changed:
        log.warning("reload: %s", plan.describe())
        pipeline.stop(timeout=timeout)
        pipeline.adopt(components.values(), settings, source)
        pipeline.start()
        return plan
    if plan.empty:
        pipeline.config = source
        log.info("reload: nothing changed")
        return plan
    deadline = time.monotonic() + timeout
    paused = [n for n in plan.to_stop if pipeline.components[n].kind == "monitor"]
    if not pipeline.drain(paused, deadline):
        log.warning("reload: batches of %s still in flight; they will be read again "
                    "from the last committed offsets", ", ".join(paused))
    pipeline.stop_components(plan.to_stop, deadline)
    pipeline.adopt(components.values(), settings, source)
    # receivers first; running components learn their new neighbours once those exist and
    # before the paused monitors, the only sources of new batches, read again
    pipeline.start_components(plan.to_start, ("collector", "transport", "parser"))
    pipeline.rewire(plan.rewired)
    pipeline.start_components(plan.to_start, ("monitor", "output"))
    log.info("reload: %s", plan.describe())
    return plan
