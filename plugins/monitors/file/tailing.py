"""One open file and the reading of whole lines from it.

A :class:`Tailer` holds a file descriptor (read with ``pread``, so the position is ours,
not the kernel's), how far it was read (``position``: everything before was sent) and how
far downstream acknowledged it (``committed``). :func:`read_pieces` cuts what was appended
into pieces of whole lines, the only place bytes are looked at, with C-speed scans only
(``rfind``, one regular expression): no per-line Python work, so replaying a large file
reads megabyte chunks back to back.

Line rules: a partial last line is held back until its newline arrives (or until the caller
says the file is final, or a time-out expires); a line longer than ``max_line_bytes`` is cut
to that length and sent as its own piece whose offsets span the whole original line (so
offsets stay true and a restart never lands mid-line); bytes are never decoded here, so
invalid UTF-8 cannot stop anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

from .identity import Identity


class Piece(NamedTuple):
    """Bytes ``[start, end)`` of the file as lines to send (``data`` may be a cut line)."""

    start: int
    end: int
    data: bytes


@dataclass(eq=False)
class Tailer:
    """An open file: identity, read and committed offsets, and what the reader holds."""

    path: str
    fd: int
    identity: Identity
    position: int
    committed: int
    size: int = 0
    #: False once the path names another file (rotated) or nothing (deleted, vanished).
    attached: bool = True
    #: The file's link count was 0 at the last look: deleted, read to its end then closed.
    deleted: bool = False
    #: Bytes of a partial last line held back at the end of the file.
    held: int = 0
    #: Monotonic time since which nothing new was found (for time-outs); None while reading.
    quiet_since: float | None = None
    #: An over-long line being skipped: its first bytes, and where the newline search is.
    long_head: bytes | None = None
    long_scan: int = 0
    #: Truncated, but the new content has no complete first line yet (no identity).
    truncated: bool = False
    error: str = ""
    real_path: str = ""
    #: (device, inode) of the open file: the identity's, except for a copytruncate copy,
    #: read on under the identity of the file it was copied from.
    key: tuple[int, int] = (-1, -1)

    def __post_init__(self) -> None:
        if self.key == (-1, -1):
            self.key = self.identity.key

    @property
    def file_id(self) -> str:
        return self.identity.file_id

    def behind(self) -> bool:
        """True when bytes beyond what was read and held back are known to exist."""
        return self.long_head is not None or self.position + self.held < self.size

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


def find_long_line(data: bytes, max_line_bytes: int) -> int:
    """Start of the first line of ``data`` longer than ``max_line_bytes``, or -1.

    C-speed and nearly free: a run of more than ``max_line_bytes`` bytes without a newline
    covers at least one whole aligned block of half that size, so only blocks with no
    newline at all (one ``find`` each, which stops at the first newline) are looked at.
    """
    half = max(1, max_line_bytes // 2)
    size = len(data)
    if size <= max_line_bytes:
        return -1
    find, rfind = data.find, data.rfind
    for block in range(0, size - half + 1, half):
        if find(b"\n", block, block + half) >= 0:
            continue
        start = rfind(b"\n", 0, block) + 1
        end = find(b"\n", block)
        if (size if end < 0 else end) - start > max_line_bytes:
            return start
    return -1


class LineCutter:
    """Cuts bytes into pieces of whole lines (see the module doc for the rules)."""

    def __init__(self, read_bytes: int, max_line_bytes: int) -> None:
        self.read_bytes = read_bytes
        self.max_line_bytes = max_line_bytes
        self.lines_cut = 0

    def read(self, tailer: Tailer, final: bool) -> tuple[list[Piece], bool]:
        """Pieces to send from ``tailer`` and whether anything moved.

        ``final``: the file will not grow any more (not followed, rotated away and quiet,
        or the partial-line time-out expired), so a last line without newline is sent.
        The tailer's ``position`` advances past every piece returned.
        """
        if tailer.long_head is not None:
            return self._skip_long(tailer, final)
        start = tailer.position
        data = os.pread(tailer.fd, self.read_bytes, start)
        if not data:
            tailer.held = 0
            return [], False
        end_of_file = len(data) < self.read_bytes
        if end_of_file and start + len(data) > tailer.size:
            tailer.size = start + len(data)
        at = find_long_line(data, self.max_line_bytes)
        if at >= 0:
            return self._long_line(tailer, data, at, final)
        cut = data.rfind(b"\n") + 1
        if final and end_of_file and cut < len(data):
            tailer.held = 0
            tailer.position = start + len(data)
            return [Piece(start, tailer.position, data + b"\n")], True
        tailer.held = len(data) - cut if end_of_file else 0
        if cut == 0:
            return [], False
        tailer.position = start + cut
        return [Piece(start, tailer.position, data[:cut] if cut < len(data) else data)], True

    def _long_line(self, tailer: Tailer, data: bytes, at: int, final: bool
                   ) -> tuple[list[Piece], bool]:
        """``data[at:]`` starts a line longer than ``max_line_bytes``."""
        start = tailer.position
        if at > 0:  # first the whole lines before it
            tailer.position = start + at
            tailer.held = 0
            return [Piece(start, tailer.position, data[:at])], True
        head = data[: self.max_line_bytes]
        newline = data.find(b"\n", self.max_line_bytes)
        if newline >= 0:
            self.lines_cut += 1
            tailer.position = start + newline + 1
            tailer.held = 0
            return [Piece(start, tailer.position, head + b"\n")], True
        tailer.long_head = head
        tailer.long_scan = start + len(data)
        tailer.held = len(data)
        return self._skip_long(tailer, final)

    def _skip_long(self, tailer: Tailer, final: bool) -> tuple[list[Piece], bool]:
        """Look for the newline that ends the over-long line being skipped."""
        assert tailer.long_head is not None
        moved = False
        while True:
            data = os.pread(tailer.fd, self.read_bytes, tailer.long_scan)
            newline = data.find(b"\n")
            if newline >= 0:
                end = tailer.long_scan + newline + 1
            elif not data and final:
                end = tailer.long_scan
            else:
                tailer.long_scan += len(data)
                tailer.held = tailer.long_scan - tailer.position
                if len(data) < self.read_bytes:
                    return [], moved or bool(data)
                moved = True
                continue
            piece = Piece(tailer.position, end, tailer.long_head + b"\n")
            self.lines_cut += 1
            tailer.long_head = None
            tailer.position = end
            tailer.held = 0
            return [piece], True
