"""``workers = N``: spread one host's files over N processes, for more than one core.

Parsing is pure Python, so one process parses with one core. With ``[omphalos] workers = N``
the files of every monitor are shared out over N worker processes (``multiprocessing``);
each worker runs the monitors and parsers of its share (the workers are forked when the
process has no thread yet, as under the ``omphalos`` command, else spawned). Where the
batches go depends on the config:

* the config sends to another machine (a network transport such as ``zmq`` or ``amqp``):
  each worker sends there itself, with its own spool;
* the config collects locally (``transport:local``): this process binds a ``zmq`` receiver
  on a local ``ipc://`` socket in the state directory, keeps the collectors and outputs,
  and the workers send their batches to it, acknowledged like any other zmq sender. When
  every collector here only counts (the ``summary`` collector), the workers send each batch
  reduced to counts (the sender's ``aggregate`` option, :mod:`omphalos.counts`): counting
  moves to the workers, and this process, which all of them feed, only merges counts.

Files are shared out when the workers start: each monitor's paths are expanded and dealt,
largest first, to the least loaded worker. Rotation keeps working (a worker follows its paths
through renames and truncations), but a file with a new name that appears under a glob later
is only read after the next start: that is the limit of this first version. Monitors are
renamed ``NAME@i`` in worker ``i`` so that the workers' batches never share an origin; the
workers share the state directory (checkpoints are kept per monitor name and path).

:func:`pipeline_from_config` returns a plain :class:`~omphalos.pipeline.Pipeline` when
``workers`` is 1 and a :class:`WorkerPipeline` (the same API) otherwise.
"""

from __future__ import annotations

import glob
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .config import ConfigSource, load_ini
from .messages import Query
from .pipeline import Pipeline
from .registry import default_registry
from .topology import SETTINGS_SECTION, ComponentSpec, build_components, build_settings

log = logging.getLogger("omphalos.workers")

__all__ = ["WorkerPipeline", "pipeline_from_config", "share_files"]

_SPOOLED = ("zmq", "amqp", "udp")  # transports with a spool_dir option


def pipeline_from_config(config: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]]
                         | ConfigSource) -> Pipeline:
    """A Pipeline, or a WorkerPipeline when the config says ``workers`` > 1."""
    source = _source(config)
    if build_settings(source).workers > 1:
        return WorkerPipeline(source)
    return Pipeline.from_config(source)


def _counted_dimensions(components: list[ComponentSpec]) -> tuple[str, ...] | None:
    """The union of the collectors' counted dimensions, if every collector can be fed
    batches reduced to counts (see CollectorPlugin.counted_dimensions), else None."""
    wanted: list[str] = []
    collectors = [c for c in components if c.kind == "collector"]
    for spec in collectors:
        dims = getattr(spec.cls, "counted_dimensions", lambda _config: None)(spec.config)
        if dims is None:
            return None
        wanted.extend(d for d in dims if d not in wanted)
    return tuple(wanted) if collectors and wanted else None


def _counted_capacity(components: list[ComponentSpec]) -> int:
    """The largest capacity of the collectors' tables (0, every key, if one keeps all): the
    counts cut to it lose nothing any collector would have kept."""
    capacities = [getattr(c.cls, "counted_capacity", lambda _config: 0)(c.config)
                  for c in components if c.kind == "collector"]
    return 0 if not capacities or 0 in capacities else max(capacities)


def _source(config: Any) -> ConfigSource:
    if isinstance(config, ConfigSource):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_ini([Path(config)])
    return ConfigSource.from_dict(config)


def _expand(patterns: Any) -> list[str]:
    """The files a file monitor's ``paths`` name (the monitor's own expansion rules)."""
    if isinstance(patterns, str):
        patterns = [p.strip() for line in patterns.splitlines() for p in line.split(",")]
    found: list[str] = []
    for pattern in patterns:
        pattern = os.path.expanduser(str(pattern).strip())
        if not pattern:
            continue
        if os.path.isdir(pattern):
            pattern = os.path.join(pattern, "*")
        for path in sorted(glob.glob(pattern, recursive=True)):
            path = os.path.abspath(path)
            if os.path.isfile(path) and path not in found:
                found.append(path)
    return found


