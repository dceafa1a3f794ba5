"""The console's visitors view in a real terminal (tmux): ``omphalos httptop`` on the real
log, key ``7``, window ``all``: one row per day with its hits and its unique visitors
(HyperLogLog), against counts made here from the raw file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from omphalos.console.views import WINDOWS
from omphalos.lib.hll import standard_error

from ..conftest import REAL_LOG
from ..report.test_dimensions import truth
from .terminal import Terminal
from .test_terminal import ROOT, env_for, table, total

pytestmark = pytest.mark.slow

ROW = re.compile(r"^(\d{4}-\d\d-\d\d) +(\d+) +(\d+) ")


@pytest.mark.timeout(120)
def test_visitors_view_shows_unique_visitors_per_day(tmp_path: Path) -> None:
    expected = truth()
    hits, unique = expected["visitors"], expected["unique"]
    assert all(unique[d] < hits[d] for d in hits)  # the two columns differ on this log
    term = Terminal(["omphalos", "httptop", str(REAL_LOG)], tmp_path, env=env_for(tmp_path),
                    cwd=ROOT)
    try:
        term.wait_screen(lambda s: total(s) == sum(hits.values()))
        term.keys("7")
        for _ in range(len(WINDOWS)):  # to "all": since start, every day of the file
            if "window all" in term.screen()[0]:
                break
            window = term.screen()[0].split("window ")[-1]
            term.keys("w")
            term.wait_screen(lambda s, w=window: not s[0].endswith(f"window {w}"))
        screen = term.wait_screen(lambda s: "window all" in s[0]
                                  and "unique visitors per day" in s[3]
                                  and len([r for r in table(s) if ROW.match(r)]) == len(hits))
        titles = screen[3].split()
        assert titles[titles.index("per") + 2:][:2] == ["▼hits", "visitors"], screen[3]
        shown = {m[1]: (int(m[2]), int(m[3]))
                 for m in map(ROW.match, table(screen)) if m}
        assert {day: h for day, (h, _) in shown.items()} == dict(hits)
        err = standard_error()
        for day, (_, visitors) in shown.items():
            assert abs(visitors - unique[day]) <= 3 * err * unique[day], (day, visitors)
        term.keys("q")
        assert term.exit_status() == 0
    finally:
        term.close()
