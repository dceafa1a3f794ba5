"""What every parser shares: bad-line accounting, the dead-letter file, batch assembly."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import IO, ClassVar, TypeVar

from omphalos.config import option
from omphalos.messages import BadLine, Batch, LineChunk
from omphalos.plugin import ParserPlugin
from omphalos.records import Columns

from .linefmt import LineFormat


@dataclass(frozen=True)
class ParserConfig:
    """Options every parser has."""

    dead_letter: str = option("", "File that unparsed lines are appended to as JSON lines "
                                  "(source, offset, reason, line); empty: keep none.")
    bad_sample: int = option(20, "Unparsed lines carried per batch for the collectors to "
                                 "show (all are counted).")


#: A parser's config type (it has the options every parser has).
PC = TypeVar("PC", bound=ParserConfig)


class BaseParser(ParserPlugin[PC]):
    """Parses chunks with :meth:`parse_lines`; handles bad lines the same way everywhere."""

    Config: ClassVar[type] = ParserConfig

    def setup(self) -> None:
        self._dead_letter: IO[str] | None = None
        if self.config.dead_letter:
            os.makedirs(os.path.dirname(os.path.abspath(self.config.dead_letter)),
                        exist_ok=True)
            # closed by the base class when the actor stops, dies or fails to start
            self._dead_letter = self.resources.enter_context(
                open(self.config.dead_letter, "a", encoding="utf-8"))

    def parse_lines(self, chunk: LineChunk
                    ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        """(columns, lines, bad lines, reasons) for the lines of ``chunk``."""
        raise NotImplementedError

    def parse(self, chunk: LineChunk) -> Batch:
        try:
            columns, lines, bad, reasons = self.parse_lines(chunk)
        except Exception as exc:
            self.log.exception("parser failed on %s at %d", chunk.source.path, chunk.start)
            lines = chunk.data.count(b"\n")
            columns, bad = Columns(), [BadLine(chunk.start, f"parser error: {exc}", "")]
            reasons = Counter({f"parser error: {type(exc).__name__}": lines})
        if bad and self._dead_letter is not None:
            self._write_dead_letters(chunk, bad)
        unparsed = sum(reasons.values())
        self.counters["records"] += len(columns)
        for reason, count in reasons.items():
            self.counters[f"unparsed: {reason}"] += count
        return Batch(chunk.source, chunk.seq, chunk.start, chunk.end, columns, lines,
                     unparsed=unparsed, unparsed_reasons=dict(reasons),
                     bad=tuple(bad[: self.config.bad_sample]))

    def rejected(self, chunk: LineChunk, lines: list[BadLine]) -> None:
        """Out-of-range lines: no longer records; kept in the dead-letter file."""
        self.counters["records"] -= len(lines)
        if self._dead_letter is not None:
            self._write_dead_letters(chunk, lines)

    def _write_dead_letters(self, chunk: LineChunk, bad: list[BadLine]) -> None:
        assert self._dead_letter is not None
        for item in bad:
            self._dead_letter.write(json.dumps({
                "host": chunk.source.host, "path": chunk.source.path,
                "file_id": chunk.source.file_id, "offset": item.offset,
                "reason": item.reason, "line": item.line}) + "\n")
        self._dead_letter.flush()


class LineFormatParser(BaseParser[PC]):
    """A parser driven by one :class:`LineFormat` (from :meth:`make_format`)."""

    def setup(self) -> None:
        super().setup()
        self.format: LineFormat = self.make_format()

    def make_format(self) -> LineFormat:
        raise NotImplementedError

    def parse_lines(self, chunk: LineChunk
                    ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        return self.format.parse(chunk.data, chunk.start)
