"""``omphalos httptop`` (also installed as ``httptop``): the live console.

- ``omphalos httptop FILE...`` (globs too) runs a pipeline on those files in this process
  (file monitor following them, auto parser, local transport, the summary collector plus
  the window and alert collectors when they are installed) and shows it;
- ``omphalos httptop --connect HOST:PORT`` shows a collector daemon through its HTTP API;
- ``omphalos httptop`` alone runs the pipeline the config files describe.

Console options come from the ``[httptop]`` config section, overridden by the command line.
The console itself is part of the command line, not a plugin: :mod:`omphalos.console`.
"""

from __future__ import annotations

import argparse
import sys

from cement import Controller, ex

THEMES = ("auto", "dark", "light", "mono")
WINDOWS = ("1m", "5m", "1h", "all")
VIEWS = ("paths", "clients", "hosts", "status", "agents", "referers", "visitors", "browsers",
         "os", "crawlers", "devices", "notfound", "static", "hours", "vhosts", "sites",
         "protocols", "users", "methods", "tls", "mime", "cache", "countries")

#: The examples at the end of ``httptop --help``.
EXAMPLES = """examples:
  httptop /var/log/nginx/access.log          one log, followed live
  httptop '/var/log/nginx/*.log' -w 1m       every log of a directory, the 1m window
  httptop --connect collector:8080 --token T a collector daemon, through its HTTP API
  httptop -c /etc/omphalos/omphalos.conf     the pipeline a config describes
  omphalos demo                              a generated live log, to try the keys on

keys: ? help, 1..6 views, / filter, w window, enter drill, c/C clear alerts, q quit
"""


class Httptop(Controller):
    """The ``httptop`` subcommand."""

    class Meta:
        label = "httptop"
        stacked_on = "base"
        stacked_type = "embedded"

    @ex(label="httptop",
        help="the live console: on FILEs, on a collector daemon (--connect), or the config's",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        arguments=[
            (["files"], {"nargs": "*", "metavar": "FILE",
                         "help": "log files or globs to read and show"}),
            (["--connect"], {"metavar": "HOST:PORT",
                             "help": "show a collector daemon through its HTTP API"}),
            (["--token"], {"help": "API token for --connect (default: $OMPHALOS_TOKEN)"}),
            (["--config", "-c"], {"action": "append", "default": [], "metavar": "FILE",
                                  "dest": "sub_config",
                                  "help": "read this config file too (repeatable)"}),
            (["--format", "-f"], {"default": "auto", "help": "parser for FILEs (default: auto)"}),
            (["--theme"], {"choices": THEMES, "help": "colours (default: auto)"}),
            (["--window", "-w"], {"choices": WINDOWS, "help": "window at start (default: 5m)"}),
            (["--view"], {"choices": VIEWS, "help": "view at start (default: paths)"}),
            (["--refresh"], {"type": float, "metavar": "SECS",
                             "help": "seconds between refreshes (default: 1)"}),
            (["--log-file"], {"metavar": "FILE", "help": "write logs here (default: none)"}),
        ])
    def httptop(self) -> None:
        # imported here: urwid costs a quarter second that the other commands need not pay
        from omphalos.console import launch

        pargs = self.app.pargs
        options = launch.Options(
            files=list(pargs.files),
            config_files=list(getattr(pargs, "config", []) or []) + list(pargs.sub_config),
            connect=pargs.connect, token=pargs.token, parser=pargs.format, theme=pargs.theme,
            window=pargs.window, view=pargs.view, refresh_secs=pargs.refresh,
            log_file=pargs.log_file)
        self.app.exit_code = launch.run(options)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``httptop`` console script: ``omphalos httptop ARGS``."""
    from .main import main as omphalos_main

    # ``httptop --help`` says httptop, not ``omphalos httptop``
    options = Httptop.httptop.__cement_meta__.parser_options  # type: ignore[attr-defined]
    options["prog"] = "httptop"
    try:
        return omphalos_main(["httptop", *(sys.argv[1:] if argv is None else argv)])
    finally:
        options.pop("prog", None)


if __name__ == "__main__":
    sys.exit(main())
