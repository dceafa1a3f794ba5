"""``print``: writes the summary to standard output at an interval (for logs and pipes)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.plugin import OutputPlugin
from omphalos.report import format_summary


@dataclass(frozen=True)
class PrintConfig:
    """Options of the print output."""

    interval_secs: float = option(10.0, "Seconds between two summaries.")
    json: bool = option(False, "Print JSON lines instead of text.")
    top: int = option(10, "Paths listed per summary.")


class PrintOutput(OutputPlugin[PrintConfig]):
    """Asks the collectors for their summary and prints it; never blocks on a slow one."""

    name = "print"
    description = "Prints the collectors' summary to standard output at an interval"
    Config: ClassVar[type] = PrintConfig

    def setup(self) -> None:
        self._last = 0.0
        self._pending: Any = None

    def on_tick(self, now: float) -> None:
        if self._pending is not None:
            try:
                summary = self._pending.get(timeout=0)
            except Exception:  # noqa: BLE001 - not ready yet, or the collector died
                if now - self._last < 3 * self.config.interval_secs:
                    return
                summary = None
            self._pending = None
            if summary is not None:
                self._print(summary)
        pipeline = self.context.pipeline
        if now - self._last >= self.config.interval_secs and self.context.inputs \
                and pipeline is not None:
            self._last = now
            try:
                self._pending = pipeline.ask_async(
                    self.context.inputs[0], _summary_query(self.config.top))
            except Exception:  # noqa: BLE001 - collector not running: try next time
                self._pending = None

    tick_secs = 0.5

    def _print(self, summary: dict[str, Any]) -> None:
        if self.config.json:
            sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
        else:
            sys.stdout.write(format_summary(summary) + "\n")
        sys.stdout.flush()


def _summary_query(top: int) -> Any:
    from omphalos.messages import Query

    return Query("summary", {"limit": top})
