"""Supervision: dead actors are restarted, nothing is lost or counted twice, flapping ones
mark the pipeline degraded, and nothing ever waits forever on a dead actor."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from omphalos import Pipeline
from tests.conftest import REAL_LOG, wait_for

from .plugins_for_tests import CrashOnceMonitor, make_registry

EXPECTED_STATUS = {"200": 9126, "304": 445, "404": 213, "301": 164, "206": 45, "500": 3,
                   "416": 2, "403": 2}


@pytest.mark.timeout(120)
def test_monitor_killed_mid_stream_every_line_counted_once(tmp_path: Path) -> None:
    CrashOnceMonitor.acks_seen = 0
    CrashOnceMonitor.crash_on_acks = {3, 7, 12}
    log = tmp_path / "access.log"
    log.write_bytes(REAL_LOG.read_bytes())
    config = {
        "omphalos": {"state_dir": str(tmp_path / "state"), "restart_backoff_secs": 0.05},
        "monitor:web": {"plugin": "crash-once", "paths": str(log), "read_bytes": 65536,
                        "max_in_flight": 4},
        "parser:main": {"plugin": "combined"},
        "collector:summary": {},
    }
    pipeline = Pipeline.from_config(config, registry=make_registry())
    with pipeline:
        assert pipeline.wait_idle(timeout=60), pipeline.status()
        summary = pipeline.query("summary")
        health = pipeline.status()
    assert CrashOnceMonitor.acks_seen > 12
    assert health["actors"]["monitor:web"]["restarts"] == 3
    assert not health["degraded"]
    assert summary["requests"] == 10_000
    assert summary["status"] == EXPECTED_STATUS
    assert summary["bytes"] == 2_747_282_740


@pytest.mark.timeout(60)
def test_always_crashing_actor_degrades_pipeline(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(REAL_LOG.read_bytes()[:100_000])
    config = {
        "omphalos": {"state_dir": str(tmp_path / "state"), "restart_backoff_secs": 0.05,
                     "max_restarts": 3},
        "monitor:web": {"paths": str(log), "plugin": "file"},
        "collector:broken": {"plugin": "always-crash"},
        "collector:summary": {},
    }
    pipeline = Pipeline.from_config(config, registry=make_registry())
    started = time.monotonic()
    with pipeline:
        wait_for(lambda: pipeline.degraded, timeout=30)
        elapsed = time.monotonic() - started
        health = pipeline.status()
        # a query to the dead collector fails at once instead of hanging
        with pytest.raises(Exception, match="not running"):
            pipeline.query("summary", collector="broken")
        # the wait for idle returns (False) instead of waiting for acks that never come
        assert pipeline.wait_idle(timeout=30) is False
    assert health["degraded"]
    assert "collector:broken" in health["reasons"][0]
    assert "this collector always crashes" in health["reasons"][0]
    assert health["actors"]["collector:broken"]["state"] == "failed"
    assert elapsed < 30


CRASH_PLUGIN_RUNNER = textwrap.dedent('''
    import sys
    import omphalos.registry as registry
    from tests.core.plugins_for_tests import make_registry
    registry._default = make_registry()
    from omphalos.cli.main import main
    sys.exit(main(sys.argv[1:]))
''')


@pytest.mark.timeout(60)
def test_run_exits_non_zero_when_degraded(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(REAL_LOG.read_bytes()[:10_000])
    conf = tmp_path / "omphalos.conf"
    conf.write_text(textwrap.dedent(f"""
        [omphalos]
        state_dir = {tmp_path / "state"}
        restart_backoff_secs = 0.05
        max_restarts = 2

        [monitor:web]
        plugin = file
        paths = {log}

        [collector:broken]
        plugin = always-crash

        [collector:summary]
    """))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CRASH_PLUGIN_RUNNER, "run", "-c", str(conf)],
                          capture_output=True, text=True, timeout=50,
                          cwd=Path(__file__).resolve().parents[2])
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr
    degraded = [line for line in proc.stderr.splitlines()
                if line.startswith("omphalos: pipeline degraded: collector:broken died")]
    assert degraded and "this collector always crashes" in degraded[0]
    assert elapsed < 30  # the issue asks for well within 10 s; generous on a loaded machine


def test_status_counts_are_independent_of_crashes() -> None:
    """The expected counts used above are the corpus' independent counts."""
    counts: Counter[str] = Counter()
    for line in REAL_LOG.read_text(encoding="utf-8", errors="replace").splitlines():
        counts[line.split('"')[2].split()[0]] += 1
    assert dict(counts) == EXPECTED_STATUS
