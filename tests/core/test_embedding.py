"""A plain Python program embeds Omphalos: build, start, query, stop; no thread left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from omphalos import Pipeline
from tests.conftest import REAL_LOG, omphalos_threads

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import json, sys, threading
    import pykka
    from omphalos import Pipeline

    class HostActor(pykka.ThreadingActor):
        """An actor of the host program: Omphalos must leave it alone."""
        def on_receive(self, message):
            return "still here"

    host_actor = HostActor.start()
    try:
        pipeline = Pipeline.from_config({
            "omphalos": {"state_dir": sys.argv[2]},
            "monitor:web": {"paths": [sys.argv[1]], "follow": False},
            "collector:summary": {},
        })
        pipeline.start()
        try:
            assert pipeline.wait_idle(timeout=60)
            summary = pipeline.query("summary", limit=3)
        finally:
            pipeline.stop()
        assert host_actor.ask("ping", timeout=5) == "still here"
    finally:
        host_actor.stop()
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    print(json.dumps({"summary": summary, "threads": threads}))
''')


@pytest.mark.timeout(120)
def test_plain_script_embeds_a_pipeline(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(REAL_LOG), str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=100, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["threads"] == []
    assert result["summary"]["requests"] == 10_000
    assert [p["path"] for p in result["summary"]["top_paths"]] == [
        "/favicon.ico", "/", "/style2.css"]


@pytest.mark.timeout(60)
def test_in_process_pipeline_stops_its_own_threads(tmp_path: Path) -> None:
    before = set(omphalos_threads())
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path)},
        "monitor:web": {"paths": [str(REAL_LOG)], "follow": False},
        "parser:main": {"plugin": "combined"},
        "collector:summary": {},
    })
    with pipeline:
        assert pipeline.wait_idle(timeout=60)
        assert pipeline.query("summary")["requests"] == 10_000
        status = pipeline.status()
        assert set(status["actors"]) == {"monitor:web", "parser:main", "transport:local",
                                         "collector:summary"}
        assert not status["degraded"]
    assert set(omphalos_threads()) <= before
