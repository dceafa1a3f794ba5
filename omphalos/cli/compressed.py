"""Compressed logs (rotated ``access.log.2.gz``) for ``replay`` and ``report``.

A file whose first bytes say gzip, bzip2 or xz is decompressed, with the standard library,
into a temporary directory removed at exit, and the decompressed copy is read in its place:
parsing the compressed bytes as text would only count them unparsed. The monitors never
do this (a live log is not compressed; ``exclude`` skips the rotated ones). A truncated
archive (a log compressed while it was still written) gives every line up to the damage,
and says so.
"""

from __future__ import annotations

import atexit
import bz2
import gzip
import io
import lzma
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable
from typing import Any

__all__ = ["MAGIC", "decompressed", "is_compressed", "CompressedError"]

#: First bytes of each format, and how to open it.
MAGIC: tuple[tuple[bytes, str, Callable[[str], io.BufferedIOBase]], ...] = (
    (b"\x1f\x8b", "gzip", lambda p: gzip.GzipFile(p, "rb")),
    (b"BZh", "bzip2", lambda p: bz2.BZ2File(p, "rb")),
    (b"\xfd7zXZ\x00", "xz", lambda p: lzma.LZMAFile(p, "rb")),
)

_CHUNK = 1 << 16


class CompressedError(RuntimeError):
    """A compressed file that cannot be decompressed (damaged from its start, or no room)."""


def _format_of(path: str) -> tuple[str, Callable[[str], io.BufferedIOBase]] | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError:
        return None  # the caller's path checks report it
    for magic, name, opener in MAGIC:
        if head.startswith(magic):
            return name, opener
    return None


def is_compressed(path: str) -> bool:
    """Whether ``path`` starts like a gzip, bzip2 or xz file."""
    return _format_of(path) is not None


def _folder() -> str:
    folder = tempfile.mkdtemp(prefix="omphalos-replay-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def decompressed(files: list[str], *, say: Callable[[str], Any] | None = None) -> list[str]:
    """``files`` with each compressed one replaced by its decompressed copy (in a
    temporary directory removed at exit); ``say`` is told one line per such file."""
    tell = say or (lambda text: print(f"omphalos: {text}", file=sys.stderr))
    out: list[str] = []
    folder: str | None = None
    for path in files:
        found = _format_of(path) if os.path.isfile(path) else None
        if found is None:
            out.append(path)
            continue
        name, opener = found
        folder = folder or _folder()
        base = os.path.basename(path)
        stem = base.rsplit(".", 1)[0] if "." in base else base
        target = os.path.join(folder, f"{len(out)}-{stem}")
        damaged = ""
        try:
            with opener(path) as src, open(target, "wb") as dst:
                try:
                    while chunk := src.read1(_CHUNK):  # what is there, up to a damage
                        dst.write(chunk)
                except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
                    if isinstance(exc, OSError) and exc.errno is not None:
                        raise  # the disk, not the archive
                    damaged = str(exc) or type(exc).__name__
        except OSError as exc:
            if exc.errno is None:  # not an archive after all, damaged from its start
                raise CompressedError(f"{path}: not a readable {name} file: {exc}") from None
            raise CompressedError(f"{path}: cannot decompress into {folder} "
                                  f"({exc.strerror}); set TMPDIR to a roomier place"
                                  ) from None
        size = os.path.getsize(target)
        if damaged and not size:
            raise CompressedError(f"{path}: not a readable {name} file: {damaged}")
        if damaged:
            tell(f"{path}: the {name} data is damaged or truncated ({damaged}); read the "
                 f"{size:,} bytes before the damage")
        else:
            tell(f"{path}: {name}, read decompressed ({size:,} bytes)")
        out.append(target)
    return out
