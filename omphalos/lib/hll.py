"""A small, mergeable HyperLogLog: distinct counts (unique visitors) in bounded memory.

Flajolet, Fusy, Gandouet, Meunier (2007), with the small-range (linear counting)
correction; hashes are 64-bit, so no large-range correction is needed. ``2 ** precision``
registers of one byte each: 16 KiB at the default precision 14, whatever the number of
distinct items, and a **relative standard error of** ``1.04 / sqrt(2 ** precision)``
(:func:`standard_error`: 0.81% at precision 14). Below about ``2.5 x 2 ** precision``
items the linear-counting estimate is used, which is nearly exact for small counts.

**Sparse until it fills.** A sketch starts *sparse*: an array of its non-zero registers,
4 bytes each (``index << 6 | value``), so a window bucket's host part of a few hundred
visitors holds a kilobyte or two, not 16 KiB of mostly zeros. Hashes are appended at C
speed and sorted in (one entry per register, the largest) once the unsorted tail is as
long as the sorted part. Once more than :func:`sparse_limit` registers are set
(``2 ** precision / 32``: 512 at precision 14, 2 KiB of entries, an eighth of the dense
size) it converts to the dense registers, for good. The form is invisible from outside:
the registers (:attr:`HyperLogLog.registers`) and so every estimate are the same whichever
form holds them, and saves of the dense layout load (as sparse when few are set).

Sketches of the same precision merge by taking the larger register (:meth:`merge`): the
union of what each saw, so counts merge across hosts, buckets of a window and worker
processes. Items are hashed with :func:`hash64` (XXH3-64 from ``xxhash``: stable across
processes and machines, which Python's own ``hash`` of a string is not, and ten times
faster than BLAKE2b here, which matters when almost every line is a new visitor).
"""

from __future__ import annotations

import math
import re
import sys
import zlib
from array import array
from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from operator import and_, lshift, or_, rshift, sub
from typing import Any

from xxhash import xxh3_64_intdigest

from omphalos import speedups

__all__ = ["HyperLogLog", "KeyedUniques", "add_uniques", "entries_of", "union_estimate",
           "hash64", "seeded_hashes",
           "standard_error", "sparse_limit", "DEFAULT_PRECISION"]

#: Registers are ``2 ** precision``; 14 gives 16 KiB and 0.81% standard error.
DEFAULT_PRECISION = 14

#: A sparse entry is ``index << _VALUE_BITS | value`` (a value is at most 61 < 64).
_VALUE_BITS = 6
_VALUE_MASK = (1 << _VALUE_BITS) - 1
#: The array type of sparse entries: 4 bytes (24 bits are needed at precision 18).
_ENTRY = "I" if array("I").itemsize == 4 else "L"
#: The sparse tail is sorted in when longer than this and than the settled entries.
_TAIL_MIN = 64
_NON_ZERO = re.compile(rb"[^\x00]")


def hash64(text: str) -> int:
    """A 64-bit hash of ``text`` (its UTF-8), the same in every process."""
    return xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


def seeded_hashes(texts: Sequence[str], seeds: Sequence[int]) -> list[int]:
    """The 64-bit hash of each of ``texts`` (its UTF-8) with the seed at the same place
    (at C speed when all are plain UTF-8): a pair hashed without building its text."""
    try:
        return list(map(xxh3_64_intdigest, map(str.encode, texts), seeds))
    except UnicodeEncodeError:  # a lone surrogate (bytes a parser kept as they were)
        return [xxh3_64_intdigest(t.encode("utf-8", "surrogatepass"), s)
                for t, s in zip(texts, seeds)]


def standard_error(precision: int = DEFAULT_PRECISION) -> float:
    """The relative standard error of an estimate, ``1.04 / sqrt(2 ** precision)``."""
    return 1.04 / math.sqrt(1 << precision)


def sparse_limit(precision: int = DEFAULT_PRECISION) -> int:
    """The most non-zero registers a sketch keeps sparse: ``2 ** precision // 32`` (its
    entries then take an eighth of the dense registers' bytes); one more makes it dense."""
    return (1 << precision) >> 5


def _check_precision(precision: int) -> None:
    if not 4 <= precision <= 18:
        raise ValueError(f"precision must be between 4 and 18, got {precision!r}")


def _add_dense(regs: bytearray, hashes: Iterable[int], shift: int, low: int) -> None:
    """Raise dense registers to the ranks of ``hashes`` (``shift`` = 64 - precision);
    compiled where built (:mod:`omphalos.speedups`), for a list of 64-bit hashes."""
    if speedups.add_dense is not None and isinstance(hashes, list) \
            and speedups.add_dense(regs, hashes, shift, low):
        return
    for h in hashes:
        index = h >> shift
        rank = shift - (h & low).bit_length() + 1
        if rank > regs[index]:
            regs[index] = rank


