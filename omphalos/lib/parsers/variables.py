"""The variables a log format is made of: where each value goes and the regexes matching it.

Shared by the Apache, nginx, W3C and preset compilers; :mod:`.linefmt` compiles a list of
them (and literal text) into one strict and one lenient regex.

Every pattern here is written so that a match costs time linear in the line's length,
whatever the line holds: repetitions are possessive (``++``, ``*+``: what they took is
never given back), adjacent repetitions cannot take the same characters, and no pattern
crosses a newline. A failing match therefore fails after one pass instead of trying every
way of splitting the text (a 64 KB request line without a protocol took 90 s before).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .convert import split_request, unescape

QUOTED_STRICT = r'[^"]*+'
QUOTED_LENIENT = r'(?:[^"\\\n]++|\\.)*+'
WORD = r"\S++"
#: A run of free text up to the first occurrence of a literal (filled in by :func:`up_to`).
_UP_TO = r"(?:(?!{0})[^\n])++"


@dataclass(frozen=True)
class Variable:
    """One field of a log line: where its value goes and how it is matched.

    ``target`` is a record field or one of the special targets converted by
    :meth:`.linefmt.LineFormat.columns`: ``request`` (a whole request line), ``uri`` (path
    and query), ``query_q`` (``?query`` or nothing), ``time_clf``, ``time_iso``, ``time_epoch``,
    ``time_ms``, ``time_us``, ``time_w3c`` (``date time``), ``time_strf:FORMAT``,
    ``frac_ms``/``frac_us`` (a fraction of a second added to the time), ``zone`` (an
    offset applied to a zone-less time), ``client_list`` (a forwarded-for list: the first
    address is the client), ``client_port`` (``addr:port``), ``vhost_port`` (``host`` or
    ``host:port``), ``trailing`` (fields after the combined ones), ``url`` (a path or an
    absolute URL, as proxies log it), ``w3c`` (W3C quoting),
    ``duration_s``/``_ms``/``_us``, ``extra:NAME``, ``agent_plus`` (W3C: ``+`` is a space)
    or ``ignore``. ``unquote`` strips surrounding quotes a lenient match may keep.

    ``groups`` (the strict pattern then holds these capturing groups itself, their targets
    in order) with ``split`` (the lenient match, one group, to the same values) is how one
    token fills several fields; ``escaped`` names those of its groups that may carry
    ``\\"`` / ``\\xHH`` escapes.
    """

    target: str
    strict: str
    lenient: str
    unquote: bool = False
    groups: tuple[str, ...] = ()
    split: Callable[[str], tuple[str, ...]] | None = None
    escaped: tuple[str, ...] = ()


def up_to(literal: str) -> str:
    """Free text running to the first ``literal`` (linear: no give-back, no retries)."""
    return _UP_TO.format(re.escape(literal))


def stop_at(pattern: str, char: str) -> str:
    """A word pattern that also stops at ``char``, the first character of the literal that
    follows it (``%v:%p``): a possessive word would otherwise take the literal too."""
    if char.isspace() or char == "\n":
        return pattern
    escaped = re.escape(char) if char not in "]\\^-" else "\\" + char
    if pattern == WORD:
        return rf"[^\s{escaped}]++"
    match = re.fullmatch(r"\[\^\\s([^\]]*)\]\+\+", pattern)
    if match is not None:
        return rf"[^\s{match[1]}{escaped}]++"
    return pattern


REQUEST_STRICT = r'([A-Z]++) ([^\s?"]*+)\??([^\s"]*+) (HTTP/[0-9.]++)'
#: The four record fields a request line fills, in the order of REQUEST_STRICT's groups.
REQUEST_GROUPS = ("method!", "path", "query!", "protocol!")


def _split_request(value: str) -> tuple[str, ...]:
    """A lenient request match to the four request groups' values."""
    return split_request(unescape(value))


def request_variable(lenient: str = QUOTED_LENIENT, quoted: bool = True) -> Variable:
    """A whole request line (``GET /a?b HTTP/1.1``)."""
    return Variable("request", REQUEST_STRICT, lenient, groups=REQUEST_GROUPS,
                    split=_split_request, escaped=("path", "query!") if quoted else ())


#: Common variables, shared by the Apache, nginx and W3C compilers.
VARIABLES: dict[str, Variable] = {
    "client": Variable("client", WORD, WORD),
    "ident": Variable("ignore", WORD, WORD),
    "user": Variable("user", WORD, WORD),
    "time_clf": Variable("time_clf", r"[^\]]{1,64}+", r"[^\]\n]++"),
    "time_iso": Variable("time_iso", WORD, WORD),
    "time_epoch": Variable("time_epoch", r"\d++(?:\.\d++)?+", r"\d++(?:\.\d++)?+"),
    "request": request_variable(),
    "method": Variable("method", r"[A-Z]++|-", WORD),
    "protocol": Variable("protocol", r"HTTP/[0-9.]++|-", WORD),
    "path": Variable("path", r'[^\s?"]++', WORD),
    "query": Variable("query", WORD, WORD),
    "query_q": Variable("query_q", r'(?:\?[^\s"]*+)?+', r'(?:\?[^\s"]*+)?+'),
    "uri": Variable("uri", r'[^\s"]++', WORD),
    "status": Variable("status", r"\d{3}", r"\d{3}|-"),
    "bytes": Variable("bytes", r"\d++|-", r"\d++|-"),
    "referer": Variable("referer", QUOTED_STRICT, QUOTED_LENIENT),
    "agent": Variable("agent", QUOTED_STRICT, QUOTED_LENIENT),
    "duration_s": Variable("duration_s", r"\d++(?:\.\d++)?+|-", r"\d++(?:\.\d++)?+|-"),
    "duration_ms": Variable("duration_ms", r"\d++(?:\.\d++)?+|-", r"\d++(?:\.\d++)?+|-"),
    "duration_us": Variable("duration_us", r"\d++|-", r"\d++|-"),
    "vhost": Variable("extra:vhost", r"[^\s,]++", r"[^\s,]++"),
    # a forwarded-for list written where the client is (``10.0.0.2, 10.0.0.1``): such a
    # line has more words before the time than the strict pattern allows, so it is read by
    # the lenient one; the strict one stays as fast as a plain client's
    "client_list": Variable("client_list", WORD, r"[^\s,]++(?:, [^\s,]++)*+"),
    # a virtual host with or without its port, before the client
    "vhost_port": Variable("vhost_port", r"[^\s,:]++(?::\d++)?", r"[^\s,:]++(?::\d++)?"),
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
        return variable if quoted else request_variable(r"\S++ \S++ \S++|\S++", False)
    if quoted and variable.target in FREE_TEXT and variable.target not in ("user",):
        return Variable(variable.target, QUOTED_STRICT, QUOTED_LENIENT)
    if quoted and variable.target.startswith("extra:"):
        return Variable(variable.target, QUOTED_STRICT, QUOTED_LENIENT)
    if not quoted and variable.strict == QUOTED_STRICT:
        return Variable(variable.target, WORD, WORD)
    return variable


Token = str | Variable
