"""``auto``: detect each file's format from its first lines, and say which was chosen.

W3C extended logs are recognised by their ``#`` directives, JSON lines by a leading ``{``;
other files are matched against the Apache and nginx presets, most specific first, and the
one that reads most of the sample lines wins.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from omphalos.config import option
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.linefmt import LineFormat, Result
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns

from .apache import compile_apache
from .jsonl import JsonFormat
from .nginx import compile_nginx
from .w3c import W3CStream

#: Bytes read from the start of a file first seen mid-way, to detect its format.
HEAD_BYTES = 65536


class ChunkParser(Protocol):
    """What a detected format is: a name and ``parse(data, start)``."""

    name: str

    def parse(self, data: bytes, start: int) -> Result: ...


def candidates() -> list[LineFormat]:
    """Line formats tried, most specific first (a combined line also starts like a common
    one, and a combined line with a request time also starts like a combined one)."""
    return [
        compile_nginx("combined_rt", "combined_rt"),
        compile_apache("combined_D", "combined_D"),
        compile_nginx("main_rt", "main_rt"),
        compile_nginx("main", "main"),
        compile_apache("vhost_combined", "vhost_combined"),
        compile_nginx("vhost_combined", "vhost_combined_plain"),
        compile_apache("combined", "combined"),
        compile_apache("vhost_common", "vhost_common"),
        compile_apache("common", "common"),
    ]


def _sample(data: bytes, lines: int) -> list[str]:
    out = []
    for raw in data.split(b"\n", lines * 2)[: lines * 2]:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line.strip():
            out.append(line)
        if len(out) >= lines:
            break
    return out


def detect_line_format(formats: list[LineFormat], sample: list[str]) -> tuple[LineFormat, int]:
    """The format reading most of ``sample`` (the first such on a tie) and its score."""
    best, best_score = formats[0], -1
    for fmt in formats:
        score = sum(1 for line in sample
                    if fmt.strict_line.fullmatch(line) or fmt.lenient.fullmatch(line))
        if score > best_score:
            best, best_score = fmt, score
    return best, best_score


@dataclass(frozen=True)
class AutoConfig(ParserConfig):
    """Options of the auto-detecting parser."""

    sample_lines: int = option(50, "Lines looked at to choose a file's format.")
    time_taken_unit: Literal["ms", "s"] = option(
        "ms", "Unit of a W3C file's time-taken field: ms (IIS) or s (the W3C draft).")


class AutoParser(BaseParser[AutoConfig]):
    """Chooses, per source file, the format that parses most of its first lines."""

    name = "auto"
    description = "Detects each file's format (W3C, JSON, combined, common, ...) by itself"
    Config: ClassVar[type] = AutoConfig

    def setup(self) -> None:
        super().setup()
        self.formats = candidates()
        self.chosen: dict[str, ChunkParser] = {}

    def detect(self, data: bytes, path: str = "") -> ChunkParser:
        """The format of a file whose first bytes are ``data``."""
        sample = _sample(data, self.config.sample_lines)
        first = sample[0].lstrip("\ufeff") if sample else ""
        if first.startswith("#"):
            return W3CStream(self.config.time_taken_unit, path)
        if first.startswith("{"):
            return JsonFormat()
        return detect_line_format(self.formats, sample)[0]

    def parse_lines(self, chunk: LineChunk
                    ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        fmt = self.chosen.get(chunk.source.file_id)
        if fmt is not None and chunk.start == 0:
            # the file starts again (truncated and rewritten): its format may have changed
            result = fmt.parse(chunk.data, chunk.start)
            if len(result[0]) >= sum(result[3].values()):
                return result
            fmt = None
        if fmt is None:
            path = chunk.source.path if os.path.isfile(chunk.source.path) else ""
            head = chunk.data
            if chunk.start > 0 and path:
                try:
                    with open(path, "rb") as fh:
                        head = fh.read(HEAD_BYTES)
                except OSError:
                    head = chunk.data
            fmt = self.chosen[chunk.source.file_id] = self.detect(head, path)
            self.log.info("%s: detected format %s", chunk.source.path, fmt.name)
        return fmt.parse(chunk.data, chunk.start)
