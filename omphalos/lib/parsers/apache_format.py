"""Apache ``LogFormat`` strings compiled into fast parsers (the ``apache``, ``auto`` and
``preset`` parsers share them).

Paste the ``LogFormat`` line (or just its string) from the server config, or name a preset.
Each ``%`` directive maps to a record field; those the record lacks go to ``extra``.
"""

from __future__ import annotations

import re

from omphalos.lib.parsers.formatstr import (
    FormatError,
    Part,
    assemble,
    check_preset_name,
    unquote_config,
)
from omphalos.lib.parsers.linefmt import VARIABLES, WORD, LineFormat, Variable, extra_variable
from omphalos.lib.parsers.timestamps import strftime_regex

V = VARIABLES

#: Named formats: the ones Apache's default configs and Debian's ship.
PRESETS: dict[str, str] = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
    "vhost_common": '%v %h %l %u %t "%r" %>s %b',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "combinedio": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %I %O',
    "combined_D": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D',
    "combined_T": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %T',
    "common_D": '%h %l %u %t "%r" %>s %b %D',
    "referer": '%{Referer}i -> %U',
    "agent": "%{User-agent}i",
}

DIRECTIVE = re.compile(r"%(?:!?\d{3}(?:,\d{3})*)?[<>]?(?:\{([^}]*)\})?[<>]?([a-zA-Z%])")

#: Directives without a parameter that fill a record field.
SIMPLE: dict[str, Variable] = {
    "h": V["client"], "a": V["client"], "l": V["ident"], "u": V["user"],
    "r": V["request"], "m": V["method"], "H": V["protocol"], "U": V["path"],
    "q": V["query_q"], "s": V["status"], "b": V["bytes"], "B": V["bytes"],
    "D": V["duration_us"], "T": Variable("duration_s", r"\d++|-", r"\d++|-"),
    # the canonical ServerName: never a port (``host:port`` is the ``%v:%p`` variant)
    "v": Variable("extra:vhost", r"[^\s,:]++", r"[^\s,:]++"),
}
#: Directives without a parameter kept in ``extra`` under these names.
EXTRA_NAMES = {
    "A": "server_addr", "f": "filename", "k": "keepalives", "L": "log_id", "p": "port",
    "P": "pid", "R": "handler", "V": "server_name", "X": "connection_status",
    "I": "bytes_in", "O": "bytes_out", "S": "bytes_transferred",
}
#: The ``extra`` key of a directive whose record field another one already fills.
DUPLICATE_NAMES = {
    "%h": "remote_host", "%a": "client_ip", "%{c}a": "peer_ip", "%{c}h": "peer_host",
    "%u": "remote_user", "%m": "method", "%U": "url_path", "%q": "query_string",
    "%H": "protocol", "%s": "first_status", "%>s": "status", "%b": "bytes", "%B": "bytes",
    "%D": "duration_us", "%T": "duration", "%v": "vhost", "%r": "request", "%t": "time",
}
HEADER_KINDS = {"i": "", "o": "response_", "e": "env_", "C": "cookie_", "n": "note_",
                "^ti": "trailer_", "^to": "response_trailer_", "x": "", "c": ""}


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _time(param: str | None) -> list[Part]:
    if param is None:
        return ["[", ("%t", V["time_clf"]), "]"]
    fmt = param
    for prefix in ("begin:", "end:"):
        if fmt.startswith(prefix):
            fmt = fmt[len(prefix):]
    label = f"%{{{param}}}t"
    if fmt == "sec":
        return [(label, Variable("time_epoch", r"\d++", r"\d++"))]
    if fmt == "msec":
        return [(label, Variable("time_ms", r"\d++", r"\d++"))]
    if fmt == "usec":
        return [(label, Variable("time_us", r"\d++", r"\d++"))]
    if fmt.strip() == "%z":
        return [(label, Variable("zone", r"[+-]\d{4}|Z", r"[+-]\d{2}:?\d{2}|Z"))]
    if fmt == "msec_frac":
        return [(label, Variable("frac_ms", r"\d{3}", r"\d{3}"))]
    if fmt == "usec_frac":
        return [(label, Variable("frac_us", r"\d{6}", r"\d{6}"))]
    try:
        pattern = strftime_regex(fmt)
    except ValueError as exc:
        raise FormatError(f"{label}: {exc}") from None
    return [(label, Variable(f"time_strf:{fmt}", pattern, pattern))]


def _directive(letter: str, param: str | None) -> list[Part]:
    label = f"%{{{param}}}{letter}" if param is not None else f"%{letter}"
    if letter == "%":
        return ["%"]
    if letter == "t":
        return _time(param)
    if letter == "i" and param is not None:
        header = param.lower()
        if header == "referer":
            return [(label, V["referer"])]
        if header == "user-agent":
            return [(label, V["agent"])]
        if header == "host":
            return [(label, V["vhost"])]
        if header == "x-forwarded-for":
            return [(label, extra_variable("forwarded_for", False))]
    if letter in HEADER_KINDS and param is not None:
        return [(label, extra_variable(HEADER_KINDS[letter] + _key(param), False))]
    if letter == "T" and param is not None:
        unit = {"s": "duration_s", "ms": "duration_ms", "us": "duration_us"}.get(param)
        if unit is None:
            raise FormatError(f"{label}: unknown unit {param!r} (s, ms or us)")
        return [(label, Variable(unit, r"\d++|-", r"\d++|-"))]
    if letter in ("a", "h") and param in ("c", None):
        return [(label, SIMPLE[letter])]
    if letter == "p" and param is not None:
        return [(label, Variable(f"extra:port_{_key(param)}", WORD, WORD))]
    if letter in SIMPLE and param is None:
        return [(label, SIMPLE[letter])]
    if letter in EXTRA_NAMES:
        return [(label, extra_variable(EXTRA_NAMES[letter], False))]
    raise FormatError(f"unsupported Apache directive {label}")


def compile_apache(text: str, name: str = "") -> LineFormat:
    """A :class:`LineFormat` for Apache ``LogFormat`` string ``text`` (or a preset name)."""
    fmt = PRESETS.get(text.strip(), None)
    if fmt is None:
        check_preset_name(text, "%", PRESETS)
        fmt = unquote_config(text, "LogFormat")
    # bytes: %b (or %B); a format with neither (Debian's vhost_combined) takes %O, the bytes
    # sent including headers -- the closest the log has
    letters = {m[2] for m in DIRECTIVE.finditer(fmt) if m[1] is None}
    bytes_from_o = not letters & {"b", "B"}
    parts: list[Part] = []
    position = 0
    for match in [*DIRECTIVE.finditer(fmt), None]:
        literal = fmt[position:match.start() if match else len(fmt)]
        if "%" in literal:
            raise FormatError(f"cannot read the directive at {literal[literal.index('%'):]!r}")
        parts.append(literal)
        if match is not None:
            if match[2] == "O" and match[1] is None and bytes_from_o:
                parts.append(("%O", V["bytes"]))
                bytes_from_o = False
            else:
                parts.extend(_directive(match[2], match[1]))
            position = match.end()
    named = [p if isinstance(p, str) else (DUPLICATE_NAMES.get(p[0], p[0].strip("%{}")), p[1])
             for p in parts]
    return assemble(name or f"apache:{text.strip()[:40]}", named)
