"""``workers = N``: spread one host's files over N processes, for more than one core.

Parsing is pure Python, so one process parses with one core. With ``[omphalos] workers = N``
the files of every monitor are shared out over N worker processes (``multiprocessing``);
each worker runs the monitors and parsers of its share (the workers are forked when the
process has no thread yet, as under the ``omphalos`` command, else spawned). Where the
batches go depends on the config, and is decided by the plugins' declarations only (this
module names no plugin and no option):

* a transport that crosses processes itself (``across_processes`` is None: a network
  transport) runs in every worker, with the config its class gives each worker copy
  (:meth:`~omphalos.plugin.TransportPlugin.for_worker`: its own spool, for one);
* a transport that does not (the in-process one) names the transport that carries it;
  that class's :meth:`~omphalos.plugin.TransportPlugin.loopback` gives a receiver, which
  runs here with the collectors and outputs, and one sender per worker feeding it. When
  every collector here declares it can be fed batches reduced to counts
  (:meth:`~omphalos.plugin.CollectorPlugin.counted_dimensions`), the senders are asked for
  counted batches (:mod:`omphalos.counts`): counting moves to the workers, and this
  process, which all of them feed, only merges counts.

Inputs are shared out when the workers start: each monitor deals them itself
(:meth:`~omphalos.plugin.MonitorPlugin.deal`; the file monitor finds its files as it would
alone, exclusions included, and deals them by size). Rotation keeps working (a worker
follows its paths through renames and truncations), but a file with a new name that
appears under a glob later is only read after the next start or reload (a reload restarts
the workers from the new config: :meth:`WorkerPipeline.reload`). Monitors are renamed
``NAME@i`` in worker ``i`` so that the workers' batches never share an origin; the workers
share the state directory (checkpoints are kept per monitor name and path).

:func:`pipeline_from_config` returns a plain :class:`~omphalos.pipeline.Pipeline` when
``workers`` is 1 and a :class:`WorkerPipeline` (the same API) otherwise.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pykka

from .config import ConfigError, ConfigSource, load_ini
from .counting import DEFAULT_COUNTING_OPTIONS
from .dealing import deal_by_size
from .directory import Directory
from .messages import Query
from .pipeline import Pipeline
from .plugin import CollectorPlugin, CountedBatches, Loopback, MonitorPlugin, TransportPlugin
from .registry import Registry, default_registry
from .reload import ReloadPlan, apply_reload
from .settings import Settings
from .supervisor import Health
from .topology import (
    SETTINGS_SECTION,
    ComponentSpec,
    build_components,
    build_settings,
    section_of,
)

log = logging.getLogger("omphalos.workers")

__all__ = ["WorkerPipeline", "WorkerPlan", "pipeline_from_config", "plan_workers",
           "share_files"]

#: ``paths`` dealt to shares by size (kept under its first name).
share_files = deal_by_size


def pipeline_from_config(config: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]]
                         | ConfigSource) -> Pipeline | WorkerPipeline:
    """A Pipeline, or a WorkerPipeline when the config says ``workers`` > 1."""
    source = _source(config)
    if build_settings(source).workers > 1:
        return WorkerPipeline(source)
    return Pipeline.from_config(source)


def counted_batches(components: list[ComponentSpec]) -> CountedBatches | None:
    """How the collectors among ``components`` can be fed batches reduced to counts (the
    union of their counted dimensions, the largest of their table capacities, 0 if one
    keeps every key), or None when one of them needs records (see
    :meth:`CollectorPlugin.counted_dimensions`) or counts with other options than the
    senders do (``counting_options``: a summary's own ``static_extensions`` or
    ``geoip_database``; the senders count with :data:`DEFAULT_COUNTING_OPTIONS`)."""
    wanted: list[str] = []
    capacities: list[int] = []
    for spec in components:
        if spec.kind != "collector":
            continue
        assert issubclass(spec.cls, CollectorPlugin)
        dims = spec.cls.counted_dimensions(spec.config)
        if dims is None:
            return None
        options = getattr(spec.cls, "counting_options", None)
        if options is not None and options(spec.config) != DEFAULT_COUNTING_OPTIONS:
            log.info("%s counts with its own options: workers send it records", spec.name)
            return None
        wanted.extend(d for d in dims if d not in wanted)
        capacities.append(spec.cls.counted_capacity(spec.config))
    if not wanted:
        return None
    return CountedBatches(tuple(wanted), 0 if 0 in capacities else max(capacities))


def _source(config: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]] | ConfigSource
            ) -> ConfigSource:
    if isinstance(config, ConfigSource):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_ini([Path(config)])
    return ConfigSource.from_dict(config)


@dataclass
class WorkerPlan:
    """What runs where with ``workers = N``, built from the plugins' declarations only."""

    #: This process's settings and components (collectors, outputs, loopback receivers).
    settings: Settings
    components: list[ComponentSpec]
    #: One raw config per worker process that has inputs to read.
    worker_configs: list[dict[str, dict[str, Any]]]
    #: How the workers reduce batches to counts before sending (None: they send records).
    counted: CountedBatches | None


