"""The README's quick start, run as written on a fresh ``git clone`` of this repository.

The commands are taken from README.rst's "Quick start" section (its literal blocks), not
copied here, so the test follows the README: the install-and-replay line, ``omphalos demo``
(in a real terminal, tmux, as a newcomer runs it) and the test command (on one test folder:
its arguments go to pytest, as the README says). pip's download cache of the user running
the tests is reused, so the install costs what a second install costs; still slow (minutes).
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.httptop.terminal import Terminal

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                 reason="needs git and a git checkout"),
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


def quick_start() -> list[str]:
    """The command lines of the literal blocks of README.rst's Quick start section."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    section = text.split("Quick start\n-----------\n", 1)[1].split("\n-----", 1)[0]
    commands = []
    for block in re.findall(r"::\n\n((?:    .*\n|\n)+)", section):
        commands += [line.strip() for line in block.splitlines() if line.strip()]
    return commands


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.timeout(1500)
def test_quick_start_as_written_on_a_fresh_clone(tmp_path: Path) -> None:
    commands = quick_start()
    install, demo, tests = commands[0], commands[1], commands[2]
    assert install.startswith("python3 -m venv .venv && ") and "omphalos replay" in install
    assert demo == ".venv/bin/omphalos demo"
    assert tests == "bash .ci/test"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    home = pwd.getpwuid(os.getuid()).pw_dir  # the real one: reuse its pip download cache
    path = [p for p in os.environ["PATH"].split(os.pathsep)
            if Path(p).resolve() != Path(sys.executable).parent.resolve()]  # not our venv
    env = {"PATH": os.pathsep.join(path), "HOME": str(tmp_path / "home"),
           "PIP_CACHE_DIR": f"{home}/.cache/pip", "OMPHALOS_NO_DEFAULT_CONFIG": "1",
           "LANG": "C.UTF-8"}
    (tmp_path / "home").mkdir(exist_ok=True)  # made by the suite's isolated_env fixture

    installed = subprocess.run(["bash", "-c", install], cwd=clone, env=env,
                               capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-3000:]
    out = installed.stdout.splitlines()  # pip's lines first, then the replay's summary
    summary = next(i for i, text in enumerate(out) if text.startswith("requests  "))
    assert out[summary].startswith("requests  10,000 ")
    assert out[-1].strip() and any("/favicon.ico" in text for text in out[summary:])

    # the demo, in a terminal: the console shows the live log; q quits it
    args = shlex.split(demo)
    if not port_free(8080):  # the machine's 8080 is someone else's: same demo, free port
        args += ["--port", "0"]
    term = Terminal(args, tmp_path, cols=100, rows=30, env={**env, "COLORFGBG": "15;0"},
                    cwd=clone)
    try:
        screen = term.wait_screen(lambda s: s[0].startswith("httptop") and "demo" in s[0]
                                  and re.search(r"\d since start", s[1]) is not None,
                                  timeout=120)
        assert screen[-1].startswith("q quit")
        term.keys("q")
        assert term.exit_status(timeout=60) == 0
    finally:
        term.close()

    # the test command; its arguments go to pytest (one folder here, not the whole suite)
    ran = subprocess.run(["bash", "-c", f"{tests} tests/parsers -x -q -p no:cacheprovider"],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert re.search(r"\d+ passed", ran.stdout)
