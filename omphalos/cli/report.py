"""``omphalos report FILE... -o report.html``: GoAccess's one-command report.

The files go through the replay path (:func:`.common.files_pipeline`, one chunk in flight,
:func:`.common.replay_until_done`): a file monitor reading each file once, the parser, the
local transport and the summary collector, which counts every dimension. Then the report's
panels (:mod:`omphalos.htmlreport.panels`) are asked of it and written as one
self-contained HTML page, or with ``--json`` / ``--csv`` as data for scripts.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import Any

from cement import Controller, ex

from omphalos.htmlreport.html import render
from omphalos.htmlreport.panels import gather
from omphalos.htmlreport.tabular import to_csv
from omphalos.pipeline import Pipeline, QueryError
from omphalos.query import DIMENSIONS
from omphalos.validate import finite_json

from .base import CONFIG_ARG, EXIT_FAILED, FORMAT_NAMES, Base, unread_files
from .common import configure_logging, files_pipeline, gather_config, replay_until_done
from .compressed import CompressedError, decompressed
from .paths import path_problems
from .signals import StopFlag

EXAMPLES = """examples:
  omphalos report /var/log/nginx/access.log -o report.html   open report.html in a browser
  omphalos report 'logs/*.log' --json | jq .general            the same counts as JSON
  omphalos report access.log --csv -o panels.csv               one line per panel row
"""


class Report(Controller):
    """The ``report`` subcommand."""

    class Meta:
        label = "report"
        stacked_on = "base"
        stacked_type = "embedded"

    @ex(label="report", help="replay FILEs and write one self-contained HTML report "
                             "(or --json, --csv)", epilog=EXAMPLES,
        arguments=[CONFIG_ARG, (["files"], {"nargs": "+", "metavar": "FILE"}),
                   (["--output", "-o"], {"default": "", "metavar": "OUT",
                                         "help": "write here (default: standard output)"}),
                   (["--format", "-f"], {"default": "auto", "metavar": "FORMAT",
                                         "help": "parser plugin or preset (default: auto): "
                                                 + ", ".join(FORMAT_NAMES)}),
                   (["--json"], {"action": "store_true", "help": "the report's data as JSON"}),
                   (["--csv"], {"action": "store_true",
                                "help": "the panels' rows as CSV (panel,key,hits,...)"}),
                   (["--top"], {"type": int, "default": 50, "metavar": "N",
                                "help": "rows per panel (default: 50, at most 1000)"}),
                   (["--title"], {"default": "Omphalos report",
                                  "help": "the page's title (default: Omphalos report)"})])
    def report(self) -> None:
        pargs = self.app.pargs
        if pargs.json and pargs.csv:
            print("omphalos: report: --json or --csv, not both", file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        files = [f for pattern in pargs.files for f in (sorted(glob.glob(pattern)) or [pattern])]
        unreadable = [p for p in path_problems(("", f) for f in files) if p.fatal]
        if unreadable:
            for problem in unreadable:
                print(f"omphalos: cannot read {problem.path}: {problem.reason}",
                      file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        try:
            shown, files = files, decompressed(files)
        except CompressedError as exc:
            print(f"omphalos: cannot read {exc}", file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        configs = list(getattr(pargs, "config", []) or []) + list(pargs.sub_config or [])
        # every panel, the opt-in country too (a config's own summary section still wins)
        extra: dict[str, dict[str, Any]] = {"monitor:files": {"max_in_flight": 1},
                                            "collector:summary": {"dimensions":
                                                                  list(DIMENSIONS)}}
        source = files_pipeline(gather_config(configs), files, parser=pargs.format,
                                follow=False, checkpoints=False,
                                extra={**extra, **Base._parser_section(pargs.format)})
        pipeline = Pipeline.from_config(source)
        configure_logging(bool(self.app.debug), "warning")
        stop = StopFlag()
        stop.install()
        pipeline.start()
        try:
            why = replay_until_done(pipeline, stop, sum(
                os.path.getsize(f) for f in files if os.path.isfile(f)))
            failed = unread_files(pipeline)
            try:
                data = gather(pipeline.query, max(1, min(pargs.top, 1000)), shown)
            except QueryError as exc:
                print(f"omphalos: report: no counts: {exc}", file=sys.stderr)
                self.app.exit_code = EXIT_FAILED
                return
        finally:
            pipeline.stop()
        for text in failed:
            print(f"omphalos: {text}", file=sys.stderr)
        if why != "done":
            print(f"omphalos: report: replay ended early ({why})", file=sys.stderr)
            self.app.exit_code = EXIT_FAILED
            return
        if pargs.json:
            text = finite_json(data, indent=2, sort_keys=True)[0] + "\n"
        elif pargs.csv:
            text = to_csv(data)
        else:
            text = render(data, pargs.title)
        if pargs.output:
            with open(pargs.output, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            sys.stdout.write(text)
        if failed:
            self.app.exit_code = EXIT_FAILED
