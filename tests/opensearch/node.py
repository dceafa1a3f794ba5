"""A real single-node OpenSearch for the tests: built by ``build``, run by ``start``.

:class:`OpenSearchNode` runs ``tests/opensearch/start --watch-stdin`` (which execs the JVM, so
the process is the node itself) with its data in a directory of the caller's, waits until the
cluster is green or yellow, and stops it with SIGTERM (the node closes cleanly). The node also
exits when its standard input closes, so it never outlives the test process. Stopped and
started again with the same directory and port, it comes back with its indices: that is how
the tests make the cluster go away and come back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

__all__ = ["HERE", "NodeUnavailable", "OpenSearchNode", "build"]

HERE = Path(__file__).resolve().parent
#: The user's home as it was on import: Maven's cache is ``~/.m2``, and the tests point HOME
#: at a temporary directory of their own.
USER_HOME = os.path.expanduser("~")
#: Seconds a start may take: a cold JVM on a loaded 2-core machine needs up to a minute.
START_TIMEOUT = 240.0


class NodeUnavailable(Exception):
    """Java or Maven is missing: the real-node tests cannot run here (a reason to skip)."""


def build() -> float:
    """Resolve the jars and compile the launcher (``build``); the seconds it took.

    NodeUnavailable when java, javac or mvn is missing; RuntimeError when the build fails.
    """
    for tool in ("java", "javac", "mvn"):
        if shutil.which(tool) is None:
            raise NodeUnavailable(f"'{tool}' not found: the real OpenSearch node needs Java 17 "
                                  "(JDK) and Maven")
    started = time.monotonic()
    proc = subprocess.run(["bash", str(HERE / "build")], capture_output=True, text=True,
                          timeout=900, env=_env())
    if proc.returncode == 3:
        raise NodeUnavailable(proc.stderr.strip())
    if proc.returncode != 0:
        raise RuntimeError(f"tests/opensearch/build failed ({proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    return time.monotonic() - started


def _env() -> dict[str, str]:
    return {**os.environ, "HOME": USER_HOME}


class OpenSearchNode:
    """One node on ``127.0.0.1:port`` with its data under ``home``."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_secs = 0.0
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """The node's standard output and error (appended over restarts)."""
        return self.home.with_name(self.home.name + ".log")

    def start(self, timeout: float = START_TIMEOUT) -> OpenSearchNode:
        """Start the node and wait until it answers with a green or yellow cluster."""
        if self.proc is not None:
            raise RuntimeError("the node is already running")
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # closed in stop()
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["bash", str(HERE / "start"), "--port", str(self.port), "--home", str(self.home),
             "--watch-stdin"], stdin=subprocess.PIPE, stdout=self._log,
            stderr=subprocess.STDOUT, env=_env())
        deadline = started + timeout
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._close_log()
                self.proc = None
                raise RuntimeError(f"the OpenSearch node exited with {code} while starting; "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            if self._healthy():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenSearch node did not answer within {timeout:.0f}s;"
                                   f" see {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.25)
        self.start_secs = time.monotonic() - started
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health?wait_for_status=yellow"
                                        "&timeout=2s", timeout=5) as answer:
                health = json.loads(answer.read())
        except (OSError, ValueError):
            return False
        return not health.get("timed_out") and health.get("status") in ("green", "yellow")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, and wait for the process to end (SIGKILL after ``timeout``)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdin is not None:
            proc.stdin.close()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_bytes(self) -> int:
        """The node process's resident memory (0 when it is not running)."""
        if not self.running or self.proc is None:
            return 0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One JSON request to the node; (status, decoded answer)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None
