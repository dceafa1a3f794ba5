"""Lines: partial last lines held, over-long lines cut and counted, invalid UTF-8 harmless."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from omphalos.plugins.monitors.file.identity import Identity
from omphalos.plugins.monitors.file.tailing import LineCutter, Piece, Tailer

from tests.conftest import wait_for

from .helpers import monitor_status, pipeline, seen
from .writer import line


def _tailer(path: Path) -> Tailer:
    fd = os.open(path, os.O_RDONLY)
    return Tailer(str(path), fd, Identity(0, 0, 0), 0, 0, path.stat().st_size)


def _read_all(cutter: LineCutter, tailer: Tailer, final: bool = False) -> list[Piece]:
    out: list[Piece] = []
    while True:
        pieces, moved = cutter.read(tailer, final)
        out.extend(pieces)
        if not moved:
            return out


def test_partial_last_line_is_held_until_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo\nthr")
    tailer = _tailer(path)
    cutter = LineCutter(4096, 1024)
    try:
        assert _read_all(cutter, tailer) == [Piece(0, 8, b"one\ntwo\n")]
        assert tailer.position == 8 and tailer.held == 3
        with path.open("ab") as fh:
            fh.write(b"ee\n")
        tailer.size = path.stat().st_size
        assert _read_all(cutter, tailer) == [Piece(8, 14, b"three\n")]
        with path.open("ab") as fh:
            fh.write(b"last, no newline")
        assert _read_all(cutter, tailer, final=True) == [Piece(14, 30, b"last, no newline\n")]
    finally:
        tailer.close()


def test_over_long_lines_are_cut_counted_and_keep_true_offsets(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    long_one = b"L" * 3000 + b"\n"  # within one read
    huge = b"H" * 20000 + b"\n"  # longer than a whole read
    path.write_bytes(b"ok1\n" + long_one + b"ok2\n" + huge + b"ok3\n")
    tailer = _tailer(path)
    cutter = LineCutter(4096, 1024)
    try:
        pieces = _read_all(cutter, tailer)
    finally:
        tailer.close()
    data = b"".join(p.data for p in pieces)
    assert data == b"ok1\n" + b"L" * 1024 + b"\nok2\n" + b"H" * 1024 + b"\nok3\n"
    assert cutter.lines_cut == 2
    assert pieces[0].start == 0 and pieces[-1].end == path.stat().st_size
    for before, after in itertools.pairwise(pieces):
        assert before.end == after.start  # offsets cover the file without gaps


@pytest.mark.timeout(60)
def test_invalid_utf8_and_long_lines_never_stop_the_monitor(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    bad = line(3).replace(b"- -", b"- \xff\xfe\xc3")  # invalid UTF-8 in the user field
    log.write_bytes(line(1) + line(2) + bad + b"\xff" * 5000 + b"\n" + line(4))
    with pipeline(tmp_path, [str(log)], max_line_bytes=1024, read_bytes=4096) as pipe:
        wait_for(lambda: 4 in pipe.query("numbers", collector="numbers")["seen"])
        answer = pipe.query("numbers", collector="numbers")
        status = monitor_status(pipe)
    assert {1, 2, 4} <= set(answer["seen"])  # the lines after the bad ones are read
    assert answer["unparsed"] >= 1  # the cut garbage line is counted, not lost silently
    assert status["counters"]["lines_cut"] == 1


@pytest.mark.timeout(60)
def test_partial_line_flushed_after_the_configured_time_out(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(line(1) + line(2).rstrip(b"\n"))
    with pipeline(tmp_path, [str(log)], partial_line_timeout_secs=0.5,
                  stat_interval_secs=0.2) as pipe:
        wait_for(lambda: len(seen(pipe)) == 2)
        status = monitor_status(pipe)
    assert status["counters"]["partial_lines_flushed"] == 1
