"""The common record every parser produces, and the columnar batch that carries records.

A :class:`Record` is one request, whatever log format it came from. Inside the pipeline records
travel as :class:`Columns`: one list per field instead of one object per line, because
building a Python object per line costs more than parsing it, and collectors count whole
columns at C speed (``collections.Counter(columns.path)``). ``Columns.rows()`` gives
:class:`Record` tuples to code that prefers rows.

Field reference (the one place the schema is documented):

========== ================ ==========================================================
field      type             meaning
========== ================ ==========================================================
time       float            request time, seconds since the epoch, UTC
host       str              source host: the web server the line was read on
file       str              source file path on that host
client     str              client address (``%h``, ``$remote_addr``, ``c-ip``)
user       str | None       authenticated user (``%u``, ``$remote_user``), None for ``-``
method     str | None       HTTP method, None when the request line was unparseable
path       str              URL path without the query string
query      str | None       query string without the ``?``, None when absent
protocol   str | None       ``HTTP/1.1`` and so on
status     int              HTTP status code (0 when the log had none)
bytes      int              response body bytes (0 for ``-``)
referer    str | None       Referer header
agent      str | None       User-Agent header
duration   float | None     time taken to serve, seconds
offset     int              byte offset of the line's start in its source file
extra      dict | None      fields the format has and this schema lacks
========== ================ ==========================================================

A parser may keep ``extra`` in its own form (a :class:`LazyExtra`: columns, or the chunk's
text to cut again) until something reads ``Columns.extra``, which then always gives the
dicts above; :meth:`Columns.extra_values`, :meth:`Columns.slice` and :meth:`Columns.select`
answer without making them. Most batches are counted without anyone reading ``extra``.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from operator import add
from typing import Any, NamedTuple

__all__ = ["Record", "Columns", "LazyExtra", "FIELDS", "COLUMN_FIELDS"]


class Record(NamedTuple):
    """One request, in the common format (see the module doc for each field)."""

    time: float
    host: str
    file: str
    client: str
    user: str | None
    method: str | None
    path: str
    query: str | None
    protocol: str | None
    status: int
    bytes: int
    referer: str | None
    agent: str | None
    duration: float | None
    offset: int
    extra: dict[str, Any] | None


FIELDS: tuple[str, ...] = Record._fields
#: Fields stored per line in :class:`Columns` (``host`` and ``file`` are per batch).
COLUMN_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in ("host", "file"))
#: Columns a parser may leave out entirely (``None``) when its format lacks them.
OPTIONAL_COLUMNS = frozenset({"user", "method", "query", "protocol", "referer", "agent",
                              "duration", "extra"})


class LazyExtra(ABC):
    """A column of ``extra`` kept in a parser's own form (one list per field, say) until
    a consumer asks for the dicts: most batches are counted, sent or stored without anyone
    reading their extras, and building one dict per line cost a preset's log up to a
    third of its parsing. :attr:`Columns.extra` turns it into the dicts on first read,
    always the same dicts the parser would have built (:meth:`materialise`)."""

    __slots__ = ()

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def materialise(self) -> list[dict[str, Any] | None] | None:
        """The ``extra`` dict of each line (None where a line has none), or None when no
        line has any."""

    @abstractmethod
    def slice(self, start: int, stop: int) -> LazyExtra:
        """Lines ``[start, stop)``, still lazy."""

    @abstractmethod
    def select(self, keep: Sequence[int]) -> LazyExtra:
        """The lines at the indexes ``keep``, in that order, still lazy."""

    def values(self, name: str) -> list[Any] | None:
        """Each line's ``extra[name]`` (None where absent), or None when no line has the
        key; a subclass answers from its columns without building the dicts."""
        return _values_of(self.materialise() or (), name)


def _values_of(dicts: Sequence[dict[str, Any] | None], name: str) -> list[Any] | None:
    """Each dict's ``name`` (None where absent), or None when no dict has the key."""
    values = [e.get(name) if e else None for e in dicts]
    return values if any(e is not None and name in e for e in dicts) else None


