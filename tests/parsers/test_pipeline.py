"""The parser plugins in a real pipeline: INI config with a pasted format, files on disk,
auto-detection of W3C and JSON, bad lines in a dead-letter file with source and offset."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from omphalos.config import ConfigError, load_ini
from omphalos.pipeline import Pipeline
from tests.conftest import DATA, REAL_LOG

JSON_LINES = [
    {"time": "2026-11-01T10:00:00+01:00", "remote_addr": "192.0.2.1", "status": 200,
     "request": "GET /j?x=1 HTTP/1.1", "body_bytes_sent": 10, "request_time": "0.010"},
    {"@timestamp": 1793523600.5, "client_ip": "192.0.2.2", "status": "404",
     "method": "GET", "uri": "/missing", "bytes": "-"},
]


@pytest.mark.timeout(120)
def test_pasted_formats_and_auto_detection_in_one_pipeline(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = REAL_LOG.read_bytes().splitlines(keepends=True)
    apache_log = tmp_path / "access.log"
    apache_log.write_bytes(b"".join([*lines[:500], b"\x00garbage\xff\n", *lines[500:1000]]))
    (tmp_path / "iis").mkdir()
    (tmp_path / "iis" / "u_ex190313.log").write_bytes((DATA / "w3c_iis_multiblock.log")
                                                      .read_bytes())
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "app.log").write_text(
        "".join(json.dumps(x) + "\n" for x in JSON_LINES) + "{not json\n")
    dead = tmp_path / "dead" / "letters.jsonl"
    conf = tmp_path / "omphalos.conf"
    conf.write_text(f"""
[omphalos]
state_dir = {tmp_path / "state"}

[monitor:apache]
paths = {apache_log}
follow = no

[parser:apache]
format = LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{Referer}}i\\" \\"%{{User-agent}}i\\"" combined
dead_letter = {dead}
inputs = monitor:apache

[monitor:others]
paths = {tmp_path / "iis"}, {tmp_path / "json"}
follow = no

[parser:others]
plugin = auto
dead_letter = {dead}
inputs = monitor:others

[collector:summary]
""")
    caplog.set_level(logging.INFO, logger="omphalos")
    pipeline = Pipeline.from_config(load_ini([conf]))
    with pipeline:
        assert pipeline.wait_idle(timeout=90)
        summary = pipeline.query("summary")
        counters = pipeline.status()["actors"]["parser:apache"]["counters"]
    assert counters["records"] == 1000 and counters["unparsed: binary data"] == 1
    assert summary["requests"] == 1000 + 10 + 2
    assert summary["unparsed"] == 2
    assert summary["unparsed_reasons"] == {"binary data": 1, "invalid JSON": 1}
    assert summary["status"]["404"] == sum(1 for x in lines[:1000] if b'" 404 ' in x) + 2
    letters = [json.loads(x) for x in dead.read_text().splitlines()]
    assert sorted(x["reason"] for x in letters) == ["binary data", "invalid JSON"]
    binary = next(x for x in letters if x["reason"] == "binary data")
    assert binary["path"] == str(apache_log)
    assert binary["offset"] == sum(map(len, lines[:500]))
    detected = " ".join(r.getMessage() for r in caplog.records if "detected format" in
                        r.getMessage())
    assert "detected format w3c" in detected and "detected format json" in detected


def test_a_bad_format_string_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(f"[monitor:web]\npaths = {REAL_LOG}\n\n[parser:web]\nplugin = apache\n"
                    "format = %h %l %Z\n\n[collector:summary]\n")
    with pytest.raises(ConfigError, match=r"\[parser:web\] format: unsupported Apache "
                                          r"directive %Z"):
        Pipeline.from_config(load_ini([conf]))
