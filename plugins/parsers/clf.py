"""NCSA common (CLF) and combined log formats, as Apache and nginx write them by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.lib.parsers.base import LineFormatParser, ParserConfig
from omphalos.lib.parsers.linefmt import VARIABLES, LineFormat, Token

V = VARIABLES
COMMON_TOKENS: list[Token] = [V["client"], " ", V["ident"], " ", V["user"], " [", V["time_clf"],
                              '] "', V["request"], '" ', V["status"], " ", V["bytes"]]
COMBINED_TOKENS: list[Token] = [*COMMON_TOKENS, ' "', V["referer"], '" "', V["agent"], '"']


@dataclass(frozen=True)
class CommonConfig(ParserConfig):
    """Options of the common and combined parsers (those of every parser)."""


class CommonParser(LineFormatParser[CommonConfig]):
    """``%h %l %u %t "%r" %>s %b``."""

    name = "common"
    description = "NCSA common log format (CLF): %h %l %u %t \"%r\" %>s %b"
    Config: ClassVar[type] = CommonConfig

    def make_format(self) -> Any:
        return LineFormat("common", COMMON_TOKENS)


class CombinedParser(LineFormatParser[CommonConfig]):
    """Common plus ``"%{Referer}i" "%{User-agent}i"``."""

    name = "combined"
    description = "NCSA combined log format: common plus referer and user agent"
    Config: ClassVar[type] = CommonConfig

    def make_format(self) -> Any:
        return LineFormat("combined", COMBINED_TOKENS)
