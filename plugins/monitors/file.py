"""``file``: tails log files (paths, globs, directories), resuming from checkpoints."""

from __future__ import annotations

import glob
import os
import time
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from omphalos.checkpoint import CheckpointStore
from omphalos.config import option
from omphalos.messages import Query
from omphalos.plugin import MonitorConfig, MonitorPlugin

FINGERPRINT_BYTES = 256


@dataclass(frozen=True)
class FileMonitorConfig(MonitorConfig):
    """Options of the file monitor."""

    paths: tuple[str, ...] = option((), "Files, globs (** recurses) or directories to read.")
    follow: bool = option(True, "Keep reading as files grow; no: read to the end and stop.")
    start_at: Literal["beginning", "end"] = option(
        "beginning", "Where to start in a file seen for the first time.")
    checkpoints: bool = option(True, "Keep offsets in the state directory and resume there.")
    poll_interval_secs: float = option(0.25, "Seconds between two looks at the files.")
    read_bytes: int = option(1 << 20, "Most bytes read into one batch.")

    def validate(self) -> None:
        if not self.paths:
            raise ValueError("at least one path is needed", "paths")
        if self.read_bytes < 4096:
            raise ValueError("must be at least 4096", "read_bytes")


@dataclass
class TailedFile:
    """One open file and how far it has been read and committed."""

    path: str
    handle: Any
    file_id: str
    position: int
    committed: int
    size: int = 0
    state: str = "reading"


def file_identity(path: str, st: os.stat_result, follow: bool) -> str | None:
    """``dev:inode:crc`` of the first bytes; None while a followed file is too small."""
    with open(path, "rb") as fh:
        head = fh.read(FINGERPRINT_BYTES)
    if follow and len(head) < FINGERPRINT_BYTES and b"\n" not in head:
        return None
    return f"{st.st_dev}:{st.st_ino}:{zlib.crc32(head):08x}"


class FileMonitor(MonitorPlugin):
    """Polls its files, reads what was appended, and emits whole lines."""

    name = "file"
    description = "Tails log files, globs and directories; resumes from checkpoints"
    Config: ClassVar[type] = FileMonitorConfig

    def tick_interval(self) -> float:
        return float(self.config.poll_interval_secs)

    def setup(self) -> None:
        self.files: dict[str, TailedFile] = {}
        self.stopping = False
        self.store: CheckpointStore | None = None
        self.saved: dict[str, tuple[str, int]] = {}
        if self.config.checkpoints:
            path = os.path.join(self.context.settings.state_path, "checkpoints.sqlite")
            self.store = CheckpointStore(path)
            self.saved = self.store.load(self.context.name)
        self._scan()
        self._pump()

    def teardown(self) -> None:
        for tailed in self.files.values():
            tailed.handle.close()
        self.files.clear()
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- discovery -------------------------------------------------------------------------
    def _expand(self) -> list[str]:
        found: list[str] = []
        for pattern in self.config.paths:
            pattern = os.path.expanduser(pattern)
            if os.path.isdir(pattern):
                pattern = os.path.join(pattern, "*")
            for path in sorted(glob.glob(pattern, recursive=True)):
                if os.path.isfile(path) and path not in found:
                    found.append(os.path.abspath(path))
        return found

    def _scan(self) -> None:
        for path in self._expand():
            if path not in self.files:
                self._open(path)

    def _open(self, path: str) -> None:
        try:
            st = os.stat(path)
            file_id = file_identity(path, st, self.config.follow)
            if file_id is None:
                return
            handle = open(path, "rb")
        except OSError as exc:
            self.log.warning("cannot open %s: %s", path, exc)
            return
        saved = self.saved.get(path)
        if saved is not None and saved[0] == file_id and saved[1] <= st.st_size:
            position = saved[1]
        elif self.config.start_at == "end" and saved is None:
            position = st.st_size
        else:
            position = 0
        self.files[path] = TailedFile(path, handle, file_id, position, position, st.st_size)

    # -- reading ---------------------------------------------------------------------------
    def _pump(self) -> None:
        """Read and emit while there is credit and data."""
        progress = True
        while progress and not self.stopping:
            progress = False
            for tailed in list(self.files.values()):
                if not self.has_credit():
                    return
                if self._read(tailed):
                    progress = True

    def _read(self, tailed: TailedFile) -> bool:
        tailed.handle.seek(tailed.position)
        data = tailed.handle.read(self.config.read_bytes)
        if not data:
            return False
        cut = data.rfind(b"\n") + 1
        if not self.config.follow and len(data) < self.config.read_bytes:
            cut = len(data)  # end of a file that is not followed: the last line is complete
        if cut == 0:
            if len(data) < self.config.read_bytes:
                return False  # a partial line: wait for its newline
            cut = len(data)  # a line longer than read_bytes: cut it
            self.counters["lines_cut"] += 1
        start = tailed.position
        tailed.position += cut
        self.emit(self.source(tailed.path, tailed.file_id), start, tailed.position,
                  data[:cut])
        return True

    def _check_rotation(self) -> None:
        for path, tailed in list(self.files.items()):
            try:
                st = os.stat(path)
            except OSError:
                tailed.state = "missing"
                continue
            tailed.size = st.st_size
            current = f"{st.st_dev}:{st.st_ino}:"
            if not tailed.file_id.startswith(current) or st.st_size < tailed.position:
                if tailed.position < os.fstat(tailed.handle.fileno()).st_size:
                    continue  # finish the old file first
                tailed.handle.close()
                del self.files[path]
                self._open(path)

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        if self.config.follow:
            self._check_rotation()
            self._scan()
        self._pump()

    def resume(self) -> None:
        self._pump()

    def commit(self, file_id: str, offset: int) -> None:
        for tailed in self.files.values():
            if tailed.file_id == file_id:
                tailed.committed = offset
                if self.store is not None:
                    self.store.commit(self.context.name, tailed.path, file_id, offset)

    def rewind(self) -> None:
        for tailed in self.files.values():
            tailed.position = tailed.committed

    def flush(self) -> None:
        self.stopping = True

    def answer(self, query: Query) -> Any:
        return super().answer(query)

    def status(self) -> dict[str, Any]:
        out = super().status()
        files = []
        behind = 0
        idle = self.in_flight == 0
        for tailed in self.files.values():
            size = max(tailed.size, os.fstat(tailed.handle.fileno()).st_size)
            behind += max(0, size - tailed.committed)
            if tailed.position < size:
                idle = False
            files.append({"path": tailed.path, "state": tailed.state, "size": size,
                          "read": tailed.position, "committed": tailed.committed})
        out.update(files=files, bytes_behind=behind, in_flight=self.in_flight, idle=idle,
                   time=time.time())
        return out
