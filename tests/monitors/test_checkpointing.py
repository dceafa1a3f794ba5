"""Checkpoint policy when writes fail with EIO, and the classification of disk errors.

EIO cannot be made on demand on a real disk here (a tmpfs never fails that way, and a
device-mapper error target needs kernel modules), so ``EioStore`` is an injected fault: a
real SQLite store whose writes raise an EIO-caused ``CheckpointWriteError`` while
``failing`` is set. The ENOSPC path is tested on a real full tmpfs (``test_disk_full``).
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from pathlib import Path

import pytest
from omphalos.plugins.monitors.file.checkpointing import CheckpointPolicy
from omphalos.plugins.monitors.file.identity import Identity

from omphalos.checkpoint import CheckpointStore, CheckpointWriteError, is_disk_trouble


class EioStore(CheckpointStore):
    """Injected fault (see the module doc): writes fail with EIO while ``failing``."""

    failing = False

    def commit(self, monitor: str, file_id: str, path: str, offset: int) -> None:
        if self.failing:
            raise CheckpointWriteError(self.path, OSError(errno.EIO, "I/O error"))
        super().commit(monitor, file_id, path, offset)

    def forget(self, monitor: str, file_id: str) -> None:
        if self.failing:
            raise CheckpointWriteError(self.path, OSError(errno.EIO, "I/O error"))
        super().forget(monitor, file_id)


def test_failed_writes_are_kept_in_order_and_written_when_the_disk_works(
        tmp_path: Path) -> None:
    path = str(tmp_path / "checkpoints.sqlite")
    policy = CheckpointPolicy("monitor:x", path, logging.getLogger("omphalos.test"))
    store = EioStore(path)
    policy.store = store
    a, b = Identity(1, 10, 0xAA), Identity(1, 11, 0xBB)
    policy.save(a, "/logs/a", 100)
    store.failing = True
    policy.save(a, "/logs/a", 200)
    policy.save(b, "/logs/b", 50)
    policy.forget(b)  # the forget after the save must win
    policy.save(a, "/logs/a", 300)
    assert policy.disk_full == f"disk full: {path}" and policy.write_failures == 1
    assert policy.retry() is False and policy.write_failures == 2
    assert policy.known[a.content].offset == 300  # memory is always current
    store.failing = False
    assert policy.retry() is True and policy.disk_full == ""
    rows = {(cp.file_id, cp.offset) for cp in store.load("monitor:x")}
    assert rows == {(a.file_id, 300)}
    policy.close()


def test_disk_errors_are_told_from_other_errors(tmp_path: Path) -> None:
    assert is_disk_trouble(OSError(errno.ENOSPC, "full"))
    assert is_disk_trouble(OSError(errno.EIO, "io"))
    assert not is_disk_trouble(OSError(errno.EACCES, "denied"))
    db = sqlite3.connect(tmp_path / "x.sqlite")
    with pytest.raises(sqlite3.OperationalError) as caught:
        db.execute("SELECT * FROM missing")
    assert not is_disk_trouble(caught.value)  # a programming error is not a full disk
    db.close()
