"""The ``omphalos`` base controller: run, replay, check, plugins."""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any

from cement import Controller, ex

from omphalos import __version__
from omphalos.config import ConfigError, describe_options
from omphalos.pipeline import Pipeline, PipelineAPI, QueryError
from omphalos.registry import default_registry
from omphalos.replaying import MIN_RANGE_BYTES, ParallelReplay, ReplayError
from omphalos.report import format_summary, summary_json
from omphalos.speedups import log_core
from omphalos.workers import pipeline_from_config

from .common import (
    configure_logging,
    files_pipeline,
    gather_config,
    has_components,
    replay_until_done,
    run_until_stopped,
)
from .compressed import CompressedError, decompressed, is_compressed
from .paths import monitor_paths, path_problems, write_problems
from .progress import Progress
from .resume import ask_key, resume_notes, start_over
from .signals import StopFlag
from .watch import FileWatch

#: ``--config`` after the subcommand too (``omphalos run -c FILE``), added to the global ones.
CONFIG_ARG = (["--config", "-c"], {"action": "append", "default": [], "metavar": "FILE",
                                   "dest": "sub_config",
                                   "help": "read this config file too (repeatable)"})


def _presets() -> Any:
    """The ``preset`` parser plugin: it knows every name ``--format`` takes."""
    try:
        return default_registry().get("parser", "preset")
    except ConfigError:
        return None


#: What ``--format`` takes (listed in its help).
FORMAT_NAMES: list[str] = _presets().format_names() if _presets() is not None else ["auto"]
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_DEGRADED = 3

#: The examples at the end of ``omphalos --help``.
EXAMPLES = """examples:
  omphalos replay /var/log/nginx/access.log         summary of a whole log, as fast as it reads
  omphalos replay --json access.log | jq .status    the same as JSON
  omphalos demo                                     a live demo log, in the console (or --web)
  omphalos httptop /var/log/nginx/access.log        the live console on a log
  omphalos -c etc/omphalos.conf check               validate a config, name its missing files
  omphalos -c etc/omphalos.conf run                 the config's pipeline and dashboard
  omphalos -c /etc/omphalos/collector.conf collector --daemon --pid-file /run/omphalos/c.pid
  omphalos status                                   the state of the running daemons
"""


