"""``omphalos replay`` and ``run`` end to end, checked against counts made independently."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from omphalos import __version__
from tests.conftest import REAL_LOG, wait_for

ROOT = Path(__file__).resolve().parents[2]


def awk_status_counts(path: Path) -> dict[str, int]:
    """Status codes counted by awk, a tool that knows nothing of Omphalos."""
    if shutil.which("awk") is None:  # pragma: no cover - awk is everywhere
        pytest.skip("awk missing")
    out = subprocess.run(["awk", "-F", '"', "{split($3, a, \" \"); n[a[1]]++} "
                          "END {for (s in n) print s, n[s]}", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {code: int(n) for code, n in (line.split() for line in out.splitlines())}


def omphalos(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "omphalos.cli.main", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          **kwargs)  # type: ignore[call-overload]


@pytest.mark.timeout(120)
def test_replay_json_matches_independent_counts() -> None:
    proc = omphalos("replay", str(REAL_LOG), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == awk_status_counts(REAL_LOG)
    assert summary["requests"] == 10_000 and summary["unparsed"] == 0
    assert summary["bytes"] == 2_747_282_740
    assert summary["top_paths"][0] == {"path": "/favicon.ico", "hits": 807,
                                       "bytes": summary["top_paths"][0]["bytes"]}
    assert summary["status_class"] == {"2xx": 9171, "3xx": 609, "4xx": 217, "5xx": 3}
    for key in ("lines", "unparsed_reasons", "hosts", "first_time", "last_time"):
        assert key in summary


@pytest.mark.timeout(120)
def test_replay_text_report_and_no_progress_bar_when_piped() -> None:
    proc = omphalos("replay", str(REAL_LOG))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("requests  10,000")
    assert "200: 9,126" in proc.stdout and "/favicon.ico" in proc.stdout
    assert "lines/s" not in proc.stderr  # the progress bar is for terminals only


@pytest.mark.timeout(120)
def test_replay_counts_unparsed_lines_and_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    good = REAL_LOG.read_bytes().splitlines(keepends=True)[:100]
    log.write_bytes(b"".join(good[:50]) + b"\x00\x01garbage\xff\xfe\n\n" + b"x" * 5000 + b"\n"
                    + b"".join(good[50:]))
    proc = omphalos("replay", str(log), "--format", "combined", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["requests"] == 100
    assert summary["unparsed"] == 3
    assert summary["lines"] == 103


@pytest.mark.timeout(60)
def test_replay_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = omphalos("replay", str(tmp_path / "nope.log"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"omphalos: config error: no such file: {tmp_path / 'nope.log'}"


def test_version_and_help() -> None:
    assert omphalos("--version").stdout.strip() == f"omphalos {__version__}"
    helptext = omphalos("--help").stdout
    for command in ("run", "replay", "check", "plugins"):
        assert command in helptext


def test_plugins_lists_builtins_with_options() -> None:
    proc = omphalos("plugins", "--json")
    rows = json.loads(proc.stdout)
    names = {(r["kind"], r["name"]) for r in rows}
    assert {("monitor", "file"), ("parser", "combined"), ("transport", "local"),
            ("collector", "summary"), ("output", "print")} <= names
    for row in rows:
        assert row["description"]
        for opt in row["options"]:
            assert opt["doc"], (row["name"], opt["name"])


@pytest.mark.timeout(120)
def test_run_follows_then_stops_on_sigterm_with_summary(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = REAL_LOG.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:4000]))
    state = tmp_path / "state"
    env = {**os.environ, "OMPHALOS_STATE_DIR": str(state / "omphalos")}
    proc = subprocess.Popen([sys.executable, "-m", "omphalos.cli.main", "run", str(log),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env)
    try:
        db = state / "omphalos" / "checkpoints.sqlite"

        def committed() -> int:
            if not db.exists():
                return -1
            import sqlite3
            with sqlite3.connect(db) as conn:
                row = conn.execute("SELECT max(offset) FROM offsets").fetchone()
            return row[0] or -1 if row else -1

        wait_for(lambda: committed() == log.stat().st_size, timeout=60)
        with log.open("ab") as fh:  # appended while running: followed
            fh.write(b"".join(lines[4000:]))
        wait_for(lambda: committed() == log.stat().st_size, timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["requests"] == 10_000
    assert summary["status"]["200"] == 9126


def test_awk_agrees_with_corpus_readme() -> None:
    counts = awk_status_counts(REAL_LOG)
    assert counts == {"200": 9126, "304": 445, "404": 213, "301": 164, "206": 45, "500": 3,
                      "416": 2, "403": 2}
    assert sum(Counter(counts).values()) == 10_000
    time.sleep(0)


@pytest.mark.timeout(180)
def test_replay_with_the_daemons_config_never_adds_to_its_saved_counts(tmp_path: Path
                                                                        ) -> None:
    """The config's durable collectors are in memory for a replay, unless it says so."""
    state = tmp_path / "state"
    config = tmp_path / "omphalos.conf"
    config.write_text(f"[omphalos]\nstate_dir = {state}\n\n[collector:summary]\n"
                      "plugin = summary\n\n[collector:window]\nplugin = window\n"
                      "clock = event\n")
    for _ in range(2):
        proc = omphalos("replay", "-c", str(config), str(REAL_LOG), "--json", "-w", "1")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["requests"] == 10_000
    assert not (state / "collectors.sqlite").exists()
    # said in the config: the counts are kept, and the same file is not counted twice
    config.write_text(config.read_text().replace("plugin = summary\n",
                                                 "plugin = summary\ndurable = yes\n"))
    for _ in range(2):
        proc = omphalos("replay", "-c", str(config), str(REAL_LOG), "--json", "-w", "1")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["requests"] == 10_000
    assert (state / "collectors.sqlite").exists()


@pytest.mark.timeout(180)
def test_replay_reads_rotated_compressed_logs_as_their_text(tmp_path: Path) -> None:
    """gzip, bzip2 and xz files (by their first bytes, whatever their names) count as the
    plain log does; a truncated archive counts the lines before the damage, and says so."""
    import bz2
    import gzip
    import lzma

    data = REAL_LOG.read_bytes()
    def counts(text: str) -> dict[str, object]:
        summary = json.loads(text)
        del summary["since"]  # when the run started
        return summary

    plain = counts(omphalos("replay", "--json", "-w", "1", str(REAL_LOG)).stdout)
    files = {"access.log.2.gz": gzip.compress(data), "access.log.3.bz2": bz2.compress(data),
             "access.log.4.xz": lzma.compress(data), "renamed.log": gzip.compress(data)}
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
        proc = omphalos("replay", "--json", "-w", "1", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        assert counts(proc.stdout) == plain, name
        assert f"{tmp_path / name}: " in proc.stderr and "read decompressed" in proc.stderr
    whole = gzip.compress(data)
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 3])
    proc = omphalos("replay", "--json", "-w", "1", str(tmp_path / "cut.gz"))
    assert proc.returncode == 0, proc.stderr
    assert "damaged or truncated" in proc.stderr
    got = json.loads(proc.stdout)
    assert 0 < got["requests"] < 10_000 and got["unparsed"] <= 1  # a cut last line at most
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    proc = omphalos("replay", str(tmp_path / "bad.gz"))
    assert proc.returncode != 0 and f"cannot read {tmp_path / 'bad.gz'}" in proc.stderr
    proc = omphalos("replay", "--state", str(tmp_path / "s.sqlite"),
                    str(tmp_path / "access.log.2.gz"))
    assert proc.returncode != 0 and "decompress them first" in proc.stderr
