"""Dimensions derived from a batch's columns (GoAccess's panels), computed column-wise.

Each derived dimension turns whole columns of a :class:`~omphalos.records.Columns` into one
key per line, with caches per distinct value, so the per-line cost is a dictionary look-up
or a C-speed ``map``:

=================  ==============================================================
dimension          key
=================  ==============================================================
``browser``        browser family of the agent (ua-parser), ``-`` without agent
``os``             operating system family of the agent
``device``         device family of the agent (``Other`` for most desktops,
                   ``Spider`` for bots uap-core knows)
``crawler``        ``no`` (not a crawler) or the bot's name (CrawlerDetect)
``visitors``       the UTC date ``YYYY-MM-DD``; rows also carry ``visitors``, the
                   unique (client, date, agent) of that day in a HyperLogLog
``vhost``          ``extra["vhost"]`` (or ``server_name``), where the format has it
``protocol``       the request's protocol (``HTTP/1.1``)
``referring_site`` the referrer's host name (``-`` without referrer)
``remote_user``    the authenticated user (``%u``)
``not_found``      the path, for lines answered 404 only
``static``         the path, for paths whose extension is static only (see
                   :data:`STATIC_EXTENSIONS`, configurable per collector)
``hour``           the UTC hour of day, ``00`` to ``23``
``tls``            ``extra["ssl_protocol"]`` and ``extra["ssl_cipher"]`` where logged
``mime``           ``extra["content_type"]`` where logged
``cache``          ``extra["cache_status"]`` (or ``upstream_cache_status``,
                   ``squid_code``) where logged
``country``        the client's country, ISO 3166 code (:mod:`omphalos.lib.geoip`:
                   the data ``iptocc`` ships, or a ``.mmdb`` file), ``-`` unknown
=================  ==============================================================

A dimension whose source column the format lacks is left out of the batch's counts, as
for the column dimensions.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .lib.geoip import lookup as country_lookup
from .lib.hll import hash64, seeded_hashes
from .lib.useragent import agent_info, warm
from .records import Columns

__all__ = ["DERIVED_DIMENSIONS", "FILTERED", "MAPPED", "MappedKeys", "mapped_keys",
           "STATIC_EXTENSIONS", "SKIP", "derived_keys", "prepare", "fed_counts_only",
           "visitor_hashes", "day_of", "referring_site"]

#: Extensions the ``static`` dimension counts by default (GoAccess's list, lower case).
STATIC_EXTENSIONS: tuple[str, ...] = (
    ".css", ".js", ".jpg", ".jpeg", ".png", ".gif", ".ico", ".svg", ".webp", ".bmp",
    ".tif", ".tiff", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".map", ".txt", ".xml",
    ".json", ".pdf", ".zip", ".gz", ".bz2", ".tar", ".mp3", ".mp4", ".ogg", ".webm",
    ".avi", ".mov", ".swf", ".flv", ".wav", ".mid", ".midi", ".csv", ".doc", ".docx",
    ".xls", ".xlsx", ".ppt", ".pptx", ".rar", ".7z", ".exe", ".jar", ".dmg", ".iso",
    ".deb", ".rpm", ".bin", ".avif", ".apk",
)

#: The derived dimensions, in the order answers list them.
DERIVED_DIMENSIONS: tuple[str, ...] = (
    "browser", "os", "device", "crawler", "visitors", "vhost", "protocol", "referring_site",
    "remote_user", "not_found", "static", "hour", "tls", "mime", "cache", "country",
)
#: Dimensions that count only some lines (the others are keyed :data:`SKIP`).
FILTERED = frozenset({"not_found", "static"})


class _Skip:
    """The key of a line a filtered dimension does not count (dropped after counting)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()

_EXTRA_KEYS: dict[str, tuple[str, ...]] = {
    "vhost": ("vhost", "server_name"),
    "mime": ("content_type", "mime_type"),
    "cache": ("cache_status", "upstream_cache_status", "squid_code"),
}


@lru_cache(maxsize=4096)
def _hour_key(hour: int) -> tuple[str, str]:
    """The UTC date and hour of day of hour number ``hour`` since the epoch."""
    t = time.gmtime(hour * 3600)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}", f"{t.tm_hour:02d}"


