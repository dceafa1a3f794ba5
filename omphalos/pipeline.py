"""The pipeline: built from config, connected, started, queried and stopped as one object.

This is the embedding API::

    from omphalos import Pipeline

    with Pipeline.from_config({"monitor:web": {"paths": "/var/log/nginx/access.log"},
                               "collector:summary": {}}) as pipeline:
        pipeline.wait_idle(timeout=10)
        print(pipeline.query("summary"))

The library installs no signal handler and stops only its own actors.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pykka

from .api import PipelineAPI
from .config import ConfigError, ConfigSource, load_ini
from .directory import Directory
from .messages import Query, Rewire, Stop
from .plugin import KINDS, PluginContext
from .registry import Registry, default_registry
from .scheduler import Scheduler
from .settings import Settings
from .supervisor import ChildFailed, Health, Supervisor, SupervisorTicker
from .switching import quick_switching
from .topology import ComponentSpec, build_components, build_settings

if TYPE_CHECKING:
    from .reload import ReloadPlan

log = logging.getLogger("omphalos.pipeline")

START_ORDER = ("collector", "transport", "parser", "monitor", "output")
STOP_ORDER = ("output", "monitor", "parser", "transport", "collector")


class QueryError(RuntimeError):
    """A query could not be answered: no such collector, it is dead, or it timed out."""


class QueryRefused(QueryError):
    """No collector asked declares that it answers the query as asked (nothing was asked:
    the reason comes from the collectors' declarations)."""


class Pipeline:
    """Components wired as the config says, each a supervised actor."""

    def __init__(self, components: Iterable[ComponentSpec], settings: Settings | None = None,
                 *, config: ConfigSource | None = None,
                 front: PipelineAPI | None = None) -> None:
        self.settings = settings or Settings()
        #: What outputs see as the pipeline (``context.pipeline``): this one, or the object
        #: that holds it (a :class:`~omphalos.workers.WorkerPipeline`).
        self.front: PipelineAPI = front if front is not None else self
        self.components = {c.name: c for c in components}
        self.config = config
        self.directory = Directory()
        self.scheduler = Scheduler(self.directory)
        self.health = Health()
        self._supervisor: pykka.ActorRef[Any] | None = None
        self._ticker: SupervisorTicker | None = None
        self._stopping = threading.Event()
        self.started = False
        #: The kinds ``from_config`` kept (a role runs some of them); reload keeps them too.
        self.kinds: tuple[str, ...] = tuple(KINDS)
        self.registry: Registry | None = None  # where from_config found the plugins

    # -- building ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]]
                    | ConfigSource, *, kinds: Iterable[str] = KINDS,
                    registry: Registry | None = None) -> Pipeline:
        """Build from an INI file path, a ``{section: {key: value}}`` dict or a ConfigSource.

        Raises ConfigError (naming file, section and key) for anything wrong.
        """
        if isinstance(config, ConfigSource):
            source = config
        elif isinstance(config, (str, os.PathLike)):
            source = load_ini([Path(config)])
        else:
            source = ConfigSource.from_dict(config)
        settings = build_settings(source)
        components = build_components(source, registry or default_registry(), kinds)
        if not components:
            raise ConfigError("no components configured (add a [monitor:NAME] or "
                              "[collector:NAME] section)", file=", ".join(source.files) or None)
        pipeline = cls(components, settings, config=source)
        pipeline.kinds = tuple(kinds)
        pipeline.registry = registry
        return pipeline

    def names(self, kind: str) -> list[str]:
        """Component names of one kind, in config order."""
        return [n for n, c in self.components.items() if c.kind == kind]

    # -- lifecycle -----------------------------------------------------------------------
    def _start_child(self, name: str) -> pykka.ActorRef[Any]:
        spec = self.components[name]
        context = PluginContext(name=name, settings=self.settings, directory=self.directory,
                                scheduler=self.scheduler, inputs=spec.inputs,
                                outputs=spec.outputs, on_failure=self._report_failure,
                                pipeline=self.front)
        ref = spec.cls.start(context, spec.config)
        self.directory.register(name, ref)
        return ref

    def _report_failure(self, name: str, error: BaseException | None) -> None:
        if self._stopping.is_set() or self._supervisor is None:
            return
        try:
            self._supervisor.tell(ChildFailed(name, f"{type(error).__name__}: {error}"))
        except pykka.ActorDeadError:
            pass

    def start(self) -> Pipeline:
        """Start every component (collectors first, monitors last) under a supervisor."""
        if self.started:
            return self
        self._stopping.clear()
        self.scheduler.start()
        self._supervisor = Supervisor.start(self.settings, self.directory, self.health,
                                            self._start_child)
        self.started = True
        try:
            self.start_components(self.components)
            self._ticker = SupervisorTicker(self._supervisor)
            self._ticker.start()
        except BaseException:
            self.stop(timeout=2.0)
            raise
        log.info("pipeline started: %s", ", ".join(self.components))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading, wait (at most ``timeout`` s) for batches in flight, stop everything.

        Offsets of acknowledged batches are committed; what is still unacknowledged when the
        time is up is read again at the next start.
        """
        if not self.started:
            return
        deadline = time.monotonic() + timeout
        self.drain(self.names("monitor"), deadline)
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.stop()
        if self._supervisor is not None:
            try:
                self._supervisor.proxy().stop_watching().get(timeout=1.0)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            self._supervisor.stop(block=True, timeout=2.0)
            self._supervisor = None
        self.stop_components(self.components, deadline)
        self.scheduler.stop()
        self.started = False
        log.info("pipeline stopped")

    # -- parts of the lifecycle (start, stop and reload are made of these) -----------------
    # They run in the caller's thread (the one that calls start, stop or reload; never two
    # at once) and reach the actors only through their inboxes and the supervisor's.
    def start_components(self, names: Iterable[str],
                         kinds: Iterable[str] = START_ORDER) -> None:
        """Start the components ``names`` of ``kinds``, kind by kind in that order, each
        watched by the supervisor (which restarts it if it dies)."""
        wanted = set(names)
        supervisor = self._supervisor.proxy() if self._supervisor is not None else None
        for kind in kinds:
            started = []
            for name in self.names(kind):
                if name not in wanted:
                    continue
                started.append(self._start_child(name))
                if supervisor is not None:
                    supervisor.watch(name).get(timeout=self.settings.ask_timeout_secs)
            for ref in started:
                self._wait_set_up(ref)

    def _wait_set_up(self, ref: pykka.ActorRef[Any]) -> None:
        """Wait until the component of ``ref`` is set up (its first message is answered
        after its ``setup``), so that what starts next finds it bound and listening, and
        ``start()`` returns a pipeline that is up. A component that failed to set up is
        the supervisor's to report and restart; one slower than ``ask_timeout_secs`` is
        not waited for longer."""
        try:
            ref.ask(Query("status", {}), timeout=self.settings.ask_timeout_secs)
        except (pykka.ActorDeadError, pykka.Timeout):
            pass
        except Exception:  # its failure is reported by the supervisor
            log.debug("%s failed its first status", ref, exc_info=True)

    def stop_components(self, names: Iterable[str], deadline: float) -> None:
        """Stop the running components ``names`` (outputs first, collectors last), each
        forgotten by the supervisor first so it is not restarted; at most until
        ``deadline`` (``time.monotonic()``) for the lot, half a second at least each."""
        wanted = set(names)
        supervisor = self._supervisor.proxy() if self._supervisor is not None else None
        for kind in STOP_ORDER:
            for name in [n for n in self.names(kind) if n in wanted]:
                if supervisor is not None:
                    supervisor.forget(name).get(timeout=self.settings.ask_timeout_secs)
                ref = self.directory.get(name)
                if ref is not None:
                    try:
                        ref.stop(block=True, timeout=max(0.5, deadline - time.monotonic()))
                    except (pykka.Timeout, pykka.ActorDeadError):
                        log.warning("%s did not stop in time", name)
                self.directory.unregister(name)

    def drain(self, monitors: Iterable[str], deadline: float) -> bool:
        """Tell ``monitors`` to stop reading and wait until none has a batch in flight (so
        every offset that reached a collector is committed). False when ``deadline`` came
        first or the pipeline is degraded: the rest is read again from the checkpoints."""
        names = list(monitors)
        for name in names:
            self._tell(name, Stop())

        def drained() -> bool:
            return all(s.get("in_flight", 0) == 0 for s in self._statuses(names=names))

        return self._wait(drained, deadline)

    def rewire(self, names: Iterable[str]) -> None:
        """Tell the running components ``names`` their neighbours as ``components`` now
        says, through their inboxes (each adopts them in its own thread, state kept)."""
        for name in names:
            spec = self.components[name]
            try:
                self.ask(name, Rewire(spec.inputs, spec.outputs))
            except QueryError as exc:  # dead: the supervisor restarts it with the new wiring
                log.warning("%s not rewired: %s", name, exc)

    def adopt(self, components: Iterable[ComponentSpec], settings: Settings,
              config: ConfigSource | None) -> None:
        """Take ``components``, ``settings`` and ``config`` as this pipeline's (reload does,
        once what they change is stopped; it then starts what they add)."""
        self.components = {c.name: c for c in components}
        self.settings, self.config = settings, config

    def reload(self, config: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]]
               | ConfigSource, *, timeout: float = 10.0) -> ReloadPlan:
        """Apply a changed config while running; see :mod:`omphalos.reload`.

        Components added, removed or changed are rebuilt, the others keep running. Returns
        the :class:`~omphalos.reload.ReloadPlan` applied; ConfigError leaves all as it was.
        """
        from .reload import reload_pipeline

        return reload_pipeline(self, config, timeout=timeout)

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- asking --------------------------------------------------------------------------
    def _tell(self, name: str, message: Any) -> None:
        self.directory.tell(name, message)

    def ask(self, name: str, message: Any, timeout: float | None = None) -> Any:
        """Ask component ``name``; QueryError when it is absent, dead or too slow."""
        ref = self.directory.get(name)
        if ref is None:
            raise QueryError(f"{name} is not running")
        try:
            with quick_switching(self.settings.query_switch_interval_ms / 1000):
                return ref.ask(message, timeout=timeout or self.settings.ask_timeout_secs)
        except pykka.ActorDeadError:
            raise QueryError(f"{name} is not running") from None
        except pykka.Timeout:
            raise QueryError(f"{name} did not answer within "
                             f"{timeout or self.settings.ask_timeout_secs:g}s") from None

    def ask_async(self, name: str, message: Any) -> pykka.Future[Any]:
        """Ask without waiting: a Future (get it with a timeout)."""
        ref = self.directory.get(name)
        if ref is None:
            raise QueryError(f"{name} is not running")
        return ref.ask(message, block=False)

    def query(self, kind: str = "summary", collector: str | None = None,
              timeout: float | None = None, **params: Any) -> Any:
        """Ask the collector that answers ``kind`` (the first in config order whose
        declaration accepts the query, or only ``collector``).

        QueryRefused when none declares it answers (nothing is asked then), QueryError when
        the one asked is dead or too slow; an error of the collector's own (a parameter
        out of range: ValueError) is raised as it is.
        """
        name = self.answering(kind, params, collector)
        return self.ask(name, Query(kind, dict(params)), timeout)

    def answering(self, kind: str, params: Mapping[str, Any] | None = None,
                  collector: str | None = None, among: Iterable[str] | None = None) -> str:
        """The collector :meth:`query` asks for ``kind`` with ``params`` (only ``collector``,
        or the first of ``among``, default all collectors, that accepts it), by the
        collectors' declarations (``answers``, ``declines``): nothing is asked. Runs in the
        caller's thread and reads only this pipeline's component specs."""
        query = Query(kind, dict(params or {}))
        if collector:
            name = collector if ":" in collector else f"collector:{collector}"
            spec = self.components.get(name)
            if spec is None or spec.kind != "collector":
                raise QueryRefused(f"no collector named {collector!r} (known: "
                                   f"{', '.join(self.names('collector')) or 'none'})")
            if self.directory.get(name) is None:
                raise QueryError(f"{name} is not running")
            names = [name]
        else:
            names = list(among) if among is not None else self.names("collector")
        if not names:
            raise QueryError("no collector in this pipeline")
        reasons = []
        for name in names:
            spec = self.components[name]
            reason = spec.cls.declines(spec.config, query)
            if reason is None:
                return name
            reasons.append(f"{name} {reason}")
        raise QueryRefused("; ".join(reasons))

    def kinds_answered(self, among: Iterable[str] | None = None) -> frozenset[str]:
        """Every query kind one of the collectors (``among``, default all) declares, and
        ``status``, which every plugin answers."""
        names = [n for n in (among if among is not None else self.names("collector"))
                 if n in self.components]
        return frozenset(k for n in names for k in self.components[n].cls.answers) | (
            frozenset({"status"}) if names else frozenset())

    def _statuses(self, kind: str | None = None, names: Iterable[str] | None = None
                  ) -> list[dict[str, Any]]:
        out = []
        if names is None:
            names = self.names(kind) if kind else list(self.components)
        for name in names:
            try:
                out.append(self.ask(name, Query("status"), timeout=2.0))
            except QueryError as exc:
                out.append({"name": name, "error": str(exc)})
        return out

    def status(self) -> dict[str, Any]:
        """Health (degraded or not, why) and every actor's own status."""
        health = self.health.snapshot()
        for item in self._statuses():
            name = item.get("name", "")
            health["actors"].setdefault(name, {}).update(item)
        return health

    @property
    def degraded(self) -> bool:
        return self.health.degraded

    def wait_idle(self, timeout: float = 30.0, poll: float = 0.02) -> bool:
        """Wait until every monitor has read all it can and nothing is in flight.

        False on timeout, or as soon as the pipeline is degraded.
        """
        deadline = time.monotonic() + timeout

        def idle() -> bool:
            statuses = self._statuses("monitor")
            return all(s.get("idle", False) for s in statuses)

        return self._wait(idle, deadline, poll)

    def _wait(self, condition: Callable[[], bool], deadline: float, poll: float = 0.02
              ) -> bool:
        while True:
            if self.health.degraded:
                return False
            if condition():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
