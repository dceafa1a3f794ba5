"""What the subcommands share: reading config, building and running a pipeline."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from omphalos.config import ConfigError, ConfigSource, default_config_files, load_ini
from omphalos.pipeline import PipelineAPI
from omphalos.plugin import KINDS
from omphalos.topology import SETTINGS_SECTION

from .progress import Progress
from .signals import StopFlag

log = logging.getLogger("omphalos.cli")


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
                   extra: Mapping[str, Mapping[str, Any]] | None = None) -> ConfigSource:
    """The default pipeline on ``files``: file monitor, parser, local transport, summary."""
    missing = [f for f in files if not any(ch in f for ch in "*?[") and not os.path.exists(f)]
    if missing:
        raise ConfigError(f"no such file: {', '.join(missing)}")
    sections: dict[str, dict[str, Any]] = {
        "monitor:files": {"plugin": "file", "paths": [os.path.abspath(f) for f in files],
                          "follow": follow, "checkpoints": checkpoints},
        "parser:main": {"plugin": parser},
        "transport:local": {},
        "collector:summary": {},
    }
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    out = ConfigSource.from_dict(sections)
    settings = source.sections.get(SETTINGS_SECTION)
    if settings is not None:
        out.sections[SETTINGS_SECTION] = settings
    return out


def configure_logging(debug: bool, level: str = "info") -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def run_until_stopped(pipeline: PipelineAPI, stop: StopFlag, *, poll: float = 0.2) -> str:
    """Run until a signal or until the pipeline is degraded; returns why it ended."""
    while not stop.wait(poll):
        if pipeline.degraded:
            return "degraded"
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


def _status_query() -> Any:
    from omphalos.messages import Query

    return Query("status")


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.2f}s"
