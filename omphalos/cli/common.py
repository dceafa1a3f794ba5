"""What the subcommands share: reading config, building and running a pipeline."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from omphalos.config import (
    ConfigError,
    ConfigSource,
    RawSection,
    default_config_files,
    load_ini,
)
from omphalos.pipeline import PipelineAPI
from omphalos.plugin import KINDS
from omphalos.registry import config_type, default_registry
from omphalos.state import DurableConfig
from omphalos.topology import SETTINGS_SECTION, plugin_class, plugin_name

from .logs import configure_logging
from .progress import Progress
from .signals import StopFlag
from .watch import FileWatch

log = logging.getLogger("omphalos.cli")

__all__ = ["gather_config", "has_components", "files_pipeline", "configure_logging",
           "run_until_stopped", "replay_until_done"]


def gather_config(extra_files: Iterable[str] = (), *, use_defaults: bool = True
                  ) -> ConfigSource:
    """The cement places that exist, then each ``--config`` file (which must exist)."""
    source = ConfigSource()
    if use_defaults and not os.environ.get("OMPHALOS_NO_DEFAULT_CONFIG"):
        source.merge(load_ini(default_config_files(), required=False))
    source.merge(load_ini(list(extra_files), required=True))
    return source


def has_components(source: ConfigSource) -> bool:
    return any(name.split(":")[0] in KINDS for name in source.sections)


def files_pipeline(source: ConfigSource, files: list[str], *, parser: str = "auto",
                   follow: bool = True, checkpoints: bool = True,
                   extra: Mapping[str, Mapping[str, Any]] | None = None,
                   saved_as: str = "") -> ConfigSource:
    """The default pipeline on ``files``: file monitor, parser, local transport, summary,
    plus the ``[collector:NAME]`` sections of the config (``replay FILE`` into a store).

    ``saved_as``: the key (:func:`.resume.ask_key`) the monitor's offsets and the summary's
    counts are saved under; empty: the summary is in memory (and the offsets, when
    ``checkpoints``, saved under the monitor's name)."""
    missing = [f for f in files if not any(ch in f for ch in "*?[") and not _stat_ok(f)]
    if missing:
        raise ConfigError(f"no such file: {', '.join(missing)}")
    monitor: dict[str, Any] = {"plugin": "file", "paths": [os.path.abspath(f) for f in files],
                               "follow": follow, "checkpoints": checkpoints}
    summary: dict[str, Any] = {"durable": False}
    if saved_as:
        monitor["checkpoint_key"] = saved_as
        summary = {"durable": True, "state_key": saved_as}
    sections: dict[str, dict[str, Any]] = {
        "monitor:files": monitor,
        "parser:main": {"plugin": parser},
        "transport:local": {},
        "collector:summary": summary,
    }
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    out = ConfigSource.from_dict(sections)
    settings = source.sections.get(SETTINGS_SECTION)
    if settings is not None:
        out.sections[SETTINGS_SECTION] = settings
    for name, section in source.sections.items():
        if name.startswith("collector:"):  # errors still name the config file
            out.sections[name] = _ad_hoc(section, sections["collector:summary"], saved_as)
    return out


def _ad_hoc(section: RawSection, ours: Mapping[str, Any], saved_as: str) -> RawSection:
    """A config's collector ``section`` for a run on files: unless the section says
    ``durable`` itself, its ``summary`` keeps the run's own durability (``ours``: in
    memory, under ``saved_as``, or in ``replay --state``'s file), and any other collector
    with a durable state is in memory, or saved under ``saved_as``. So replaying a file
    twice with the daemon's config never adds to the daemon's saved counts."""
    if "durable" in section.values:
        return section
    registry = default_registry()
    if not registry.has("collector", plugin_name(section, registry)):
        return section  # the pipeline reports the unknown plugin, naming the file
    cls = plugin_class(section, registry)
    config = config_type(cls) or cls.Config
    if not issubclass(config, DurableConfig):
        return section
    if section.name == "collector:summary":
        values = dict(ours)
    else:
        values = {"durable": bool(saved_as)}
        if saved_as:
            values["state_key"] = f"{saved_as}/{section.name}"
    return RawSection(section.name, {**values, **section.values}, dict(section.origins),
                      section.file)


def run_until_stopped(pipeline: PipelineAPI, stop: StopFlag, files: FileWatch | None = None,
                      *, poll: float = 0.2) -> str:
    """Run until a signal or until the pipeline is degraded; returns why it ended.
    ``files`` logs the monitored paths that are missing or unreadable as they change."""
    while not stop.wait(poll):
        if pipeline.degraded:
            return "degraded"
        if files is not None:
            files.check()
    return "signal"


def replay_until_done(pipeline: PipelineAPI, stop: StopFlag, total_bytes: int) -> str:
    """Wait for every monitor to reach the end of its files, drawing progress."""
    progress = Progress(total_bytes)
    try:
        while True:
            if stop.wait(0.05):
                return "signal"
            if pipeline.degraded:
                return "degraded"
            statuses = [pipeline.ask(n, _status_query(), timeout=5)
                        for n in pipeline.names("monitor")]
            if progress.enabled:
                done = sum(f["committed"] for s in statuses for f in s.get("files", []))
                progress.update(done, sum(s["counters"].get("chunks_acked", 0)
                                          for s in statuses))
            if all(s.get("idle") for s in statuses):
                return "done"
    finally:
        progress.close()


def _stat_ok(path: str) -> bool:
    """True unless ``path`` is really absent: a file in a directory we may not enter is
    there (and reported as unreadable, by its reason), not "no such file"."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False
    except OSError:
        return True
    return True


def _status_query() -> Any:
    from omphalos.messages import Query

    return Query("status")


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.2f}s"
