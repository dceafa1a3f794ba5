"""W3C extended log format (IIS and others): ``#Fields:`` directives decide the columns
(the ``w3c``, ``auto`` and ``preset`` parsers share it).

Each source file has its own state: the current field list (a new ``#Fields:`` block, as IIS
writes at every restart, changes the columns from there on) and the ``#Date:`` of the block
(used when lines have a ``time`` but no ``date``). Data lines between directives are parsed
with a :class:`LineFormat` compiled once per field list, so the fast columnar path applies.
``-`` means absent, ``+`` in a user agent is a space, ``date`` and ``time`` are UTC.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from omphalos.lib.parsers.linefmt import (
    BAD_LINE_SAMPLE_CHARS,
    LineFormat,
    Result,
    Token,
    Variable,
    concat,
    line_problem,
)
from omphalos.messages import BadLine
from omphalos.records import Columns

#: A value: quoted (``""`` is a quote inside) or one word. Linear: both alternatives are
#: possessive and start differently.
STRICT = r'"(?:[^"\n]++|"")*+"|[^\s"]\S*+'
LENIENT = r'"(?:[^"\n]++|"")*+"?|\S++'
#: Between space-separated values: one or more spaces (Oracle Web Cache pads columns).
SPACES = Variable("ignore", " ++", " ++")
#: A tab-separated value may hold spaces (CloudFront's never do) and be empty.
TAB_VALUE = r"[^\t\n]*+"
#: The fields IIS logs by default, for files that lost their ``#Fields`` header.
IIS_DEFAULT_FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
                      "c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status "
                      "time-taken")
#: W3C field identifiers (lower case) that fill a record field.
FIELD_TARGETS: dict[str, str] = {
    "date": "date", "time": "time_of_day", "c-ip": "client", "cs-username": "user",
    "cs-method": "method", "cs-uri-stem": "path", "cs-uri-query": "query", "cs-uri": "uri",
    "sc-status": "status", "sc-bytes": "bytes", "cs-version": "protocol",
    "cs(user-agent)": "agent_plus", "cs(referer)": "referer", "cs-host": "extra:vhost",
    "cs(host)": "extra:vhost", "cs-protocol-version": "protocol",
    "x-forwarded-for": "extra:forwarded_for",
}
#: CloudFront's standard logs: time-taken in seconds, the user agent URL-encoded.
CLOUDFRONT_MARK = "x-edge-location"
DIRECTIVE = re.compile(rb"^(?:\xef\xbb\xbf)?#[^\n]*(?:\n|$)", re.MULTILINE)
BOM = b"\xef\xbb\xbf"
#: How far back from a chunk's start the ``#Fields:`` of a file read mid-way is looked for.
LOOKBACK_BYTES = 16 << 20


def _iso_date(text: str) -> str:
    """A ``#Date:`` day as ``YYYY-MM-DD`` (the W3C draft writes ``12-Jan-1996``)."""
    try:
        return datetime.strptime(text, "%d-%b-%Y").strftime("%Y-%m-%d")
    except ValueError:
        return text


def compile_fields(fields: str, separator: str = " ", date: str = "",
                   time_taken: str = "ms") -> LineFormat:
    """A :class:`LineFormat` for the data lines under ``#Fields: fields``."""
    names = fields.split()
    cloudfront = CLOUDFRONT_MARK in (n.lower() for n in names)
    tab = separator == "\t"
    tokens: list[Token] = []
    i = 0
    while i < len(names):
        if tokens:
            tokens.append("\t" if tab else SPACES)
        name = names[i]
        key = name.lower()
        if key == "date" and i + 1 < len(names) and names[i + 1].lower() == "time" \
                and not tab:
            tokens.append(Variable("time_w3c", r"\S++ ++\S++", r"\S++ ++\S++"))
            i += 2
            continue
        if key == "time-taken":
            target = "duration_ms" if time_taken == "ms" and not cloudfront else "duration_s"
        elif cloudfront and key == "cs(user-agent)":
            target = "agent_pct"
        else:
            target = FIELD_TARGETS.get(key, f"extra:{name}")
        if tab:
            tokens.append(Variable(target, TAB_VALUE, TAB_VALUE, unquote=True))
        else:
            tokens.append(Variable(target, STRICT, LENIENT, unquote=True))
        i += 1
    tokens.append(Variable("ignore", r"[ \t]*+", r"[ \t]*+"))  # trailing padding
    fmt = LineFormat(f"w3c:{fields}", tokens)
    fmt.default_date = date
    fmt.w3c_quotes = True
    return fmt


