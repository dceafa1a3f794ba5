"""Reading is not following: a file read once to its end (``follow = no``, ``replay``) is
read to its last byte however small, even a lone line with no final newline (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .helpers import exactly_once, monitor_status, pipeline, seen
from .writer import line

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(60)
def test_replay_reads_a_lone_short_line_without_newline(tmp_path: Path) -> None:
    small = tmp_path / "small.log"
    small.write_bytes(line(7).rstrip(b"\n"))  # under 256 bytes, no newline
    assert len(small.read_bytes()) < 256
    proc = subprocess.run([sys.executable, "-m", "omphalos.cli.main", "replay", str(small),
                           "--format", "common", "--json"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["requests"] == 1 and summary["unparsed"] == 0
    assert summary["status"] == {"200": 1}


@pytest.mark.timeout(60)
def test_not_following_reads_short_files_and_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(line(1).rstrip(b"\n"))
    (tmp_path / "b.log").write_bytes(line(2) + line(3).rstrip(b"\n"))
    (tmp_path / "c.log").write_bytes(b"")
    with pipeline(tmp_path, [str(tmp_path / "*.log")], follow=False) as pipe:
        wait_for(lambda: len(seen(pipe)) == 3, timeout=30)
        assert pipe.wait_idle(timeout=30)
        counts = seen(pipe)
        status = monitor_status(pipe)
    assert exactly_once(counts, 1, 3) == []
    sizes = {Path(f["path"]).name: (f["read"], f["size"]) for f in status["files"]}
    assert sizes["a.log"] == (len(line(1)) - 1,) * 2
    assert sizes["c.log"] == (0, 0)


@pytest.mark.timeout(60)
def test_following_still_waits_for_a_fingerprint(tmp_path: Path) -> None:
    """When following, a short file without a complete first line cannot be told apart
    from the next file at its inode yet: it waits, then is read once its line ends."""
    log = tmp_path / "access.log"
    log.write_bytes(line(1)[:40])
    with pipeline(tmp_path, [str(log)]) as pipe:
        wait_for(lambda: any(f["state"] == "waiting" for f in monitor_status(pipe)["files"]))
        assert seen(pipe) == {}
        with log.open("ab") as fh:
            fh.write(line(1)[40:])
        wait_for(lambda: len(seen(pipe)) == 1, timeout=30)
        counts = seen(pipe)
    assert exactly_once(counts, 1, 1) == []
