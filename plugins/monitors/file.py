"""``file``: tails log files (paths, globs, directories) and never loses or repeats a line.

The actor ties the small modules of this package together:

- :mod:`.discovery` says which files to read and which directories to watch;
- :mod:`.watching` turns inotify events into hints (``mode = events``); every open file is
  also stat'ed every ``stat_interval_secs`` (``poll_interval_secs`` in ``mode = polling``,
  or for directories inotify could not watch), because events are lost or never come;
- :mod:`.identity` tells files apart (device, inode, fingerprint, generation);
- :mod:`.tailing` reads whole lines from open files;
- :class:`omphalos.checkpoint.CheckpointStore` keeps committed offsets across restarts.

Offsets are committed only once the batch ending there was acknowledged downstream (the
base class :class:`omphalos.plugin.MonitorPlugin` matches acknowledgements). After a crash
or a restart, reading resumes at the committed offsets; what was sent but not acknowledged
is sent again and collectors skip it by ``(file_id, offset)``.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import pykka

from omphalos.checkpoint import Checkpoint, CheckpointStore
from omphalos.config import option
from omphalos.dealing import deal_by_size
from omphalos.plugin import MonitorConfig, MonitorPlugin

from .discovery import Discovery
from .identity import (
    FINGERPRINT_BYTES,
    Identity,
    fingerprint,
    identify,
    parse_file_id,
    read_fingerprint,
)
from .tailing import LineCutter, Tailer
from .watching import Watcher

DEFAULT_EXCLUDE = ("*.gz", "*.bz2", "*.xz", "*.zst", "*.zip", "*.lz4")


@dataclass(frozen=True)
class FileMonitorConfig(MonitorConfig):
    """Options of the file monitor."""

    paths: tuple[str, ...] = option((), "Files, globs (** recurses) or directories (their "
                                        "files) to read.")
    exclude: tuple[str, ...] = option(DEFAULT_EXCLUDE, "File name globs never read (rotated, "
                                                       "compressed files).")
    follow: bool = option(True, "Keep reading as files grow; no: read to the end and stop.")
    start_at: Literal["beginning", "end"] = option(
        "beginning", "Where to start in a file present at the first start and never seen "
                     "before (files that appear later are always read from their start).")
    checkpoints: bool = option(True, "Keep offsets in the state directory and resume there.")
    mode: Literal["events", "polling"] = option(
        "events", "events: inotify hints plus a periodic stat; polling: stat only (for "
                  "network file systems, where inotify sees no remote writes).")
    poll_interval_secs: float = option(0.25, "Seconds between two looks at every file in "
                                             "polling mode (and at directories inotify "
                                             "could not watch).")
    stat_interval_secs: float = option(1.0, "Seconds between two safety-net stats of every "
                                            "file in events mode.")
    event_gather_secs: float = option(0.05, "Seconds between two reads of the inotify "
                                            "queue, in which the kernel folds repeated "
                                            "events: larger batches for busy files, at "
                                            "most that much later.")
    discover_interval_secs: float = option(5.0, "Seconds between two full searches for new "
                                                "files (events trigger one at once).")
    max_watched_dirs: int = option(64, "Directories watched through inotify; more are "
                                       "polled, with a warning.")
    rotate_wait_secs: float = option(5.0, "Seconds a rotated or deleted file stays open "
                                          "once read to its end, for late writes.")
    partial_line_timeout_secs: float = option(0.0, "Seconds a last line without newline is "
                                                   "held before it is sent as it is; 0: "
                                                   "until its newline comes or the file is "
                                                   "rotated away.")
    read_bytes: int = option(1 << 20, "Most bytes read into one batch.")
    max_line_bytes: int = option(65536, "Longer lines are cut to this length (and counted "
                                        "in lines_cut).")

    def validate(self) -> None:
        if not self.paths:
            raise ValueError("at least one path is needed", "paths")
        if self.read_bytes < 4096:
            raise ValueError("must be at least 4096", "read_bytes")
        if not 256 <= self.max_line_bytes <= self.read_bytes:
            raise ValueError("must be between 256 and read_bytes", "max_line_bytes")
        for key in ("poll_interval_secs", "stat_interval_secs", "discover_interval_secs"):
            if getattr(self, key) <= 0:
                raise ValueError("must be more than 0", key)


@dataclass
class PathState:
    """A path the monitor watches, whether a file is there or not."""

    state: str = "waiting"  # waiting (too small to fingerprint), missing, error, open
    error: str = ""
    key: tuple[int, int] | None = None  # (dev, inode) of the tailer reading it


class _Wake:
    """Told by the watcher thread: hints are waiting."""


class FileMonitor(MonitorPlugin[FileMonitorConfig]):
    """Watches, reads and checkpoints files; see the module doc."""

    name = "file"
    description = "Tails log files, globs and directories; resumes from checkpoints"
    Config: ClassVar[type] = FileMonitorConfig

    @classmethod
    def deal(cls, config: FileMonitorConfig, workers: int) -> list[FileMonitorConfig]:
        """The files found now (this monitor's own discovery: paths, globs, directories,
        exclude) dealt by size; each worker's instance reads its files as plain paths."""
        found = Discovery(config.paths, config.exclude).scan()
        return [replace(config, paths=tuple(share))
                for share in deal_by_size(found, workers) if share]

    def tick_interval(self) -> float:
        if self.config.mode == "polling" or not self.config.follow:
            return float(self.config.poll_interval_secs)
        return float(self.config.stat_interval_secs)

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.config
        self.stopping = False
        self.discovery = Discovery(cfg.paths, cfg.exclude)
        self.cutter = LineCutter(cfg.read_bytes, cfg.max_line_bytes)
        self.tails: dict[tuple[int, int], Tailer] = {}
        self.by_id: dict[str, Tailer] = {}
        self.paths: dict[str, PathState] = {}
        self.names: dict[str, tuple[int, int]] = {}  # real paths of open files -> key
        self.ready: dict[tuple[int, int], None] = {}  # files worth a read, in order
        self.known: dict[tuple[int, int, int], Checkpoint] = {}  # content -> last offset
        self.retired: set[tuple[int, int, int]] = set()  # contents of deleted files
        self.saved_paths: set[str] = set()
        self.missing_roots: list[str] = []
        self.store: CheckpointStore | None = None
        self._hint_lock = threading.Lock()
        self._hinted: set[str] = set()
        self._rescan = False
        self._wake_pending = False
        self._interval = self.tick_interval()
        self._next_discover = 0.0
        saved: list[Checkpoint] = []
        if cfg.checkpoints:
            self.store = CheckpointStore(
                os.path.join(self.context.settings.state_path, "checkpoints.sqlite"))
            saved = self.store.load(self.context.name)
            for cp in saved:
                ident = parse_file_id(cp.file_id)
                if ident is not None:
                    self.known[ident.content] = cp
                    self.saved_paths.add(cp.path)
        self.watcher: Watcher | None = None
        if cfg.follow and cfg.mode == "events":
            self.watcher = Watcher(self._hint, cfg.max_watched_dirs, self.log,
                                   cfg.event_gather_secs)
        self._discover(initial=True)
        if cfg.follow:
            self._reopen_rotated(saved)
        self._pump()

    def teardown(self) -> None:
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.stop()
            self.watcher = None
        for tailer in getattr(self, "tails", {}).values():
            tailer.close()
        if getattr(self, "store", None) is not None:
            assert self.store is not None
            self.store.close()
            self.store = None

    # -- hints from the watcher thread ---------------------------------------------------------
    def _hint(self, path: str, structural: bool) -> None:
        """Called in watchdog's thread: remember the hint, wake the actor once."""
        with self._hint_lock:
            if structural:
                self._rescan = True
            else:
                self._hinted.add(path)
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            self.actor_ref.tell(_Wake())
        except pykka.ActorDeadError:
            pass

    def handle(self, message: Any) -> Any:
        if isinstance(message, _Wake):
            self._on_wake()
            return None
        return super().handle(message)

    def _on_wake(self) -> None:
        with self._hint_lock:
            hinted, self._hinted = self._hinted, set()
            rescan, self._rescan = self._rescan, False
            self._wake_pending = False
        if self.stopping:
            return
        self.counters["wakeups"] += 1
        if rescan:
            self._discover()
        for path in hinted:
            if path in self.paths:
                self._visit(path)  # also opens a file that was too small to fingerprint
                continue
            key = self.names.get(path)  # a symlink's target, a rotated file
            tailer = self.tails.get(key) if key is not None else None
            if tailer is not None:
                self._check_open(tailer)
        self._pump()

    # -- discovery -------------------------------------------------------------------------
    def _discover(self, initial: bool = False) -> None:
        """Find the files to read; notice rotations, truncations and vanished paths."""
        wanted = dict.fromkeys([*self.discovery.scan(), *self.discovery.explicit_paths()])
        for path in list(self.paths):
            if path not in wanted:
                self._visit(path, initial)  # vanished from a glob: notice it, then forget
                if self.paths.get(path) is not None and self.paths[path].key is None:
                    del self.paths[path]
        for path in wanted:
            self._visit(path, initial)
        self.missing_roots = [root for root in self.discovery.roots()
                              if not os.path.isdir(root)]
        self._next_discover = time.monotonic() + self.config.discover_interval_secs
        if self.watcher is not None:
            roots = self.discovery.roots()
            parents = {os.path.dirname(t.real_path) for t in self.tails.values() if t.attached}
            parents.update(os.path.dirname(os.path.realpath(p))  # symlinks' targets
                           for p in self.discovery.explicit_paths() if os.path.islink(p))
            for parent in parents:
                if parent and not any(
                        parent == r or (rec and parent.startswith(r.rstrip(os.sep) + os.sep))
                        for r, rec in roots.items()):
                    roots[parent] = False
            if self.watcher.sync(roots):  # files created before the watch: look again
                for path in self.discovery.scan():
                    if path not in self.paths:
                        self._visit(path, initial)
            if self.watcher.polled and self._interval > self.config.poll_interval_secs:
                self._set_interval(self.config.poll_interval_secs)

    def _set_interval(self, interval: float) -> None:
        self._interval = interval
        scheduler = self.context.scheduler
        if scheduler is not None:
            scheduler.cancel(self.context.name)
            scheduler.every(self.context.name, interval)

    def _visit(self, path: str, initial: bool = False) -> None:
        """Look at ``path`` now: open what is new there, notice what changed."""
        info = self.paths.setdefault(path, PathState())
        current = self.tails.get(info.key) if info.key is not None else None
        try:
            st = os.stat(path)
        except OSError as exc:
            if current is not None:
                self._detach(current)
            info.key = None
            info.state = "missing" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else "error"
            info.error = exc.strerror or str(exc)
            return
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            if current is not None:
                self._detach(current)
            info.key, info.state, info.error = None, "error", "not a regular file"
            return
        key = (st.st_dev, st.st_ino)
        if current is not None and current.key == key:
            info.state, info.error = "open", ""
            self._check_open(current, st.st_size)
            return
        if current is not None:  # the path names another file now: rotated
            self._detach(current)
            info.key = None
        existing = self.tails.get(key)
        if existing is not None:  # a file we have open came (back) under this name
            existing.path, existing.attached = path, True
            existing.real_path = os.path.realpath(path)
            self.names[existing.real_path] = key
            info.key, info.state, info.error = key, "open", ""
            self._check_open(existing, st.st_size)
            return
        self._open(path, info, initial)

    def _open(self, path: str, info: PathState, initial: bool) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            info.state = "missing" if exc.errno == errno.ENOENT else "error"
            info.error = exc.strerror or str(exc)
            return
        try:
            st = os.fstat(fd)
            ident = identify(fd, st)
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
        position, ident, persist = self._start(path, ident, st.st_size, initial)
        tailer = Tailer(path, fd, ident, position, position, st.st_size,
                        real_path=os.path.realpath(path))
        self._add(tailer)
        info.key, info.state, info.error = ident.key, "open", ""
        if persist:
            self._save(tailer, position)
        self.counters["files_opened"] += 1

    def _start(self, path: str, ident: Identity, size: int, initial: bool
               ) -> tuple[int, Identity, bool]:
        """(offset, identity, save now?) for a file opened for the first time here."""
        saved = self.known.get(ident.content)
        if saved is not None:
            saved_ident = parse_file_id(saved.file_id) or ident
            if saved.offset <= size:
                return saved.offset, saved_ident, False
            self.counters["truncations"] += 1  # shrank while we were not looking
            return 0, saved_ident.next_generation(ident.crc), True
        if ident.content in self.retired:  # inode reused with the same first line
            return 0, ident.next_generation(ident.crc), True
        if (initial and self.config.start_at == "end" and self.config.follow
                and path not in self.saved_paths):
            return size, ident, True
        return 0, ident, False

    def _add(self, tailer: Tailer) -> None:
        key = tailer.key
        self.tails[key] = tailer
        self.by_id[tailer.file_id] = tailer
        self.names[tailer.real_path] = key
        self.names[tailer.path] = key
        self.ready[key] = None

    def _detach(self, tailer: Tailer) -> None:
        """The path no longer names this file: read it to its end, then close it."""
        if not tailer.attached:
            return
        tailer.attached = False
        tailer.quiet_since = None
        self.counters["rotations"] += 1
        self._check_open(tailer)

    def _reopen_rotated(self, saved: list[Checkpoint]) -> None:
        """After a restart: finish files rotated away (or copied) before their end was
        committed; forget the offsets of files that are gone."""
        inodes: dict[str, dict[int, str] | None] = {}
        for cp in saved:
            ident = parse_file_id(cp.file_id)
            if ident is None or cp.file_id in self.by_id:
                continue  # not ours, or being read already
            folder = os.path.dirname(cp.path)
            if folder not in inodes:
                inodes[folder] = _inodes(folder)
            listing = inodes[folder]
            if listing is None:
                continue  # the folder vanished (unmounted?): keep the offset for its return
            if not any(c is not None and self._resume(c, ident, cp) for c in (
                    listing.get(ident.ino), cp.path,
                    self._find_copy(folder, ident.crc, cp.offset + 1))):
                if self.store is not None:
                    self.store.forget(self.context.name, cp.file_id)
                self.known.pop(ident.content, None)

    def _resume(self, path: str, ident: Identity, cp: Checkpoint) -> bool:
        """Read ``path`` on from ``cp`` if it holds ``ident``'s content (the file itself,
        renamed, or a copytruncate copy of it), closing it at its end."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            st = os.fstat(fd)
            crc = read_fingerprint(fd)
        except OSError:
            return False
        key = (st.st_dev, st.st_ino)
        if key in self.tails or crc != ident.crc or st.st_size < cp.offset:
            os.close(fd)
            return False
        tailer = Tailer(path, fd, ident, cp.offset, cp.offset, st.st_size, attached=False,
                        real_path=os.path.realpath(path), key=key)
        self._add(tailer)
        self.counters["rotated_resumed"] += 1
        return True

    # -- checking open files -----------------------------------------------------------------
    def _check_open(self, tailer: Tailer, size: int | None = None) -> None:
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
            old = tailer.file_id
            self.by_id.pop(old, None)
            if not self._read_copy(tailer):
                if self.store is not None:
                    self.store.forget(self.context.name, old)
                self.known.pop(tailer.identity.content, None)
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
        self._save(tailer, 0)
        self.ready[tailer.key] = None

    def _read_copy(self, tailer: Tailer) -> bool:
        """copytruncate: finish the old content from its copy, under the old identity.

        The copy is a regular file in the same directory, another inode, whose first line
        is the truncated content's and which is longer than what was read: logrotate made
        it just before truncating. Its bytes past our position are the lines we had not
        read yet; same offsets, same ``file_id``, so nothing is counted twice.
        """
        found = self._find_copy(os.path.dirname(tailer.real_path or tailer.path),
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
        self._add(copy)
        self.counters["copies_read"] += 1
        return True

    def _find_copy(self, folder: str, crc: int, min_size: int) -> str | None:
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

    # -- reading ---------------------------------------------------------------------------
    def _pump(self) -> None:
        """Read and emit while there is credit and something to read."""
        follow = self.config.follow
        while self.ready and not self.stopping:
            moved_any = False
            for key in list(self.ready):
                if not self.has_credit():
                    return
                tailer = self.tails.get(key)
                if tailer is None or tailer.fd < 0 or tailer.truncated:
                    self.ready.pop(key, None)
                    continue
                try:
                    pieces, moved = self.cutter.read(tailer, final=not follow)
                except OSError as exc:
                    tailer.error = str(exc)
                    self.counters["read_errors"] += 1
                    self.ready.pop(key, None)
                    continue
                tailer.error = ""
                if pieces:
                    source = self.source(tailer.path, tailer.file_id)
                    for piece in pieces:
                        self.emit(source, piece.start, piece.end, piece.data)
                    tailer.quiet_since = None
                if moved:
                    moved_any = True
                else:
                    self.ready.pop(key, None)
            if not moved_any:
                return

    def _flush_quiet(self, now: float) -> None:
        """Send held partial lines whose time is up; close rotated files read to the end."""
        timeout = self.config.partial_line_timeout_secs
        for tailer in list(self.tails.values()):
            if tailer.behind() or tailer.truncated:
                tailer.quiet_since = None
                continue
            if tailer.quiet_since is None:
                tailer.quiet_since = now
                continue
            quiet = now - tailer.quiet_since
            gone = not tailer.attached and quiet >= self.config.rotate_wait_secs
            if tailer.held and ((timeout and quiet >= timeout) or gone):
                if self.has_credit():
                    try:
                        pieces, _ = self.cutter.read(tailer, final=True)
                    except OSError as exc:
                        tailer.error = str(exc)
                        continue
                    for piece in pieces:
                        self.emit(self.source(tailer.path, tailer.file_id), piece.start,
                                  piece.end, piece.data)
                    self.counters["partial_lines_flushed"] += len(pieces)
                continue
            if gone and tailer.committed >= tailer.position:
                self._close(tailer)

    def _close(self, tailer: Tailer) -> None:
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
            self.retired.add(tailer.identity.content)
            self.known.pop(tailer.identity.content, None)
            if self.store is not None:
                self.store.forget(self.context.name, tailer.file_id)
        self.counters["files_closed"] += 1

    # -- ticks, credit, acknowledgements -----------------------------------------------------
    def on_tick(self, now: float) -> None:
        super().on_tick(now)  # acknowledgement time-outs
        if self.stopping:
            return
        if self.config.follow:
            if now >= self._next_discover:
                self._discover()
            else:
                for path in list(self.paths):
                    self._visit(path)
            for tailer in list(self.tails.values()):
                if not tailer.attached:
                    self._check_open(tailer)
            self._flush_quiet(now)
        self._pump()

    def resume(self) -> None:
        self._pump()

    def commit(self, file_id: str, offset: int) -> None:
        tailer = self.by_id.get(file_id)
        if tailer is None:
            return  # a generation that was truncated away meanwhile
        tailer.committed = max(tailer.committed, offset)
        self._save(tailer, tailer.committed)

    def _save(self, tailer: Tailer, offset: int) -> None:
        cp = Checkpoint(tailer.file_id, tailer.path, offset, time.time())
        self.known[tailer.identity.content] = cp
        if self.store is not None:
            self.store.commit(self.context.name, tailer.file_id, tailer.path, offset)

    def rewind(self) -> None:
        for key, tailer in self.tails.items():
            tailer.position = tailer.committed
            tailer.held, tailer.long_head = 0, None
            self.ready[key] = None
        self._pump()

    def flush(self) -> None:
        self.stopping = True

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        out = super().status()
        out["counters"]["lines_cut"] = self.cutter.lines_cut
        files: list[dict[str, Any]] = []
        behind = 0
        idle = self.in_flight == 0
        for tailer in self.tails.values():
            try:
                size = os.fstat(tailer.fd).st_size if tailer.fd >= 0 else tailer.size
            except OSError:
                size = tailer.size
            behind += max(0, size - tailer.committed)
            if not tailer.truncated and (tailer.long_head is not None
                                         or tailer.position + tailer.held < size):
                idle = False
            if tailer.error:
                state = "error"
            elif tailer.truncated:
                state = "waiting"
            elif not tailer.attached:
                state = "deleted" if tailer.deleted else "rotated"
            else:
                state = "reading" if tailer.position + tailer.held < size else "waiting"
            files.append({"path": tailer.path, "file_id": tailer.file_id, "state": state,
                          "size": size, "read": tailer.position, "committed": tailer.committed,
                          "error": tailer.error})
        for path, info in self.paths.items():
            if info.key is None and info.state != "open":
                files.append({"path": path, "file_id": "", "state": info.state, "size": 0,
                              "read": 0, "committed": 0, "error": info.error})
        for root in self.missing_roots:
            files.append({"path": root, "file_id": "", "state": "missing", "size": 0,
                          "read": 0, "committed": 0, "error": "directory not found"})
        watcher = self.watcher
        if watcher is None:
            watch_mode = "polling" if self.config.follow else "none"
        else:
            watch_mode = "events+polling" if watcher.polled else "events"
        out.update(files=files, files_watched=len(self.tails), bytes_behind=behind,
                   in_flight=self.in_flight, idle=idle, watch_mode=watch_mode,
                   polled_dirs=sorted(watcher.polled) if watcher is not None else [],
                   time=time.time())
        return out


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
