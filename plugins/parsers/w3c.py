"""The ``w3c`` parser plugin: W3C extended logs (IIS), columns from ``#Fields:`` directives.

Each source file has its own :class:`~omphalos.lib.parsers.w3c_format.W3CStream` (its
current field list and ``#Date:``).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Literal

from omphalos.config import option
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.w3c_format import IIS_DEFAULT_FIELDS, W3CStream
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns


@dataclass(frozen=True)
class W3CConfig(ParserConfig):
    """Options of the ``w3c`` parser."""

    time_taken_unit: Literal["ms", "s"] = option(
        "ms", "Unit of the time-taken field: ms (IIS) or s (the W3C draft; CloudFront's "
              "files are recognised and always read in s).")
    default_fields: str = option(
        IIS_DEFAULT_FIELDS, "Fields of a file with no #Fields directive (IIS's default "
                            "set; a file cut by a shipper lacks its header). Empty: such "
                            "lines are unparsed.")


class W3CParser(BaseParser[W3CConfig]):
    """W3C extended logs; the columns follow each file's ``#Fields:`` directives."""

    name = "w3c"
    description = "W3C extended log format (IIS): columns from each file's #Fields directives"
    Config: ClassVar[type] = W3CConfig

    def setup(self) -> None:
        super().setup()
        self.streams: dict[str, W3CStream] = {}

    def parse_lines(self, chunk: LineChunk) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        stream = self.streams.get(chunk.source.file_id)
        if stream is None:
            path = chunk.source.path if os.path.isfile(chunk.source.path) else ""
            stream = self.streams[chunk.source.file_id] = W3CStream(
                self.config.time_taken_unit, path, self.config.default_fields)
        return stream.parse(chunk.data, chunk.start)
