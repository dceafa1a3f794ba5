"""``omphalos demo``: Omphalos at work in 30 seconds, without a web server of one's own.

A thread writes a realistic live access log (:mod:`.demolog`: 100 s of past traffic at
once, then about ``--rate`` requests a second, with an error burst every 2 minutes that fires
and resolves the site's error-rate alert) into a fresh directory, and the single-host
pipeline of ``etc/omphalos.conf`` (file monitor, auto parser, the window collector with its
alerts, the summary, the dashboard) runs on it. On a terminal the console (httptop) shows
it; ``--web`` (or no terminal) serves only the page. The directory is removed at the end
unless ``--dir`` named it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import webbrowser
from pathlib import Path
from typing import Any

from cement import Controller, ex

from omphalos.messages import Query
from omphalos.pipeline import Pipeline

from .demolog import DemoLog
from .logs import configure_logging
from .ready import not_ready
from .signals import StopFlag
from .watch import FileWatch

EXAMPLES = """examples:
  omphalos demo                     the console on a live demo log (q quits)
  omphalos demo --web --open        the dashboard in your browser (Ctrl-C stops)
  omphalos demo --web --port 0      the dashboard on a free port (printed)
"""


def demo_config(workdir: Path, log: Path, port: int) -> dict[str, dict[str, Any]]:
    """The sections of ``etc/omphalos.conf`` on the demo log, state kept in ``workdir``."""
    return {
        "omphalos": {"state_dir": str(workdir / "state"), "host": "demo"},
        "monitor:web": {"plugin": "file", "paths": str(log)},
        "parser:auto": {},
        "transport:local": {},
        "collector:window": {},
        "collector:summary": {},
        "output:web": {"port": port},
    }


class Demo(Controller):
    """The ``demo`` subcommand."""

    class Meta:
        label = "demo"
        stacked_on = "base"
        stacked_type = "embedded"

    @ex(help="see Omphalos at work in 30 s: a generated live log, the console and the page",
        epilog=EXAMPLES,
        arguments=[
            (["--web"], {"action": "store_true",
                         "help": "serve only the dashboard (the default without a terminal)"}),
            (["--open"], {"action": "store_true", "help": "open the dashboard in a browser"}),
            (["--port"], {"type": int, "default": 8080,
                          "help": "dashboard port (default: 8080; 0: a free one)"}),
            (["--rate"], {"type": float, "default": 20.0, "metavar": "REQ_PER_SEC",
                          "help": "requests a second written to the log (default: 20)"}),
            (["--dir"], {"default": "", "metavar": "DIR",
                         "help": "write the log and state here and keep them (default: a "
                                 "temporary directory, removed at the end)"}),
            (["--seconds"], {"type": float, "default": 0.0, "metavar": "SECS",
                             "help": "stop after this long (default: until q or Ctrl-C)"}),
        ])
    def demo(self) -> None:
        pargs = self.app.pargs
        if pargs.rate <= 0:
            print("omphalos: --rate must be more than 0", file=sys.stderr)
            self.app.exit_code = 2
            return
        keep = bool(pargs.dir)
        workdir = Path(pargs.dir) if keep else Path(tempfile.mkdtemp(prefix="omphalos-demo-"))
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.app.exit_code = self._run(workdir, pargs)
        finally:
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)

    def _run(self, workdir: Path, pargs: Any) -> int:
        log = workdir / "access.log"
        writer = DemoLog(log, rate=pargs.rate)
        writer.backfill()
        pipeline = Pipeline.from_config(demo_config(workdir, log, pargs.port))
        console = not pargs.web and sys.stdin.isatty() and sys.stdout.isatty()
        if console:
            from omphalos.console import launch

            launch.quiet_logging(str(workdir / "omphalos.log"))
        else:
            configure_logging(bool(self.app.debug), "info")
        pipeline.start()
        try:
            reason = not_ready(pipeline)
            if reason is not None:
                print(f"omphalos: demo not started: {reason} (try --port 0)", file=sys.stderr)
                return 1
            url = pipeline.ask("output:web", Query("status"))["url"]
            print(f"omphalos demo: {log} gets {pargs.rate:g} requests/s; "
                  f"dashboard at {url}/", file=sys.stderr)
            writer.start()
            if pargs.open:
                webbrowser.open(url + "/")
            if console:
                self._console(pipeline, launch)
            else:
                self._serve(pipeline, pargs.seconds)
        finally:
            writer.stop()
            pipeline.stop(timeout=5.0)
        print(f"omphalos demo: {writer.written} requests written", file=sys.stderr)
        return 0

    @staticmethod
    def _console(pipeline: Pipeline, launch: Any) -> None:
        from omphalos.console.config import (
            HttptopConfig,
        )
        from omphalos.console.source import (
            LocalSource,
        )

        local = LocalSource(pipeline, timeout_secs=5.0, description="demo")
        try:
            launch.show(local, HttptopConfig())
        finally:
            local.close(wait_secs=1.0)

    @staticmethod
    def _serve(pipeline: Pipeline, seconds: float) -> None:
        stop = StopFlag()
        stop.install()
        files = FileWatch(pipeline)
        deadline = time.monotonic() + seconds if seconds > 0 else None
        while not stop.wait(0.2):
            files.check()
            if deadline is not None and time.monotonic() >= deadline:
                break
