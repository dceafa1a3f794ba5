"""A test collector that records every applied line's number, to count lines exactly.

Lines written by the tests look like combined-format requests for ``/n/<number>``. The
``linelog`` collector appends each applied number to ``record`` (one per line, flushed per
batch, so it survives the process) and answers ``lines`` queries with how many it applied.
The tests register it through a generated ``*.dist-info`` entry point (see ``helpers``), the
same way an installed third-party package registers its plugins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, ClassVar

from omphalos.config import option
from omphalos.messages import Batch, Query
from omphalos.plugin import CollectorPlugin


@dataclass(frozen=True)
class LineLogConfig:
    """Options of the line recorder."""

    record: str = option("", "File the applied line numbers are appended to; empty: none.")


class LineLog(CollectorPlugin):
    """Counts applied lines and appends their numbers to a file."""

    name = "linelog"
    description = "Test collector: records the number of every applied line"
    Config: ClassVar[type] = LineLogConfig
    answers: ClassVar[frozenset[str]] = frozenset({"lines"})

    def setup(self) -> None:
        self.applied = 0
        self.out: IO[str] | None = None
        if self.config.record:
            self.out = open(self.config.record, "a", encoding="utf-8")

    def teardown(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None

    def apply(self, batch: Batch) -> None:
        numbers = [p.rsplit("/", 1)[-1] for p in batch.records.path]
        self.applied += len(numbers)
        if self.out is not None and numbers:
            self.out.write("\n".join(numbers) + "\n")
            self.out.flush()

    def answer(self, query: Query) -> Any:
        if query.kind == "lines":
            return self.applied
        return super().answer(query)
