"""``omphalos report``'s CSV and its errors, through the real command."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REAL_LOG

COMMAND = [sys.executable, "-m", "omphalos.cli.main", "report"]


def test_csv_has_one_line_per_panel_row_of_the_json(tmp_path: Path) -> None:
    out = tmp_path / "panels.csv"
    subprocess.run([*COMMAND, str(REAL_LOG), "--csv", "--top", "5", "-o", str(out)],
                   check=True, timeout=300, capture_output=True)
    data = json.loads(subprocess.run([*COMMAND, str(REAL_LOG), "--json", "--top", "5"],
                                     check=True, timeout=300, capture_output=True,
                                     text=True).stdout)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["panel"], r["key"], int(r["hits"])) for r in rows] == [
        (p["dimension"], r["key"], r["hits"]) for p in data["panels"] for r in p["rows"]]
    assert rows[0] == {"panel": "visitors", "key": "2015-05-17", "hits": "1632",
                       "visitors": rows[0]["visitors"], "bytes": "", "errors": "0",
                       "4xx": "30", "p95": "", "min": "", "avg": "", "max": ""}
    assert data["general"]["requests"] == 10_000


def test_a_missing_file_and_two_formats_are_refused_with_a_reason(tmp_path: Path) -> None:
    missing = subprocess.run([*COMMAND, str(tmp_path / "nope.log"), "-o",
                              str(tmp_path / "r.html")], capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert not (tmp_path / "r.html").exists()
    both = subprocess.run([*COMMAND, str(REAL_LOG), "--json", "--csv"], capture_output=True,
                          text=True, timeout=120)
    assert both.returncode == 1 and "--json or --csv, not both" in both.stderr
