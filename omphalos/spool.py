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
[payload]``, plus ``head`` holding the segment and offset of the oldest unconsumed record
(replaced atomically on every pop). A record torn by a crash while it was being written is
detected by its length or checksum and cut off when the spool is opened again. Segments wholly
consumed are deleted. One process at a time uses a spool directory (an exclusive POSIX ``lockf`` on
``lock``: another process opening it gets SpoolError); its methods may be called from any
thread.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import zlib
from collections import deque
from pathlib import Path
from typing import BinaryIO

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

_HEADER = struct.Struct("<II")
_HEAD = struct.Struct("<QQ")


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
        self._writer: tuple[int, BinaryIO] | None = None
        self._closed = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(self.directory / "lock", "wb")  # held until close()
        try:
            fcntl.lockf(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise SpoolError(f"spool {self.directory} is in use by another process") from None
        self._recover()

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

        Raises SpoolError when the item could never fit, whatever is drained.
        """
        size = len(item) + _HEADER.size
        if size > self.max_bytes:
            raise SpoolError(f"item of {len(item)} bytes exceeds the spool's {self.max_bytes}")
        with self._lock:
            self._check_open()
            if self._bytes + size > self.max_bytes:
                return False
            segment, handle = self._segment_for(size)
            offset = handle.tell()
            handle.write(_HEADER.pack(len(item), zlib.crc32(item)) + item)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
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
                self._save_head()
                self._drop_consumed()
            return done

    def close(self) -> None:
        """Close the open segment; the queue stays on disk for the next instance."""
        with self._lock:
            if self._writer is not None:
                self._writer[1].close()
                self._writer = None
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

    def _segment_for(self, size: int) -> tuple[int, BinaryIO]:
        """The segment to append to, starting a new one when the current one is big."""
        if self._writer is not None:
            segment, handle = self._writer
            if handle.tell() + size <= self.segment_bytes or handle.tell() == 0:
                return segment, handle
            handle.close()
            segment += 1
        else:
            existing = self._segments()
            segment = existing[-1] + 1 if existing else 1
        handle = open(self._path(segment), "ab")
        self._writer = (segment, handle)
        return segment, handle

    def _read(self, segment: int, offset: int, length: int) -> bytes:
        with open(self._path(segment), "rb") as fh:
            fh.seek(offset + _HEADER.size)
            return fh.read(length)

    def _save_head(self) -> None:
        if self._index:
            segment, offset, _ = self._index[0]
        elif self._writer is not None:
            segment, handle = self._writer
            offset = handle.tell()
        else:
            segment, offset = 0, 0
        tmp = self.directory / "head.tmp"
        with open(tmp, "wb") as fh:
            fh.write(_HEAD.pack(segment, offset))
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.directory / "head")

    def _drop_consumed(self) -> None:
        first = self._index[0][0] if self._index else None
        current = self._writer[0] if self._writer is not None else None
        for segment in self._segments():
            if (first is None or segment < first) and segment != current:
                self._path(segment).unlink(missing_ok=True)

    def _recover(self) -> None:
        """Rebuild the index from the segments, starting at the saved head."""
        head_segment, head_offset = 0, 0
        try:
            head_segment, head_offset = _HEAD.unpack((self.directory / "head").read_bytes())
        except (OSError, struct.error):
            pass
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
