"""Packaging: the project and the example plugin package installed into a fresh venv.

The venv reuses the installed dependencies (``--system-site-packages``) and pip installs
copies of the trees (so no build directory lands in the checkout) without build isolation,
which keeps this fast and offline. The example plugin must then show up in
``omphalos plugins`` and post its alert from a pipeline to a real HTTP server.
"""

from __future__ import annotations

import json
import shutil
import signal
import site
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ..conftest import REAL_LOG, wait_for
from .helpers import ROOT

SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                              "node_modules", "tests", "bench", "docs", "examples")


def pip_install(venv: Path, tree: Path) -> None:
    result = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps",
                             "--no-build-isolation", "--no-index", str(tree)],
                            capture_output=True, text=True, timeout=240, cwd=tree.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def reuse_running_site_packages(venv: Path) -> None:
    """Let the venv import what the running interpreter has (CI runs the tests in a venv,
    whose packages ``--system-site-packages`` alone would not see). Appended to sys.path,
    after the venv's own packages, and without running their ``.pth`` hooks."""
    found = list(venv.glob("lib/python*/site-packages"))
    assert found, "the venv has no site-packages"
    (found[0] / "zz_running_python.pth").write_text("\n".join(site.getsitepackages()) + "\n")


class Hook(BaseHTTPRequestHandler):
    """Records the JSON bodies POSTed to it (the webhook's receiving end)."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_example_plugin_package_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    reuse_running_site_packages(venv)
    project = tmp_path / "src" / "omphalos"
    shutil.copytree(ROOT, project, ignore=SKIP)
    example = tmp_path / "src" / "omphalos-webhook"
    shutil.copytree(ROOT / "examples" / "omphalos-webhook", example, ignore=SKIP)
    pip_install(venv, project)
    pip_install(venv, example)
    omphalos = str(venv / "bin" / "omphalos")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([omphalos, *args], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import omphalos, omphalos_webhook; print(omphalos.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    assert run("--version").stdout.strip().startswith("omphalos ")
    listed = json.loads(run("plugins", "--json").stdout)
    webhook = [p for p in listed if p["name"] == "webhook"]
    assert webhook and webhook[0]["kind"] == "collector"
    assert webhook[0]["module"] == "omphalos_webhook"
    assert {o["name"] for o in webhook[0]["options"]} >= {"url", "min_errors", "window_secs"}
    shared = venv / "share" / "omphalos" / "etc"
    assert (shared / "omphalos.conf").is_file() and (shared / "monitor.conf").is_file()
    assert list((shared / "plugins.d").glob("*.conf"))
    scripts = venv / "share" / "omphalos" / "init.d"
    assert {p.name for p in scripts.iterdir()} >= {
        "omphalos-monitor", "omphalos-collector", "omphalos-monitor.service",
        "omphalos-collector.service", "default"}

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, name="test-webhook")
    thread.start()
    Hook.received.clear()
    config = tmp_path / "alerts.conf"
    config.write_text(
        f"[omphalos]\nstate_dir = {tmp_path}/state\n"
        f"[monitor:web]\nplugin = file\npaths = {REAL_LOG}\nfollow = no\n"
        f"[collector:summary]\n"
        f"[collector:alerts]\nplugin = webhook\n"
        f"url = http://127.0.0.1:{server.server_port}/hook\nmin_errors = 3\n"
        f"window_secs = 600\n")
    assert run("--config", str(config), "check").returncode == 0
    proc = subprocess.Popen([omphalos, "--config", str(config), "run", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        wait_for(lambda: Hook.received, timeout=60, interval=0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        server.shutdown()
        thread.join()
    assert proc.returncode == 0, err
    alert = Hook.received[0]
    assert alert["errors"] == 3 and alert["statuses"] == {"500": 3}  # the log's three 500s
    assert alert["collector"] == "collector:alerts"
    assert len(Hook.received) == 1  # cooldown: one alert
