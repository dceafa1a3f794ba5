"""A small, mergeable HyperLogLog: distinct counts (unique visitors) in bounded memory.

Flajolet, Fusy, Gandouet, Meunier (2007), with the small-range (linear counting)
correction; hashes are 64-bit, so no large-range correction is needed. ``2 ** precision``
registers of one byte each: 16 KiB at the default precision 14, whatever the number of
distinct items, and a **relative standard error of** ``1.04 / sqrt(2 ** precision)``
(:func:`standard_error`: 0.81% at precision 14). Below about ``2.5 x 2 ** precision``
items the linear-counting estimate is used, which is nearly exact for small counts.

**Sparse until it fills.** A sketch starts *sparse*: a sorted array of its non-zero
registers, 4 bytes each (``index << 6 | value``), so a window bucket's host part of a few
hundred visitors holds a kilobyte or two, not 16 KiB of mostly zeros. Once more than
:func:`sparse_limit` registers are set (``2 ** precision / 16``: 1,024 at precision 14,
4 KiB of entries, a quarter of the dense size) it converts to the dense registers, for
good. The form is invisible from outside: the registers (:attr:`HyperLogLog.registers`)
and so every estimate are the same whichever form holds them.

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
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from xxhash import xxh3_64_intdigest

__all__ = ["HyperLogLog", "KeyedUniques", "union_estimate", "hash64", "seeded_hashes",
           "standard_error", "sparse_limit", "DEFAULT_PRECISION"]

#: Registers are ``2 ** precision``; 14 gives 16 KiB and 0.81% standard error.
DEFAULT_PRECISION = 14

#: A sparse entry is ``index << _VALUE_BITS | value`` (a value is at most 61 < 64).
_VALUE_BITS = 6
_VALUE_MASK = (1 << _VALUE_BITS) - 1
#: The array type of sparse entries: 4 bytes (24 bits are needed at precision 18).
_ENTRY = "I" if array("I").itemsize == 4 else "L"
#: Up to this many new registers are inserted in place; more rebuild the sorted array.
_INSERT_IN_PLACE = 32
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
    """The most non-zero registers a sketch keeps sparse: ``2 ** precision // 16`` (its
    entries then take a quarter of the dense registers' bytes); one more makes it dense."""
    return (1 << precision) >> 4


def _check_precision(precision: int) -> None:
    if not 4 <= precision <= 18:
        raise ValueError(f"precision must be between 4 and 18, got {precision!r}")


class HyperLogLog:
    """Registers of one HyperLogLog sketch; add 64-bit hashes, merge, estimate.

    ``_data`` is the dense ``bytearray`` of registers, or (sparse) the sorted ``array``
    of ``index << 6 | value`` entries of the non-zero ones."""

    __slots__ = ("_data", "precision")

    def __init__(self, precision: int = DEFAULT_PRECISION) -> None:
        _check_precision(precision)
        self.precision = precision
        self._data: bytearray | array[int] = array(_ENTRY)

    @property
    def is_sparse(self) -> bool:
        """Whether the sketch still holds only its non-zero registers."""
        return not isinstance(self._data, bytearray)

    @property
    def registers(self) -> bytearray:
        """The ``2 ** precision`` registers: the sketch's own when dense, a new copy when
        sparse (change them only through :meth:`add_hashes` and :meth:`merge`)."""
        data = self._data
        if isinstance(data, bytearray):
            return data
        return self._dense_of(data)

    @registers.setter
    def registers(self, registers: bytes | bytearray) -> None:
        if len(registers) != 1 << self.precision:
            raise ValueError("HyperLogLog registers do not match its precision")
        self._data = self._compact(registers)

    def _dense_of(self, entries: array[int]) -> bytearray:
        regs = bytearray(1 << self.precision)
        for entry in entries:
            regs[entry >> _VALUE_BITS] = entry & _VALUE_MASK
        return regs

    def _compact(self, registers: bytes | bytearray) -> bytearray | array[int]:
        """Registers in the form their number of non-zero ones calls for (a copy)."""
        m = len(registers)
        if m - registers.count(0) > sparse_limit(self.precision):
            return bytearray(registers)
        return array(_ENTRY, [match.start() << _VALUE_BITS | registers[match.start()]
                              for match in _NON_ZERO.finditer(registers)])

    def copy(self) -> HyperLogLog:
        """An independent sketch with the same registers (and form)."""
        out = HyperLogLog.__new__(HyperLogLog)
        out.precision = self.precision
        data = self._data
        out._data = bytearray(data) if isinstance(data, bytearray) else array(_ENTRY, data)
        return out

    def add_hashes(self, hashes: Iterable[int]) -> None:
        """Add items given by their :func:`hash64`."""
        p = self.precision
        shift = 64 - p
        low = (1 << shift) - 1
        regs = self._data
        if isinstance(regs, bytearray):
            for h in hashes:
                index = h >> shift
                rank = shift - (h & low).bit_length() + 1
                if rank > regs[index]:
                    regs[index] = rank
            return
        new: dict[int, int] = {}
        get = new.get
        for h in hashes:
            index = h >> shift
            rank = shift - (h & low).bit_length() + 1
            if rank > get(index, 0):
                new[index] = rank
        if new:
            self._update_sparse(new)

    def _update_sparse(self, new: dict[int, int]) -> None:
        """Raise the sparse registers to ``new``'s values (index: value) where larger; the
        sketch turns dense when more than :func:`sparse_limit` are then non-zero."""
        entries = self._data
        assert not isinstance(entries, bytearray)
        limit = sparse_limit(self.precision)
        if len(new) <= _INSERT_IN_PLACE:
            for index, value in new.items():
                key = index << _VALUE_BITS
                at = bisect_left(entries, key)
                if at < len(entries) and entries[at] >> _VALUE_BITS == index:
                    if value > entries[at] & _VALUE_MASK:
                        entries[at] = key | value
                else:
                    entries.insert(at, key | value)
            if len(entries) > limit:
                self._data = self._dense_of(entries)
            return
        merged = {entry >> _VALUE_BITS: entry & _VALUE_MASK for entry in entries}
        get = merged.get
        for index, value in new.items():
            if value > get(index, 0):
                merged[index] = value
        if len(merged) > limit:
            regs = bytearray(1 << self.precision)
            for index, value in merged.items():
                regs[index] = value
            self._data = regs
        else:
            self._data = array(_ENTRY, sorted(
                [index << _VALUE_BITS | value for index, value in merged.items()]))

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
            for entry in mine:
                index, value = entry >> _VALUE_BITS, entry & _VALUE_MASK
                if value > regs[index]:
                    regs[index] = value
            self._data = regs
        elif isinstance(mine, bytearray):
            for entry in theirs:
                index, value = entry >> _VALUE_BITS, entry & _VALUE_MASK
                if value > mine[index]:
                    mine[index] = value
        elif theirs:
            self._update_sparse({entry >> _VALUE_BITS: entry & _VALUE_MASK
                                 for entry in theirs})

    def estimate(self) -> int:
        """The estimated number of distinct items added (the same for either form: a
        correctly rounded sum, :func:`math.fsum`, does not depend on how it is grouped)."""
        m = 1 << self.precision
        data = self._data
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
        data = self._data
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
            self.precision = precision
            form = self._compact(registers)
        self.precision = precision
        self._data = form

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
            regs = bytearray(m)
            for entry in entries:
                regs[entry >> _VALUE_BITS] = entry & _VALUE_MASK
            return regs
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
