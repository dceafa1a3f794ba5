"""``file``: tails log files (paths, globs, directories) and never loses or repeats a line.

The actor ties together the small modules of this package, one concern each:

- :mod:`.discovery` says which files to read; :mod:`.scheduling` says when to search
  again and which directories to watch, and queues the watcher's hints in order;
- :mod:`.watching` turns inotify events into hints (``mode = events``); every open file is
  also stat'ed every ``stat_interval_secs`` (``poll_interval_secs`` in ``mode = polling``,
  or for directories inotify could not watch), because events are lost or never come;
- :mod:`.identity` tells files apart; :mod:`.rotation` finds what each path names and what
  became of the files that were there (rotations, truncations, moves); :mod:`.resuming`
  finds, at start, what was rotated while the monitor was stopped;
- :mod:`.reading` (with :mod:`.tailing`) reads whole lines from open files;
- :mod:`.checkpointing` decides where files start and keeps offsets, in
  :class:`omphalos.checkpoint.CheckpointStore`, pausing while the disk is full;
- :mod:`.status` reports it all; :mod:`.dealing` deals the files out to workers.

Offsets are committed only once the batch ending there was acknowledged downstream (the
base class :class:`omphalos.plugin.MonitorPlugin` matches acknowledgements). After a crash
or a restart, reading resumes at the committed offsets; what was sent but not acknowledged
is sent again and collectors skip it by ``(file_id, offset)``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import pykka

from omphalos.config import option
from omphalos.plugin import MonitorConfig, MonitorPlugin

from .checkpointing import CheckpointPolicy
from .dealing import deal_paths
from .discovery import Discovery
from .reading import Reader
from .resuming import reopen_rotated
from .rotation import FileTracker
from .scheduling import DiscoverySchedule, HintQueue
from .status import file_status
from .tailing import LineCutter, Piece, Tailer
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
    checkpoint_key: str = option("", "Name the offsets are saved under in "
                                     "STATE_DIR/checkpoints.sqlite; empty: the component "
                                     "name. omphalos run FILE sets it from what was asked "
                                     "(the paths, the parser, the config), so runs on other "
                                     "files never share saved progress.")
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


class _Wake:
    """Told by the watcher thread: hints are waiting."""


class FileMonitor(MonitorPlugin[FileMonitorConfig]):
    """Watches, reads and checkpoints files; see the module doc."""

    name = "file"
    description = "Tails log files, globs and directories; resumes from checkpoints"
    Config: ClassVar[type] = FileMonitorConfig

    @classmethod
    def deal(cls, config: FileMonitorConfig, workers: int) -> list[FileMonitorConfig]:
        """This monitor's inputs dealt out to ``workers`` worker processes: one config per
        worker that gets a file (at most ``workers``), the same options with ``paths`` set
        to that worker's files, found as the monitor itself finds them (paths, globs,
        directories, ``exclude`` applied; an explicit path with no file yet is dealt too).
        Every file goes to exactly one worker."""
        shares = deal_paths(Discovery(config.paths, config.exclude), workers)
        return [replace(config, paths=tuple(share)) for share in shares if share]

    def tick_interval(self) -> float:
        if self.config.mode == "polling" or not self.config.follow:
            return float(self.config.poll_interval_secs)
        return float(self.config.stat_interval_secs)

    @property
    def checkpoint_key(self) -> str:
        """Whose offsets these are in the checkpoint store."""
        return str(self.config.checkpoint_key) or self.context.name

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.config
        self.stopping = False
        self.schedule = DiscoverySchedule(Discovery(cfg.paths, cfg.exclude),
                                          cfg.discover_interval_secs)
        store = None
        if cfg.checkpoints:
            store = os.path.join(self.context.settings.state_path, "checkpoints.sqlite")
        # released in reverse (watcher, open files, store) after teardown, or at once when
        # setup fails half-way
        self.policy = CheckpointPolicy(self.checkpoint_key, store, self.log)
        self.resources.callback(self.policy.close)
        self.tracker = FileTracker(
            self.policy, self.counters, self.log, follow=cfg.follow,
            start_at_end=cfg.start_at == "end", rotate_wait_secs=cfg.rotate_wait_secs,
            excluded=self.schedule.discovery.excluded)
        self.resources.callback(self.tracker.close_all)
        self.cutter = LineCutter(cfg.read_bytes, cfg.max_line_bytes)
        self.reader = Reader(self.tracker, self.cutter, self.counters, follow=cfg.follow,
                             rotate_wait_secs=cfg.rotate_wait_secs,
                             partial_line_timeout_secs=cfg.partial_line_timeout_secs)
        self.hints = HintQueue(self._tell_wake)
        self._interval = self.tick_interval()
        self.watcher: Watcher | None = None
        self.started = False
        if self.policy.open():  # else the disk is full: started by a later tick
            self._start_reading()

    def _start_reading(self) -> None:
        """Find the files, resume where the checkpoints say, read."""
        cfg = self.config
        saved = self.policy.load()
        if cfg.follow and cfg.mode == "events":
            self.watcher = Watcher(self.hints.put, cfg.max_watched_dirs, self.log,
                                   cfg.event_gather_secs)
            self.resources.callback(self.watcher.stop)  # maybe a tick after setup
        self._discover(initial=True)
        if cfg.follow:
            reopen_rotated(self.tracker, saved)
        self.started = True
        self._pump()

    # -- hints from the watcher thread ---------------------------------------------------------
    def _tell_wake(self) -> None:
        """Called in watchdog's thread, once per burst of hints."""
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
        """Look at every path the hints name, in the order the events happened."""
        events = self.hints.take()
        if self.stopping:
            return
        self.counters["wakeups"] += 1
        tracker, schedule = self.tracker, self.schedule
        rescan = False
        for kind, path, dest in events:
            if kind != "modified":
                # creations, deletions and moves also change what symlinks and globs name:
                # search again once this burst was looked at (as a safety net)
                rescan = True
            if kind == "dir":
                continue
            if kind == "moved":
                watched = path in tracker.paths or schedule.matches(path)
                if path in tracker.paths:
                    tracker.visit(path)  # rotated: the old file is finished by descriptor
                tracker.moved(path, dest, watched)
                if dest in tracker.paths or schedule.matches(dest):
                    tracker.visit(dest)
            elif kind == "created":
                if path in tracker.paths or schedule.matches(path):
                    tracker.visit(path)
                elif path in tracker.targets:
                    tracker.visit(tracker.targets[path])
            elif path in tracker.paths:  # modified or deleted
                tracker.visit(path)  # also opens a file that was too small to fingerprint
            elif path in tracker.targets:  # a watched symlink's target, nothing open yet
                tracker.visit(tracker.targets[path])
            else:
                key = tracker.names.get(path)  # a symlink's target, a rotated file
                tailer = tracker.tails.get(key) if key is not None else None
                if tailer is not None:
                    tracker.check_open(tailer)
        tracker.open_followed(time.monotonic())
        if rescan:
            self._discover()
        self._pump()

    # -- discovery -------------------------------------------------------------------------
    def _discover(self, initial: bool = False) -> None:
        """Find the files to read; notice rotations, truncations and vanished paths."""
        tracker = self.tracker
        wanted = dict.fromkeys(self.schedule.wanted())
        for path in list(tracker.paths):
            if path not in wanted:
                tracker.visited(path)  # vanished from a glob: notice it, then forget
        for path in wanted:
            tracker.visit(path, initial)
        self._watch_new_parents(initial)

    def _watch_new_parents(self, initial: bool = False) -> None:
        """Watch the directories the patterns and open files need; look again where a
        watch was added (what was created before it was not reported)."""
        watcher = self.watcher
        if watcher is None:
            return
        parents = (os.path.dirname(t.real_path) for t in self.tracker.tails.values()
                   if t.attached)
        if watcher.sync(self.schedule.watch_roots(parents)):
            for path in self.schedule.discovery.scan():
                if path not in self.tracker.paths:
                    self.tracker.visit(path, initial)
        if watcher.polled and self._interval > self.config.poll_interval_secs:
            self._set_interval(self.config.poll_interval_secs)

    def _set_interval(self, interval: float) -> None:
        self._interval = interval
        scheduler = self.context.scheduler
        if scheduler is not None:
            scheduler.cancel(self.context.name)
            scheduler.every(self.context.name, interval)

    # -- reading ---------------------------------------------------------------------------
    def _emit(self, tailer: Tailer, pieces: list[Piece]) -> None:
        source = self.source(tailer.path, tailer.file_id)
        for piece in pieces:
            self.emit(source, piece.start, piece.end, piece.data)

    def _pump(self) -> None:
        """Read while there is credit, unless stopping or paused by a full disk."""
        if self.stopping or self.policy.disk_full or not self.started:
            return
        self.reader.pump(self.has_credit, self._emit)

    # -- ticks, credit, acknowledgements -----------------------------------------------------
    def on_tick(self, now: float) -> None:
        super().on_tick(now)  # acknowledgement time-outs
        if self.stopping:
            return
        if not self.policy.retry():
            self.counters["paused_ticks"] += 1
            return  # disk full: checkpoints are kept in memory, reading waits
        if not self.started:
            self._start_reading()
            return
        tracker = self.tracker
        if self.config.follow:
            if self.schedule.due(now):
                self._discover()
            else:
                for path in list(tracker.paths):
                    tracker.visit(path)
            for tailer in list(tracker.tails.values()):
                if not tailer.attached:
                    tracker.check_open(tailer)
            tracker.open_followed(now)
            self.reader.flush_quiet(now, self.has_credit, self._emit)
        self._pump()

    def resume(self) -> None:
        self._pump()

    def commit(self, file_id: str, offset: int) -> None:
        tailer = self.tracker.by_id.get(file_id)
        if tailer is None:
            return  # a generation that was truncated away meanwhile
        tailer.committed = max(tailer.committed, offset)
        self.policy.save(tailer.identity, tailer.path, tailer.committed)

    def rewind(self) -> None:
        for key, tailer in self.tracker.tails.items():
            tailer.position = tailer.committed
            tailer.held, tailer.long_head = 0, None
            self.tracker.ready[key] = None
        self._pump()

    def flush(self) -> None:
        self.stopping = True

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        out = super().status()
        out["counters"]["lines_cut"] = self.cutter.lines_cut
        out["counters"]["checkpoint_write_failures"] = self.policy.write_failures
        out.update(file_status(self.tracker, self.schedule.missing_roots, self.watcher,
                               self.config.follow, self.in_flight, self.policy.disk_full))
        return out