@dataclass(slots=True)
class Columns:
    """Records of one source file, one list per field, all of the same length.

    An optional column is ``None`` when the format never has that field, which saves
    building a list of ``None`` for every line. Columns are built once by a parser and
    then only read: treat an instance as immutable once it has left the parser.
    """

    time: list[float] = field(default_factory=list)
    client: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    user: list[str | None] | None = None
    method: list[str | None] | None = None
    query: list[str | None] | None = None
    protocol: list[str | None] | None = None
    referer: list[str | None] | None = None
    agent: list[str | None] | None = None
    duration: list[float | None] | None = None
    #: Reading it always gives dicts; a parser may store a :class:`LazyExtra` instead
    #: (:meth:`set_lazy_extra`), made into the dicts on the first read.
    extra: list[dict[str, Any] | None] | None = None
    #: Set instead of ``offset`` by parsers whose every line parsed: the chunk's bytes and
    #: its start offset, from which :meth:`offsets` derives line offsets when asked.
    raw: tuple[builtins.bytes, int] | None = None
    #: Set by a parser whose ``extra`` values were checked when it built them (text cut
    #: from the line by construction, or whole columns checked by
    #: :func:`omphalos.validate.extra_column_ok`): the range check then skips them instead
    #: of looking at each line's dict. Never sent on the wire, not compared, and not
    #: carried by :meth:`slice`, :meth:`select` or ``concat``: any other extras are checked.
    extra_checked: bool = field(default=False, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.time)

    def offsets(self) -> list[int]:
        """Byte offset of each line's start in its file (computed once, on first use)."""
        if len(self.offset) != len(self.time) and self.raw is not None:
            data, start = self.raw
            lines = data.split(b"\n")
            lines.pop()  # the chunk ends with a newline: the last item is empty
            self.offset = list(map(add, accumulate(map(len, lines), initial=start),
                                   range(len(lines))))[: len(lines)]
            self.raw = None
        return self.offset

    def lazy_extra(self) -> list[dict[str, Any] | None] | LazyExtra | None:
        """``extra`` as stored: a :class:`LazyExtra` is not made into dicts (for code that
        can answer without them: slicing, the range check, derived dimensions)."""
        stored: list[dict[str, Any] | None] | LazyExtra | None = _EXTRA_SLOT.__get__(self)
        return stored

    def set_lazy_extra(self, extra: LazyExtra | None) -> None:
        """Store ``extra`` to be made into dicts when first read."""
        _EXTRA_SLOT.__set__(self, extra)

    def extra_values(self, name: str) -> list[Any] | None:
        """Each line's ``extra[name]`` (None where absent), or None when no line has it;
        lazy extras answer from their columns."""
        stored = self.lazy_extra()
        if stored is None:
            return None
        if isinstance(stored, LazyExtra):
            return stored.values(name)
        return _values_of(stored, name)

    def column(self, name: str) -> Sequence[Any]:
        """The named column, a list of ``None`` when the format lacks it."""
        values = getattr(self, name)
        return values if values is not None else [None] * len(self.time)

    def rows(self, host: str = "", file: str = "") -> Iterator[Record]:
        """Each line as a :class:`Record`; ``host`` and ``file`` come from the batch."""
        n = len(self.time)
        nones = [None] * n
        self.offsets()
        cols = [getattr(self, f) if getattr(self, f) is not None else nones
                for f in COLUMN_FIELDS]
        for t, cl, us, me, pa, qu, pr, st, by, re, ag, du, of, ex in zip(*cols):
            yield Record(t, host, file, cl, us, me, pa, qu, pr, st, by, re, ag, du, of, ex)

    def append(self, record: Record) -> None:
        """Add one record (slow path: parsers build whole lists where they can)."""
        self.offsets()
        for name in COLUMN_FIELDS:
            values = getattr(self, name)
            value = getattr(record, name)
            if values is None:
                if value is None:
                    continue
                values = [None] * len(self.time)
                setattr(self, name, values)
            values.append(value)
        n = len(self.time)
        for name in OPTIONAL_COLUMNS:
            values = getattr(self, name)
            if values is not None and len(values) < n:
                values.append(None)

    def slice(self, start: int, stop: int) -> Columns:
        """Lines ``[start, stop)`` as a new instance (list slices: C speed). Line offsets are
        included only if they were computed: a slice is for counting, not de-duplication."""
        out = Columns()
        complete = len(self.offset) == len(self.time)
        for name in COLUMN_FIELDS:
            values = getattr(self, name) if name != "extra" else self.lazy_extra()
            if isinstance(values, LazyExtra):
                out.set_lazy_extra(values.slice(start, stop))
            elif values is not None and (name != "offset" or complete):
                setattr(out, name, values[start:stop])
        return out

    def select(self, keep: Sequence[int]) -> Columns:
        """A new instance holding only the lines at the indexes ``keep``, in that order."""
        out = Columns()
        self.offsets()
        for name in COLUMN_FIELDS:
            values = getattr(self, name) if name != "extra" else self.lazy_extra()
            if isinstance(values, LazyExtra):
                out.set_lazy_extra(values.select(keep))
            elif values is not None:
                setattr(out, name, [values[i] for i in keep])
        return out

    @classmethod
    def from_records(cls, records: Sequence[Record]) -> Columns:
        """Columns holding ``records`` (host and file are dropped: they belong to the batch)."""
        out = cls()
        for record in records:
            out.append(record)
        return out


#: The slot that holds ``extra`` (a list, a :class:`LazyExtra` or None); the public
#: attribute becomes a property over it that makes a lazy one into dicts on first read.
_EXTRA_SLOT: Any = Columns.__dict__["extra"]


def _get_extra(self: Columns) -> list[dict[str, Any] | None] | None:
    stored = _EXTRA_SLOT.__get__(self)
    if isinstance(stored, LazyExtra):
        stored = stored.materialise()
        _EXTRA_SLOT.__set__(self, stored)
    result: list[dict[str, Any] | None] | None = stored
    return result


setattr(Columns, "extra", property(_get_extra, _EXTRA_SLOT.__set__,  # noqa: B010
                                   doc="Each line's ``extra`` dict (see the module doc)."))
