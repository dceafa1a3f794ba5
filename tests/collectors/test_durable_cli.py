"""``omphalos replay --state`` accumulates runs; ``omphalos run FILE`` resumes and says so.

Real ``omphalos`` processes on real copies of the Apache log that ships with the tests.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REAL_LOG, wait_for

ROOT = Path(__file__).resolve().parents[2]
LINES = REAL_LOG.read_bytes().splitlines(keepends=True)


def omphalos(*args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "omphalos.cli.main", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


@pytest.mark.timeout(120)
def test_replay_state_counts_each_line_once_across_runs(tmp_path: Path) -> None:
    yesterday, today = tmp_path / "access.log.1", tmp_path / "access.log"
    yesterday.write_bytes(b"".join(LINES[:6000]))
    today.write_bytes(b"".join(LINES[6000:]))
    state = tmp_path / "replay.sqlite"
    totals = []
    for path in (yesterday, today, yesterday):
        proc = omphalos("replay", "--state", str(state), "--json", str(path))
        assert proc.returncode == 0, proc.stderr
        totals.append(json.loads(proc.stdout)["requests"])
    assert totals == [6000, 10_000, 10_000]
    # both files at once, again: nothing new
    proc = omphalos("replay", "--state", str(state), "--json", str(yesterday), str(today))
    summary = json.loads(proc.stdout)
    assert summary["requests"] == 10_000 and summary["lines"] == 10_000
    assert summary["status_class"] == {"2xx": 9171, "3xx": 609, "4xx": 217, "5xx": 3}
    assert summary["top_paths"][0]["path"] == "/favicon.ico"
    assert summary["top_paths"][0]["hits"] == 807
    # without --state a replay counts only what it reads
    proc = omphalos("replay", "--json", str(yesterday))
    assert json.loads(proc.stdout)["requests"] == 6000


def committed(db: Path, since: float) -> int:
    """The largest offset committed since ``since`` (epoch seconds)."""
    if not db.exists():
        return -1
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT max(offset) FROM offsets WHERE updated >= ?",
                           (since,)).fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def run_until_read(log: Path, env: dict[str, str], *extra: str
                   ) -> tuple[dict[str, int], str]:
    """``omphalos run --json LOG``, stopped by SIGTERM once the whole file is committed."""
    db = Path(env["OMPHALOS_STATE_DIR"]) / "checkpoints.sqlite"
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "omphalos.cli.main", "run", "--json",
                             *extra, str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        wait_for(lambda: committed(db, started) == log.stat().st_size
                 or proc.poll() is not None, 60)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return json.loads(out), err


@pytest.mark.timeout(180)
def test_run_resumes_says_so_and_counts_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(LINES[:4000]))
    size = log.stat().st_size
    env = {**os.environ, "OMPHALOS_STATE_DIR": str(tmp_path / "state")}
    first, err = run_until_read(log, env)
    assert first["requests"] == 4000
    assert "resuming" not in err
    with log.open("ab") as fh:
        fh.write(b"".join(LINES[4000:]))
    second, err = run_until_read(log, env)
    notes = [line for line in err.splitlines() if "resuming" in line]
    assert len(notes) == 1, err
    assert notes[0].startswith(f"omphalos: resuming {log} at byte {size} (saved 20")
    assert notes[0].endswith("--from-start reads it from the start")
    # the saved counts and the lines read since: the whole file, each line once
    assert second["requests"] == 10_000
    assert second["status_class"] == {"2xx": 9171, "3xx": 609, "4xx": 217, "5xx": 3}
    again, err = run_until_read(log, env, "--from-start")
    assert "resuming" not in err
    assert again["requests"] == 10_000  # counted from its start again, not added
    # another file (or the same file with other options) never resumes from this progress
    other = tmp_path / "other.log"
    other.write_bytes(b"".join(LINES[:1000]))
    alone, err = run_until_read(other, env)
    assert alone["requests"] == 1000 and "resuming" not in err
