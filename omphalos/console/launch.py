"""Starting the console: its options, its data source (a local pipeline or a remote API),
and the pipeline it runs on FILEs. Used by ``omphalos httptop`` (:mod:`omphalos.cli.httptop`).
"""

from __future__ import annotations

import glob
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omphalos.cli.common import files_pipeline, gather_config, has_components
from omphalos.cli.logs import quiet_refusals
from omphalos.config import ConfigError, ConfigSource, build_config
from omphalos.pipeline import Pipeline
from omphalos.registry import Registry, default_registry

from .app import HttptopApp
from .config import SECTION, HttptopConfig
from .source import DataSource, LocalSource, RemoteSource, parse_address

EXIT_DEGRADED = 3
EXIT_USAGE = 2
#: Collectors added to a pipeline on FILEs when installed, before the summary (which
#: answers only ``summary`` and ``top`` since start), with their options: the sliding
#: windows and alerts (no SQLite history: the console reads its files from the start).
#: In memory: the console shows the files given, read whole, never a state saved before.
OPTIONAL_COLLECTORS: dict[str, dict[str, Any]] = {"window": {"history": False,
                                                             "durable": False}}


def console_config(source: ConfigSource, overrides: Mapping[str, Any]) -> HttptopConfig:
    """The ``[httptop]`` section with the command line's values over it."""
    section = source.section(SECTION)
    for key, value in overrides.items():
        if value is not None:
            section.values[key] = value
            section.origins[key] = "command line"
    config: HttptopConfig = build_config(HttptopConfig, section)
    return config


def without_console(source: ConfigSource) -> ConfigSource:
    """``source`` without the ``[httptop]`` section (the pipeline does not know it)."""
    out = ConfigSource(sections={k: v for k, v in source.sections.items() if k != SECTION},
                       files=list(source.files))
    return out


def files_config(source: ConfigSource, files: list[str], parser: str,
                 registry: Registry) -> ConfigSource:
    """The console's pipeline on ``files``: read from the start and followed, no
    checkpoints (the console shows the whole file each time), every collector it can use."""
    expanded = [f for pattern in files for f in (sorted(glob.glob(pattern)) or [pattern])]
    extra = {f"collector:{name}": {"plugin": name, **options}
             for name, options in OPTIONAL_COLLECTORS.items()
             if registry.has("collector", name)}
    out = files_pipeline(source, expanded, parser=parser, follow=True, checkpoints=False)
    summary = out.sections.pop("collector:summary")
    for name, values in extra.items():
        out.merge(ConfigSource.from_dict({name: values}))
    out.sections["collector:summary"] = summary
    return out


def quiet_logging(log_file: str | None) -> None:
    """Logs must not scribble over the screen: to ``log_file``, else nowhere."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
        root.setLevel(logging.WARNING)
    root.addHandler(quiet_refusals(handler))


@dataclass
class Options:
    """What the command line says (None: not given, the config or the default decides)."""

    files: list[str] = field(default_factory=list)
    config_files: list[str] = field(default_factory=list)
    connect: str | None = None
    token: str | None = None
    parser: str = "auto"
    theme: str | None = None
    window: str | None = None
    view: str | None = None
    refresh_secs: float | None = None
    log_file: str | None = None


def run(options: Options) -> int:
    """Show the console until the user quits; the exit status (0, or 3 when the local
    pipeline ended degraded, 2 without a terminal). ConfigError for bad options."""
    source = gather_config(options.config_files)
    config = console_config(source, {"theme": options.theme, "window": options.window,
                                     "view": options.view,
                                     "refresh_secs": options.refresh_secs})
    pipeline: Pipeline | None = None
    if options.connect:
        if options.files:
            raise ConfigError("give FILEs or --connect, not both")
        try:
            parse_address(options.connect)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    else:
        pipeline = local_pipeline(source, options.files, options.parser)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("httptop: needs a terminal (stdin and stdout)", file=sys.stderr)
        return EXIT_USAGE
    quiet_logging(options.log_file)
    if pipeline is None:
        show(RemoteSource(str(options.connect),
                          token=options.token or os.environ.get("OMPHALOS_TOKEN"),
                          timeout_secs=config.query_timeout_secs), config)
        return 0
    pipeline.start()
    local = LocalSource(pipeline, timeout_secs=config.query_timeout_secs,
                        description=describe(options.files))
    try:
        show(local, config)
    finally:
        print("httptop: stopping the pipeline…", file=sys.stderr)
        pipeline.stop(timeout=5.0)
        local.close(wait_secs=1.0)
    if pipeline.degraded:
        for reason in pipeline.health.snapshot()["reasons"]:
            print(f"httptop: pipeline degraded: {reason}", file=sys.stderr)
        return EXIT_DEGRADED
    return 0


def local_pipeline(source: ConfigSource, files: list[str], parser: str,
                   registry: Registry | None = None) -> Pipeline:
    """The pipeline on FILEs, or the config's; ConfigError when it has nothing to show."""
    registry = registry or default_registry()
    pipeline_source = without_console(source)
    if files:
        pipeline_source = files_config(pipeline_source, files, parser, registry)
    elif not has_components(pipeline_source):
        raise ConfigError("nothing to show: give log FILEs, --connect HOST:PORT, or a "
                          "config with [monitor:NAME] and [collector:NAME] sections")
    pipeline = Pipeline.from_config(pipeline_source, registry=registry)
    if not pipeline.names("collector"):
        raise ConfigError("the config has no collector to show ([collector:NAME]); "
                          "use --connect HOST:PORT for a remote one")
    return pipeline


def show(source: DataSource, config: HttptopConfig) -> None:
    """Run the console on ``source`` until ``q``."""
    HttptopApp(source, config).run()


def describe(files: list[str]) -> str:
    """A short name of what is watched, for the header."""
    if not files:
        return "config"
    names = [os.path.basename(f) for f in files]
    return names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}"


