"""``preset``: the logs of servers with a fixed format, by name.

The presets themselves (and the table of every ``--format`` name) are in
:mod:`omphalos.lib.parsers.presets`; this plugin makes one format object per source file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from omphalos.config import option
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.presets import (
    PRESET_DOC,
    PRESETS,
    ChunkFormat,
    PresetName,
    format_names,
    format_section,
)
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns


@dataclass(frozen=True)
class PresetConfig(ParserConfig):
    """Options of the ``preset`` parser."""

    preset: PresetName = option("traefik", PRESET_DOC)  # noqa: RUF009 (a Literal alias)


class PresetParser(BaseParser[PresetConfig]):
    """Logs of a server with a fixed format, named by ``preset``."""

    name = "preset"
    description = "Logs of servers with a fixed format: " + ", ".join(PRESETS)
    Config: ClassVar[type] = PresetConfig

    #: The ``--format`` names, and the parser section for one (for the command line, which
    #: reaches them through the registry).
    format_names = staticmethod(format_names)
    format_section = staticmethod(format_section)

    def setup(self) -> None:
        super().setup()
        self.factory = PRESETS[self.config.preset][0]
        self.formats: dict[str, ChunkFormat] = {}

    def parse_lines(self, chunk: LineChunk
                    ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        fmt = self.formats.get(chunk.source.file_id)
        if fmt is None:
            fmt = self.formats[chunk.source.file_id] = self.factory()
        return fmt.parse(chunk.data, chunk.start)