def day_of(when: float) -> str:
    """The UTC date of ``when`` (a ``visitors`` key)."""
    return _hour_key(int(when // 3600))[0]


@lru_cache(maxsize=65536)
def referring_site(referer: str | None) -> str | None:
    """The host name of a referrer URL (None without one)."""
    if not referer or referer == "-":
        return None
    try:
        host = urlsplit(referer).hostname
    except ValueError:
        return None
    return host or None


def _extra(cols: Columns, names: tuple[str, ...]) -> list[Any] | None:
    """Each line's first non-None ``extra`` value of ``names`` (None when no line has
    one), from the columns of lazy extras without making their dicts."""
    out: list[Any] | None = None
    for name in names:
        values = cols.extra_values(name)
        if values is None:
            continue
        out = values if out is None else [a if a is not None else b
                                           for a, b in zip(out, values)]
    return out if out is not None and out.count(None) != len(out) else None


def _tls(cols: Columns) -> list[Any] | None:
    protos, ciphers = cols.extra_values("ssl_protocol"), cols.extra_values("ssl_cipher")
    if protos is None and ciphers is None:
        return None
    nones = [None] * len(cols)
    out = [" ".join(str(v) for v in (proto, cipher) if v is not None)
           if proto is not None or cipher is not None else None
           for proto, cipher in zip(protos or nones, ciphers or nones)]
    return out if out.count(None) != len(out) else None


#: Dimensions that are a function of one column's value (the agent's browser, a path's
#: being static...): counted by folding that column's counts, never line by line.
MAPPED = frozenset({"browser", "os", "device", "crawler", "visitors", "hour",
                    "referring_site", "static", "country"})


class MappedKeys(Sequence[Any]):
    """The key of each line of a :data:`MAPPED` dimension, computed only when asked
    (the few non-2xx lines, or every line for bytes and durations per key)."""

    __slots__ = ("base", "table")

    def __init__(self, base: Sequence[Any], table: dict[Any, Any]) -> None:
        self.base = base
        self.table = table

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return list(map(self.table.__getitem__, self.base[index]))
        return self.table[self.base[index]]

    def __iter__(self) -> Any:
        return map(self.table.__getitem__, self.base)

    def at(self, indexes: Sequence[int]) -> list[Any]:
        """The keys of the lines at ``indexes`` (at C speed)."""
        return list(map(self.table.__getitem__, map(self.base.__getitem__, indexes)))

    def fold(self, counts: dict[Any, int]) -> dict[Any, int]:
        """The key counts, from the base column's ``counts``."""
        table = self.table
        out: dict[Any, int] = {}
        get = out.get
        for value, count in counts.items():
            key = table[value]
            out[key] = get(key, 0) + count
        return out


def mapped_keys(cols: Columns, dim: str, cache: dict[str, Any],
                static_extensions: Collection[str] = STATIC_EXTENSIONS,
                geoip_database: str = "") -> tuple[str, MappedKeys] | None:
    """For a :data:`MAPPED` dimension: the name of its base column (``agent``, ``time``,
    ``referer``, ``path``, ``client``) and its :class:`MappedKeys`; None when the format
    lacks it. ``geoip_database``: the ``.mmdb`` file of ``country`` (empty: the data
    ``iptocc`` ships)."""
    if dim in ("browser", "os", "device", "crawler"):
        if cols.agent is None:
            return None
        infos = cache.get("agent_table")
        if infos is None:
            infos = cache["agent_table"] = {a: agent_info(a) for a in set(cols.agent)}
        index = ("browser", "os", "device", "crawler").index(dim)
        return "agent", MappedKeys(cols.agent, {a: i[index] for a, i in infos.items()})
    if dim in ("visitors", "hour"):
        # keyed by the time itself: a batch has few distinct seconds, so the hour of each
        # is worked out once, not once per line
        keys = cache.get("time_keys")
        if keys is None:
            keys = cache["time_keys"] = {t: _hour_key(int(t // 3600)) for t in set(cols.time)}
        part = 0 if dim == "visitors" else 1
        return "time", MappedKeys(cols.time, {t: k[part] for t, k in keys.items()})
    if dim == "referring_site":
        if cols.referer is None:
            return None
        return "referer", MappedKeys(cols.referer,
                                     {r: referring_site(r) for r in set(cols.referer)})
    if dim == "country":
        return "client", MappedKeys(cols.client,
                                    country_lookup(geoip_database).countries(set(cols.client)))
    if dim == "static":
        exts = tuple(static_extensions)
        return "path", MappedKeys(cols.path, {
            p: p if p.rsplit("/", 1)[-1].lower().endswith(exts) else SKIP
            for p in set(cols.path)})
    raise ValueError(f"{dim!r} is not a mapped dimension")


AGENT_DIMENSIONS = frozenset({"browser", "os", "device", "crawler"})


#: Set while collectors that are only ever fed counts made elsewhere are set up.
_COUNTS_ONLY: ContextVar[bool] = ContextVar("omphalos_counts_only", default=False)


@contextmanager
def fed_counts_only() -> Iterator[None]:
    """Collectors set up inside are fed counts made by other processes (a parallel
    replay's merging process): :func:`prepare` loads nothing for them, since no agent is
    ever parsed there (the user-agent rules cost 0.2-0.3 s of CPU that the workers need)."""
    token = _COUNTS_ONLY.set(True)
    try:
        yield
    finally:
        _COUNTS_ONLY.reset(token)


def prepare(dimensions: Collection[str]) -> None:
    """Load what ``dimensions`` need before the first batch (the user-agent rules take a
    fraction of a second): called by the collectors' setup (not inside
    :func:`fed_counts_only`: nothing is parsed there)."""
    if AGENT_DIMENSIONS.intersection(dimensions) and not _COUNTS_ONLY.get():
        warm()


def derived_keys(cols: Columns, dim: str, cache: dict[str, Any],
                 static_extensions: Collection[str] = STATIC_EXTENSIONS,
                 geoip_database: str = "") -> list[Any] | None:
    """One key per line of ``cols`` for the derived dimension ``dim`` (:data:`SKIP` for a
    line it does not count), None when the format lacks what it is derived from.
    ``cache`` is shared by the dimensions of one batch (the agents are parsed once)."""
    if dim in MAPPED:
        found = mapped_keys(cols, dim, cache, static_extensions, geoip_database)
        return None if found is None else list(found[1])
    if dim == "protocol":
        return cols.protocol
    if dim == "remote_user":
        return cols.user
    if dim == "not_found":
        return [p if s == 404 else SKIP for p, s in zip(cols.path, cols.status)]
    if dim == "tls":
        return _tls(cols)
    if dim in _EXTRA_KEYS:
        return _extra(cols, _EXTRA_KEYS[dim])
    raise ValueError(f"unknown derived dimension {dim!r}")


def visitor_hashes(cols: Columns, days: Sequence[str],
                   distinct_days: Collection[str] | None = None) -> dict[str, list[int]]:
    """Per UTC date, the 64-bit hashes of the batch's distinct (client, date, agent):
    GoAccess's unique visitor. The hash is :func:`~omphalos.lib.hll.seeded_hashes` of
    the client, seeded with :func:`~omphalos.lib.hll.hash64` of ``date|agent`` (the agent
    empty when missing): the same in every process, and no text is built per visitor.

    Every line is hashed (at C speed: a seed looked up per line, no tuple built per line)
    and the hashes made distinct afterwards, which costs less than finding the distinct
    pairs first; a HyperLogLog's registers do not depend on the order of its input."""
    agents = cols.agent if cols.agent is not None else [""] * len(cols)
    if distinct_days is None:
        distinct_days = set(days)
    if len(distinct_days) == 1:  # the usual batch: no grouping by day
        day = next(iter(distinct_days))
        seeds = {a: hash64(f"{day}|{a or ''}") for a in set(agents)}
        return {day: list(set(seeded_hashes(cols.client, list(map(seeds.__getitem__,
                                                                   agents)))))}
    grouped: dict[str, tuple[list[str], list[int]]] = {}
    day_seeds: dict[tuple[str, Any], int] = {}
    for client, day, agent in set(zip(cols.client, days, agents)):
        found = grouped.get(day)
        if found is None:
            grouped[day] = found = ([], [])
        seed = day_seeds.get((day, agent))
        if seed is None:
            day_seeds[(day, agent)] = seed = hash64(f"{day}|{agent or ''}")
        found[0].append(client)
        found[1].append(seed)
    return {day: seeded_hashes(clients, seeds) for day, (clients, seeds) in grouped.items()}
