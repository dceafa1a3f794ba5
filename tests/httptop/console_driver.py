"""Runs the real console (in a real terminal, under tmux) on a pipeline with test collectors.

``python -m tests.httptop.console_driver LOG [--slow SECS --record FILE] [--alerts N]
[--events FILE]``: the file monitor follows LOG; the collectors are the test alerts
collector (``--alerts``) and the summary collector, or the slow summary (``--slow``).
``--events`` appends every key the console handled and every answer it drew, with the time,
so a test can check the order things happened in.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from omphalos.console.app import HttptopApp
from omphalos.console.config import HttptopConfig
from omphalos.console.launch import quiet_logging
from omphalos.console.source import LocalSource
from omphalos.pipeline import Pipeline

from .plugins_for_tests import make_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--slow", type=float, default=0.0)
    parser.add_argument("--record", default="")
    parser.add_argument("--alerts", type=int, default=0)
    parser.add_argument("--events", default="")
    parser.add_argument("--state-dir", default="")
    args = parser.parse_args(argv)
    sections: dict[str, dict[str, Any]] = {
        "omphalos": {"state_dir": args.state_dir} if args.state_dir else {},
        "monitor:files": {"plugin": "file", "paths": [args.log], "checkpoints": False,
                          "poll_interval_secs": 0.1},
        "parser:main": {"plugin": "auto"},
        "transport:local": {"plugin": "local"},
    }
    if args.alerts:
        sections["collector:alerts"] = {"plugin": "test-alerts", "threshold": args.alerts}
    if args.slow:
        sections["collector:summary"] = {"plugin": "slow-summary", "delay_secs": args.slow,
                                         "record_file": args.record}
    else:
        sections["collector:summary"] = {"plugin": "summary"}
    pipeline = Pipeline.from_config(sections, registry=make_registry())
    quiet_logging(None)

    def event(text: str) -> None:
        if args.events:
            with open(args.events, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"time": time.time(), "event": text}) + "\n")

    pipeline.start()
    try:
        source = LocalSource(pipeline, description="driver")
        HttptopApp(source, HttptopConfig(refresh_secs=0.5, stale_after_secs=2.0),
                   on_event=event).run()
        event("quit")
    finally:
        pipeline.stop(timeout=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
