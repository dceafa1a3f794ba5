"""The ``nginx`` parser plugin: lines in any nginx ``log_format``.

Paste the ``log_format`` directive (or just its string) from nginx.conf, or name a preset.
The format compiler is :mod:`omphalos.lib.parsers.nginx_format`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omphalos.config import option
from omphalos.lib.parsers.base import LineFormatParser, ParserConfig
from omphalos.lib.parsers.formatstr import FormatError
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.lib.parsers.nginx_format import PRESETS, compile_nginx


@dataclass(frozen=True)
class NginxConfig(ParserConfig):
    """Options of the ``nginx`` parser."""

    format: str = option("combined", "An nginx log_format string (as in nginx.conf) or a "
                                     f"preset: {', '.join(PRESETS)}.")

    def validate(self) -> None:
        try:
            compile_nginx(self.format)
        except FormatError as exc:
            raise ValueError(str(exc), "format") from None


class NginxParser(LineFormatParser[NginxConfig]):
    """Lines written by nginx with any ``log_format``."""

    name = "nginx"
    description = "nginx logs in any log_format (paste it, or name a preset)"
    Config: ClassVar[type] = NginxConfig

    def make_format(self) -> LineFormat:
        return compile_nginx(self.config.format)