class Base(Controller):
    """``omphalos``: collect web-server logs from many servers and see them live."""

    class Meta:
        label = "base"
        description = ("Omphalos collects web-server access logs from many servers and shows, "
                       "live, what they are doing.")
        epilog = EXAMPLES
        arguments = [
            (["--config", "-c"], {"action": "append", "default": [], "metavar": "FILE",
                                  "help": "read this config file too (repeatable)"}),
            (["--version"], {"action": "version", "version": f"omphalos {__version__}"}),
        ]

    def _default(self) -> None:
        self.app.args.print_help()  # type: ignore[attr-defined]

    # -- helpers ------------------------------------------------------------------------
    def config_files(self) -> list[str]:
        """``--config`` files given before and after the subcommand, in that order."""
        pargs = self.app.pargs
        return list(getattr(pargs, "config", []) or []) + list(
            getattr(pargs, "sub_config", []) or [])

    def _debug(self) -> bool:
        return bool(getattr(self.app.pargs, "debug", False) or self.app.debug)

    def _source(self, files: list[str] | None = None, **kwargs: Any) -> Any:
        source = gather_config(self.config_files())
        if files:
            source = files_pipeline(source, files, **kwargs)
        elif not has_components(source):
            raise ConfigError("nothing to do: give log files, or a config with [monitor:NAME]"
                              " sections (--config FILE)")
        return source

    @staticmethod
    def _parser_section(name: str) -> dict[str, Any]:
        """The parser section for ``--format NAME`` (a plugin or a preset)."""
        presets = _presets()
        if presets is None:
            return {"parser:main": {"plugin": name}}
        try:
            return {"parser:main": presets.format_section(name)}
        except ValueError as exc:
            raise ConfigError(f"--format: {exc}") from None

    def _print_summary(self, pipeline: PipelineAPI, as_json: bool) -> None:
        try:
            summary = pipeline.query("summary", limit=20)
        except QueryError as exc:
            print(f"omphalos: no summary: {exc}", file=sys.stderr)
            return
        print(summary_json(summary) if as_json else format_summary(summary, top=20))

    # -- commands -----------------------------------------------------------------------
    @ex(help="run the pipeline from config (or on FILEs) in the foreground",
        arguments=[CONFIG_ARG,
                   (["files"], {"nargs": "*", "metavar": "FILE",
                                "help": "log files or globs; default: the config's monitors"}),
                   (["--format", "-f"], {"default": "auto", "metavar": "FORMAT",
                                         "help": "parser plugin or preset for FILEs "
                                                 "(default: auto; see replay --help)"}),
                   (["--json"], {"action": "store_true",
                                 "help": "print the final summary as JSON"}),
                   (["--from-start"], {"action": "store_true",
                                       "help": "FILEs: forget the progress saved by earlier "
                                               "runs on them and count them from the start"})])
    def run(self) -> None:
        """On FILEs: resumes where the last run with the same files and config stopped
        (saying so), and its summary counts those runs' lines too (see :mod:`.resume`)."""
        pargs = self.app.pargs
        key = ask_key(gather_config(self.config_files()), pargs.files, pargs.format) \
            if pargs.files else ""
        source = self._source(pargs.files, parser=pargs.format, saved_as=key,
                              extra=self._parser_section(pargs.format))
        pipeline = pipeline_from_config(source)  # workers = N: worker processes
        configure_logging(self._debug(), pipeline.settings.log_level)
        log_core()
        problems = write_problems(pipeline)
        if problems:
            for problem in problems:
                print(f"omphalos: {problem}", file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        if key and pargs.from_start:
            start_over(pipeline.settings, key)
        elif key:
            for note in resume_notes(pipeline.settings, key):
                print(note, file=sys.stderr, flush=True)
        stop = StopFlag()
        stop.install()
        pipeline.start()
        try:
            why = run_until_stopped(pipeline, stop, FileWatch(pipeline))
        finally:
            summary_pipeline = pipeline
            if pipeline.names("collector"):
                self._print_summary(summary_pipeline, pargs.json)
            pipeline.stop()
        self._finish(pipeline, why)

    @ex(help="push whole FILEs through the pipeline as fast as possible; print the summary",
        arguments=[CONFIG_ARG, (["files"], {"nargs": "+", "metavar": "FILE"}),
                   (["--format", "-f"], {"default": "auto", "metavar": "FORMAT",
                                         "help": "parser plugin or preset (default: auto): "
                                                 + ", ".join(FORMAT_NAMES)}),
                   (["--json"], {"action": "store_true", "help": "print the summary as JSON"}),
                   (["--state"], {"default": "", "metavar": "STATE_FILE",
                                  "help": "add to the counts saved in STATE_FILE (SQLite; "
                                          "made when missing) and save them there: runs "
                                          "accumulate, and a file replayed again is not "
                                          "counted twice (one process)"}),
                   (["--workers", "-w"], {"type": int, "default": 0, "metavar": "N",
                                          "help": "processes that parse and count (default 0: "
                                                  "one per core, one process for less than "
                                                  "8 MiB; 1: one process)"}),
                   (["--range-bytes"], {"type": int, "default": 0, "metavar": "BYTES",
                                        "help": "with workers: bytes of whole lines per piece "
                                                "of work (default 0: pieces that shrink as the "
                                                "work goes, each the bytes left / (2 x "
                                                "workers), at least 4 MiB, at most 64 MiB)"})])
    def replay(self) -> None:
        pargs = self.app.pargs
        files = [f for pattern in pargs.files for f in (sorted(glob.glob(pattern)) or [pattern])]
        # One chunk in flight: the actors of one process share one GIL, so overlapping the
        # parsing of a chunk with the counting of the previous one gains nothing and costs
        # cache misses and GIL hand-offs (replay measured 15-25% faster than with 8).
        # Batches applied whole: nobody asks the summary before the end (cheaper, and the
        # answer does not depend on how the slices were timed).
        extra: dict[str, dict[str, Any]] = {"monitor:files": {"max_in_flight": 1},
                                            "collector:summary": {"whole_batches": True}}
        if pargs.state:
            # the files are read from their start at every replay: the de-duplication
            # offsets saved with the counts skip what a save already holds, so batches
            # need not wait for a save to be acknowledged
            extra["collector:summary"].update({"durable": True, "state_key": "replay",
                                               "state_path": os.path.abspath(pargs.state),
                                               "ack_when_saved": False})
        unreadable = [p for p in path_problems(("", f) for f in files) if p.fatal]
        if unreadable:
            for problem in unreadable:
                print(f"omphalos: cannot read {problem.path}: {problem.reason}",
                      file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        if pargs.state and any(map(is_compressed, files)):
            raise ConfigError("--state: compressed files cannot be replayed into a state "
                              "file (a decompressed copy is a new file each time, and "
                              "would be counted again): decompress them first")
        try:
            files = decompressed(files)
        except CompressedError as exc:
            print(f"omphalos: cannot read {exc}", file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        source = self._source(files, parser=pargs.format, follow=False, checkpoints=False,
                              extra={**extra, **self._parser_section(pargs.format)})
        if self._replay_parallel(source, files):
            return
        pipeline = Pipeline.from_config(source)
        configure_logging(self._debug(), "warning")
        log_core()
        total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
        stop = StopFlag()
        stop.install()
        pipeline.start()
        failed: list[str] = []
        try:
            why = replay_until_done(pipeline, stop, total)
            failed = unread_files(pipeline)
            self._print_summary(pipeline, pargs.json)
        finally:
            pipeline.stop()
        for text in failed:
            print(f"omphalos: {text}", file=sys.stderr)
        self._finish(pipeline, why)
        if failed and not self.app.exit_code:
            self.app.exit_code = EXIT_FAILED

    def _replay_parallel(self, source: Any, files: list[str]) -> bool:
        """Replay on worker processes (:mod:`omphalos.replaying`) when ``--workers`` asks for
        more than one (or by default, files of 8 MiB or more on a machine of several
        cores); False: the one-process replay is to run."""
        pargs = self.app.pargs
        if pargs.state:  # the counts saved in a state file are added to in one process
            return False
        if pargs.workers < 0 or pargs.range_bytes < 0:
            raise ConfigError("--workers and --range-bytes take 0 or more")
        total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
        workers = pargs.workers or (os.cpu_count() or 1)
        if workers == 1 or (not pargs.workers and total < 2 * MIN_RANGE_BYTES):
            return False
        replay = ParallelReplay(source)
        if replay.refused:
            if pargs.workers:
                print(f"omphalos: replaying in one process: {replay.refused}", file=sys.stderr)
            return False
        configure_logging(self._debug(), "warning")
        log_core()
        progress = Progress(total)
        stop = StopFlag()
        stop.install()
        try:
            # stopped by a signal: the summary of what was counted, as in one process
            try:
                replay.run([f for f in files if os.path.isfile(f)], workers,
                           pargs.range_bytes, progress=progress.update,
                           stopped=lambda: stop.is_set)
            except ReplayError as exc:
                progress.close()
                print(f"omphalos: replay failed: {exc}", file=sys.stderr)
                self.app.exit_code = EXIT_FAILED
                return True
            progress.close()
            summary = replay.query("summary", limit=20)
            print(summary_json(summary) if pargs.json else format_summary(summary, top=20))
        finally:
            progress.close()
            replay.close()
        return True

    def _finish(self, pipeline: PipelineAPI, why: str) -> None:
        """Exit 3 with the reasons when the pipeline ended degraded."""
        if why == "degraded" or pipeline.degraded:
            for reason in pipeline.health.snapshot()["reasons"]:
                print(f"omphalos: pipeline degraded: {reason}", file=sys.stderr)
            self.app.exit_code = EXIT_DEGRADED

    @ex(help="check the configuration; exit 0 when it is valid", arguments=[CONFIG_ARG])
    def check(self) -> None:
        source = gather_config(self.config_files())
        pipeline = Pipeline.from_config(source)
        files = ", ".join(source.files) or "(no files)"
        problems = path_problems(monitor_paths(pipeline))
        unwritable = write_problems(pipeline, create=False)
        errors = [p for p in problems if p.fatal]
        for problem in problems:
            print(f"{'error' if problem.fatal else 'warning'}: {problem}",
                  file=sys.stderr)
        for text in unwritable:
            print(f"error: {text}", file=sys.stderr)
        if errors or unwritable:
            print(f"config has errors: {files}", file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        print(f"config OK: {files}: {len(pipeline.components)} components: "
              f"{', '.join(pipeline.components)}")

    @ex(help="list every plugin found, with its options",
        arguments=[CONFIG_ARG, (["--json"], {"action": "store_true", "help": "as JSON"})])
    def plugins(self) -> None:
        registry = default_registry()
        rows: list[dict[str, Any]] = []
        for cls in registry.all():
            rows.append({"kind": cls.kind, "name": cls.name, "description": cls.description,
                         "module": cls.__module__,
                         "options": [{"name": n, "type": t, "default": d, "doc": doc}
                                     for n, t, d, doc in describe_options(cls.Config)]})
        if self.app.pargs.json:
            print(json.dumps(rows, indent=2))
            return
        for row in rows:
            print(f"{row['kind']:<10} {row['name']:<14} {row['description']}")
            for opt in row["options"]:
                print(f"{'':<12}{opt['name']} ({opt['type']}, default {opt['default']}): "
                      f"{opt['doc']}")
        for error in registry.errors:
            print(f"broken plugin: {error}", file=sys.stderr)


def unread_files(pipeline: Pipeline) -> list[str]:
    """"cannot read PATH: reason" for every file the monitors could not read."""
    out: list[str] = []
    for name in pipeline.names("monitor"):
        try:
            status = pipeline.ask(name, _status(), timeout=5)
        except QueryError:
            continue
        for f in status.get("files") or []:
            if f.get("state") == "error":
                out.append(f"cannot read {f.get('path')}: {f.get('error') or 'error'}")
    return out


def _status() -> Any:
    from omphalos.messages import Query

    return Query("status")