def plan_workers(source: ConfigSource, registry: Registry) -> WorkerPlan:
    """Split the pipeline ``source`` describes over this process and its workers.

    Each monitor deals its inputs itself (:meth:`MonitorPlugin.deal`); a transport that does
    not cross processes (``across_processes``) is replaced by the loopback pair of the one
    that carries it (:meth:`TransportPlugin.loopback`); every other transport gets its
    per-worker config (:meth:`TransportPlugin.for_worker`).
    """
    settings = build_settings(source)
    workers = settings.workers
    specs = build_components(source, registry)
    base = {**source.section(SETTINGS_SECTION).values, "workers": 1}
    state = settings.state_path
    os.makedirs(state, exist_ok=True)
    here = {s.name: dict(source.section(s.name).values) for s in specs
            if s.kind in ("collector", "output")}
    counted = counted_batches(specs) if here else None
    carried: dict[str, tuple[type[TransportPlugin], Loopback]] = {}
    for spec in specs:
        if not (here and issubclass(spec.cls, TransportPlugin) and spec.cls.across_processes):
            continue
        carrier = registry.get("transport", spec.cls.across_processes, section=spec.name)
        assert issubclass(carrier, TransportPlugin)
        loop = carrier.loopback(state, workers, counted)
        if loop is None:
            raise ConfigError(f"workers = {workers}: transport {carrier.name!r} (which carries "
                              f"{spec.cls.name!r} between processes) cannot make a loopback "
                              f"pair", file=source.section(spec.name).origin(),
                              section=spec.name)
        carried[spec.name] = (carrier, loop)
        here[spec.name] = section_of(carrier, loop.receiver)
    parent_source = ConfigSource.from_dict({SETTINGS_SECTION: base, **here})
    components = build_components(parent_source, registry) if here else []
    dealt = {s.name: s.cls.deal(s.config, workers) for s in specs
             if issubclass(s.cls, MonitorPlugin)}
    configs: list[dict[str, dict[str, Any]]] = []
    for i in range(workers):
        config: dict[str, dict[str, Any]] = {SETTINGS_SECTION: dict(base)}
        renamed: dict[str, str] = {}
        for spec in specs:
            if spec.name in dealt and i < len(dealt[spec.name]):
                renamed[spec.name] = f"{spec.name}@{i}"
                config[renamed[spec.name]] = section_of(spec.cls, dealt[spec.name][i])
        if not renamed:
            continue
        for spec in specs:
            if spec.kind == "parser":
                config[spec.name] = {**section_of(spec.cls, spec.config),
                                     "inputs": [renamed[m] for m in spec.inputs if m in renamed]}
            elif issubclass(spec.cls, TransportPlugin):
                if spec.name in carried:
                    carrier, loop = carried[spec.name]
                    section = section_of(carrier, loop.senders[i])
                else:
                    section = section_of(spec.cls, spec.cls.for_worker(spec.config, spec.name,
                                                                       i, state))
                config[spec.name] = {**section, "inputs": list(spec.inputs)}
        configs.append(config)
    return WorkerPlan(build_settings(parent_source), components, configs, counted)


