"""The ``omphalos`` command: a cement 3 application."""

from __future__ import annotations

import os
import sys

from cement import App
from cement.core.exc import CaughtSignal

from omphalos.config import ConfigError

from .base import EXIT_CONFIG, Base
from .demo import Demo
from .httptop import Httptop
from .keys import Keys
from .report import Report
from .roles import Roles

#: Controllers of the command; each adds its subcommands to ``omphalos``.
HANDLERS: list[type] = [Base, Keys, Roles, Httptop, Demo, Report]


class OmphalosApp(App):
    """cement application; config files are read by :mod:`omphalos.config` (see README)."""

    class Meta:
        label = "omphalos"
        base_controller = "base"
        handlers = HANDLERS
        # Omphalos reads the cement places itself, to name the file of every bad key.
        config_files: list[str] = []
        config_dirs: list[str] = []
        catch_signals = None
        framework_logging = False
        exit_on_close = False  # main() returns the status; the console script exits


#: Exit status when the reader of our output went away (``omphalos replay LOG | head``):
#: what a shell reports for a command killed by SIGPIPE.
EXIT_PIPE = 128 + 13


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``omphalos`` console script."""
    try:
        with OmphalosApp(argv=argv) as app:
            try:
                app.run()
            except ConfigError as exc:
                print(f"omphalos: config error: {exc}", file=sys.stderr)
                app.exit_code = EXIT_CONFIG
            except CaughtSignal:  # pragma: no cover - catch_signals is off
                pass
            sys.stdout.flush()
            return int(app.exit_code or 0)
    except BrokenPipeError:
        return reader_gone()


def reader_gone() -> int:
    """Stdout's reader closed the pipe: stop quietly (no traceback, no flush error at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
