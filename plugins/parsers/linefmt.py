"""The engine behind every regex-based log format: a chunk of lines to columns, fast.

A format is a list of tokens (literal text and variables such as ``client`` or ``time``).
From it two regexes are compiled:

- a *strict* one, anchored per line, that the whole chunk is matched against in one
  ``findall`` call (the fast path: no Python code runs per line);
- a *lenient* one (escaped quotes, odd request lines, ``-`` for a status) tried line by
  line only when the strict one did not match every line of the chunk.

Columns are then converted a whole column at a time (``map(int, ...)``, a timestamp cache),
which is why parsing costs about as much as the regex match alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import add, itemgetter

from omphalos.messages import BadLine
from omphalos.records import Columns

from .timestamps import TimeCache, parse_clf_time, parse_iso_time

#: Longest line kept for the dead-letter sample, in characters.
BAD_LINE_SAMPLE_CHARS = 2048

QUOTED_STRICT = r'[^"]*'
QUOTED_LENIENT = r'(?:[^"\\\n]|\\.)*'


@dataclass(frozen=True)
class Variable:
    """One field of a log line: where it goes and how it is matched."""

    target: str  # record field, "extra:NAME", "request", "time_clf", "time_iso", "ignore"
    strict: str
    lenient: str


REQUEST_STRICT = r'([A-Z]+) ([^ ?"]*)\??([^ "]*) (HTTP/[0-9.]+)'
#: Common variables, shared by the Apache and nginx format-string compilers.
VARIABLES: dict[str, Variable] = {
    "client": Variable("client", r"\S+", r"\S+"),
    "ident": Variable("ignore", r"\S+", r"\S+"),
    "user": Variable("user", r"\S+", r"\S+(?: \S+)*?"),
    "time_clf": Variable("time_clf", r"[^\]]+", r"[^\]]+"),
    "time_iso": Variable("time_iso", r"\S+", r"\S+"),
    "request": Variable("request", REQUEST_STRICT, QUOTED_LENIENT),
    "status": Variable("status", r"\d{3}", r"\d{3}|-"),
    "bytes": Variable("bytes", r"\d+|-", r"\d+|-"),
    "referer": Variable("referer", QUOTED_STRICT, QUOTED_LENIENT),
    "agent": Variable("agent", QUOTED_STRICT, QUOTED_LENIENT),
    "duration_s": Variable("duration_s", r"\d+(?:\.\d+)?|-", r"\d+(?:\.\d+)?|-"),
    "duration_ms": Variable("duration_ms", r"\d+(?:\.\d+)?|-", r"\d+(?:\.\d+)?|-"),
    "duration_us": Variable("duration_us", r"\d+|-", r"\d+|-"),
    "vhost": Variable("extra:vhost", r"\S+", r"\S+"),
}


def extra_variable(name: str, quoted: bool) -> Variable:
    """A field the record schema lacks; kept in ``extra[name]``."""
    if quoted:
        return Variable(f"extra:{name}", QUOTED_STRICT, QUOTED_LENIENT)
    return Variable(f"extra:{name}", r"\S+", r"\S+")


Token = str | Variable


def _none_for_dash(values: Sequence[str]) -> list[str | None]:
    distinct = set(values)
    if "-" not in distinct and "" not in distinct:
        return list(values)
    if distinct <= {"-", ""}:
        return [None] * len(values)
    return [None if v == "-" or v == "" else v for v in values]


def _ints(values: Sequence[str]) -> list[int]:
    try:
        return list(map(int, values))
    except ValueError:
        return [0 if v == "-" or v == "" else int(v) for v in values]


def _floats(values: Sequence[str], scale: float) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        out.append(None if v == "-" or v == "" else float(v) * scale)
    return out


def _split_request(request: str) -> tuple[str, str, str, str]:
    """A request line (maybe garbage) to (method, path, query, protocol); '' = absent."""
    parts = request.split(" ")
    if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
        method, target, protocol = parts[0], " ".join(parts[1:-1]), parts[-1]
    elif len(parts) == 2:
        method, target, protocol = parts[0], parts[1], ""
    else:
        return "", request, "", ""
    path, _, query = target.partition("?")
    return method, path, query, protocol


class LineFormat:
    """A compiled log format: ``parse(data, start)`` turns complete lines into columns."""

    def __init__(self, name: str, tokens: Sequence[Token]) -> None:
        self.name = name
        self.tokens = list(tokens)
        strict, lenient = [], []
        self.targets: list[str] = []  # strict group order
        lenient_targets: list[str] = []
        for token in self.tokens:
            if isinstance(token, str):
                strict.append(re.escape(token))
                lenient.append(re.escape(token))
                continue
            if token.target == "ignore":
                strict.append(f"(?:{token.strict})")
                lenient.append(f"(?:{token.lenient})")
                continue
            if token.target == "request":
                strict.append(token.strict)
                self.targets += ["method", "path", "query", "protocol"]
            else:
                strict.append(f"({token.strict})")
                self.targets.append(token.target)
            lenient.append(f"({token.lenient})")
            lenient_targets.append(token.target)
        # Anchored at a line start and ending with its newline: if findall returns as many
        # matches as the chunk has lines, each match is exactly one line.
        self.strict = re.compile("^" + "".join(strict) + "\n", re.MULTILINE)
        self.strict_line = re.compile("".join(strict))
        if lenient and lenient[-1] == re.escape('"'):
            lenient[-1] = '"?'  # a line cut inside its last quoted field still parses
        self.lenient = re.compile("".join(lenient))
        self.lenient_targets = lenient_targets
        self._times = TimeCache(parse_clf_time)
        self._iso_times = TimeCache(parse_iso_time)

    # -- conversion ---------------------------------------------------------------------
    def _lenient_row(self, match: re.Match[str]) -> tuple[str, ...]:
        """A lenient match rearranged into the strict group order."""
        values: list[str] = []
        for target, value in zip(self.lenient_targets, match.groups()):
            if target == "request":
                values.extend(_split_request(value.replace('\\"', '"')))
            else:
                values.append(value)
        return tuple(values)

    def columns(self, rows: Sequence[tuple[str, ...]], offsets: list[int],
                raw: tuple[bytes, int] | None = None) -> Columns:
        """Rows (strict group order) to Columns; ValueError when a value is malformed.

        ``raw`` (the chunk and its start) stands in for ``offsets`` on the fast path.
        """
        out = Columns(offset=offsets, raw=raw)
        n = len(rows)
        if n == 0:
            return out
        columns = [list(map(itemgetter(i), rows)) for i in range(len(self.targets))]
        extra: dict[str, Sequence[str]] = {}
        for target, values in zip(self.targets, columns):
            if target == "time_clf":
                out.time = self._times.many(values)
            elif target == "time_iso":
                out.time = self._iso_times.many(values)
            elif target in ("status", "bytes"):
                setattr(out, target, _ints(values))
            elif target == "client" or target == "path":
                setattr(out, target, list(values))
            elif target in ("user", "method", "query", "protocol", "referer", "agent"):
                setattr(out, target, _none_for_dash(values))
            elif target == "duration_s":
                out.duration = _floats(values, 1.0)
            elif target == "duration_ms":
                out.duration = _floats(values, 0.001)
            elif target == "duration_us":
                out.duration = _floats(values, 0.000001)
            elif target.startswith("extra:"):
                extra[target[6:]] = values
        if not out.time:
            out.time = [0.0] * n
        for name in ("client", "path"):
            if not getattr(out, name):
                setattr(out, name, [""] * n)
        for name in ("status", "bytes"):
            if not getattr(out, name):
                setattr(out, name, [0] * n)
        if extra:
            keys = list(extra)
            out.extra = [dict(zip(keys, vals)) for vals in zip(*extra.values())]
        return out

    # -- parsing -------------------------------------------------------------------------
    def parse(self, data: bytes, start: int
              ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        """Complete lines ``data`` (starting at file offset ``start``) to columns.

        Returns (columns, lines read, bad lines, count of bad lines by reason). Never
        raises for bad input.
        """
        if not data.endswith(b"\n"):
            data += b"\n"  # a partial last line flushed by the monitor's time-out
        n = data.count(b"\n")
        text = data.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r", "")
        rows = self.strict.findall(text)
        if len(rows) == n:
            if len(self.targets) == 1:
                rows = [(r,) for r in rows]
            try:
                return self.columns(rows, [], (data, start)), n, [], Counter()
            except (ValueError, KeyError, IndexError):
                pass
        lines = data.split(b"\n")
        lines.pop()
        offsets = list(map(add, accumulate(map(len, lines), initial=start), range(n)))[:n]
        return self._parse_lines(lines, offsets)

    def _parse_lines(self, lines: list[bytes], offsets: list[int]
                     ) -> tuple[Columns, int, list[BadLine], Counter[str]]:
        """The slow path: line by line, strict then lenient, bad lines set aside."""
        good: list[tuple[str, ...]] = []
        good_offsets: list[int] = []
        good_lines: list[str] = []
        bad: list[BadLine] = []
        reasons: Counter[str] = Counter()
        strict, lenient = self.strict_line.fullmatch, self.lenient.fullmatch
        for raw, offset in zip(lines, offsets):
            line = raw.decode("utf-8", "replace").rstrip("\r")
            reason = self._line_problem(line)
            if reason is None:
                match = strict(line)
                if match is not None:
                    good.append(tuple(g or "" for g in match.groups()))
                else:
                    loose = lenient(line)
                    if loose is None:
                        reason = "no match"
                    else:
                        good.append(self._lenient_row(loose))
                if reason is None:
                    good_offsets.append(offset)
                    good_lines.append(line)
                    continue
            reasons[reason] += 1
            bad.append(BadLine(offset, reason, line[:BAD_LINE_SAMPLE_CHARS]))
        try:
            return self.columns(good, good_offsets), len(lines), bad, reasons
        except (ValueError, KeyError, IndexError):
            pass
        rows, kept = [], []
        for row, offset, line in zip(good, good_offsets, good_lines):
            try:
                self.columns([row], [offset])
            except (ValueError, KeyError, IndexError) as exc:
                reason = f"bad value: {str(exc)[:60]}"
                reasons[reason] += 1
                bad.append(BadLine(offset, reason, line[:BAD_LINE_SAMPLE_CHARS]))
            else:
                rows.append(row)
                kept.append(offset)
        bad.sort(key=lambda b: b.offset)
        return self.columns(rows, kept), len(lines), bad, reasons

    @staticmethod
    def _line_problem(line: str) -> str | None:
        if not line.strip():
            return "empty line"
        if "\x00" in line:
            return "binary data"
        return None


