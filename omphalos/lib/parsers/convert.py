"""Whole-column conversions: lists of matched text to the record's typed columns.

Each function takes a whole column (a list of strings) and runs at C speed where it can
(``map(int, ...)``, a set to find out whether any ``-`` is there at all).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate, repeat
from operator import add, itemgetter, methodcaller, mul, setitem, truediv
from typing import Any
from urllib.parse import unquote

from omphalos.records import Columns

from .timestamps import zone_offset

#: What a malformed value raises while a column is converted.
CONVERSION_ERRORS = (ValueError, KeyError, IndexError, OverflowError, TypeError)


def as_list(values: Sequence[str]) -> list[str]:
    return values if isinstance(values, list) else list(values)


def none_for_dash(values: Sequence[str]) -> list[str | None]:
    """``-`` and empty values as None. A column holding one value throughout (a server's
    name, a cipher) becomes one object repeated, which also makes :func:`extra_dicts`'s
    test for constant columns a comparison of identities."""
    if values and values[-1] == values[0] and values.count(values[0]) == len(values):
        first = values[0]
        return [None if first == "-" or first == "" else first] * len(values)
    # membership tests of the list itself: cheaper than a set of the values (a longer
    # value differs from "-" by its length), whose hashes only counting needs
    if "-" not in values and "" not in values:
        return as_list(values)  # type: ignore[return-value]
    if values.count("-") + values.count("") == len(values):
        return [None] * len(values)
    return [None if v == "-" or v == "" else v for v in values]


def none_for_empty(values: Sequence[str]) -> list[str | None]:
    if "" not in values:
        return as_list(values)  # type: ignore[return-value]
    if values.count("") == len(values):  # no query anywhere, say
        return [None] * len(values)
    return [v or None for v in values]


def dash_to_empty(values: Sequence[str]) -> list[str]:
    if "-" not in values:
        return as_list(values)  # a column slice of its own: no copy needed
    return ["" if v == "-" else v for v in values]


def ints(values: Sequence[str]) -> list[int]:
    try:
        return list(map(int, values))
    except ValueError:
        return [0 if v == "-" or v == "" else int(v) for v in values]


def repeated_ints(values: Sequence[str]) -> list[int]:
    """:func:`ints` of a column with few distinct values (a status): each distinct text
    converted once, about half the time of converting every line, and lines of one value
    share one int object, so counting them compares identities. Same values and errors as
    :func:`ints`."""
    try:
        table = {v: int(v) for v in set(values)}
    except ValueError:
        return ints(values)
    return list(map(table.__getitem__, values))


def at_least_zero(values: list[int]) -> list[int]:
    """``values`` with negative ones as 0 (HAProxy's -1 status: no response)."""
    if not values or min(values) >= 0:
        return values
    return [0 if v < 0 else v for v in values]


def scaled_ints(values: Sequence[str], scale: float) -> list[float]:
    """Integers times ``scale`` (a fraction of a second in ms or us), at C speed."""
    return list(map(mul, map(int, values), repeat(scale)))


def last_timer_seconds(values: Sequence[str]) -> list[float | None]:
    """HAProxy's timers (``TR/Tw/Tc/Tr/Ta``, ms): the last, the total, in seconds (None
    where it is -1: the request never completed)."""
    total = list(map(int, map(itemgetter(2), map(methodcaller("rpartition", "/"), values))))
    if total and min(total) >= 0:
        return list(map(truediv, total, repeat(1000.0)))
    return [None if t < 0 else t / 1000.0 for t in total]


def floats(values: Sequence[str], scale: float) -> list[float | None]:
    try:
        if scale == 1.0:
            return list(map(float, values))
        return list(map(mul, map(float, values), repeat(scale)))
    except ValueError:  # a "-" or an empty value somewhere: None there
        return [None if v == "-" or v == "" else float(v) * scale for v in values]


def query_q(values: Sequence[str]) -> list[str | None]:
    return [v[1:] if v else None for v in values]


def plus_to_space(values: Sequence[str]) -> list[str | None]:
    return [None if v == "-" or v == "" else v.replace("+", " ") for v in values]


def split_uri(uri: str) -> tuple[str, str | None]:
    """``/a?b=1`` to (``/a``, ``b=1``); the query is None when there is no ``?``."""
    path, sep, query = uri.partition("?")
    return path, (query if sep else None)


#: What a method may be: an HTTP token of letters (``GET``, ``M-SEARCH``, ``version-control``).
_METHOD = re.compile(r"[A-Za-z][A-Za-z_-]*+")


def split_request(request: str) -> tuple[str, str, str, str]:
    """A request line to (method, path, query, protocol); '' = absent.

    A line that is no request (``-``, empty, garbage such as a TLS handshake) gives an empty
    method and the whole text as the path: :meth:`.linefmt.LineFormat.columns` turns that
    into method None, path ``""`` and the text in ``extra["request"]``.
    """
    parts = request.split(" ")
    if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
        method, target, protocol = parts[0], " ".join(parts[1:-1]), parts[-1]
    elif len(parts) == 2:
        method, target, protocol = parts[0], parts[1], ""
    else:
        return "", request, "", ""
    if _METHOD.fullmatch(method) is None:
        return "", request, "", ""
    path, _, query = target.partition("?")
    return method, path, query, protocol


_ESCAPE = re.compile(r"(?:\\x[0-9A-Fa-f]{2})++|\\([\\\"])")


def _unescape_match(match: re.Match[str]) -> str:
    if match[1] is not None:
        return match[1]
    return bytes.fromhex(match[0].replace("\\x", "")).decode("utf-8", "replace")


def unescape(value: str) -> str:
    """Undo the escaping Apache and nginx apply to quoted values, in one pass.

    ``\\"`` and ``\\\\`` become ``"`` and ``\\``; a run of ``\\xHH`` escapes is the bytes
    they name, decoded as UTF-8 (invalid bytes become U+FFFD): ``caf\\xC3\\xA9`` is ``café``.
    Apache's C-style ``\\n``/``\\t`` are kept as written.
    """
    if "\\" not in value:
        return value
    return _ESCAPE.sub(_unescape_match, value)


def split_url(url: str) -> tuple[str, str | None, str | None]:
    """A path or an absolute URL (proxies and load balancers log those) to (path, query,
    host); ``http://h:80/a?b`` is (``/a``, ``b``, ``h:80``), ``/a`` is (``/a``, None, None)."""
    host = None
    scheme_end = url.find("://", 0, 16)
    if scheme_end > 0:
        rest = url[scheme_end + 3:]
        slash = rest.find("/")
        host, url = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
        if "?" in host:
            host, _, query = host.partition("?")
            return "/", query, host
    path, sep, query = url.partition("?")
    return path, (query if sep else None), host


_TRAIL_TOKEN = re.compile(r'"((?:[^"\\]++|\\.)*+)"?|(\S++)')
_ADDRESSES = re.compile(r"[0-9A-Fa-f.:]++(?:, ?[0-9A-Fa-f.:]++)*+")
_DECIMAL = re.compile(r"\d++\.\d++")
#: ``name=value`` trailing fields that are the request's duration in seconds.
_DURATION_KEYS = frozenset({"rt", "request_time"})


def parse_trailing(text: str) -> tuple[float | None, dict[str, Any]]:
    """Fields after a combined line's user agent to (duration, extra) by a fixed rule.

    The first quoted field holding an address list is ``extra["forwarded_for"]`` (nginx's
    ``main``; ``"-"`` there is skipped); the first decimal number (``0.250``, nginx's
    ``$request_time``) or ``rt=``/``request_time=`` value is the duration in seconds;
    other ``name=value`` fields go to ``extra[name]``; everything else is kept, space
    separated, in ``extra["trailing"]`` (an integer may be microseconds or seconds: it is
    not guessed).
    """
    duration: float | None = None
    extra: dict[str, Any] = {}
    rest: list[str] = []
    forwarded_seen = False
    for match in _TRAIL_TOKEN.finditer(text):
        quoted, word = match[1], match[2]
        if quoted is not None:
            if not forwarded_seen and (quoted == "-" or _ADDRESSES.fullmatch(quoted)):
                forwarded_seen = True
                if quoted != "-":
                    extra["forwarded_for"] = quoted
                continue
            rest.append(match[0])
            continue
        name, sep, value = word.partition("=")
        if sep and name:
            value = value.strip('"')
            if name in _DURATION_KEYS and duration is None and _DECIMAL.fullmatch(value):
                duration = float(value)
            else:
                extra[name] = None if value in ("", "-") else value
        elif duration is None and _DECIMAL.fullmatch(word):
            duration = float(word)
        elif word != "-":
            rest.append(word)
    if rest:
        extra["trailing"] = " ".join(rest)
    return duration, extra


def concat(parts: Sequence[Columns]) -> Columns:
    """One :class:`Columns` holding ``parts`` in order (optional columns filled with None)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Columns()
    if len(parts) == 1:
        return parts[0]
    out = Columns()
    for name in ("time", "client", "path", "status", "bytes"):
        setattr(out, name, [v for p in parts for v in getattr(p, name)])
    out.offset = [v for p in parts for v in p.offsets()]
    for name in ("user", "method", "query", "protocol", "referer", "agent", "duration",
                 "extra"):
        if any(getattr(p, name) is not None for p in parts):
            setattr(out, name, [v for p in parts for v in p.column(name)])
    return out


def line_offsets(lines: Sequence[bytes], start: int) -> list[int]:
    n = len(lines)
    return list(map(add, accumulate(map(len, lines), initial=start), range(n)))[:n]


_ZONES: dict[str, int] = {}


def zone_seconds(zone: str) -> int:
    """``+0200`` to 7200 (cached): a separate ``%{%z}t`` applied to a zone-less time."""
    seconds = _ZONES.get(zone)
    if seconds is None:
        if len(_ZONES) > 1000:
            _ZONES.clear()
        seconds = _ZONES[zone] = zone_offset(zone)
    return seconds


_ROW_DICTS: dict[tuple[str, ...], Callable[[Sequence[Sequence[Any]]], list[Any]]] = {}


def row_dicts(keys: tuple[str, ...]) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
    """A function from columns (one per key, in order) to one dict per row, compiled once
    per tuple of keys: a dict display with constant keys (``{'a': v0, 'b': v1}``) is the
    fastest way to build a dict in CPython, twice as fast as ``dict(zip(keys, row))``.
    The keys enter the code only as ``repr`` literals; at most 256 are cached."""
    made = _ROW_DICTS.get(keys)
    if made is None:
        names = [f"v{i}" for i in range(len(keys))]
        display = ", ".join(f"{key!r}: {name}" for key, name in zip(keys, names))
        code = f"lambda columns: [{{{display}}} for {', '.join(names)}, in zip(*columns)]"
        # the keys enter the code only as repr literals: no text of a line becomes code
        made = eval(code, {"__builtins__": {"zip": zip}})
        if len(_ROW_DICTS) >= 256:
            _ROW_DICTS.clear()
        _ROW_DICTS[keys] = made
    return made


def extra_dicts(columns: Mapping[str, Sequence[str | None]]) -> list[dict[str, Any] | None]:
    """One ``extra`` dict per row from its columns (name -> values), built at C speed.

    The values of the columns that hold one value throughout the chunk (server name,
    cipher, sub-status ...: most of them in a preset's log) go into one base dict; each row
    is a copy of it with the other columns' values set column by column (``map`` over
    ``setitem``: no Python code per row). When every column is constant, all rows share the
    base dict; when most vary, rows with the same values share one (read-only, as all
    ``extra`` dicts are)."""
    keys = list(columns)
    values = list(columns.values())
    n = len(values[0])
    base = {key: column[0] for key, column in zip(keys, values)}
    varying = [(key, column) for key, column in zip(keys, values)
               if column.count(column[0]) != n]
    if not varying:
        return [base] * n
    if len(varying) * 2 > len(keys):  # few constant ones: a dict from each row, rows
        # with the same values sharing one; they can only be few if the first varying
        # column has few distinct values (one set of it is cheaper than one of the rows)
        if len(set(varying[0][1])) * 4 <= n:
            rows = list(zip(*values))
            distinct = set(rows)
            if len(distinct) * 4 <= n:
                table = {row: dict(zip(keys, row)) for row in distinct}
                return list(map(table.__getitem__, rows))
        return row_dicts(tuple(keys))(values)
    out: list[dict[str, Any]] = list(map(dict.copy, repeat(base, n)))
    for key, column in varying:
        deque(map(setitem, out, repeat(key), column), maxlen=0)
    return out  # type: ignore[return-value]


def join_space(a: str, b: str) -> str:
    return f"{a} {b}"


def add_row_extra(row_extra: list[dict[str, Any] | None] | None,
                  more: Sequence[dict[str, Any] | None], n: int
                  ) -> list[dict[str, Any] | None]:
    """Per-row extra fields ``more`` added to those gathered so far (None: none yet)."""
    if row_extra is None:
        return list(more)
    out: list[dict[str, Any] | None] = []
    for have, add_ in zip(row_extra, more):
        if add_ is None:
            out.append(have)
        elif have is None:
            out.append(add_)
        else:
            out.append({**have, **add_})
    return out


def merge_extra(extra: list[dict[str, Any] | None] | None,
                rows: list[dict[str, Any] | None]) -> list[dict[str, Any] | None]:
    """Column extras (maybe shared, read-only dicts) and per-row extras, as new dicts."""
    if extra is None:
        return rows
    return [base if more is None else ({**base, **more} if base else more)
            for base, more in zip(extra, rows)]


def client_lists(values: Sequence[str]
                 ) -> tuple[list[str], list[dict[str, Any] | None] | None]:
    """Client fields that may be forwarded-for lists (``10.0.0.2, 10.0.0.1``): the first
    address is the client, the whole list goes to ``extra["forwarded_for"]``."""
    values = as_list(values)
    if "," not in "\n".join(values):
        return values, None
    clients: list[str] = []
    lists: list[dict[str, Any] | None] = []
    for value in values:
        if "," in value:
            clients.append(value.split(",", 1)[0])
            lists.append({"forwarded_for": value})
        else:
            clients.append(value)
            lists.append(None)
    return clients, lists


#: One ``addr:port`` per line: the address up to the last colon (a port has no colon,
#: so the one backtracking finds first from the right), digits after it.
_ADDRESS_PORT_LINE = re.compile(r"^([^\n\[]+):([0-9]++)\n", re.MULTILINE)


def client_ports(values: Sequence[str]) -> tuple[list[str], list[str | None]]:
    """``addr:port`` (load balancers; IPv6 addresses keep their colons) to two columns.

    A column of plain ``addr:port`` values is cut by one regex pass over the whole column;
    any other (an address without a port, ``-``, ``[v6]:port``) value by value."""
    if values:
        flat = _ADDRESS_PORT_LINE.split("\n".join(values) + "\n")
        if len(flat) == 3 * len(values) + 1 and not any(flat[0::3]):
            if "-" not in flat[1::3]:
                return flat[1::3], flat[2::3]
    parts = list(map(methodcaller("rpartition", ":"), values))
    clients: list[str] = list(map(itemgetter(0), parts))
    ports: list[str | None] = list(map(itemgetter(2), parts))
    odd = set(clients) & {"", "-"} or "[" in "".join(clients) or "" in ports
    if odd or not "".join(ports).isdigit():  # type: ignore[arg-type]
        for i, (value, (address, _, port)) in enumerate(zip(values, parts)):
            if not address or not (port or "").isdigit():
                address, port = value, ""
            clients[i] = "" if address == "-" else address.strip("[]")
            ports[i] = port or None
    return clients, ports


def vhost_ports(values: Sequence[str]) -> tuple[list[str | None], list[str | None]]:
    """``host`` or ``host:port`` to (vhost, port) columns."""
    if ":" not in "\n".join(values):
        return none_for_dash(values), [None] * len(values)
    pairs = [v.partition(":") for v in values]
    return ([None if h == "-" else h for h, _, _ in pairs], [p or None for _, _, p in pairs])


def trailing_fields(values: Sequence[str | None]
                    ) -> tuple[list[float | None] | None, list[dict[str, Any] | None] | None]:
    """The trailing fields of combined-family lines (None where a line has none)."""
    if values.count(None) + values.count("") == len(values):
        return None, None
    durations: list[float | None] = []
    fields: list[dict[str, Any] | None] = []
    for value in values:
        if not value:
            durations.append(None)
            fields.append(None)
            continue
        duration, extra = parse_trailing(value)
        durations.append(duration)
        fields.append(extra or None)
    return (durations if any(d is not None for d in durations) else None), fields


def urls(values: Sequence[str]
         ) -> tuple[list[str], list[str | None], list[str | None] | None]:
    """Paths or absolute URLs to (paths, queries, hosts or None when none was absolute)."""
    values = dash_to_empty(values)
    fast = _same_scheme_urls(values)
    if fast is not None:
        return fast
    triples = list(map(split_url, values))
    hosts = [h for _, _, h in triples]
    return ([p for p, _, _ in triples], [q for _, q, _ in triples],
            hosts if any(h is not None for h in hosts) else None)


#: One absolute URL per line, as :func:`split_url` reads it: a scheme of at most 13
#: characters (``find("://", 0, 16)``), a host without ``/`` or ``?``, a path, maybe a query.
_URL_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,12}+://([^/?\n]*+)(/[^?\n]*+)"
                       r"(?:\?([^\n]*+))?+\n", re.MULTILINE)


def _same_scheme_urls(values: list[str]
                      ) -> tuple[list[str], list[str | None], list[str | None]] | None:
    """:func:`urls` of a column of absolute URLs that each have a ``/`` after their host
    (what a proxy's or load balancer's chunk holds): one regex ``split`` of the whole
    column, each field then one slice; None for any other column (a relative path, no
    path, an odd scheme: :func:`split_url` then reads it value by value)."""
    if not values:
        return None
    flat = _URL_LINE.split("\n".join(values) + "\n")
    if len(flat) != 4 * len(values) + 1 or any(flat[0::4]):
        return None
    return flat[2::4], flat[3::4], flat[1::4]


def percent_decoded(values: Sequence[str]) -> list[str | None]:
    """URL-encoded text (CloudFront's user agent: ``Mozilla/5.0%20(X11)``) decoded."""
    out = none_for_dash(values)
    if "%" not in "\n".join(filter(None, out)):
        return out
    # each distinct agent decoded once (a chunk holds few: urllib's unquote was most of a
    # CloudFront line's cost)
    decoded = {v: unquote(v) if v and "%" in v else v for v in set(out)}
    return list(map(decoded.__getitem__, out))


def w3c_unquote(values: Sequence[str]) -> Sequence[str]:
    """W3C values as written: ``"a b"`` is ``a b`` and ``""`` inside quotes is one ``"``,
    whether or not any value of the line holds a space."""
    if '"' not in "\n".join(filter(None, values)):
        return values
    return [v[1:-1].replace('""', '"') if v and len(v) >= 2 and v[0] == '"' == v[-1]
            else v for v in values]
