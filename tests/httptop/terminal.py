"""A real terminal for end-to-end tests: a program in a tmux session on its own server.

Each :class:`Terminal` runs one command in a detached tmux session on a private socket in
the test's own directory (``tmux -S``), so it never touches anyone else's tmux and leaves
no socket behind in the system's temporary directory; keys go in with ``send-keys``, the
screen comes out with ``capture-pane -p``, and the command's exit status is written to a
file when it ends.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ..conftest import wait_for


class Terminal:
    """``command`` running in a ``cols`` x ``rows`` terminal."""

    def __init__(self, command: list[str], workdir: Path, *, cols: int = 120, rows: int = 40,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.socket = str(workdir / f"tmux-{os.getpid()}-{time.monotonic_ns() % 10**6}.sock")
        self.session = "console"
        self.status_file = workdir / "exit-status"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        script = (f"cd {shlex.quote(str(cwd or Path.cwd()))} && "
                  f"env {exports} TERM=xterm-256color {shlex.join(command)}; "
                  f"echo $? > {shlex.quote(str(self.status_file))}; sleep 30")
        self._tmux("new-session", "-d", "-s", self.session, "-x", str(cols), "-y", str(rows),
                   f"bash -c {shlex.quote(script)}")

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True,
                                text=True, timeout=20, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> list[str]:
        """The lines on the screen now."""
        return self._tmux("capture-pane", "-p", "-t", self.session).splitlines()

    def text(self) -> str:
        return "\n".join(self.screen())

    def keys(self, *keys: str) -> None:
        """Type ``keys`` (tmux key names: ``Enter``, ``Escape``, or literal text)."""
        for key in keys:
            self._tmux("send-keys", "-t", self.session, key)

    def literal(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.session, "-l", text)

    def resize(self, cols: int, rows: int) -> None:
        self._tmux("resize-window", "-t", self.session, "-x", str(cols), "-y", str(rows))

    def wait_screen(self, condition: Callable[[list[str]], object], timeout: float = 30.0
                    ) -> list[str]:
        """The screen, once ``condition(lines)`` holds (AssertionError after ``timeout``)."""
        seen: list[list[str]] = []

        def check() -> list[str] | None:
            lines = self.screen()
            seen[:] = [lines]
            return lines if condition(lines) else None

        try:
            result: list[str] = wait_for(check, timeout=timeout, interval=0.05)
        except AssertionError:
            raise AssertionError("screen never matched; last screen:\n" +
                                 "\n".join(seen[0] if seen else [])) from None
        return result

    def exit_status(self, timeout: float = 30.0) -> int:
        """The command's exit status once it has ended."""
        wait_for(lambda: self.status_file.exists() and self.status_file.read_text().strip(),
                 timeout=timeout, interval=0.1)
        return int(self.status_file.read_text().strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True,
                       timeout=20, check=False)
        try:
            os.unlink(self.socket)
        except FileNotFoundError:
            pass
