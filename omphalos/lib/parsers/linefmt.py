"""The engine behind every regex-based log format: a chunk of lines to columns, fast.

A format is a list of tokens (literal text and :class:`Variable` s such as ``client`` or
``time_clf``, see :mod:`.variables`). From it two regexes are compiled:

- a *strict* one, anchored per line, that the whole chunk is ``split`` with in one call
  (the fast path: no Python code runs per line; each column is then one slice);
- a *lenient* one (escaped quotes, odd request lines, ``-`` for a status) tried line by
  line only for the lines the strict one did not match.

Columns are then converted a whole column at a time (:mod:`.convert`, a timestamp cache),
which is why parsing costs about as much as the regex match alone. Bad lines are counted by
reason and kept aside; nothing here raises for bad input.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from operator import add, methodcaller, sub
from typing import Any, cast

from omphalos import speedups
from omphalos.messages import BadLine
from omphalos.records import Columns

from .convert import (
    CONVERSION_ERRORS,
    add_row_extra,
    as_list,
    at_least_zero,
    client_lists,
    client_ports,
    concat,
    dash_to_empty,
    floats,
    ints,
    join_space,
    last_timer_seconds,
    line_offsets,
    none_for_dash,
    none_for_empty,
    percent_decoded,
    plus_to_space,
    query_q,
    repeated_ints,
    scaled_ints,
    split_request,
    split_uri,
    trailing_fields,
    unescape,
    urls,
    vhost_ports,
    w3c_unquote,
    zone_seconds,
)
from .extras import ExtraColumns
from .timestamps import (
    TimeCache,
    parse_clf_time,
    parse_iso_time,
    parse_w3c_time,
    strftime_parser,
)
from .variables import (
    QUOTED_LENIENT,
    QUOTED_STRICT,
    REQUEST_STRICT,
    VARIABLES,
    WORD,
    Token,
    Variable,
    extra_variable,
    in_context,
    stop_at,
)

__all__ = ["BAD_LINE_SAMPLE_CHARS", "CONVERSION_ERRORS", "QUOTED_LENIENT",
           "QUOTED_STRICT", "REQUEST_STRICT", "VARIABLES", "WORD", "LineFormat", "Result",
           "Token", "Variable", "concat", "extra_variable", "in_context", "line_problem",
           "split_request", "split_uri", "unescape"]

#: Longest line kept for the dead-letter sample, in characters.
BAD_LINE_SAMPLE_CHARS = 2048

Result = tuple[Columns, int, list[BadLine], Counter[str]]


#: Targets :meth:`LineFormat.columns` converts whose share of ``extra`` (if any) is text by
#: construction: strings cut from the line (or None, or a list of them), never numbers or
#: maps built from its content. A format made only of these (and ``extra:NAME``) marks its
#: columns :attr:`.Columns.extra_checked`, so the range check skips its extras; a target
#: added to ``columns`` without being listed here only costs that check.
PLAIN_EXTRA_TARGETS = frozenset({
    "path", "client", "client_list", "client_port", "vhost_port", "trailing", "url",
    "user", "method", "query", "protocol", "referer", "agent", "method!", "protocol!",
    "query!", "query_q", "agent_plus", "agent_pct", "uri", "status", "bytes", "status_neg",
    "timers", "time_epoch", "time_ms", "time_us", "zone", "frac_ms", "frac_us", "date",
    "time_of_day", "time_clf", "time_iso", "time_w3c", "duration_s", "duration_ms",
    "duration_us", "duration_s_neg"})


def _plain_extra(targets: Sequence[str]) -> bool:
    """Whether every target of a format puts only text into ``extra`` (see above)."""
    return all(t in PLAIN_EXTRA_TARGETS or t.startswith(("extra:", "time_strf:"))
               for t in targets)


class LineFormat:
    """A compiled log format: ``parse(data, start)`` turns complete lines into columns."""

    def __init__(self, name: str, tokens: Sequence[Token], *, absolute_urls: bool = False
                 ) -> None:
        self.name = name
        self.tokens = list(tokens)
        #: Paths may be absolute URLs (proxies, load balancers): scheme and host come off.
        self.absolute_urls = absolute_urls
        strict, lenient = [], []
        self.targets: list[str] = []  # strict group order
        #: Strict groups whose values may carry \" or \xHH escapes.
        self.quoted_groups: list[int] = []
        lenient_vars: list[Variable] = []
        for index, token in enumerate(self.tokens):
            if isinstance(token, str):
                strict.append(re.escape(token))
                lenient.append(re.escape(token))
                continue
            following = self.tokens[index + 1] if index + 1 < len(self.tokens) else ""
            if isinstance(following, str) and following:
                token = Variable(token.target, stop_at(token.strict, following[0]),
                                 stop_at(token.lenient, following[0]), token.unquote,
                                 token.groups, token.split, token.escaped)
            if token.target == "ignore":
                strict.append(f"(?:{token.strict})")
                lenient.append(f"(?:{token.lenient})")
                continue
            if token.groups:
                strict.append(f"(?:{token.strict})")
                for group in token.groups:
                    if group in token.escaped:
                        self.quoted_groups.append(len(self.targets))
                    self.targets.append(group)
            else:
                if token.strict == QUOTED_STRICT:
                    self.quoted_groups.append(len(self.targets))
                strict.append(f"({token.strict})")
                self.targets.append(token.target)
            lenient.append(f"({token.lenient})")
            lenient_vars.append(token)
        pattern = "".join(strict)
        # Anchored at a line start and ending with its newline: if findall returns as many
        # matches as the chunk has lines, each match is exactly one line.
        self.strict = re.compile("^" + pattern + "\n", re.MULTILINE)
        self.strict_line = re.compile(pattern)
        if lenient and lenient[-1] == re.escape('"'):
            lenient[-1] = '"?'  # a line cut inside its last quoted field still parses
        self.lenient = re.compile("".join(lenient))
        self.lenient_vars = lenient_vars
        self.single = len(self.targets) == 1
        #: Every value is text cut from the line, so ``extra`` needs no range check.
        self.extra_plain = _plain_extra(self.targets)
        #: The separator, when the format is nothing but values of any text without it,
        #: each after the last (W3C's tab-separated logs, CloudFront's): lines are then
        #: cut with ``str.split``, which gives the same values several times faster.
        self.split_on = _separator(self.tokens) if len(self.targets) > 1 else None
        #: The mode of the compiled core (if built, :mod:`omphalos.speedups`) for a strict
        #: pattern of the common/combined family's (None for any other): it may then cut
        #: a chunk's columns instead of the regex.
        self.clf_core: int | None = speedups.CLF_MODES.get(self.strict.pattern)
        #: Date used for a W3C ``time`` field when the format has no ``date`` field.
        self.default_date = ""
        #: W3C: values may be quoted (``"a b"``, ``""`` for a quote inside).
        self.w3c_quotes = False
        self._times: dict[str, TimeCache] = {}

    def _cache(self, kind: str) -> TimeCache:
        cache = self._times.get(kind)
        if cache is None:
            parse: Callable[[str], float]
            if kind == "time_clf":
                parse = parse_clf_time
            elif kind == "time_iso":
                parse = parse_iso_time
            elif kind == "time_w3c":
                parse = parse_w3c_time
            elif kind.startswith("time_strf:"):
                parse = strftime_parser(kind[10:])
            else:
                raise KeyError(kind)
            cache = self._times[kind] = TimeCache(parse)
        return cache

    # -- conversion ---------------------------------------------------------------------
    def _lenient_row(self, match: re.Match[str]) -> tuple[str, ...]:
        """A lenient match rearranged into the strict group order."""
        values: list[str] = []
        for var, value in zip(self.lenient_vars, match.groups()):
            value = value or ""
            if var.unquote and len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if var.split is not None:
                values.extend(var.split(value))
            elif var.lenient == QUOTED_LENIENT:
                values.append(unescape(value))
            else:
                values.append(value)
        return tuple(values)

    def rows_to_columns(self, rows: Sequence[tuple[str, ...]], offsets: list[int]) -> Columns:
        """Rows (strict group order) to Columns; ValueError when a value is malformed."""
        if not rows:
            return Columns(offset=offsets)
        return self.columns(list(zip(*rows)), offsets)

    def columns(self, columns: Sequence[Sequence[str]], offsets: list[int],
                raw: tuple[bytes, int] | None = None, strict: bool = False) -> Columns:
        """Value columns (strict group order) to Columns; ValueError for a malformed value.

        ``raw`` (the chunk and its start) stands in for ``offsets`` on the fast path;
        ``strict`` says every value came from the strict pattern (a request line there
        always has a method and a protocol).
        """
        out = Columns(offset=offsets, raw=raw)
        n = len(columns[0]) if columns else 0
        if n == 0:
            return out
        extra: dict[str, list[str | None]] = {}
        #: Per-row extra fields of targets that fill them only on some rows.
        row_extra: list[dict[str, Any] | None] | None = None
        no_request = False  # some request line was no request
        times: list[float] | None = None
        time_of_day: Sequence[str] | None = None
        date: Sequence[str] | None = None
        fraction: list[float] | None = None
        zone: list[int] | None = None
        if self.w3c_quotes:
            columns = [w3c_unquote(values) for values in columns]
        for target, values in zip(self.targets, columns):
            if target == "path":
                if out.path:  # a request line and a separate path: the first one wins
                    continue
                out.path = dash_to_empty(values)
            elif target == "client":
                out.client = as_list(values)
            elif target == "client_list":
                out.client, lists = client_lists(values)
                if lists is not None:
                    row_extra = add_row_extra(row_extra, lists, n)
            elif target == "client_port":
                out.client, extra["client_port"] = client_ports(values)
            elif target == "vhost_port":
                extra["vhost"], extra["port"] = vhost_ports(values)
            elif target == "trailing":
                durations, fields = trailing_fields(values)
                if durations is not None and out.duration is None:
                    out.duration = durations
                if fields is not None:
                    row_extra = add_row_extra(row_extra, fields, n)
            elif target == "url":
                out.path, out.query, hosts = urls(values)
                if hosts is not None:
                    extra["vhost"] = hosts
            elif target in ("user", "method", "query", "protocol", "referer", "agent"):
                setattr(out, target, none_for_dash(values))
            elif target == "method!":
                out.method = (cast("list[str | None]", as_list(values)) if strict
                              else none_for_empty(values))
                no_request = out.method is not values
            elif target == "protocol!":
                out.protocol = (cast("list[str | None]", as_list(values)) if strict
                                else none_for_empty(values))
            elif target == "query!":
                out.query = none_for_empty(values)
            elif target == "query_q":
                out.query = query_q(values)
            elif target == "agent_plus":
                out.agent = plus_to_space(values)
            elif target == "agent_pct":
                out.agent = percent_decoded(values)
            elif target == "uri":
                pairs = list(map(split_uri, values))
                out.path = [p for p, _ in pairs]
                out.query = [q for _, q in pairs]
            elif target == "status":
                out.status = repeated_ints(values)
            elif target == "bytes":
                out.bytes = ints(values)
            elif target == "status_neg":  # HAProxy: -1 when there was no response
                out.status = at_least_zero(repeated_ints(values))
            elif target == "timers":  # HAProxy's TR/Tw/Tc/Tr/Ta: the last is the total, ms
                extra["timers"] = as_list(values)  # type: ignore[assignment]
                out.duration = last_timer_seconds(values)
            elif target == "time_epoch":
                times = list(map(float, values))
            elif target == "time_ms":
                times = [int(v) / 1000.0 for v in values]
            elif target == "time_us":
                times = [int(v) / 1e6 for v in values]
            elif target == "zone":
                zone = list(map(zone_seconds, values))
            elif target == "frac_ms" or target == "frac_us":
                fraction = scaled_ints(values, 0.001 if target == "frac_ms" else 1e-6)
            elif target == "date":
                date = values
            elif target == "time_of_day":
                time_of_day = values
            elif target.startswith("time_"):
                times = self._cache(target).many(values)
            elif target == "duration_s":
                out.duration = floats(values, 1.0)
            elif target == "duration_ms":
                out.duration = floats(values, 0.001)
            elif target == "duration_us":
                out.duration = floats(values, 0.000001)
            elif target == "duration_s_neg":  # load balancers write -1 for "none"
                out.duration = [None if d is None or d < 0 else d
                                for d in floats(values, 1.0)]
            elif target.startswith("extra:"):
                extra[target[6:]] = none_for_dash(values)
        if no_request:
            row_extra = _no_request(out, row_extra, n)
        if self.absolute_urls and out.path and "://" in "\n".join(out.path):
            paths, queries, hosts = urls(out.path)
            out.path = paths
            if out.query is not None:
                queries = [q if p is None else p for p, q in zip(out.query, queries)]
            out.query = queries
            if hosts is not None and "vhost" not in extra:
                extra["vhost"] = hosts
        if date is not None and time_of_day is None:
            time_of_day = ["00:00:00"] * n
        if time_of_day is not None:
            dates = date if date is not None else [self.default_date] * n
            times = self._cache("time_w3c").many(list(map(join_space, dates, time_of_day)))
        if fraction is not None and times is not None:
            times = list(map(add, times, fraction))
        if zone is not None and times is not None:
            times = list(map(sub, times, zone))
        out.time = times if times is not None else [0.0] * n
        if not out.client:
            out.client = [""] * n
        if not out.path:
            out.path = [""] * n
        if not out.status:
            out.status = [0] * n
        if not out.bytes:
            out.bytes = [0] * n
        if extra or row_extra is not None:  # dicts made when read (every batch pays
            out.set_lazy_extra(ExtraColumns(extra, row_extra, n))  # otherwise)
        out.extra_checked = self.extra_plain
        return out

    # -- parsing -------------------------------------------------------------------------
    def parse(self, data: bytes, start: int) -> Result:
        """Complete lines ``data`` (starting at file offset ``start``) to columns.

        Returns (columns, lines read, bad lines, count of bad lines by reason). Never
        raises for bad input. ``split`` with the anchored strict regex leaves, between the
        groups of consecutive matches, the text of the lines that did not match: empty
        everywhere means every line parsed, and each column is then one slice of the list.
        """
        if not data:
            return Columns(), 0, [], Counter()
        if not data.endswith(b"\n"):
            data += b"\n"  # a partial last line flushed by the monitor's time-out
        text = data.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r", "")
        core, mode = speedups.clf_columns, self.clf_core
        if core is not None and mode is not None:  # the compiled split of the family
            cut = core(text, mode)
            if cut is not None:  # a row per line, as many as newlines (decoding and
                n = len(cut[0])  # taking out \r neither make nor drop one)
                try:
                    return self.columns(self._unescaped(cut, text), [], (data, start),
                                        strict=True), n, [], Counter()
                except CONVERSION_ERRORS:
                    pass  # the regex's path below says which lines are bad
        n = data.count(b"\n")
        if self.split_on is not None:
            result = self._split_fields(text, n, data, start)
            if result is not None:
                return result
        k = len(self.targets) + 1
        flat = self.strict.split(text)
        between = flat[0::k]
        if len(between) == n + 1 and not any(between):
            try:
                return self.columns(self.value_columns(flat, text), [], (data, start),
                                    strict=True), n, [], Counter()
            except CONVERSION_ERRORS:
                pass
        lines = data.split(b"\n")
        lines.pop()
        offsets = line_offsets(lines, start)
        if len(between) < 2 or len(between) - 1 < n // 2:
            return self.parse_lines(lines, offsets)
        return self._parse_mixed(flat, between, lines, offsets, text)

    def _split_fields(self, text: str, n: int, data: bytes, start: int) -> Result | None:
        """The fast path of a separated format: every line cut at its separators; None
        when a line has another number of fields or a value does not convert (the regexes
        then take the chunk, as for any other format)."""
        sep, k = self.split_on, len(self.targets)
        assert sep is not None
        lines = text.split("\n")
        lines.pop()  # after the last newline
        if set(map(methodcaller("count", sep), lines)) != {k - 1}:
            return None
        # every line has k values: cut once, each column is then one slice
        flat = text.replace("\n", sep).split(sep)
        flat.pop()  # after the last newline
        try:
            return self.columns([flat[i::k] for i in range(k)], [], (data, start),
                                strict=True), n, [], Counter()
        except CONVERSION_ERRORS:
            return None

    def value_columns(self, flat: list[str], text: str) -> list[list[str]]:
        """The value columns of a ``split`` result, quoted values unescaped if need be."""
        k = len(self.targets) + 1
        return self._unescaped([flat[i::k] for i in range(1, k)], text)

    def _unescaped(self, columns: list[list[Any]], text: str) -> list[list[Any]]:
        """``columns`` (of ``text``) with the quoted values unescaped if need be."""
        if self.quoted_groups and "\\" in text:
            for i in self.quoted_groups:
                columns[i] = list(map(unescape, columns[i]))
        return columns

    def _parse_mixed(self, flat: list[str], between: list[str], lines: list[bytes],
                     offsets: list[int], text: str) -> Result:
        """Most lines matched: convert those as columns, only the others line by line."""
        matched: list[int] = []
        unmatched: list[int] = []
        index = 0
        for piece in between:
            skipped = piece.count("\n")
            if skipped:
                unmatched.extend(range(index, index + skipped))
                index += skipped
            matched.append(index)
            index += 1
        matched.pop()  # the text after the last match is not followed by one
        if index - 1 != len(lines):  # a match ran over a line end (an unclosed quote)
            return self.parse_lines(lines, offsets)
        try:
            fast = self.columns(self.value_columns(flat, text),
                                [offsets[i] for i in matched], strict=True)
        except CONVERSION_ERRORS:
            return self.parse_lines(lines, offsets)
        slow, _, bad, reasons = self.parse_lines([lines[i] for i in unmatched],
                                                 [offsets[i] for i in unmatched])
        both = concat([fast, slow])
        if len(slow):
            order = sorted(range(len(both)), key=both.offset.__getitem__)
            both = both.select(order)
        return both, len(lines), bad, reasons

    def parse_lines(self, lines: Sequence[bytes], offsets: Sequence[int]) -> Result:
        """The slow path: line by line, strict then lenient, bad lines set aside."""
        good: list[tuple[str, ...]] = []
        good_offsets: list[int] = []
        good_lines: list[str] = []
        bad: list[BadLine] = []
        reasons: Counter[str] = Counter()
        strict, lenient = self.strict_line.fullmatch, self.lenient.fullmatch
        for raw, offset in zip(lines, offsets):
            line = raw.decode("utf-8", "replace").rstrip("\r")
            reason = line_problem(line)
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
            return self.rows_to_columns(good, good_offsets), len(lines), bad, reasons
        except CONVERSION_ERRORS:
            pass
        rows, kept = [], []
        for row, offset, line in zip(good, good_offsets, good_lines):
            try:
                self.rows_to_columns([row], [offset])
            except CONVERSION_ERRORS as exc:
                reasons["bad value"] += 1
                bad.append(BadLine(offset, f"bad value: {str(exc)[:80]}",
                                   line[:BAD_LINE_SAMPLE_CHARS]))
            else:
                rows.append(row)
                kept.append(offset)
        bad.sort(key=lambda b: b.offset)
        return self.rows_to_columns(rows, kept), len(lines), bad, reasons


def _no_request(out: Columns, row_extra: list[dict[str, Any] | None] | None, n: int
                ) -> list[dict[str, Any] | None] | None:
    """Rows whose request line was no request: method None, path ``""``, the text kept in
    ``extra["request"]`` (``-`` and empty are just absent)."""
    assert out.method is not None
    garbage: list[dict[str, Any] | None] = [None] * n
    paths = list(out.path)
    found = False
    for i, method in enumerate(out.method):
        if method is None:
            text = paths[i]
            paths[i] = ""
            if text and text != "-":
                garbage[i] = {"request": text}
                found = True
    out.path = paths
    return add_row_extra(row_extra, garbage, n) if found else row_extra


def _separator(tokens: Sequence[Token]) -> str | None:
    """``"\\t"`` for a format made only of ``[^\\t\\n]*+`` values with a tab between
    them (and maybe trailing ``[ \\t]*+`` padding), else None."""
    tokens = list(tokens)
    if tokens and isinstance(tokens[-1], Variable) and tokens[-1].target == "ignore" \
            and tokens[-1].strict == r"[ \t]*+":
        tokens.pop()
    separators = set(tokens[1::2])
    if len(separators) != 1:
        return None
    sep = separators.pop()
    if sep != "\t":
        return None
    if all(isinstance(t, Variable) and t.strict == r"[^\t\n]*+" and not t.groups
           and t.target != "ignore" for t in tokens[0::2]):
        return sep
    return None


def line_problem(line: str) -> str | None:
    """Why ``line`` is not even worth matching, or None."""
    if not line.strip():
        return "empty line"
    if "\x00" in line:
        return "binary data"
    return None
