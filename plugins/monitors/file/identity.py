"""File identity: device, inode, a fingerprint of the first line, and a generation.

Offsets are only meaningful within one identity. A path is not an identity (rotation moves
files between names); device and inode alone are not either (inodes are reused after a
delete). The fingerprint is the CRC-32 of the file's first bytes, up to the end of its first
line or :data:`FINGERPRINT_BYTES`, whichever comes first: a prefix that appending never
changes. A file with neither a complete first line nor that many bytes cannot be told apart
yet, so it waits. The generation starts a new identity when the same inode's content starts
over with the same first line (a truncation), because collectors de-duplicate by
``(file_id, offset)`` and the old offsets must never shadow the new content.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass, replace

#: Most bytes the fingerprint covers.
FINGERPRINT_BYTES = 256


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a file is; ``file_id`` is its text form, carried on every batch and checkpoint."""

    dev: int
    ino: int
    crc: int
    gen: int = 0

    @property
    def key(self) -> tuple[int, int]:
        """(device, inode): the open file, whatever its content."""
        return (self.dev, self.ino)

    @property
    def content(self) -> tuple[int, int, int]:
        """(device, inode, fingerprint) without the generation."""
        return (self.dev, self.ino, self.crc)

    @property
    def file_id(self) -> str:
        base = f"{self.dev}:{self.ino}:{self.crc:08x}"
        return f"{base}:{self.gen}" if self.gen else base

    def next_generation(self, crc: int) -> Identity:
        """A new identity for the same inode whose content started over with ``crc``.

        The generation is time-based (milliseconds), so it differs from every earlier one
        even when the previous generation number was never saved.
        """
        return replace(self, crc=crc, gen=max(self.gen + 1, time.time_ns() // 1_000_000))


def parse_file_id(file_id: str) -> Identity | None:
    """The :class:`Identity` a ``file_id`` names, None when it is not one of ours."""
    parts = file_id.split(":")
    try:
        if len(parts) == 3:
            return Identity(int(parts[0]), int(parts[1]), int(parts[2], 16))
        if len(parts) == 4:
            return Identity(int(parts[0]), int(parts[1]), int(parts[2], 16), int(parts[3]))
    except ValueError:
        return None
    return None


def fingerprint(head: bytes) -> int | None:
    """CRC of ``head`` up to its first newline (or FINGERPRINT_BYTES); None: too short."""
    head = head[:FINGERPRINT_BYTES]
    newline = head.find(b"\n")
    if newline >= 0:
        head = head[: newline + 1]
    elif len(head) < FINGERPRINT_BYTES:
        return None
    return zlib.crc32(head)


def read_fingerprint(fd: int) -> int | None:
    """Fingerprint of the open file ``fd`` (read with pread: the file position is untouched)."""
    return fingerprint(os.pread(fd, FINGERPRINT_BYTES, 0))


def identify(fd: int, st: os.stat_result | None = None, whole: bool = False
             ) -> Identity | None:
    """Identity of the open file ``fd``; None while it is too small to fingerprint.

    ``whole``: the file is read once to its end and not followed (``follow = no``, as in
    ``replay``), so a file too small to fingerprint is fingerprinted by all of its bytes:
    the fingerprint rule exists to tell followed files apart, never to leave bytes unread.
    """
    st = st or os.fstat(fd)
    crc = read_fingerprint(fd)
    if crc is None:
        if not whole:
            return None
        crc = zlib.crc32(os.pread(fd, FINGERPRINT_BYTES, 0))
    return Identity(st.st_dev, st.st_ino, crc)
