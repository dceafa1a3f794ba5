"""Missing and unreadable paths are named: ``check``, ``replay``, ``run`` and an unwritable
state directory, each as a real unprivileged user (``nobody``: root reads mode-000 files)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import REAL_LOG, wait_for
from .helpers import OMPHALOS, ROOT, as_nobody, shared_tmp

pytestmark = pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to run commands as nobody")


@pytest.fixture
def tmp() -> Iterator[Path]:
    with shared_tmp() as path:
        (path / "home").mkdir(mode=0o777)
        (path / "home").chmod(0o777)
        readable = path / "ok.log"
        shutil.copy(REAL_LOG, readable)
        readable.chmod(0o644)
        locked = path / "locked.log"
        locked.write_text(REAL_LOG.read_text().splitlines(keepends=True)[0])
        locked.chmod(0o000)
        closed = path / "closed"
        closed.mkdir(mode=0o700)
        shutil.copy(REAL_LOG, closed / "inside.log")
        yield path


def run_as_nobody(args: list[str], tmp: Path, **kwargs: object
                  ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "PYTHONPATH": str(ROOT),
           "OMPHALOS_NO_DEFAULT_CONFIG": "1", "OMPHALOS_STATE_DIR": str(tmp / "home" / "st")}
    return subprocess.run(as_nobody([*OMPHALOS, *args]), env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp, **kwargs)  # type: ignore[call-overload]


def config(tmp: Path, *paths: Path, state: str = "") -> Path:
    conf = tmp / "single.conf"
    conf.write_text((f"[omphalos]\nstate_dir = {state}\n" if state else "")
                    + f"[monitor:web]\npaths = {', '.join(map(str, paths))}\n"
                    # the column dimensions only: the run below is stopped as soon as the
                    # warnings appear, and the user-agent dimensions' first batches (their
                    # rules loaded, each new agent parsed once) take longer than that
                    "[collector:summary]\n"
                    "dimensions = path, client, host, status, agent, referer, method\n")
    conf.chmod(0o644)
    return conf


@pytest.mark.timeout(60)
def test_check_names_unreadable_and_missing_files(tmp: Path) -> None:
    conf = config(tmp, tmp / "ok.log", tmp / "locked.log", tmp / "closed" / "inside.log",
                  tmp / "none.log")
    result = run_as_nobody(["-c", str(conf), "check"], tmp)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: monitor:web: {tmp}/locked.log: permission denied",
        f"error: monitor:web: {tmp}/closed/inside.log: permission denied",
        f"warning: monitor:web: {tmp}/none.log: no such file (the monitor waits for it)",
        f"config has errors: {conf}"]
    # only a file that is not there yet: a warning, and the config is fine
    fine = run_as_nobody(["-c", str(config(tmp, tmp / "ok.log", tmp / "none.log")), "check"],
                         tmp)
    assert fine.returncode == 0, fine.stderr
    assert fine.stdout.startswith("config OK: ")
    assert "none.log: no such file" in fine.stderr


@pytest.mark.timeout(60)
def test_replay_of_an_unreadable_file_fails_naming_it(tmp: Path) -> None:
    result = run_as_nobody(["replay", str(tmp / "locked.log")], tmp)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"omphalos: cannot read {tmp}/locked.log: permission denied\n"
    inside = run_as_nobody(["replay", str(tmp / "closed" / "inside.log")], tmp)
    assert inside.returncode == 1
    assert inside.stderr == (f"omphalos: cannot read {tmp}/closed/inside.log: "
                             "permission denied\n")
    # as before, a file that is really absent is "no such file"
    absent = run_as_nobody(["replay", str(tmp / "none.log")], tmp)
    assert absent.returncode == 2
    assert absent.stderr == f"omphalos: config error: no such file: {tmp}/none.log\n"


def committed(state_dir: Path, log: Path) -> int:
    """The offset the monitor committed for ``log`` in its checkpoint store (0: none)."""
    db = state_dir / "checkpoints.sqlite"
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT MAX(offset) FROM offsets WHERE path = ?",
                               (str(log),)).fetchone()
        except sqlite3.Error:  # being created
            return 0
    return int(row[0] or 0)


@pytest.mark.timeout(120)
def test_run_logs_the_unreadable_file_once(tmp: Path) -> None:
    conf = config(tmp, tmp / "ok.log", tmp / "locked.log", tmp / "none.log")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "PYTHONPATH": str(ROOT),
           "OMPHALOS_NO_DEFAULT_CONFIG": "1", "OMPHALOS_STATE_DIR": str(tmp / "home" / "st")}
    err_path = tmp / "run.err"
    locked = f"monitor:web: cannot read {tmp}/locked.log: permission denied"
    missing = f"monitor:web: {tmp}/none.log: no such file or directory; waiting for it"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen(as_nobody([*OMPHALOS, "-c", str(conf), "run"]), env=env,
                                stdout=subprocess.PIPE, stderr=err_file, text=True, cwd=tmp)
        try:  # the page of zeros now says why, on the first look at the files
            wait_for(lambda: locked in err_path.read_text() and missing in err_path.read_text(),
                     timeout=60, interval=0.1)  # the start alone takes seconds when busy
            wait_for(lambda: err_path.read_text().count("WARNING") >= 1, timeout=5)
            # the readable file read to its end (committed) before the stop: on a busy
            # machine the warnings come well before the 10,000 lines are counted
            wait_for(lambda: committed(tmp / "home" / "st", tmp / "ok.log")
                     == (tmp / "ok.log").stat().st_size, timeout=60, interval=0.2)
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
    err = err_path.read_text()
    assert proc.returncode == 0, err
    assert err.count(locked) == 1 and err.count(missing) == 1  # once, not at every look
    assert "Traceback" not in err
    assert out.startswith("requests  10,000")


@pytest.mark.timeout(60)
def test_unwritable_state_dir_is_one_clear_error(tmp: Path) -> None:
    state = tmp / "rootstate"
    state.mkdir(mode=0o755)
    conf = config(tmp, tmp / "ok.log", state=str(state))
    result = run_as_nobody(["-c", str(conf), "run"], tmp)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"omphalos: state directory {state} is not writable: "
                             "permission denied\n")
    check = run_as_nobody(["-c", str(conf), "check"], tmp)
    assert check.returncode == 1
    assert f"error: state directory {state} is not writable: permission denied" \
        in check.stderr.splitlines()


@pytest.mark.timeout(60)
def test_replay_into_a_pipe_closed_early_ends_quietly(tmp: Path) -> None:
    """``omphalos replay LOG | head -2``: two lines, no BrokenPipeError."""
    result = subprocess.run(f"{' '.join(OMPHALOS)} replay {tmp / 'ok.log'} | head -2",
                            shell=True, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.stdout.splitlines()[0].startswith("requests  10,000")
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == ""
    closed = subprocess.run(f"{' '.join(OMPHALOS)} replay {tmp / 'ok.log'} | true; "
                            "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert closed.stderr == ""
    assert closed.stdout.strip() in ("0", "141")


@pytest.mark.timeout(60)
def test_unwritable_history_dir_is_named_with_its_option(tmp: Path) -> None:
    """Not only the state directory: a component's own place to write (here the window
    collector's SQLite history) is checked and named, instead of sqlite's "unable to open
    database file" without a path."""
    closed = tmp / "rootonly"
    closed.mkdir(mode=0o755)
    conf = config(tmp, tmp / "ok.log")
    conf.write_text(conf.read_text() + f"[collector:window]\nhistory_path = {closed}/h.sqlite\n")
    result = run_as_nobody(["-c", str(conf), "run"], tmp)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"omphalos: collector:window: history_path: directory {closed} "
                             "is not writable: permission denied\n")
    check = run_as_nobody(["-c", str(conf), "check"], tmp)
    assert check.returncode == 1
    assert (f"error: collector:window: history_path: directory {closed} is not writable: "
            "permission denied") in check.stderr.splitlines()
