"""At start: what was rotated while the monitor was stopped.

Files rotated away (or copied and truncated) before their end was committed are found by
inode, or as a copy by fingerprint, and read on from their checkpoint; offsets of files
that are gone are forgotten. Rotated *siblings* of a watched file written after its newest
checkpoint, whose content the monitor never saw, are generations rotated while it was
stopped: they are read from their start.
"""

from __future__ import annotations

import os

from omphalos.checkpoint import Checkpoint

from .identity import Identity, identify, parse_file_id, read_fingerprint
from .rotation import FileTracker
from .tailing import Tailer


def reopen_rotated(tracker: FileTracker, saved: list[Checkpoint]) -> None:
    """After a restart: finish files rotated away (or copied) before their end was
    committed, forget the offsets of files that are gone, then read the generations
    rotated while the monitor was stopped that it never saw."""
    inodes: dict[str, dict[int, str] | None] = {}
    for cp in saved:
        ident = parse_file_id(cp.file_id)
        if ident is None or cp.file_id in tracker.by_id:
            continue  # not ours, or being read already
        folder = os.path.dirname(cp.path)
        if folder not in inodes:
            inodes[folder] = _inodes(folder)
        listing = inodes[folder]
        if listing is None:
            continue  # the folder vanished (unmounted?): keep the offset for its return
        if not any(c is not None and _resume(tracker, c, ident, cp) for c in (
                listing.get(ident.ino), cp.path,
                tracker.find_copy(folder, ident.crc, cp.offset + 1))):
            tracker.policy.forget(ident)
    _read_unseen_generations(tracker, saved)


def _resume(tracker: FileTracker, path: str, ident: Identity, cp: Checkpoint) -> bool:
    """Read ``path`` on from ``cp`` if it holds ``ident``'s content (the file itself,
    renamed, or a copytruncate copy of it), closing it at its end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        st = os.fstat(fd)
        crc = read_fingerprint(fd)
    except OSError:
        return False
    key = (st.st_dev, st.st_ino)
    if key in tracker.tails or crc != ident.crc or st.st_size < cp.offset:
        os.close(fd)
        return False
    tailer = Tailer(path, fd, ident, cp.offset, cp.offset, st.st_size, attached=False,
                    real_path=os.path.realpath(path), key=key)
    tracker.add(tailer)
    tracker.counters["rotated_resumed"] += 1
    return True


def _read_unseen_generations(tracker: FileTracker, saved: list[Checkpoint]) -> None:
    """Rotated siblings of a watched file (``access.log.1``, ``access.log-20261126``)
    last written after the newest checkpoint of that file, whose content the monitor
    never saw: generations rotated while it was stopped. Read from their start.

    A sibling whose first line is that of a known content is a copy of it (found, or
    not needed, by ``reopen_rotated``): never read again.
    """
    newest: dict[str, float] = {}
    for cp in saved:
        newest[cp.path] = max(newest.get(cp.path, 0.0), cp.updated)
    known_crcs = {content[2] for content in tracker.policy.known}
    for path, since in newest.items():
        if path not in tracker.paths:
            continue
        folder, base = os.path.split(path)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if (name == base or not name.startswith(base) or name[len(base)] not in ".-_"
                    or tracker.excluded(entry.path)):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in tracker.tails or st.st_mtime <= since:
                continue
            _open_unseen(tracker, entry.path, known_crcs)


def _open_unseen(tracker: FileTracker, path: str, known_crcs: set[int]) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        ident = identify(fd, st)
    except OSError:
        os.close(fd)
        return
    if (ident is None or ident.crc in known_crcs or ident.content in tracker.policy.known
            or ident.key in tracker.tails):
        os.close(fd)
        return
    tracker.begin(path, fd, ident, st.st_size, False, attached=False)
    tracker.counters["rotated_resumed"] += 1


def _inodes(folder: str) -> dict[int, str] | None:
    """inode -> path of the regular files in ``folder``; None when it cannot be listed."""
    out: dict[int, str] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    out[entry.inode()] = entry.path
    except OSError:
        return None
    return out