class W3CStream:
    """The state of one W3C file: its current fields; parses its chunks in order."""

    name = "w3c"

    def __init__(self, time_taken: str = "ms", path: str = "", default_fields: str = ""
                 ) -> None:
        self.time_taken = time_taken
        self.path = path
        #: Used until a ``#Fields:`` directive says otherwise (empty: lines before one are
        #: unparsed).
        self.default_fields = default_fields or None
        self.fields: str | None = None
        self.date = ""
        self._formats: dict[tuple[str, str, str], LineFormat] = {}
        self._recovered = False

    def directive(self, line: str) -> None:
        """Take in one ``#...`` line."""
        key, _, value = line.lstrip("\ufeff")[1:].partition(":")
        key = key.strip().lower()
        if key == "fields":
            self.fields = value.strip() or None
        elif key == "date":
            self.date = _iso_date(value.strip().split(" ")[0])

    def recover(self, before: int) -> None:
        """For a file first read mid-way: find its last ``#Fields:``/``#Date:`` before us."""
        if not self.path or before <= 0:
            return
        try:
            with open(self.path, "rb") as fh:
                begin = max(0, before - LOOKBACK_BYTES)
                fh.seek(begin)
                window = fh.read(before - begin)
        except OSError:
            return
        for match in DIRECTIVE.finditer(window):
            self.directive(match[0].decode("utf-8", "replace").strip())

    def _format(self, separator: str) -> LineFormat:
        fields = self.fields or self.default_fields
        assert fields is not None
        key = (fields, separator, self.date)
        fmt = self._formats.get(key)
        if fmt is None:
            if len(self._formats) > 64:
                self._formats.clear()
            fmt = self._formats[key] = compile_fields(fields, separator, self.date,
                                                      self.time_taken)
        return fmt

    def parse(self, data: bytes, start: int) -> Result:
        """Chunk ``data`` at file offset ``start`` to columns; directives update the state."""
        if self.fields is None and start > 0 and not self._recovered:
            self._recovered = True  # once: a file without any #Fields is not re-read
            self.recover(start)
        if not data.startswith((b"#", BOM)) and b"\n#" not in data:
            return self._segment(data, start)
        parts: list[Columns] = []
        bad: list[BadLine] = []
        reasons: Counter[str] = Counter()
        lines = 0
        position = 0
        for match in [*DIRECTIVE.finditer(data), None]:
            end = match.start() if match is not None else len(data)
            if end > position:
                columns, n, more_bad, more = self._segment(data[position:end],
                                                           start + position)
                parts.append(columns)
                bad += more_bad
                reasons += more
                lines += n
            if match is not None:
                self.directive(match[0].decode("utf-8", "replace").strip())
                lines += 1
                position = match.end()
        return concat(parts), lines, bad, reasons

    def _segment(self, data: bytes, start: int) -> Result:
        if self.fields is None and self.default_fields is None:
            return self._no_fields(data, start)
        newline = data.find(b"\n")
        first = data[:newline if newline >= 0 else len(data)]
        separator = "\t" if b"\t" in first else " "
        return self._format(separator).parse(data, start)

    @staticmethod
    def _no_fields(data: bytes, start: int) -> Result:
        bad: list[BadLine] = []
        reasons: Counter[str] = Counter()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        offset = start
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            reason = line_problem(line) or "no #Fields directive before this line"
            reasons[reason] += 1
            bad.append(BadLine(offset, reason, line[:BAD_LINE_SAMPLE_CHARS]))
            offset += len(raw) + 1
        return Columns(), len(lines), bad, reasons
