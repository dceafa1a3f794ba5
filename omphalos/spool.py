"""A bounded on-disk FIFO queue of byte strings that survives restarts.

Transports spool serialized batches here while their receiver is unreachable, and storage
outputs spool documents while their database is down; both drain it in order when the other
side returns. The queue is bounded in bytes: :meth:`Spool.append` returns False when an item
does not fit, and the caller then stops taking work (a monitor stops reading: the log files
themselves become the buffer), so nothing is ever dropped silently.

Usage::

    spool = Spool("/var/lib/omphalos/spool/transport-zmq", max_bytes=256 << 20)
    if not spool.append(payload):       # False: full, keep payload and push back
        ...
    for item in spool.peek(8):          # the oldest items, in order, still queued
        send(item)
    spool.pop(2)                        # the two oldest were delivered: forget them
    spool.close()

Layout: numbered segment files (``00000001.seg``...) of records ``[u32 length][u32 crc32]
[payload]``, plus ``head`` holding the segment and offset of the oldest unconsumed record. A
record torn by a crash while it was being written is detected by its length or checksum and
cut off when the spool is opened again. Segments wholly consumed are deleted.

**A full disk.** An append that fails (ENOSPC, EIO: any ``OSError``) leaves nothing behind:
the segment is cut back to where the record began, and the error reaches the caller
(:mod:`omphalos.delivery` then pauses and retries). Taking items out never needs new space,
so a full spool always drains: ``head`` is two fixed slots (sequence number, segment,
offset, checksum) overwritten in place, alternately, inside the blocks the file already has;
the newest slot with a valid checksum wins when the spool is opened again, so a write torn
by a crash falls back to the previous head (items re-sent, never lost). Should even that
write fail, the head is kept in memory and written at the next pop or at close. One process
at a time uses a spool directory (an exclusive POSIX ``lockf`` on ``lock``: another process
opening it gets SpoolError); its methods may be called from any thread.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import struct
import threading
import zlib
from collections import deque
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

__all__ = ["Spool", "SpoolError", "spool_path"]


def spool_path(state_dir: str, component: str, configured: str = "") -> str:
    """The spool directory of ``component``: ``configured``, else one under ``state_dir``."""
    if configured:
        return os.path.expanduser(configured)
    safe = component.replace(":", "-").replace("/", "-")
    return os.path.join(state_dir, "spool", safe)


def worker_spool_dir(configured: str, state_dir: str, component: str, worker: int) -> str:
    """The spool directory of ``component``'s copy in worker process ``worker``
    (``workers = N``): never shared with another worker's copy."""
    if configured:
        return os.path.join(os.path.expanduser(configured), f"worker-{worker}")
    return spool_path(state_dir, f"{component}-worker-{worker}")

class _SpoolOptions(Protocol):
    @property
    def spool_dir(self) -> str: ...


_S = TypeVar("_S", bound=_SpoolOptions)


def spool_apart(config: _S, component: str, worker: int, state_dir: str) -> _S:
    """``config`` (a dataclass with a ``spool_dir`` option) for ``component``'s copy in worker
    process ``worker``: its own spool directory (:func:`worker_spool_dir`). What a spooling
    transport's ``for_worker`` returns."""
    spool = worker_spool_dir(config.spool_dir, state_dir, component, worker)
    return cast(_S, dataclasses.replace(cast(Any, config), spool_dir=spool))


_HEADER = struct.Struct("<II")
_HEAD = struct.Struct("<QQ")  # the head file of spools written before the two slots
#: One head slot: sequence number, segment, offset, crc32 of the three.
_SLOT = struct.Struct("<QQQI")
_SLOT_BYTES = 32


class SpoolError(ValueError):
    """An item that can never fit (larger than the spool), or a spool used after close."""


