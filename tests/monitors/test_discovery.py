"""Discovery: paths, globs, ``**``, directories, exclusions, new files, thousands of files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omphalos.plugins.monitors.file.discovery import Discovery, compile_pattern

from tests.conftest import wait_for

from .helpers import exactly_once, monitor_status, pipeline, seen
from .writer import line


def test_patterns_know_their_watch_roots(tmp_path: Path) -> None:
    plain = compile_pattern(str(tmp_path / "a.log"))
    assert plain.explicit and plain.root == str(tmp_path) and not plain.recursive
    star = compile_pattern(str(tmp_path / "*.log"))
    assert not star.explicit and star.root == str(tmp_path) and not star.recursive
    deep = compile_pattern(str(tmp_path / "**" / "*.log"))
    assert deep.root == str(tmp_path) and deep.recursive
    folder = compile_pattern(str(tmp_path))  # a directory means its files
    assert folder.glob == str(tmp_path / "*") and not folder.explicit


def test_scan_globs_recursion_directories_and_exclusions(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("x.log", "a/y.log", "a/b/z.log", "a/b/z.log.1.gz", "a/notes.txt"):
        (tmp_path / name).write_text("1\n")
    os.mkfifo(tmp_path / "a" / "fifo.log")
    deep = Discovery([str(tmp_path / "**" / "*.log")]).scan()
    assert deep == sorted(str(tmp_path / n) for n in ("a/b/z.log", "a/y.log", "x.log"))
    folder = Discovery([str(tmp_path / "a")], exclude=["*.txt"]).scan()
    assert folder == [str(tmp_path / "a" / "y.log")]  # not the fifo, not the excluded
    roots = Discovery([str(tmp_path / "**" / "*.log"), str(tmp_path / "a" / "*.log")]).roots()
    assert roots == {str(tmp_path): True}  # the recursive watch covers the other


@pytest.mark.timeout(120)
def test_thousands_of_files_and_new_ones_while_running(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    for i in range(2000):
        folder = root / f"site{i % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"access{i}.log").write_bytes(line(i + 1))
    with pipeline(tmp_path, [str(root / "**" / "*.log")]) as pipe:
        wait_for(lambda: len(seen(pipe)) == 2000, timeout=90)
        late = root / "new-site" / "deeper"
        late.mkdir(parents=True)
        for i in range(2000, 2010):
            (late / f"access{i}.log").write_bytes(line(i + 1))
        (root / "site0" / "access0.log").open("ab").write(line(2011))
        wait_for(lambda: len(seen(pipe)) == 2011, timeout=60)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, 2011) == []
    assert status["files_watched"] == 2010


@pytest.mark.timeout(60)
def test_missing_path_and_non_regular_file_are_reported(tmp_path: Path) -> None:
    missing = tmp_path / "later.log"
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    with pipeline(tmp_path, [str(missing), str(fifo)]) as pipe:
        states = {f["path"]: f["state"] for f in monitor_status(pipe)["files"]}
        assert states == {str(missing): "missing", str(fifo): "error"}
        assert pipe.wait_idle(timeout=30)  # nothing to read is idle, not stuck
        missing.write_bytes(line(1) + line(2))
        wait_for(lambda: len(seen(pipe)) == 2)
        states = {f["path"]: f["state"] for f in monitor_status(pipe)["files"]}
    assert states[str(missing)] == "waiting"  # read to its end, waiting for more


@pytest.mark.timeout(60)
def test_a_dangling_symlink_is_read_from_its_targets_first_line(tmp_path: Path) -> None:
    """The link's target does not exist when the monitor first looks, then is created
    empty (too small to fingerprint) in another directory, then written. Only the target's
    directory reports those writes; ticks are made too rare here to find them instead."""
    folder = tmp_path / "logs"
    folder.mkdir()
    link = tmp_path / "current.log"
    os.symlink(folder / "a0.log", link)
    rare = {"stat_interval_secs": 120, "discover_interval_secs": 120}
    with pipeline(tmp_path, [str(link)], **rare) as pipe:
        assert monitor_status(pipe)["files"][0]["state"] == "missing"
        target = folder / "a0.log"
        target.touch()  # created empty: found, but waiting for bytes to fingerprint
        wait_for(lambda: monitor_status(pipe)["counters"].get("wakeups", 0) >= 1, timeout=10)
        with target.open("ab") as out:
            for n in range(1, 51):
                out.write(line(n))
        wait_for(lambda: sum(seen(pipe).values()) >= 50, timeout=20)
        assert exactly_once(seen(pipe), 1, 50) == []
