"""``omphalos httptop`` and ``httptop`` as commands: bad arguments and no terminal are clear
errors before anything starts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from omphalos.cli.main import main

from ..conftest import REAL_LOG


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The command with stdin and stdout not a terminal (pipes)."""
    env = {**os.environ, "OMPHALOS_NO_DEFAULT_CONFIG": "1", "HOME": str(tmp_path),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env, check=False)


def status_of(argv: list[str]) -> int:
    """``omphalos ARGV`` in this process; its exit status (returned, or argparse's exit)."""
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


def test_needs_a_terminal(tmp_path: Path) -> None:
    result = run("httptop", str(REAL_LOG), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr


def test_help_lists_the_options(tmp_path: Path) -> None:
    result = run("httptop", "--help", tmp_path=tmp_path)
    assert result.returncode == 0
    for option in ("--connect", "--theme", "--window", "--view", "--refresh"):
        assert option in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--connect", "nohost"], "HOST:PORT"),
    (["--connect", "127.0.0.1:1", str(REAL_LOG)], "not both"),
    ([], "nothing to show"),
    (["/no/such/access.log"], "no such file"),
])
def test_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]
                       ) -> None:
    assert status_of(["httptop", *args]) == 2
    assert message in capsys.readouterr().err


def test_bad_config_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "omphalos.conf"
    conf.write_text("[httptop]\nrefresh_secs = soon\n")
    assert status_of(["httptop", "-c", str(conf), str(REAL_LOG)]) == 2
    assert "[httptop] refresh_secs" in capsys.readouterr().err