def share_files(paths: list[str], workers: int) -> list[list[str]]:
    """``paths`` dealt to ``workers`` shares, largest first, each to the lightest share."""
    shares: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for path in sorted(paths, key=lambda p: (-_size(p), p)):
        i = loads.index(min(loads))
        shares[i].append(path)
        loads[i] += max(_size(path), 1)
    return shares


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class WorkerPipeline(Pipeline):
    """This process's part of the pipeline plus N worker processes; same API as Pipeline."""

    def __init__(self, source: ConfigSource) -> None:
        settings = build_settings(source)
        self.workers = settings.workers
        sections = {name: dict(raw.values) for name, raw in source.sections.items()}
        base = sections.pop(SETTINGS_SECTION, {})
        kind = {name: name.split(":", 1)[0] for name in sections}
        registry = default_registry()
        transports = [n for n in sections if kind[n] == "transport"]
        local = [n for n in transports
                 if str(sections[n].get("plugin", n.split(":", 1)[1])) == "local"]
        if not transports:
            local = ["transport:local"]
        state = settings.state_path
        os.makedirs(state, exist_ok=True)
        self.endpoint = f"ipc://{os.path.join(state, f'workers-{os.getpid()}.sock')}"
        # this process: collectors, outputs, and a zmq receiver in place of the local transport
        parent = {n: v for n, v in sections.items() if kind[n] in ("collector", "output")}
        if parent:
            for name in local:
                parent[name] = {"plugin": "zmq", "bind": self.endpoint}
        parent_source = ConfigSource.from_dict({SETTINGS_SECTION: {**base, "workers": 1},
                                                **parent})
        components = build_components(parent_source, registry) if parent else []
        super().__init__(components, build_settings(parent_source), config=source)
        #: Dimensions the workers count batches over before sending them (None: they send
        #: records), when every collector here can be fed counts.
        self.counted_dimensions = _counted_dimensions(components)
        #: Keys per dimension the workers keep of each batch's counts (0: all).
        self.counted_capacity = _counted_capacity(components)
        # the workers: monitors (sharing out the files) and parsers, sending on
        monitors = [n for n in sections if kind[n] == "monitor"]
        shares = {n: share_files(_expand(sections[n].get("paths", ())), self.workers)
                  for n in monitors}
        self.worker_configs: list[dict[str, dict[str, Any]]] = []
        for i in range(self.workers):
            config: dict[str, dict[str, Any]] = {SETTINGS_SECTION: {**base, "workers": 1}}
            renamed = {}
            for name in monitors:
                if shares[name][i]:
                    renamed[name] = f"{name}@{i}"
                    config[renamed[name]] = {**sections[name], "paths": shares[name][i]}
            if not renamed:
                continue
            for name, values in sections.items():
                if kind[name] == "parser":
                    values = dict(values)
                    if "inputs" in values:
                        names = values["inputs"]
                        names = names.split(",") if isinstance(names, str) else names
                        values["inputs"] = [renamed.get(f"monitor:{m.strip()}" if ":" not in m
                                                        else m.strip(), m.strip())
                                            for m in names]
                    config[name] = values
                elif kind[name] == "transport" and name not in local:
                    values = dict(values)
                    if str(values.get("plugin", name.split(":", 1)[1])) in _SPOOLED:
                        values.setdefault("spool_dir", os.path.join(
                            state, "spool", f"{name.replace(':', '-')}-worker-{i}"))
                    config[name] = values
            if parent:
                for name in local:
                    # one spool per worker number, kept across runs: the monitors commit
                    # what is spooled, so what a crash left in it is sent at the next start
                    config[name] = {"plugin": "zmq", "connect": self.endpoint,
                                    "spool_dir": os.path.join(state, "spool", f"workers-{i}")}
                    if self.counted_dimensions:
                        config[name]["aggregate"] = list(self.counted_dimensions)
                        config[name]["aggregate_capacity"] = self.counted_capacity
            self.worker_configs.append(config)
        self._procs: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Pipeline:
        """Start the workers, then this process's components (the receiver).

        Workers are forked when this process has no other thread yet (fast: nothing to
        import again; the receiver's socket does not exist yet, and the workers' senders
        connect as soon as it is bound), else spawned.
        """
        if self.started:
            return self
        method = "fork" if threading.active_count() == 1 else "spawn"
        ctx: Any = multiprocessing.get_context(method)
        for i, config in enumerate(self.worker_configs):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(config, theirs, os.getpid()),
                               name=f"omphalos-worker-{i}", daemon=True)
            proc.start()
            theirs.close()
            self._procs.append((proc, mine))
        log.info("started %d worker processes (%s)", len(self._procs), method)
        try:
            if self.components:
                super().start()
        except BaseException:
            self.stop(timeout=5.0)
            raise
        self.started = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers (they finish what is in flight), then this process's part."""
        deadline = time.monotonic() + timeout
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
        if self.components:
            super().stop(max(1.0, deadline - time.monotonic()))
        self.started = False

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
        out = super().status() if self.components else {"degraded": self.degraded,
                                                        "reasons": [], "actors": {}}
        out["workers"] = self.worker_statuses()
        return out

    @property
    def degraded(self) -> bool:
        if any(p.exitcode not in (None, 0) for p, _ in self._procs):
            return True
        return self.health.degraded

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
