"""``auto``: detect each file's format from its first lines, and say which was chosen.

W3C extended logs are recognised by their ``#`` directives, JSON lines by a leading ``{``;
other files are matched against the Apache and nginx presets, most specific first, and the
one that reads most of the sample lines wins.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Literal

from omphalos.config import option
from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.base import BaseParser, ParserConfig
from omphalos.lib.parsers.clf_format import clf_format, vhost_clf_format
from omphalos.lib.parsers.json_presets import detect_json
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.lib.parsers.nginx_format import compile_nginx
from omphalos.lib.parsers.presets import ChunkFormat
from omphalos.lib.parsers.server_formats import (
    alb_format,
    elb_format,
    haproxy_format,
    s3_format,
    squid_format,
    traefik_format,
)
from omphalos.lib.parsers.w3c_format import IIS_DEFAULT_FIELDS, W3CStream, compile_fields
from omphalos.messages import BadLine, LineChunk
from omphalos.records import Columns

#: Bytes read from the start of a file first seen mid-way, to detect its format.
HEAD_BYTES = 65536


def candidates() -> list[LineFormat]:
    """Line formats tried, most specific first (a combined line also starts like a common
    one, and a combined line with a request time also starts like a combined one). The
    common/combined families come last: they read all of the above, so they win only
    where they read more lines (mixed or extended lines)."""
    return [
        traefik_format(),
        haproxy_format(),
        squid_format(),
        alb_format(),
        elb_format(),
        s3_format(),
        compile_nginx("combined_rt", "combined_rt"),
        compile_apache("combined_D", "combined_D"),
        compile_nginx("main_rt", "main_rt"),
        compile_nginx("main", "main"),
        compile_apache("vhost_combined", "vhost_combined"),
        compile_nginx("vhost_combined", "vhost_combined_plain"),
        compile_apache("combined", "combined"),
        compile_apache("vhost_common", "vhost_common"),
        compile_apache("common", "common"),
        clf_format("clf"),
        vhost_clf_format("vhost_clf"),
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
    default_fields: str = option(
        IIS_DEFAULT_FIELDS, "W3C fields of a file with no #Fields directive (IIS's default "
                            "set; a file cut by a shipper lacks its header).")


class AutoParser(BaseParser[AutoConfig]):
    """Chooses, per source file, the format that parses most of its first lines."""

    name = "auto"
    description = "Detects each file's format (W3C, JSON, combined, common, ...) by itself"
    Config: ClassVar[type] = AutoConfig

    def setup(self) -> None:
        super().setup()
        self.formats = candidates()
        self.chosen: dict[str, ChunkFormat] = {}
        self.undetected: set[str] = set()

    def detect(self, data: bytes, path: str = "") -> ChunkFormat | None:
        """The format of a file whose first bytes are ``data``; None when none reads any
        of its first lines."""
        sample = _sample(data, self.config.sample_lines)
        first = sample[0].lstrip("\ufeff") if sample else ""
        if first.startswith("#"):
            return W3CStream(self.config.time_taken_unit, path, self.config.default_fields)
        if first.startswith("{"):
            return detect_json(first)
        fmt, score = detect_line_format(self.formats, sample)
        if self.config.default_fields:
            w3c = compile_fields(self.config.default_fields, time_taken=self.config.time_taken_unit)
            w3c_score = detect_line_format([w3c], sample)[1]
            if w3c_score > score:
                return W3CStream(self.config.time_taken_unit, path, self.config.default_fields)
        return fmt if score > 0 else None

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
            detected = self.detect(head, path)
            if detected is None:
                # nothing read: say so (once per file), and look again at the next chunk
                if chunk.source.file_id not in self.undetected:
                    self.undetected.add(chunk.source.file_id)
                    self.log.warning("%s: no known format reads its first lines; they are "
                                     "counted unparsed", chunk.source.path)
                return self.formats[-1].parse(chunk.data, chunk.start)
            fmt = self.chosen[chunk.source.file_id] = detected
            self.undetected.discard(chunk.source.file_id)
            self.log.info("%s: detected format %s", chunk.source.path, fmt.name)
        return fmt.parse(chunk.data, chunk.start)
