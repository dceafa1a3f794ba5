"""The ``common`` and ``combined`` parser plugins: the NCSA common/combined family.

Both read the whole family (mixed common and combined lines, trailing fields, forwarded-for
lists); the format is :mod:`omphalos.lib.parsers.clf_format`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omphalos.lib.parsers.base import LineFormatParser, ParserConfig
from omphalos.lib.parsers.clf_format import clf_format
from omphalos.lib.parsers.linefmt import LineFormat


@dataclass(frozen=True)
class CommonConfig(ParserConfig):
    """Options of the common and combined parsers (those of every parser)."""


class CommonParser(LineFormatParser[CommonConfig]):
    """``%h %l %u %t "%r" %>s %b``, and the rest of the family (module doc)."""

    name = "common"
    description = ("NCSA common log format (CLF): %h %l %u %t \"%r\" %>s %b; combined lines "
                   "and trailing fields are read too")
    Config: ClassVar[type] = CommonConfig

    def make_format(self) -> LineFormat:
        return clf_format("common")


class CombinedParser(LineFormatParser[CommonConfig]):
    """Common plus ``"%{Referer}i" "%{User-agent}i"``, and the rest of the family."""

    name = "combined"
    description = ("NCSA combined log format: common plus referer and user agent; common "
                   "lines and trailing fields are read too")
    Config: ClassVar[type] = CommonConfig

    def make_format(self) -> LineFormat:
        return clf_format("combined")
