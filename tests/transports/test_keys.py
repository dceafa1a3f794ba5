"""``omphalos keys``: key pairs for the zmq transport's CURVE security."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import zmq.auth


def omphalos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["omphalos", "keys", *args], capture_output=True, text=True,
                          check=False, timeout=60)


def test_generate_show_and_refuse_to_overwrite(tmp_path: Path) -> None:
    made = omphalos("generate", "web1", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    public, secret = tmp_path / "web1.key", tmp_path / "web1.key_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    key, _ = zmq.auth.load_certificate(str(public))
    _, secret_key = zmq.auth.load_certificate(str(secret))
    assert secret_key is not None and len(key) == 40

    shown = omphalos("show", str(public))
    assert shown.returncode == 0 and shown.stdout.strip() == key.decode()

    again = omphalos("generate", "web1", "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists already" in again.stderr
    assert zmq.auth.load_certificate(str(public))[0] == key  # untouched
    assert omphalos("generate", "web1", "--dir", str(tmp_path), "--force").returncode == 0
    assert zmq.auth.load_certificate(str(public))[0] != key

    missing = omphalos("show", str(tmp_path / "nope.key"))
    assert missing.returncode == 2 and "cannot read key file" in missing.stderr