class WorkerPipeline:
    """This process's part of the pipeline plus N worker processes, with the Pipeline API.

    Built by composition: :attr:`local` is a plain :class:`Pipeline` of this process's
    components (collectors, outputs, loopback receivers: maybe none), which the outputs
    see through ``context.pipeline`` as this object; the worker processes are this
    object's own. Methods run in the caller's thread, like Pipeline's.
    """

    def __init__(self, source: ConfigSource, registry: Registry | None = None) -> None:
        registry = registry or default_registry()
        plan = plan_workers(source, registry)
        self.workers = build_settings(source).workers
        #: This process's part: a Pipeline that knows nothing of the workers.
        self.local = Pipeline(plan.components, plan.settings, config=source, front=self)
        self.local.registry = registry
        #: Dimensions the workers count batches over before sending them (None: they send
        #: records), when every collector here can be fed counts.
        self.counted_dimensions: tuple[str, ...] | None = None
        #: Keys per dimension the workers keep of each batch's counts (0: all).
        self.counted_capacity = 0
        self.worker_configs: list[dict[str, dict[str, Any]]] = []
        self._adopt_plan(plan)
        self.started = False
        self._procs: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []

    def _adopt_plan(self, plan: WorkerPlan) -> None:
        """The workers' part of ``plan`` (used by the next start of the workers)."""
        self.counted_dimensions = plan.counted.dimensions if plan.counted else None
        self.counted_capacity = plan.counted.capacity if plan.counted else 0
        self.worker_configs = plan.worker_configs

    # -- what Pipeline has, about this process's part --------------------------------------
    @property
    def settings(self) -> Settings:
        return self.local.settings

    @property
    def components(self) -> dict[str, ComponentSpec]:
        return self.local.components

    @property
    def config(self) -> ConfigSource | None:
        return self.local.config

    @property
    def health(self) -> Health:
        return self.local.health

    @property
    def directory(self) -> Directory:
        return self.local.directory

    def names(self, kind: str) -> list[str]:
        return self.local.names(kind)

    def ask(self, name: str, message: Any, timeout: float | None = None) -> Any:
        return self.local.ask(name, message, timeout)

    def ask_async(self, name: str, message: Any) -> pykka.Future[Any]:
        return self.local.ask_async(name, message)

    def query(self, kind: str = "summary", collector: str | None = None,
              timeout: float | None = None, **params: Any) -> Any:
        return self.local.query(kind, collector, timeout, **params)

    def answering(self, kind: str, params: Mapping[str, Any] | None = None,
                  collector: str | None = None, among: Iterable[str] | None = None) -> str:
        return self.local.answering(kind, params, collector, among)

    def kinds_answered(self, among: Iterable[str] | None = None) -> frozenset[str]:
        return self.local.kinds_answered(among)

    def reload(self, config: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]]
               | ConfigSource, *, timeout: float = 10.0) -> ReloadPlan:
        """Apply a changed config (SIGHUP) through the same path as a start.

        The new config is planned first (:func:`plan_workers`; a ConfigError changes
        nothing). Then the worker processes are stopped (their monitors commit what was
        delivered), this process's part is reloaded as a :class:`Pipeline` is (an
        unchanged collector keeps its counts) and the workers are started from the new
        plan: each monitor deals its inputs out again and resumes from its checkpoints.
        ``workers = 1`` in the new config is refused: leaving worker mode is a restart.
        """
        source = _source(config)
        settings = build_settings(source)
        if settings.workers < 2:
            raise ConfigError("a reload cannot leave worker mode (restart to run without "
                              "workers)", file=source.section(SETTINGS_SECTION).origin(),
                              section=SETTINGS_SECTION, key="workers")
        plan = plan_workers(source, self.local.registry or default_registry())
        deadline = time.monotonic() + timeout
        was_started = self.started
        self._stop_workers(deadline)
        applied = apply_reload(self.local, {c.name: c for c in plan.components},
                               plan.settings, source,
                               timeout=max(1.0, deadline - time.monotonic()))
        self._adopt_plan(plan)
        self.workers = settings.workers
        if was_started:
            if self.local.components and not self.local.started:
                self.local.start()  # the old plan had nothing in this process
            self._start_workers()
        log.info("reload: %d workers restarted", len(self._procs))
        return replace(applied, workers_restarted=len(self._procs))

    def __enter__(self) -> WorkerPipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> WorkerPipeline:
        """Start the workers, then this process's components (the receiver).

        Workers are forked when this process has no other thread yet (fast: nothing to
        import again; the receiver's socket does not exist yet, and the workers' senders
        connect as soon as it is bound), else spawned.
        """
        if self.started:
            return self
        self._start_workers()
        self.started = True
        try:
            if self.local.components:
                self.local.start()
        except BaseException:
            self.stop(timeout=5.0)
            raise
        return self

    def _start_workers(self) -> None:
        """One process per worker config (a start, or a reload)."""
        method = "fork" if threading.active_count() == 1 else "spawn"
        ctx: Any = multiprocessing.get_context(method)  # typeshed: BaseContext lacks Process
        for i, config in enumerate(self.worker_configs):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(config, theirs, os.getpid()),
                               name=f"omphalos-worker-{i}", daemon=True)
            proc.start()
            theirs.close()
            self._procs.append((proc, mine))
        log.info("started %d worker processes (%s)", len(self._procs), method)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers (they finish what is in flight), then this process's part."""
        deadline = time.monotonic() + timeout
        self._stop_workers(deadline)
        self.local.stop(max(1.0, deadline - time.monotonic()))
        self.started = False

    def _stop_workers(self, deadline: float) -> None:
        """Tell every worker to stop and wait for it (until ``deadline``, then terminate)."""
        for _, conn in self._procs:
            try:
                conn.send("stop")
            except OSError:
                pass
        for proc, conn in self._procs:
            proc.join(max(0.5, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("%s did not stop in time: terminating it", proc.name)
                proc.terminate()
                proc.join(2.0)
            conn.close()
        self._procs.clear()

    # -- asking --------------------------------------------------------------------------
    def worker_statuses(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Each worker's monitor and transport statuses (``{"error": ...}`` for a worker
        that is gone)."""
        out: list[dict[str, Any]] = []
        for proc, conn in self._procs:
            try:
                conn.send("status")
                if not conn.poll(timeout):
                    raise TimeoutError("no answer")
                out.append({"worker": proc.name, "pid": proc.pid, **conn.recv()})
            except (OSError, EOFError, TimeoutError) as exc:
                out.append({"worker": proc.name, "pid": proc.pid,
                            "error": f"{type(exc).__name__}: {exc}",
                            "exitcode": proc.exitcode})
        return out

    def status(self) -> dict[str, Any]:
        out = self.local.status() if self.local.components else {
            "degraded": self.degraded, "reasons": [], "actors": {}}
        out["workers"] = self.worker_statuses()
        return out

    @property
    def degraded(self) -> bool:
        if any(p.exitcode not in (None, 0) for p, _ in self._procs):
            return True
        return self.local.health.degraded

    def wait_idle(self, timeout: float = 30.0, poll: float = 0.05) -> bool:
        """Wait until every worker has read all and its transports delivered all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.degraded:
                return False
            if all(_idle(w) for w in self.worker_statuses()):
                return True
            time.sleep(poll)
        return False


def _idle(worker: dict[str, Any]) -> bool:
    """All read, and every batch delivered (nothing spooled or unacknowledged)."""
    if "monitor" not in worker:
        return False
    return (all(m.get("idle") for m in worker["monitor"])
            and all(not t.get("spool", {}).get("items") and not t.get("unacknowledged")
                    and not t.get("held") for t in worker["transport"]))


def _worker_main(config: dict[str, dict[str, Any]], conn: Connection, parent: int) -> None:
    """A worker process: run its share until told to stop or the parent is gone."""
    level = str(config.get(SETTINGS_SECTION, {}).get("log_level", "info")).upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(processName)s %(name)s: "
                               "%(message)s")
    pipeline = Pipeline.from_config(config).start()
    try:
        while os.getppid() == parent:
            if not conn.poll(0.2):
                continue
            try:
                request = conn.recv()
            except EOFError:
                break
            if request == "stop":
                break
            if request == "status":
                conn.send({kind: [pipeline.ask(name, Query("status"), 5.0)
                                  for name in pipeline.names(kind)]
                           for kind in ("monitor", "transport")})
    finally:
        pipeline.stop()
        conn.close()
