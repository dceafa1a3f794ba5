"""File identity: fingerprints, generations, and a re-used inode never shadowing new lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omphalos.plugins.monitors.file.identity import (
    FINGERPRINT_BYTES,
    Identity,
    fingerprint,
    identify,
    parse_file_id,
)

from tests.conftest import wait_for

from .helpers import monitor_status, pipeline, seen
from .writer import line


def test_fingerprint_covers_the_first_line_only_and_waits_when_too_short() -> None:
    assert fingerprint(b"") is None
    assert fingerprint(b"no newline yet") is None
    first = fingerprint(b"first line\n")
    assert first is not None
    assert fingerprint(b"first line\nsecond line\n") == first  # appending never changes it
    assert fingerprint(b"other line\n") != first
    long_line = b"x" * (FINGERPRINT_BYTES + 10)
    assert fingerprint(long_line) == fingerprint(long_line + b"more\n")


def test_file_id_round_trips_and_generations_differ() -> None:
    ident = Identity(2049, 1234, 0xDEADBEEF)
    assert ident.file_id == "2049:1234:deadbeef"
    assert parse_file_id(ident.file_id) == ident
    nxt = ident.next_generation(0xDEADBEEF)
    assert nxt.key == ident.key and nxt.file_id != ident.file_id
    assert parse_file_id(nxt.file_id) == nxt
    assert nxt.next_generation(1).gen > nxt.gen
    assert parse_file_id("not-an-id") is None
    assert parse_file_id("1:2:zz") is None


def test_identify_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"partial")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert identify(fd) is None  # too small: waits
        with path.open("ab") as fh:
            fh.write(b" line\n")
        ident = identify(fd)
        st = path.stat()
        assert ident is not None and ident.key == (st.st_dev, st.st_ino)
    finally:
        os.close(fd)


@pytest.mark.timeout(60)
def test_deleted_then_recreated_with_the_same_first_line_is_read_again(tmp_path: Path) -> None:
    """Even when the inode is reused, the new file gets a new identity (a generation)."""
    log = tmp_path / "access.log"
    content = b"".join(line(n) for n in range(1, 21))
    log.write_bytes(content)
    with pipeline(tmp_path, [str(log)], rotate_wait_secs=0.2) as pipe:
        wait_for(lambda: sum(seen(pipe).values()) == 20)
        old_id = monitor_status(pipe)["files"][0]["file_id"]
        log.unlink()
        wait_for(lambda: monitor_status(pipe)["counters"].get("files_closed"))
        log.write_bytes(content)  # same bytes again: same first line, maybe the same inode
        wait_for(lambda: sum(seen(pipe).values()) == 40)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert sorted(counts) == list(range(1, 21)) and set(counts.values()) == {2}
    assert status["files"][0]["file_id"] != old_id
