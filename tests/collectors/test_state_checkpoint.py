"""The state store's WAL is checkpointed after a commit's acknowledgements, not inside it.

SQLite checkpoints the write-ahead log into the database (with an ``fsync``) inside any
commit that crosses ``wal_autocheckpoint`` pages; the acknowledgements that commit holds
would wait for it. The store turns that off and the writer thread checkpoints once the
commit's ``done`` (which sends the acknowledgements) has run. Real SQLite files: a save of
8 MB leaves the database file as it was until the checkpoint, which then holds it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from omphalos.state import StateStore
from omphalos.state_writer import StateWriter

from ..conftest import wait_for

BIG = 8 << 20  # far beyond SQLite's default autocheckpoint of 1000 pages (4 MB)


def test_a_commit_does_not_checkpoint_and_checkpoint_does(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = StateStore(str(path))
    try:
        before = path.stat().st_size
        store.save("collector:x", {"part": b"x" * BIG})
        assert path.stat().st_size == before  # every page still in the WAL only
        assert os.path.getsize(str(path) + "-wal") > BIG
        assert store.checkpoint() == 0  # all of the log copied
        assert path.stat().st_size > BIG
        assert store.load("collector:x").parts == {"part": b"x" * BIG}
    finally:
        store.close()


def test_the_writer_checkpoints_after_the_acknowledgements(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = StateStore(str(path))
    writer = StateWriter(store, "collector:x")
    try:
        before = path.stat().st_size
        seen: list[tuple[int, int]] = []  # (bytes, database size) when done ran
        done = threading.Event()

        def committed(written: int, secs: float) -> None:  # sends the acks in a collector
            seen.append((written, path.stat().st_size))
            done.set()

        prepared = store.prepare("collector:x", {"part": b"y" * BIG})
        writer.submit(prepared, committed, lambda exc: None)
        writer.drain()
        assert done.is_set()
        wait_for(lambda: writer.checkpoints == 1, 30)
        assert seen == [(prepared.size, before)]  # acknowledged before the checkpoint
        assert path.stat().st_size > BIG  # which then copied the save into the database
        assert writer.checkpoint_errors == 0
    finally:
        writer.close()
        store.close()