def _dense(entries: Iterable[int], precision: int) -> bytearray:
    """The ``2 ** precision`` registers of sparse entries, one per register."""
    regs = bytearray(1 << precision)
    for entry in entries:
        regs[entry >> _VALUE_BITS] = entry & _VALUE_MASK
    return regs


def _raise_to(regs: bytearray, entries: Iterable[int]) -> None:
    """Raise dense registers to the values of sparse entries (a merge)."""
    for entry in entries:
        index, value = entry >> _VALUE_BITS, entry & _VALUE_MASK
        if value > regs[index]:
            regs[index] = value


def _chunk(precision: int) -> int:
    """The most entries a sparse sketch takes at once (twice its limit)."""
    return max(_TAIL_MIN, 2 * sparse_limit(precision))


def _settled(entries: Iterable[int], precision: int) -> bytearray | array[int]:
    """Sparse ``entries`` (any order, repeats) as one sorted entry per register, the
    largest (a dict by register index keeps the last of each, in the sorted order of
    first insertion); the dense registers when more than :func:`sparse_limit` are set."""
    merged = sorted(entries)
    best = dict(zip(map(rshift, merged, repeat(_VALUE_BITS)), merged))
    if len(best) > sparse_limit(precision):
        return _dense(best.values(), precision)
    return array(_ENTRY, best.values())


def entries_of(hashes: Sequence[int], precision: int) -> array[int]:
    """The sparse entry (``index << 6 | rank``) of each of ``hashes`` at ``precision``,
    at C speed."""
    shift = 64 - precision
    low = (1 << shift) - 1
    ranks = map(sub, repeat(shift + 1), map(int.bit_length, map(and_, hashes, repeat(low))))
    return array(_ENTRY, map(or_, map(lshift, map(rshift, hashes, repeat(shift)),
                                      repeat(_VALUE_BITS)), ranks))


