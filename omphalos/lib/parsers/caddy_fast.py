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

    class First(msgspec.Struct, array_like=True, gc=False):
        """A header's list of values, of which the preset reads the first (None for an
        empty list); the others are validated and skipped. No list is built: lists are
        tracked by the garbage collector, whose passes over two of them per line cost a
        seventh of the preset's time."""

        value: str | None = None

    class Headers(msgspec.Struct, gc=False):
        """The request headers the preset reads (Caddy logs each as a list of values; a
        missing one is an empty :class:`First`, a null one is refused)."""

        agent: First = msgspec.field(name="User-Agent", default_factory=First)
        referer: First = msgspec.field(name="Referer", default_factory=First)

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


def _targets(entries: list[Any], fields: Mapping[str, str]) -> dict[str, list[Any]]:
    """What :meth:`.CaddyFormat._targets` gives for the dicts these structs were decoded
    from, for the keys of ``fields`` (top-level keys, ``request.KEY`` and
    ``request.tls.KEY``, in the mapping's order), the targets no line has left out."""
    groups: dict[str, list[Any]] = {}
    for key, target in fields.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[1] == "tls":
            tls = list(map(attrgetter("request.tls"), entries))
            values = ([None] * len(tls) if tls.count(None) == len(tls) else
                      [None if t is None else getattr(t, parts[2]) for t in tls])
        else:
            values = list(map(attrgetter(key), entries))  # the keys are attribute paths
        if values[0] is not None or values.count(None) != len(values):
            groups[target] = values
    return groups


#: (record target, attribute path in :class:`Entry`) of each record field Caddy's mapping
#: fills (:data:`.json_presets.CADDY_FIELDS`, ``tests/parsers/test_json_accel.py`` checks
#: they agree); ``request`` and ``headers`` are never None in a decoded entry.
RECORD_ATTRS = (
    ("time", "ts"), ("user", "user_id"), ("status", "status"), ("bytes", "size"),
    ("duration", "duration"), ("client", "request.remote_ip"),
    ("method", "request.method"), ("uri", "request.uri"), ("protocol", "request.proto"),
    ("agent", "request.headers.agent.value"), ("referer", "request.headers.referer.value"))


def record_columns(entries: list[Any]) -> dict[str, list[Any]]:
    """Per record target of Caddy's mapping that some line has, each line's value (None
    where it has none), as :meth:`.CaddyFormat._targets` gives them from dicts. Each
    level's objects are listed once and read an attribute at a time (a dotted path read
    per line costs its depth in lookups every time)."""
    levels: dict[str, list[Any]] = {"": entries}

    def level(path: str) -> list[Any]:
        objs = levels.get(path)
        if objs is None:
            above, _, step = path.rpartition(".")
            objs = levels[path] = list(map(attrgetter(step), level(above)))
        return objs

    groups: dict[str, list[Any]] = {}
    for target, path in RECORD_ATTRS:
        parent, _, name = path.rpartition(".")
        values = list(map(attrgetter(name), level(parent)))
        if values[0] is not None or values.count(None) != len(values):
            groups[target] = values
    return groups


def _split(fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    extra = {k: t for k, t in fields.items() if t.startswith("extra:") or t == "vhost"}
    return {k: t for k, t in fields.items() if k not in extra}, extra


def extra_targets(entries: list[Any], fields: Mapping[str, str]) -> dict[str, list[Any]]:
    """The groups of the targets that fill ``extra`` fields."""
    return _targets(entries, _split(fields)[1])


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
