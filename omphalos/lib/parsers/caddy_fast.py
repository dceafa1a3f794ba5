"""Caddy's access log decoded by msgspec into structs of the keys the preset maps, and its
``extra`` taken from them only when read.

A Caddy entry is long and nested (the request's headers, the response's headers), and the
preset reads about fifteen of its values: decoding the whole entry into dicts cost more
than a combined line's whole parsing. msgspec decodes each line into :class:`Entry`,
validating and skipping everything else; the record's fields are then taken a column at a
time, and the ``extra`` fields (``vhost``, ``client_ip``, ``remote_port``, ``bytes_read``,
``logger``, ``tls_server_name``) when someone reads them (:class:`StructExtra`). Every
value's type is declared as Caddy writes it (the ``extra`` ones text, or an integer a
record can carry, so they need no range check); a line with another type fails the
decoding and the chunk takes the dict path, which gives the same records whatever the
types (``tests/parsers/test_json_accel.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Annotated, Any

from omphalos.records import LazyExtra

from .deferred_format import Picked
from .json_accel import msgspec

__all__ = ["ENTRY", "StructExtra", "extra_targets", "record_columns"]

if msgspec is not None:
    #: An integer every ``extra`` encoder carries (what :func:`.validate.value_ok` allows).
    Int64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]

    class Headers(msgspec.Struct, gc=False):
        """The request headers the preset reads (Caddy logs each as a list of values)."""

        agent: list[str] | None = msgspec.field(name="User-Agent", default=None)
        referer: list[str] | None = msgspec.field(name="Referer", default=None)

    class Tls(msgspec.Struct, gc=False):
        server_name: str | None = None

    class Request(msgspec.Struct, gc=False):
        remote_ip: str | None = None
        method: str | None = None
        uri: str | None = None
        proto: str | None = None
        host: str | None = None
        client_ip: str | None = None
        remote_port: str | None = None
        #: Never null in Caddy's log (a null sends its chunk to the dict path).
        headers: Headers = msgspec.field(default_factory=Headers)
        tls: Tls | None = None

    class Entry(msgspec.Struct, gc=False):
        """The keys of a Caddy entry that the preset maps, with the types Caddy writes
        them in (decoding then builds only the values, about a sixth faster than any JSON
        value). A value of another type, or a ``request``, ``headers`` or ``tls`` that is
        neither an object nor null, fails the decoding: the dict path takes that chunk."""

        ts: int | float | None = None
        user_id: str | None = None
        status: int | None = None
        size: int | None = None
        duration: int | float | None = None
        bytes_read: Int64 | None = None
        logger: str | None = None
        #: Never null in Caddy's log (a null sends its chunk to the dict path).
        request: Request = msgspec.field(default_factory=Request)

    #: Decodes one line into an :class:`Entry`.
    ENTRY: Callable[[bytes], Any] = msgspec.json.Decoder(Entry).decode
    _NO_REQUEST, _NO_HEADERS = Request(), Headers()


#: The :class:`Headers` attribute of each header the mapping reads.
_HEADER_ATTRS = {"User-Agent": "agent", "Referer": "referer"}


def _attrs(objs: Sequence[Any], name: str, empty: Any = None) -> list[Any]:
    """Each struct's attribute ``name``; with ``empty``, None values replaced by it."""
    values = list(map(attrgetter(name), objs))
    if empty is not None and None in values:
        return [empty if v is None else v for v in values]
    return values


def _targets(entries: list[Any], fields: Mapping[str, str],
             firsts: Callable[[list[Any]], list[Any]]) -> dict[str, list[Any]]:
    """What :meth:`.CaddyFormat._targets` gives for the dicts these structs were decoded
    from, for the keys of ``fields`` (the preset's mapping, in its order)."""
    requests = _attrs(entries, "request", _NO_REQUEST)
    headers: list[Any] | None = None
    groups: dict[str, list[Any]] = {}
    for key, target in fields.items():
        parts = key.split(".")
        if len(parts) == 1:
            values = _attrs(entries, key)
        elif parts[1] == "headers":
            if headers is None:
                headers = _attrs(requests, "headers", _NO_HEADERS)
            values = firsts(_attrs(headers, _HEADER_ATTRS[parts[2]]))
        elif parts[1] == "tls":
            tls = _attrs(requests, "tls")
            values = ([None] * len(tls) if tls.count(None) == len(tls) else
                      [None if t is None else t.server_name for t in tls])
        else:
            values = _attrs(requests, parts[1])
        if values[0] is not None or values.count(None) != len(values):
            groups[target] = values
    return groups


#: (record target, attribute) of :class:`Entry`, then of :class:`Request`, that Caddy's
#: mapping reads for record fields (:data:`.json_presets.CADDY_FIELDS`).
_TOP = (("time", "ts"), ("user", "user_id"), ("status", "status"), ("bytes", "size"),
        ("duration", "duration"))
_REQUEST = (("client", "remote_ip"), ("method", "method"), ("uri", "uri"),
            ("protocol", "proto"))


def record_columns(entries: list[Any], firsts: Callable[[list[Any]], list[Any]]
                   ) -> dict[str, list[Any]]:
    """What :func:`record_targets` gives for Caddy's mapping (the targets of record
    fields that some line has), in fewer passes: ``request`` and ``headers`` are never
    None in a decoded entry."""
    requests = list(map(attrgetter("request"), entries))
    headers = list(map(attrgetter("headers"), requests))
    groups: dict[str, list[Any]] = {}
    for objs, pairs in ((entries, _TOP), (requests, _REQUEST)):
        for target, name in pairs:
            values = list(map(attrgetter(name), objs))
            if values[0] is not None or values.count(None) != len(values):
                groups[target] = values
    for target, name in (("agent", "agent"), ("referer", "referer")):
        values = firsts(list(map(attrgetter(name), headers)))
        if values[0] is not None or values.count(None) != len(values):
            groups[target] = values
    return groups


def _split(fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    extra = {k: t for k, t in fields.items() if t.startswith("extra:") or t == "vhost"}
    return {k: t for k, t in fields.items() if k not in extra}, extra


def extra_targets(entries: list[Any], fields: Mapping[str, str],
                  firsts: Callable[[list[Any]], list[Any]]) -> dict[str, list[Any]]:
    """The groups of the targets that fill ``extra`` fields."""
    return _targets(entries, _split(fields)[1], firsts)


class StructExtra(LazyExtra):
    """A chunk's ``extra`` kept as its decoded entries until read, then made by
    ``make(entries)`` (the column-wise extras the dict path builds) once."""

    __slots__ = ("_done", "_inner", "_lock", "entries", "make", "n")

    def __init__(self, entries: list[Any], make: Callable[[list[Any]], LazyExtra | None]
                 ) -> None:
        self.entries, self.make, self.n = entries, make, len(entries)
        self._inner: LazyExtra | None = None
        self._done = False
        #: Collectors in other threads may read one batch's extras at once: one builds.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.n

    def inner(self) -> LazyExtra | None:
        with self._lock:
            if not self._done:
                self._inner = self.make(self.entries)
                self._done = True
                self.entries = []  # no longer needed
            return self._inner

    def materialise(self) -> list[dict[str, Any] | None] | None:
        inner = self.inner()
        return inner.materialise() if inner is not None else None

    def values(self, name: str) -> list[Any] | None:
        inner = self.inner()
        return inner.values(name) if inner is not None else None

    def slice(self, start: int, stop: int) -> LazyExtra:
        return Picked(self, range(self.n)[start:stop])

    def select(self, keep: Sequence[int]) -> LazyExtra:
        return Picked(self, list(keep))