class HyperLogLog:
    """Registers of one HyperLogLog sketch; add 64-bit hashes, merge, estimate.

    ``_data`` is the dense ``bytearray`` of registers, or (sparse) an ``array`` of
    ``index << 6 | value`` entries of the non-zero ones: its first ``_settled`` sorted,
    one per register, then a tail of what was added since, in any order and with repeats.
    The tail is sorted in (:meth:`_settle`) when it is as long as the settled part, and
    before anything reads the registers, so adding costs no bytecode per hash."""

    __slots__ = ("_data", "_settled", "precision")

    def __init__(self, precision: int = DEFAULT_PRECISION) -> None:
        _check_precision(precision)
        self.precision = precision
        self._data: bytearray | array[int] = array(_ENTRY)
        self._settled = 0

    @property
    def is_sparse(self) -> bool:
        """Whether the sketch still holds only its non-zero registers."""
        return not isinstance(self._settle(), bytearray)

    def _settle(self) -> bytearray | array[int]:
        """The registers with the sparse tail sorted in, one entry per register (the
        largest: a dict by register index keeps the last of each, in the sorted order of
        first insertion); dense when more than :func:`sparse_limit` are then set."""
        data = self._data
        if isinstance(data, bytearray) or self._settled == len(data):
            return data
        self._data = form = _settled(data, self.precision)
        self._settled = len(form)
        return form

    @property
    def registers(self) -> bytearray:
        """The ``2 ** precision`` registers: the sketch's own when dense, a new copy when
        sparse (change them only through :meth:`add_hashes` and :meth:`merge`)."""
        data = self._settle()
        if isinstance(data, bytearray):
            return data
        return _dense(data, self.precision)

    @registers.setter
    def registers(self, registers: bytes | bytearray) -> None:
        if len(registers) != 1 << self.precision:
            raise ValueError("HyperLogLog registers do not match its precision")
        self._data = self._compact(registers, self.precision)
        self._settled = len(self._data)

    @staticmethod
    def _compact(registers: bytes | bytearray, precision: int) -> bytearray | array[int]:
        """Registers in the form their number of non-zero ones calls for (a copy)."""
        m = len(registers)
        if m - registers.count(0) > sparse_limit(precision):
            return bytearray(registers)
        return array(_ENTRY, [match.start() << _VALUE_BITS | registers[match.start()]
                              for match in _NON_ZERO.finditer(registers)])

    def copy(self) -> HyperLogLog:
        """An independent sketch with the same registers (and form)."""
        out = HyperLogLog.__new__(HyperLogLog)
        out.precision = self.precision
        data = self._settle()
        out._data = bytearray(data) if isinstance(data, bytearray) else array(_ENTRY, data)
        out._settled = len(out._data)
        return out

    def add_hashes(self, hashes: Iterable[int]) -> None:
        """Add items given by their :func:`hash64`. A sparse sketch takes them in chunks
        of twice its limit, so a huge batch never makes it hold more than three times
        its limit of entries (settled ones and the tail)."""
        regs = self._data
        if isinstance(regs, bytearray):
            shift = 64 - self.precision
            _add_dense(regs, hashes, shift, (1 << shift) - 1)
            return
        self.add_entries(entries_of(hashes if isinstance(hashes, list) else list(hashes),
                                    self.precision))

    def add_entries(self, entries: array[int]) -> None:
        """Add items given by their entries (:func:`entries_of` at this precision): what
        :meth:`add_hashes` does, for entries worked out once for several sketches."""
        regs = self._data
        if isinstance(regs, bytearray):
            _raise_to(regs, entries)
            return
        step = _chunk(self.precision)
        for start in range(0, len(entries), step):
            if isinstance(regs, bytearray):  # turned dense: the rest as dense
                _raise_to(regs, entries[start:])
                return
            regs.extend(entries[start:start + step] if len(entries) > step else entries)
            self._grown()
            regs = self._data

    def _grown(self) -> None:
        """Settle a sparse tail as long as the settled part (and at least
        ``_TAIL_MIN``): amortised, each entry is sorted in a few times at most."""
        if len(self._data) - self._settled > max(_TAIL_MIN, self._settled):
            self._settle()

    def merge(self, other: HyperLogLog) -> None:
        """The union of both sketches (same precision only)."""
        if other.precision != self.precision:
            raise ValueError(f"cannot merge precision {other.precision} into "
                             f"{self.precision}")
        mine, theirs = self._data, other._data
        if isinstance(theirs, bytearray):
            if isinstance(mine, bytearray):
                self._data = bytearray(map(max, mine, theirs))
                return
            regs = bytearray(theirs)  # more than the limit set: the union is dense too
            _raise_to(regs, mine)
            self._data = regs
        elif isinstance(mine, bytearray):
            _raise_to(mine, theirs)
        elif theirs:  # repeats of a register are fine in the tail
            mine.extend(theirs)
            self._grown()

    def estimate(self) -> int:
        """The estimated number of distinct items added (the same for either form: a
        correctly rounded sum, :func:`math.fsum`, does not depend on how it is grouped)."""
        m = 1 << self.precision
        data = self._settle()
        if isinstance(data, bytearray):
            zeros = data.count(0)
            if zeros == m:
                return 0
            total = math.fsum(2.0 ** -r for r in data)
        else:
            zeros = m - len(data)
            if zeros == m:
                return 0
            total = math.fsum(chain((float(zeros),),
                                    (2.0 ** -(entry & _VALUE_MASK) for entry in data)))
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / total
        if raw <= 2.5 * m and zeros:
            return round(m * math.log(m / zeros))
        return round(raw)

    def to_state(self) -> dict[str, Any]:
        """Precision and registers as plain data: a sparse sketch's entries
        (``sparse``, 4 bytes each, little-endian), a dense one's registers deflated
        (``deflated``: zlib at level 1, tens of microseconds for 16 KiB)."""
        data = self._settle()
        if isinstance(data, bytearray):
            return {"precision": self.precision, "deflated": zlib.compress(data, 1)}
        if sys.byteorder == "big":
            data = array(_ENTRY, data)
            data.byteswap()
        return {"precision": self.precision, "sparse": data.tobytes()}

    def restore_state(self, data: dict[str, Any]) -> None:
        """Load :meth:`to_state`'s data (or an older state's ``deflated`` or raw
        ``registers`` of the dense layout); ValueError when they are damaged or do not
        fit the precision."""
        precision = int(data["precision"])
        _check_precision(precision)
        if "sparse" in data:
            form = self._sparse_in(bytes(data["sparse"]), precision)
        else:
            if "deflated" in data:
                try:
                    registers = zlib.decompress(bytes(data["deflated"]),
                                                bufsize=1 << precision)
                except zlib.error as exc:
                    raise ValueError(
                        f"saved HyperLogLog registers are damaged: {exc}") from exc
            else:
                registers = bytes(data["registers"])
            if len(registers) != 1 << precision:
                raise ValueError("saved HyperLogLog registers do not match its precision")
            form = self._compact(registers, precision)
        self.precision = precision
        self._data = form
        self._settled = len(form)

    def _sparse_in(self, raw: bytes, precision: int) -> bytearray | array[int]:
        """The checked entries of a saved sparse sketch (dense if over the limit)."""
        if len(raw) % 4:
            raise ValueError("saved sparse HyperLogLog entries are damaged: "
                             f"{len(raw)} bytes is not a whole number of entries")
        entries = array(_ENTRY)
        entries.frombytes(raw)
        if sys.byteorder == "big":
            entries.byteswap()
        m, top = 1 << precision, 64 - precision + 1
        last = -1
        for entry in entries:
            index, value = entry >> _VALUE_BITS, entry & _VALUE_MASK
            if index <= last or index >= m or not 1 <= value <= top:
                raise ValueError("saved sparse HyperLogLog entries are damaged: "
                                 f"register {index} = {value} (out of order or range "
                                 f"at precision {precision})")
            last = index
        if len(entries) > sparse_limit(precision):
            return _dense(entries, precision)
        return entries

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> HyperLogLog:
        out = cls(int(data["precision"]))
        out.restore_state(data)
        return out


