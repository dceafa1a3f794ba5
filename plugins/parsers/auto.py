"""``auto``: detect each file's format from its first lines, and say which was chosen."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from omphalos.config import option
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns

from .base import BaseParser, ParserConfig
from .clf import COMBINED_TOKENS, COMMON_TOKENS
from .linefmt import LineFormat


def candidates() -> list[LineFormat]:
    """Formats tried, most specific first (a combined line also starts like a common one)."""
    return [LineFormat("combined", COMBINED_TOKENS), LineFormat("common", COMMON_TOKENS)]


@dataclass(frozen=True)
class AutoConfig(ParserConfig):
    """Options of the auto-detecting parser."""

    sample_lines: int = option(50, "Lines looked at to choose a file's format.")


class AutoParser(BaseParser):
    """Chooses, per source file, the format that parses most of its first lines."""

    name = "auto"
    description = "Detects each file's format (combined, common, ...) from its first lines"
    Config: ClassVar[type] = AutoConfig

    def setup(self) -> None:
        super().setup()
        self.formats = candidates()
        self.chosen: dict[str, LineFormat] = {}

    def detect(self, data: bytes) -> LineFormat:
        lines = data.split(b"\n", self.config.sample_lines)[: self.config.sample_lines]
        best, best_score = self.formats[0], -1
        for fmt in self.formats:
            score = 0
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if fmt.strict_line.fullmatch(line) or fmt.lenient.fullmatch(line):
                    score += 1
            if score > best_score:
                best, best_score = fmt, score
        return best

    def parse_lines(self, chunk: LineChunk
                    ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        fmt = self.chosen.get(chunk.source.file_id)
        if fmt is None:
            fmt = self.chosen[chunk.source.file_id] = self.detect(chunk.data)
            self.log.info("%s: detected format %s", chunk.source.path, fmt.name)
        return fmt.parse(chunk.data, chunk.start)
