"""``omphalos demo --web``: the shipped single-host pipeline on a generated live log, the
dashboard answering while the log grows, a clean stop, the temporary directory removed."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from ..conftest import wait_for
from .helpers import OMPHALOS, subprocess_env


@pytest.mark.timeout(120)
def test_demo_serves_a_growing_log_and_cleans_up(tmp_path: Path) -> None:
    err = tmp_path / "demo.err"
    with err.open("w") as err_file:
        proc = subprocess.Popen([*OMPHALOS, "demo", "--web", "--port", "0", "--seconds", "12"],
                                env=subprocess_env(tmp_path), stdout=subprocess.PIPE,
                                stderr=err_file, text=True)
    try:
        found = wait_for(lambda: re.search(r"omphalos demo: (\S+/access\.log) gets 20 "
                                           r"requests/s; dashboard at (http://\S+)/",
                                           err.read_text()), timeout=60, interval=0.1)
        log, url = Path(found.group(1)), found.group(2)

        def answered() -> dict[str, object] | None:
            with urllib.request.urlopen(f"{url}/api/v1/snapshot?window=1m", timeout=10) as r:
                snap: dict[str, object] = json.load(r)
            overview = snap.get("overview")
            return snap if isinstance(overview, dict) and overview["requests"] else None

        first = wait_for(answered, timeout=30, interval=0.5)
        assert first["files"] == [] and first["errors"] == {}
        assert {a["rule"] for a in first["alerts"]["firing"]} <= {  # type: ignore[index]
            "error_rate", "path_error_rate"}
        size = log.stat().st_size
        wait_for(lambda: log.stat().st_size > size, timeout=10, interval=0.2)  # live
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.read_text()
    assert re.search(r"omphalos demo: \d+ requests written", text)
    assert "Traceback" not in text
    assert not log.parent.exists()  # the demo's temporary directory is gone