class KeyedUniques:
    """One :class:`HyperLogLog` per key (per UTC date for unique visitors), at most
    ``max_keys`` of them: the smallest keys (the oldest dates) go first."""

    __slots__ = ("max_keys", "precision", "sketches")

    def __init__(self, max_keys: int = 366, precision: int = DEFAULT_PRECISION) -> None:
        self.max_keys = max_keys
        self.precision = precision
        self.sketches: dict[Any, HyperLogLog] = {}

    def __bool__(self) -> bool:
        return bool(self.sketches)

    def add(self, hashes_by_key: dict[Any, list[int]]) -> None:
        """Add each key's item hashes."""
        for key, hashes in hashes_by_key.items():
            sketch = self.sketches.get(key)
            if sketch is None:
                self.sketches[key] = sketch = HyperLogLog(self.precision)
            sketch.add_hashes(hashes)
        self._trim()

    def merge(self, other: KeyedUniques) -> None:
        """Add every sketch of ``other`` (a restored bucket, another host's)."""
        for key, sketch in other.sketches.items():
            mine = self.sketches.get(key)
            if mine is None:  # a copy (no max taken over the registers)
                self.sketches[key] = sketch.copy()
            else:
                mine.merge(sketch)
        self._trim()

    def merge_sketches(self, sketches: dict[Any, HyperLogLog]) -> None:
        """Add one sketch per key (those of a stored minute)."""
        for key, sketch in sketches.items():
            mine = self.sketches.get(key)
            if mine is None:
                self.sketches[key] = sketch
            else:
                mine.merge(sketch)
        self._trim()

    def estimate(self, key: Any) -> int:
        sketch = self.sketches.get(key)
        return 0 if sketch is None else sketch.estimate()

    def _trim(self) -> None:
        if len(self.sketches) > self.max_keys:
            for key in sorted(self.sketches)[: len(self.sketches) - self.max_keys]:
                del self.sketches[key]

    def to_state(self) -> dict[str, Any]:
        return {"max_keys": self.max_keys, "precision": self.precision,
                "sketches": {k: s.to_state() for k, s in self.sketches.items()}}

    def restore_state(self, data: dict[str, Any]) -> None:
        self.sketches = {k: HyperLogLog.from_state(s)
                         for k, s in dict(data.get("sketches", {})).items()}
        self._trim()


def add_uniques(targets: Sequence[KeyedUniques], hashes_by_key: dict[Any, list[int]]
                ) -> None:
    """:meth:`KeyedUniques.add` of the same hashes to each of ``targets``, each hash's
    register entry worked out once per precision (each sketch ends as if added alone)."""
    for key, hashes in hashes_by_key.items():
        entries: dict[int, array[int]] = {}
        settled: dict[int, bytearray | array[int]] = {}
        for target in targets:
            sketch = target.sketches.get(key)
            if sketch is None:
                target.sketches[key] = sketch = HyperLogLog(target.precision)
            data = sketch._data
            if isinstance(data, bytearray):
                shift = 64 - sketch.precision
                _add_dense(data, hashes, shift, (1 << shift) - 1)
                continue
            precision = sketch.precision
            found = entries.get(precision)
            if found is None:
                entries[precision] = found = entries_of(hashes, precision)
            if not data and _TAIL_MIN < len(found) <= _chunk(precision):
                # an empty sketch would take them in one chunk and settle them: copy the
                # settled form, sorted once for every empty sketch of this precision
                form = settled.get(precision)
                if form is None:
                    settled[precision] = form = _settled(found, precision)
                sketch._data = copied = (bytearray(form) if isinstance(form, bytearray)
                                         else array(_ENTRY, form))
                sketch._settled = len(copied)
                continue
            sketch.add_entries(found)
    for target in targets:
        target._trim()


def union_estimate(maps: Iterable[KeyedUniques], key: Any) -> int:
    """The distinct items of ``key`` over several keyed sketches (a window's buckets)."""
    found = [m.sketches[key] for m in maps if key in m.sketches]
    if not found:
        return 0
    if len(found) == 1:
        return found[0].estimate()
    union = found[0].copy()
    for sketch in found[1:]:
        union.merge(sketch)
    return union.estimate()
