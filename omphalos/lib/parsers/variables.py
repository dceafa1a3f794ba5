"""The variables a log format is made of: where each value goes and the regexes matching it.

Shared by the Apache, nginx and W3C compilers; :mod:`.linefmt` compiles a list of them (and
literal text) into one strict and one lenient regex.
"""

from __future__ import annotations

from dataclasses import dataclass

QUOTED_STRICT = r'[^"]*'
QUOTED_LENIENT = r'(?:[^"\\\n]|\\.)*'
WORD = r"\S+"


@dataclass(frozen=True)
class Variable:
    """One field of a log line: where its value goes and how it is matched.

    ``target`` is a record field or one of the special targets converted by
    :meth:`.linefmt.LineFormat.columns`: ``request`` (a whole request line), ``uri`` (path
    and query), ``query_q`` (``?query`` or nothing), ``time_clf``, ``time_iso``, ``time_epoch``,
    ``time_ms``, ``time_us``, ``time_w3c`` (``date time``), ``time_strf:FORMAT``,
    ``frac_ms``/``frac_us`` (a fraction of a second added to the time), ``zone`` (an
    offset applied to a zone-less time),
    ``duration_s``/``_ms``/``_us``, ``extra:NAME``, ``agent_plus`` (W3C: ``+`` is a space)
    or ``ignore``. ``unquote`` strips surrounding quotes a lenient match may keep.
    """

    target: str
    strict: str
    lenient: str
    unquote: bool = False


REQUEST_STRICT = r'([A-Z]+) ([^\s?"]*)\??([^\s"]*) (HTTP/[0-9.]+)'
#: Common variables, shared by the Apache, nginx and W3C compilers.
VARIABLES: dict[str, Variable] = {
    "client": Variable("client", WORD, WORD),
    "ident": Variable("ignore", WORD, WORD),
    "user": Variable("user", WORD, r"\S+(?: \S+)*?"),
    "time_clf": Variable("time_clf", r"[^\]]+", r"[^\]]+"),
    "time_iso": Variable("time_iso", WORD, WORD),
    "time_epoch": Variable("time_epoch", r"\d+(?:\.\d+)?", r"\d+(?:\.\d+)?"),
    "request": Variable("request", REQUEST_STRICT, QUOTED_LENIENT),
    "method": Variable("method", r"[A-Z]+|-", WORD),
    "protocol": Variable("protocol", r"HTTP/[0-9.]+|-", WORD),
    "path": Variable("path", r'[^\s?"]+', WORD),
    "query": Variable("query", WORD, WORD),
    "query_q": Variable("query_q", r'(?:\?[^\s"]*)?', r'(?:\?[^\s"]*)?'),
    "uri": Variable("uri", r'[^\s"]+', WORD),
    "status": Variable("status", r"\d{3}", r"\d{3}|-"),
    "bytes": Variable("bytes", r"\d+|-", r"\d+|-"),
    "referer": Variable("referer", QUOTED_STRICT, QUOTED_LENIENT),
    "agent": Variable("agent", QUOTED_STRICT, QUOTED_LENIENT),
    "duration_s": Variable("duration_s", r"\d+(?:\.\d+)?|-", r"\d+(?:\.\d+)?|-"),
    "duration_ms": Variable("duration_ms", r"\d+(?:\.\d+)?|-", r"\d+(?:\.\d+)?|-"),
    "duration_us": Variable("duration_us", r"\d+|-", r"\d+|-"),
    "vhost": Variable("extra:vhost", WORD, WORD),
}

#: Targets whose value is free text: quoted in the format, they match up to the next quote.
FREE_TEXT = frozenset({"referer", "agent", "request", "user", "uri", "path", "query"})


def extra_variable(name: str, quoted: bool) -> Variable:
    """A field the record schema lacks; kept in ``extra[name]`` (``-`` becomes None)."""
    if quoted:
        return Variable(f"extra:{name}", QUOTED_STRICT, QUOTED_LENIENT)
    return Variable(f"extra:{name}", WORD, WORD)


def in_context(variable: Variable, quoted: bool) -> Variable:
    """``variable`` as it must be matched when the format puts it (or not) inside quotes.

    Free text inside quotes may hold spaces; outside quotes it is one word (the server
    writes it raw, so a space there would make the line ambiguous anyway).
    """
    if variable.target == "request":
        return variable if quoted else Variable("request", REQUEST_STRICT, r"\S+ \S+ \S+|\S+")
    if quoted and variable.target in FREE_TEXT and variable.target not in ("user",):
        return Variable(variable.target, QUOTED_STRICT, QUOTED_LENIENT)
    if quoted and variable.target.startswith("extra:"):
        return Variable(variable.target, QUOTED_STRICT, QUOTED_LENIENT)
    if not quoted and variable.strict == QUOTED_STRICT:
        return Variable(variable.target, WORD, WORD)
    return variable


Token = str | Variable
