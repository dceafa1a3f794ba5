"""Identity and rotation detection: which file each watched path names, and what became of
the files that were there.

:class:`FileTracker` holds the open files (:class:`~.tailing.Tailer`, by (device, inode)),
the watched paths and what was found at each, and the files worth a read. Rotation is
told apart by identity (:mod:`.identity`), never by name:

- a path naming another file now: the old one was rotated (renamed, deleted); it stays
  open and is read to its end through its descriptor (``detach``), the new one is opened;
- an open file that shrank, or whose first line changed: a truncation (``copytruncate``);
  the old content is finished from its copy, then a new generation starts;
- a move event from a watched path: the file that was there, however briefly, is followed
  to its new name by identity and read to its end (``follow``), even if it was never opened;
- at start, what was rotated while the monitor was stopped: :mod:`.resuming`.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from .checkpointing import CheckpointPolicy
from .identity import (
    FINGERPRINT_BYTES,
    Identity,
    fingerprint,
    identify,
    read_fingerprint,
)
from .tailing import Tailer

Key = tuple[int, int]


@dataclass
class PathState:
    """A path the monitor watches, whether a file is there or not."""

    state: str = "waiting"  # waiting (too small to fingerprint), missing, error, open
    error: str = ""
    key: Key | None = None  # (dev, inode) of the tailer reading it
    target: str = ""  # a symlink's target while no file is open there (see ``targets``)


class FileTracker:
    """Open files, watched paths, and how they relate; see the module doc."""

    def __init__(self, policy: CheckpointPolicy, counters: Counter[str], log: logging.Logger,
                 *, follow: bool, start_at_end: bool, rotate_wait_secs: float,
                 excluded: Callable[[str], bool]) -> None:
        self.policy = policy
        self.counters = counters
        self.log = log
        self.follow = follow
        self.start_at_end = start_at_end
        self.rotate_wait_secs = rotate_wait_secs
        self.excluded = excluded
        self.tails: dict[Key, Tailer] = {}
        self.by_id: dict[str, Tailer] = {}
        self.paths: dict[str, PathState] = {}
        self.names: dict[str, Key] = {}  # real paths of open files -> key
        #: targets of watched symlinks with no file open there yet (missing, or too small
        #: to fingerprint) -> the link: a change at the target is a change at the link
        self.targets: dict[str, str] = {}
        self.ready: dict[Key, None] = {}  # files worth a read, in order
        #: new names of files moved away from a watched path, not opened yet -> give-up time
        self.followed: dict[str, float] = {}

    # -- a watched path -------------------------------------------------------------------
    def visit(self, path: str, initial: bool = False) -> None:
        """Look at ``path`` now: open what is new there, notice what changed."""
        info = self.paths.setdefault(path, PathState())
        self._look(path, info, initial)
        self._note_target(path, info)

    def _note_target(self, path: str, info: PathState) -> None:
        """Remember where a symlink with nothing open points: its target's directory is
        watched, not the link, so the target's first lines arrive as events there."""
        target = ""
        if info.state != "open" and os.path.islink(path):
            target = os.path.realpath(path)
        if info.target != target:
            self._forget_target(path, info)
            info.target = target
        if target:
            self.targets[target] = path

    def _forget_target(self, path: str, info: PathState) -> None:
        if self.targets.get(info.target) == path:
            del self.targets[info.target]

    def _look(self, path: str, info: PathState, initial: bool) -> None:
        current = self.tails.get(info.key) if info.key is not None else None
        try:
            st = os.stat(path)
        except OSError as exc:
            if current is not None:
                self.detach(current)
            info.key = None
            info.state = "missing" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else "error"
            info.error = exc.strerror or str(exc)
            return
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            if current is not None:
                self.detach(current)
            info.key, info.state, info.error = None, "error", "not a regular file"
            return
        key = (st.st_dev, st.st_ino)
        if current is not None and current.key == key:
            info.state, info.error = "open", ""
            self.check_open(current, st.st_size)
            return
        if current is not None:  # the path names another file now: rotated
            self.detach(current)
            info.key = None
        existing = self.tails.get(key)
        if existing is not None:  # a file we have open came (back) under this name
            existing.path, existing.attached = path, True
            existing.real_path = os.path.realpath(path)
            self.names[existing.real_path] = key
            info.key, info.state, info.error = key, "open", ""
            self.check_open(existing, st.st_size)
            return
        self._open(path, info, initial)

    def visited(self, path: str) -> None:
        """Look at a path that vanished from the patterns, then forget it if nothing is
        open there."""
        self.visit(path)
        info = self.paths.get(path)
        if info is not None and info.key is None:
            self._forget_target(path, info)
            del self.paths[path]

    def _open(self, path: str, info: PathState, initial: bool) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            info.state = "missing" if exc.errno == errno.ENOENT else "error"
            info.error = exc.strerror or str(exc)
            return
        try:
            st = os.fstat(fd)
            ident = identify(fd, st, whole=not self.follow)
        except OSError as exc:
            os.close(fd)
            info.state, info.error = "error", exc.strerror or str(exc)
            return
        if ident is None:
            os.close(fd)
            info.state, info.error = "waiting", "too small to fingerprint"
            return
        if ident.key in self.tails:  # opened under another name meanwhile
            os.close(fd)
            return
        self.begin(path, fd, ident, st.st_size, initial, attached=True)
        info.key, info.state, info.error = ident.key, "open", ""

    def begin(self, path: str, fd: int, ident: Identity, size: int, initial: bool,
               attached: bool) -> Tailer:
        """Begin reading a file opened for the first time here, where its policy says."""
        position, ident, persist, shrank = self.policy.start(
            path, ident, size, initial, self.start_at_end and self.follow)
        if shrank:
            self.counters["truncations"] += 1
        tailer = Tailer(path, fd, ident, position, position, size, attached=attached,
                        real_path=os.path.realpath(path))
        self.add(tailer)
        if persist:
            self.policy.save(tailer.identity, tailer.path, position)
        self.counters["files_opened"] += 1
        return tailer

    def add(self, tailer: Tailer) -> None:
        key = tailer.key
        self.tails[key] = tailer
        self.by_id[tailer.file_id] = tailer
        self.names[tailer.real_path] = key
        self.names[tailer.path] = key
        self.ready[key] = None

    def detach(self, tailer: Tailer) -> None:
        """The path no longer names this file: read it to its end, then close it."""
        if not tailer.attached:
            return
        tailer.attached = False
        tailer.quiet_since = None
        self.counters["rotations"] += 1
        self.check_open(tailer)

    # -- moves: follow a file to its new name ----------------------------------------------
    def moved(self, src: str, dest: str, watched: bool) -> None:
        """``src`` was renamed to ``dest``. ``watched``: ``src`` is a path the monitor
        reads (or the new name of a file followed from one): the file now at ``dest`` is
        followed by identity even if it was never opened."""
        key = self.names.get(src)
        tailer = self.tails.get(key) if key is not None else None
        if tailer is not None and not tailer.attached:  # a rotated file moves on
            self.names.pop(src, None)
            tailer.path, tailer.real_path = dest, os.path.realpath(dest)
            self.names[tailer.real_path] = tailer.key
        if watched or src in self.followed:
            self.followed.pop(src, None)
            self.followed[dest] = time.monotonic() + max(self.rotate_wait_secs, 1.0)

    def open_followed(self, now: float) -> None:
        """Open the files followed to new names (retried while too small to fingerprint)."""
        for dest, give_up in list(self.followed.items()):
            if self._follow(dest) or now >= give_up:
                self.followed.pop(dest, None)

    def _follow(self, dest: str) -> bool:
        """Open the file at ``dest`` detached (read to its end, then closed) unless it is
        open already; True when done with ``dest``."""
        try:
            fd = os.open(dest, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return False  # moved on again (its next move names it) or gone
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            if not stat.S_ISREG(st.st_mode) or key in self.tails:
                os.close(fd)
                return True
            ident = identify(fd, st)
        except OSError:
            os.close(fd)
            return False
        if ident is None:
            os.close(fd)
            return False  # no complete first line yet
        if any(info.key == key for info in self.paths.values()):
            os.close(fd)
            return True
        self.begin(dest, fd, ident, st.st_size, False, attached=False)
        self.counters["followed_moves"] += 1
        return True

    # -- an open file -----------------------------------------------------------------------
    def check_open(self, tailer: Tailer, size: int | None = None) -> None:
        """Notice growth, truncation (a new generation) and deletion of an open file.

        ``size``: from a ``stat`` of the path that still names this file (so it is not
        deleted), which saves an ``fstat``.
        """
        if tailer.fd < 0:
            return
        if size is None:
            try:
                st = os.fstat(tailer.fd)
            except OSError as exc:
                tailer.error = str(exc)
                return
            tailer.deleted = st.st_nlink == 0
            new_size = st.st_size
        else:
            new_size = size
        grew = new_size != tailer.size
        tailer.size = new_size
        if tailer.truncated or new_size < tailer.position:
            self._truncated(tailer)
        elif grew and tailer.position > 0:
            try:
                crc = read_fingerprint(tailer.fd)
            except OSError:
                crc = None
            if crc != tailer.identity.crc:  # rewritten from its start (copytruncate)
                self._truncated(tailer)
        if tailer.behind():
            self.ready[tailer.key] = None

    def _truncated(self, tailer: Tailer) -> None:
        """The file started over: finish the old content (from a copy), then a new identity."""
        if not tailer.truncated:  # first noticed now
            self.counters["truncations"] += 1
            self.by_id.pop(tailer.file_id, None)
            if not self._read_copy(tailer):
                self.policy.forget(tailer.identity)
            tailer.truncated = True
            tailer.position = tailer.committed = 0
            tailer.held, tailer.long_head, tailer.quiet_since = 0, None, None
        try:
            crc = read_fingerprint(tailer.fd)
        except OSError:
            crc = None
        if crc is None:
            return  # no complete first line yet: wait for one to fingerprint
        tailer.identity = tailer.identity.next_generation(crc)
        tailer.truncated = False
        self.by_id[tailer.file_id] = tailer
        self.policy.save(tailer.identity, tailer.path, 0)
        self.ready[tailer.key] = None

    def _read_copy(self, tailer: Tailer) -> bool:
        """copytruncate: finish the old content from its copy, under the old identity.

        The copy is a regular file in the same directory, another inode, whose first line
        is the truncated content's and which is longer than what was read: logrotate made
        it just before truncating. Its bytes past our position are the lines we had not
        read yet; same offsets, same ``file_id``, so nothing is counted twice.
        """
        found = self.find_copy(os.path.dirname(tailer.real_path or tailer.path),
                                tailer.identity.crc, tailer.position + 1)
        if found is None:
            return False
        try:
            fd = os.open(found, os.O_RDONLY | os.O_CLOEXEC)
            st = os.fstat(fd)
        except OSError:
            return False
        copy = Tailer(found, fd, tailer.identity, tailer.position, tailer.committed,
                      st.st_size, attached=False, real_path=os.path.realpath(found),
                      key=(st.st_dev, st.st_ino))
        self.add(copy)
        self.counters["copies_read"] += 1
        return True

    def find_copy(self, folder: str, crc: int, min_size: int) -> str | None:
        """The newest file in ``folder`` not open here, of at least ``min_size`` bytes,
        whose first line has the fingerprint ``crc``."""
        best: tuple[float, str] | None = None
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if (st.st_dev, st.st_ino) in self.tails or st.st_size < min_size:
                        continue
                    if best is None or st.st_mtime > best[0]:
                        with open(entry.path, "rb") as fh:
                            head = fh.read(FINGERPRINT_BYTES)
                        if fingerprint(head) == crc:
                            best = (st.st_mtime, entry.path)
        except OSError:
            return None
        return best[1] if best is not None else None

    def close(self, tailer: Tailer) -> None:
        """Close a rotated or deleted file that was read and committed to its end."""
        key = tailer.key
        tailer.close()
        self.tails.pop(key, None)
        self.by_id.pop(tailer.file_id, None)
        self.ready.pop(key, None)
        for name in (tailer.path, tailer.real_path):
            if self.names.get(name) == key:
                del self.names[name]
        if tailer.deleted:
            self.policy.retire(tailer.identity)
        self.counters["files_closed"] += 1

    def close_all(self) -> None:
        for tailer in self.tails.values():
            tailer.close()
