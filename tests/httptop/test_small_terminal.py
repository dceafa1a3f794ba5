"""httptop at 80x24, the most common terminal size, on ``omphalos demo``'s live log: the
quit hint shows, header line 2 holds whole items only, the filter prompt opens empty and
Ctrl-U clears it, and the window labels say what the numbers are."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from .terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not any(os.access(os.path.join(p, "tmux"), os.X_OK)
            for p in os.environ.get("PATH", "").split(os.pathsep)),
    reason="needs tmux")]

#: Header line 2 at 80 columns: whole items, two spaces apart (never a word cut in two).
NUMBERS = re.compile(r"^[\d.]+[kM]? req/s(  [\d.]+[kM]? in (1m|5m|1h))?  [\d.]+[kM]? since start"
                     r"(  [\d.]+[BKMGT]/s)?(  2xx \S+ 3xx \S+ 4xx \S+ 5xx \S+)?(  hosts \d+)?$")


@pytest.mark.timeout(120)
def test_console_at_80x24(tmp_path: Path) -> None:
    env = {"OMPHALOS_NO_DEFAULT_CONFIG": "1", "HOME": str(tmp_path), "COLORFGBG": "15;0",
           "PYTHONPATH": str(ROOT)}
    term = Terminal([sys.executable, "-m", "omphalos.cli.main", "demo", "--port", "0",
                     "--dir", str(tmp_path / "demo")], tmp_path, cols=80, rows=24, env=env)
    try:
        # the whole header: the summary's total and the window's count (each collector
        # answers in its own time; until the window has, its items show as unknown)
        screen = term.wait_screen(lambda s: len(s) == 24 and s[0].startswith("httptop")
                                  and re.search(r"\d since start", s[1]) is not None
                                  and " in 5m  " in s[1] and "/" in s[4], timeout=60)
        footer = screen[-1]
        assert footer.startswith("q quit  ? help  / filter  w window  <> sort  1paths")
        assert NUMBERS.match(screen[1].rstrip()), screen[1]
        assert " in 5m  " in screen[1]
        # the filter prompt opens empty; ctrl-u clears what was typed
        term.keys("/")
        term.wait_screen(lambda s: s[-1].rstrip() == "/")
        term.literal("static")
        term.wait_screen(lambda s: s[-1].rstrip() == "/static")
        term.keys("C-u")
        term.wait_screen(lambda s: s[-1].rstrip() == "/")
        term.literal("static")
        term.keys("Enter")
        term.wait_screen(lambda s: "filter /static/" in s[0] and s[4].startswith("/static/"))
        term.keys("/")  # again: empty, not the old pattern; enter on nothing removes it
        term.wait_screen(lambda s: s[-1].rstrip() == "/")
        term.keys("Enter")
        term.wait_screen(lambda s: "filter" not in s[0] and s[-1].startswith("q quit"))
        # w: 5m -> 1h -> all; the labels follow
        term.keys("w")
        screen = term.wait_screen(lambda s: "window 1h" in s[0] and " in 1h  " in s[1])
        assert NUMBERS.match(screen[1].rstrip()), screen[1]
        term.keys("w")
        screen = term.wait_screen(lambda s: "window all" in s[0] and " in " not in s[1])
        assert NUMBERS.match(screen[1].rstrip()), screen[1]
        assert "req/1m" not in screen[1]
        term.keys("q")
        assert term.exit_status(timeout=30) == 0
    finally:
        term.close()
    # tmux's socket lived in the test's directory, not the system's, and is gone
    assert Path(term.socket).parent == tmp_path and not Path(term.socket).exists()
