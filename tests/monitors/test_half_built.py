"""A file monitor whose setup fails half-way releases what it took: its open log files, its
checkpoint store and its inotify watcher's threads (issue 21: built complete or not at all,
no teardown guards)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from omphalos.plugins.monitors.file import FileMonitor, FileMonitorConfig

from omphalos.directory import Directory
from omphalos.plugin import PluginContext
from omphalos.settings import Settings
from tests.conftest import wait_for


class FailsAfterReading(FileMonitor):
    """Injected fault: setup raises once the real monitor has found, opened and started
    watching its files (nothing else in setup can be made to fail after that point)."""

    def _start_reading(self) -> None:
        super()._start_reading()
        raise RuntimeError("injected failure after the files were opened")


def _open_paths() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # the listing's own fd, closed already
    return out


@pytest.mark.parametrize("mode", ["events", "polling"])
def test_a_failed_setup_closes_files_store_and_watcher(tmp_path: Path, mode: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.log", "b.log"):
        (logs / name).write_text("line\n" * 3)
    state = tmp_path / "state"
    monitor = FailsAfterReading(
        PluginContext("monitor:half", Settings(state_dir=str(state)), Directory()),
        FileMonitorConfig(paths=(str(logs),), mode=mode, checkpoints=True))
    threads = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="injected"):
        monitor.on_start()  # what pykka runs in the actor's thread
    assert monitor.started  # the files had been opened and read
    assert (monitor.watcher is not None) == (mode == "events")
    opened = _open_paths()
    assert not {str(logs / "a.log"), str(logs / "b.log")} & opened
    assert not {p for p in opened if p.startswith(str(state))}  # the checkpoint store
    assert monitor.policy.store is None
    wait_for(lambda: set(threading.enumerate()) == threads, timeout=10)
