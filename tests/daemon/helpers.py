"""Shared by the daemon tests: numbered log lines, the test plugin's entry point, daemons."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omphalos.cli.roles import query_daemon
from omphalos.daemon import pid_alive, read_pid

from ..conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
OMPHALOS = [sys.executable, "-m", "omphalos.cli.main"]
LINE = ('10.0.{a}.{b} - - [26/Nov/2026:13:00:00 +0000] "GET /n/{tag}{n} HTTP/1.1" {status} '
        '512 "-" "test-agent/1.0"\n')


@contextlib.contextmanager
def shared_tmp() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp dirs are root's alone), for tests
    that run a command as ``nobody``; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="omphalos-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody(command: list[str]) -> list[str]:
    """``command`` run as the unprivileged user nobody (a real permission check: root
    reads a mode-000 file, nobody does not)."""
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]


def numbered_lines(first: int, count: int, tag: str = "") -> str:
    """``count`` combined-format lines for ``/n/<tag><number>``, numbers from ``first``."""
    return "".join(LINE.format(a=n % 250, b=n % 199, tag=tag, n=n, status=200)
                   for n in range(first, first + count))


def register_test_plugin(tmp: Path) -> str:
    """A site dir whose ``*.dist-info`` registers ``linelog`` like an installed package.

    Returns the PYTHONPATH (that dir and the project root) a subprocess needs to find it.
    """
    site = tmp / "testsite"
    info = site / "omphalos_testplugins-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: omphalos-testplugins\n"
                                   "Version: 0.0.0\n")
    (info / "entry_points.txt").write_text(
        "[omphalos.plugins]\nlinelog = tests.daemon.lineplugin:LineLog\n")
    return os.pathsep.join([str(site), str(ROOT)])


def subprocess_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = register_test_plugin(tmp)
    env.pop("NOTIFY_SOCKET", None)
    return env


def recorded(path: Path, tag: str = "") -> list[int]:
    """Line numbers the ``linelog`` collector recorded (those with ``tag``)."""
    if not path.exists():
        return []
    out = []
    for item in path.read_text().split():
        if tag and item.startswith(tag):
            out.append(int(item[len(tag):]))
        elif not tag and item.isdigit():
            out.append(int(item))
    return out


def status(pid_file: Path, timeout: float = 15.0) -> dict[str, Any]:
    """The running daemon's status report (via SIGUSR1 and its status file)."""
    code, report, message = query_daemon(
        str(pid_file), str(pid_file.with_suffix(".status.json")), timeout)
    assert code == 0 and report is not None, message
    return report


def wait_gone(pid: int, timeout: float = 40.0) -> None:
    wait_for(lambda: not pid_alive(pid), timeout=timeout, interval=0.05)


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def start_daemon(args: list[str], env: dict[str, str], pid_file: Path) -> int:
    """Run ``omphalos ARGS --daemon --pid-file PID_FILE``; the daemon's pid once ready."""
    result = subprocess.run([*OMPHALOS, *args, "--daemon", "--pid-file", str(pid_file)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    pid = read_pid(str(pid_file))
    assert pid is not None and pid_alive(pid)
    return pid


def stop_daemon(pid: int, timeout: float = 40.0) -> None:
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
    wait_gone(pid, timeout)


def kill_leftovers(marker: str) -> None:
    """Test cleanup: SIGKILL only processes started for this test (found by ``marker``)."""
    for pid in processes_mentioning(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Writer(threading.Thread):
    """Appends numbered lines to ``path`` in chunks until stopped; ``written`` counts them."""

    def __init__(self, path: Path, chunk: int = 300, pause: float = 0.01) -> None:
        super().__init__(name="test-writer")
        self.path, self.chunk, self.pause = path, chunk, pause
        self.written = 0
        self.halt = threading.Event()

    def run(self) -> None:
        with open(self.path, "a") as fh:
            while not self.halt.is_set():
                fh.write(numbered_lines(self.written + 1, self.chunk))
                fh.flush()
                self.written += self.chunk
                self.halt.wait(self.pause)

    def stop(self) -> int:
        self.halt.set()
        if self.is_alive():
            self.join()
        return self.written