class Spool:
    """Bounded FIFO of byte strings kept in ``directory``.

    ``max_bytes`` bounds the unconsumed data on disk (records plus their 8-byte headers);
    ``segment_bytes`` is the size at which a new segment file is started; ``fsync`` forces
    every append and pop to the disk (slower; without it a power loss may lose the last
    appends, a process crash never does).
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int,
                 segment_bytes: int = 4 << 20, fsync: bool = False) -> None:
        if max_bytes <= _HEADER.size:
            raise SpoolError("max_bytes is too small")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = max(segment_bytes, 4096)
        self.fsync = fsync
        self._lock = threading.Lock()
        #: (segment number, offset, payload length) of every queued record, oldest first.
        self._index: deque[tuple[int, int, int]] = deque()
        self._bytes = 0
        #: (segment number, file descriptor, size) of the segment appended to.
        self._writer: tuple[int, int, int] | None = None
        self._head_fd: int | None = None
        self._head_seq = 0
        #: The head could not be written (disk full): write it at the next chance.
        self._head_dirty = False
        self._closed = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(self.directory / "lock", "wb")  # held until close()
        try:
            fcntl.lockf(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise SpoolError(f"spool {self.directory} is in use by another process") from None
        self._recover()
        self._save_head()  # both slots written now: later pops overwrite them in place
        self._save_head()

    # -- state ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Items queued."""
        return len(self._index)

    @property
    def queued_bytes(self) -> int:
        """Bytes queued (payloads plus record headers)."""
        return self._bytes

    def fits(self, size: int) -> bool:
        """Would an item of ``size`` bytes be accepted now?"""
        return self._bytes + size + _HEADER.size <= self.max_bytes

    def could_fit(self, size: int) -> bool:
        """Would an item of ``size`` bytes fit an empty spool (else it never will)?"""
        return size + _HEADER.size <= self.max_bytes

    @property
    def full(self) -> bool:
        """True when not even a small item fits any more (less than 1% or 64 KiB free)."""
        return not self.fits(min(65536, self.max_bytes // 100))

    def status(self) -> dict[str, object]:
        """Counts for status pages: items, bytes, bound and whether it is full."""
        return {"items": len(self._index), "bytes": self._bytes, "max_bytes": self.max_bytes,
                "full": self.full}

    # -- queue operations ----------------------------------------------------------------
    def append(self, item: bytes) -> bool:
        """Queue ``item`` at the tail; False (nothing written) when it does not fit now.

        Raises SpoolError when the item could never fit, whatever is drained, and OSError
        (ENOSPC, EIO...) when the disk refused it: then nothing of it is kept.
        """
        size = len(item) + _HEADER.size
        if size > self.max_bytes:
            raise SpoolError(f"item of {len(item)} bytes exceeds the spool's {self.max_bytes}")
        with self._lock:
            self._check_open()
            if self._bytes + size > self.max_bytes:
                return False
            segment, fd, offset = self._segment_for(size)
            record = memoryview(_HEADER.pack(len(item), zlib.crc32(item)) + item)
            try:
                written = 0
                while written < len(record):
                    written += os.write(fd, record[written:])
                if self.fsync:
                    os.fsync(fd)
            except OSError:
                self._cut_back(fd, offset)
                # the next append starts a new segment, so that this one, once drained,
                # is deleted and gives its space back
                os.close(fd)
                self._writer = None
                raise
            self._writer = (segment, fd, offset + len(record))
            self._index.append((segment, offset, len(item)))
            self._bytes += size
            return True

    def peek(self, count: int = 1, skip: int = 0) -> list[bytes]:
        """The ``count`` oldest items after the ``skip`` oldest (fewer when fewer are
        queued); they stay queued."""
        with self._lock:
            self._check_open()
            out: list[bytes] = []
            for i in range(skip, min(skip + count, len(self._index))):
                segment, offset, length = self._index[i]
                out.append(self._read(segment, offset, length))
            return out

    def pop(self, count: int = 1) -> int:
        """Forget the ``count`` oldest items (they were delivered); returns how many."""
        with self._lock:
            self._check_open()
            done = 0
            while done < count and self._index:
                _, _, length = self._index.popleft()
                self._bytes -= length + _HEADER.size
                done += 1
            if done:
                if not self._index and self._writer is not None:
                    os.close(self._writer[1])  # all drained: the next append starts afresh
                    self._writer = None
                self._save_head()
                self._drop_consumed()
            return done

    def sync(self) -> None:
        """Write a head that a full disk kept in memory (a no-op otherwise)."""
        with self._lock:
            if self._head_dirty and not self._closed:
                self._save_head()

    def close(self) -> None:
        """Close the open segment; the queue stays on disk for the next instance."""
        with self._lock:
            if self._head_dirty and not self._closed:
                self._save_head()
            if self._writer is not None:
                os.close(self._writer[1])
                self._writer = None
            if self._head_fd is not None:
                os.close(self._head_fd)
                self._head_fd = None
            if not self._closed:
                self._lockfile.close()  # releases the lock
            self._closed = True

    # -- internals -----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError(f"spool {self.directory} is closed")

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}.seg"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())

    def _segment_for(self, size: int) -> tuple[int, int, int]:
        """(segment, descriptor, end) to append to, starting a new segment when the current
        one is big."""
        if self._writer is not None:
            segment, fd, end = self._writer
            if end + size <= self.segment_bytes or end == 0:
                return segment, fd, end
            os.close(fd)
            self._writer = None
            segment += 1
        else:
            existing = self._segments()
            segment = existing[-1] + 1 if existing else 1
        fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        end = os.fstat(fd).st_size
        self._writer = (segment, fd, end)
        return segment, fd, end

    def _cut_back(self, fd: int, offset: int) -> None:
        """Cut a segment back to ``offset`` after a failed write (truncating needs no
        space)."""
        try:
            os.ftruncate(fd, offset)
        except OSError:  # pragma: no cover - then recovery cuts the torn record
            pass

    def _read(self, segment: int, offset: int, length: int) -> bytes:
        with open(self._path(segment), "rb") as fh:
            fh.seek(offset + _HEADER.size)
            return fh.read(length)

    def _save_head(self) -> None:
        """Overwrite the older of the two head slots in place (no new space needed)."""
        if self._index:
            segment, offset, _ = self._index[0]
        elif self._writer is not None:
            segment, _, offset = self._writer
        else:
            segment, offset = 0, 0
        seq = self._head_seq + 1
        slot = _SLOT.pack(seq, segment, offset, zlib.crc32(_HEAD.pack(segment, offset) +
                                                           seq.to_bytes(8, "little")))
        try:
            if self._head_fd is None:
                self._head_fd = os.open(self.directory / "head", os.O_RDWR | os.O_CREAT, 0o600)
            os.pwrite(self._head_fd, slot.ljust(_SLOT_BYTES, b"\0"), (seq % 2) * _SLOT_BYTES)
            if self.fsync:
                os.fsync(self._head_fd)
        except OSError:
            self._head_dirty = True  # kept in memory; written at the next pop or close
            return
        self._head_seq = seq
        self._head_dirty = False

    def _load_head(self) -> tuple[int, int]:
        """(segment, offset) of the saved head: the newest valid slot, or the old format."""
        try:
            data = (self.directory / "head").read_bytes()
        except OSError:
            return 0, 0
        if len(data) == _HEAD.size:
            return _HEAD.unpack(data)  # a spool written before the two slots
        best: tuple[int, int, int] | None = None
        for i in (0, 1):
            chunk = data[i * _SLOT_BYTES: i * _SLOT_BYTES + _SLOT.size]
            if len(chunk) < _SLOT.size:
                continue
            seq, segment, offset, crc = _SLOT.unpack(chunk)
            if crc != zlib.crc32(_HEAD.pack(segment, offset) + seq.to_bytes(8, "little")):
                continue  # torn by a crash: the other slot is the head
            if best is None or seq > best[0]:
                best = (seq, segment, offset)
        if best is None:
            return 0, 0
        self._head_seq = best[0]
        return best[1], best[2]

    def _drop_consumed(self) -> None:
        first = self._index[0][0] if self._index else None
        current = self._writer[0] if self._writer is not None else None
        for segment in self._segments():
            if (first is None or segment < first) and segment != current:
                self._path(segment).unlink(missing_ok=True)

    def _recover(self) -> None:
        """Rebuild the index from the segments, starting at the saved head."""
        head_segment, head_offset = self._load_head()
        for segment in self._segments():
            path = self._path(segment)
            if segment < head_segment:
                path.unlink(missing_ok=True)
                continue
            data = path.read_bytes()
            pos = head_offset if segment == head_segment else 0
            while pos + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, pos)
                body = data[pos + _HEADER.size: pos + _HEADER.size + length]
                if len(body) != length or zlib.crc32(body) != crc:
                    break
                self._index.append((segment, pos, length))
                self._bytes += length + _HEADER.size
                pos += _HEADER.size + length
            if pos < len(data):  # a torn record at the end: cut it off
                with open(path, "r+b") as fh:
                    fh.truncate(pos)
        if not self._index:
            for segment in self._segments():
                self._path(segment).unlink(missing_ok=True)
