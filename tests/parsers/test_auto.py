"""``auto`` chooses each file's format from its first lines, W3C and JSON included."""

from __future__ import annotations

from pathlib import Path

import pytest
from omphalos.plugins.parsers.auto import AutoConfig, AutoParser

from omphalos.messages import LineChunk, Source
from omphalos.plugin import PluginContext
from omphalos.settings import Settings
from tests.conftest import DATA, REAL_LOG

COMBINED_RT = (b'10.0.0.1 - - [01/Nov/2026:00:00:00 +0100] "GET /a?x=1 HTTP/1.1" 200 5 "-" '
               b'"curl/8" 0.250\n')
COMBINED_D = (b'10.0.0.1 - - [01/Nov/2026:00:00:00 +0100] "GET /a HTTP/1.1" 200 5 "-" '
              b'"curl/8" 250000\n')
VHOST = (b'www.example.com:443 10.0.0.1 - - [01/Nov/2026:00:00:00 +0000] "GET / HTTP/2.0" '
         b'301 0 "-" "curl/8"\n')
COMMON = b'10.0.0.1 - bob [01/Nov/2026:00:00:00 +0000] "POST /login HTTP/1.1" 302 -\n'
JSON = b'{"time": "2026-11-01T00:00:00Z", "remote_addr": "10.0.0.1", "status": 503}\n'


def make_parser(tmp_path: Path) -> AutoParser:
    parser = AutoParser(PluginContext("parser:test", Settings(state_dir=str(tmp_path)),
                                      None),  # type: ignore[arg-type]
                        AutoConfig())
    parser.setup()
    return parser


def chunk(data: bytes, path: str = "mem.log", file_id: str = "f", start: int = 0
          ) -> LineChunk:
    return LineChunk(Source("web1", path, file_id, "monitor:test"), 1, start,
                     start + len(data), data)


@pytest.mark.parametrize(("data", "name", "check"), [
    (COMBINED_RT * 3, "combined_rt", lambda r: r.duration == 0.25 and r.query == "x=1"),
    (COMBINED_D * 3, "combined_D", lambda r: r.duration == 0.25),
    (VHOST * 3, "vhost_combined", lambda r: r.extra == {"vhost": "www.example.com",
                                                        "port": "443"} and r.bytes == 0),
    (COMMON * 3, "common", lambda r: r.user == "bob" and r.bytes == 0 and r.status == 302),
    (JSON * 3, "json", lambda r: r.status == 503 and r.client == "10.0.0.1"),
    (b"".join(REAL_LOG.read_bytes().splitlines(keepends=True)[:60]), "combined",
     lambda r: r.status == 200),
], ids=["combined_rt", "combined_D", "vhost_combined", "common", "json", "real-combined"])
def test_detects_each_format(tmp_path: Path, data: bytes, name: str, check,  # type: ignore[no-untyped-def]
                             caplog: pytest.LogCaptureFixture) -> None:
    parser = make_parser(tmp_path)
    batch = parser.parse(chunk(data))
    assert parser.chosen["f"].name == name
    assert batch.unparsed == 0 and len(batch.records) == batch.lines
    assert check(next(batch.records.rows()))


def test_detects_w3c_from_the_file_head_when_resuming_mid_way(tmp_path: Path) -> None:
    log = tmp_path / "u_ex.log"
    data = (DATA / "w3c_iis_multiblock.log").read_bytes()
    log.write_bytes(data)
    start = data.index(b"2019-03-13 00:00:03")
    parser = make_parser(tmp_path)
    batch = parser.parse(chunk(data[start:], str(log), "iis", start))
    assert parser.chosen["iis"].name == "w3c"
    assert batch.unparsed == 0 and len(batch.records) == 7


def test_a_file_rewritten_from_the_start_in_another_format_is_detected_again(
        tmp_path: Path) -> None:
    parser = make_parser(tmp_path)
    assert len(parser.parse(chunk(COMMON * 4)).records) == 4
    batch = parser.parse(chunk(JSON * 4))  # same file, truncated and rewritten
    assert parser.chosen["f"].name == "json" and len(batch.records) == 4
    assert batch.unparsed == 0
