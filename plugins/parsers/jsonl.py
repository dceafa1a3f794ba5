"""The ``json`` parser plugin: JSON lines, keys mapped to record fields.

A mapping says which JSON key fills which record field (``remote_addr=client``); dotted keys
reach into nested objects. The format is :mod:`omphalos.lib.parsers.json_format`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omphalos.config import option
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.json_format import TARGETS, JsonFormat
from omphalos.lib.parsers.linefmt import Result
from omphalos.messages import LineChunk

FIELDS_DOC = ("JSON key -> record field items (key=field, comma separated; dotted keys reach "
              "into nested objects; fields: " + ", ".join(TARGETS) + ", extra:NAME). Empty: "
              "the usual nginx/ECS-like keys.")


@dataclass(frozen=True)
class JsonConfig(ParserConfig):
    """Options of the ``json`` parser."""

    fields: dict[str, str] = option({}, FIELDS_DOC)  # noqa: RUF009 (a default_factory)
    keep_unmapped: bool = option(True, "Keep keys the mapping does not name in extra.")

    def validate(self) -> None:
        try:
            JsonFormat(self.fields or None)
        except ValueError as exc:
            raise ValueError(str(exc), "fields") from None


class JsonParser(BaseParser[JsonConfig]):
    """One JSON object per line, keys mapped to record fields."""

    name = "json"
    description = "JSON lines, with a configurable mapping of keys to record fields"
    Config: ClassVar[type] = JsonConfig

    def setup(self) -> None:
        super().setup()
        self.format = JsonFormat(self.config.fields or None, self.config.keep_unmapped)

    def parse_lines(self, chunk: LineChunk) -> Result:
        return self.format.parse(chunk.data, chunk.start)
