"""The ``apache`` parser plugin: lines in any Apache ``LogFormat``.

Paste the ``LogFormat`` line (or just its string) from the server config, or name a preset.
The format compiler is :mod:`omphalos.lib.parsers.apache_format`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omphalos.config import option
from omphalos.lib.parsers.apache_format import PRESETS, compile_apache
from omphalos.lib.parsers.base import LineFormatParser, ParserConfig
from omphalos.lib.parsers.formatstr import FormatError
from omphalos.lib.parsers.linefmt import LineFormat


@dataclass(frozen=True)
class ApacheConfig(ParserConfig):
    """Options of the ``apache`` parser."""

    format: str = option("combined", "An Apache LogFormat string (as in httpd.conf) or a "
                                     f"preset: {', '.join(PRESETS)}.")

    def validate(self) -> None:
        try:
            compile_apache(self.format)
        except FormatError as exc:
            raise ValueError(str(exc), "format") from None


class ApacheParser(LineFormatParser[ApacheConfig]):
    """Lines written by Apache httpd with any ``LogFormat``."""

    name = "apache"
    description = "Apache httpd logs in any LogFormat (paste it, or name a preset)"
    Config: ClassVar[type] = ApacheConfig

    def make_format(self) -> LineFormat:
        return compile_apache(self.config.format)
