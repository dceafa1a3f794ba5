"""The variants real servers write, each of the failure classes found on real logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from omphalos.plugins.parsers.auto import AutoConfig, AutoParser

from omphalos.config import _type_name
from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.clf_format import clf_format
from omphalos.lib.parsers.formatstr import FormatError
from omphalos.lib.parsers.nginx_format import compile_nginx
from omphalos.lib.parsers.presets import format_section
from omphalos.lib.parsers.w3c_format import W3CStream
from omphalos.messages import LineChunk, Source
from omphalos.plugin import PluginContext
from omphalos.settings import Settings

T = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
HEAD = b"[01/Nov/2026:00:00:00 +0000]"


def auto(tmp_path: Path) -> AutoParser:
    parser = AutoParser(PluginContext("parser:test", Settings(state_dir=str(tmp_path)),
                                      None),  # type: ignore[arg-type]
                        AutoConfig())
    parser.setup()
    return parser


def chunk(data: bytes) -> LineChunk:
    return LineChunk(Source("web1", "mem.log", "f", "monitor:test"), 1, 0, len(data), data)


# -- 1. the user field holds no space; forwarded-for lists and vhost prefixes -----------------
XFF = (b'10.0.0.2, 10.0.0.1, 127.0.0.1 - - ' + HEAD + b' "GET /a HTTP/1.1" 200 5 "-" "c"\n'
       b'10.0.0.9 - - ' + HEAD + b' "GET /b HTTP/1.1" 200 6 "-" "c"\n')
VHOST_PORT = b'www.example.com:8443 10.0.0.1 - - ' + HEAD + b' "GET / HTTP/1.1" 200 7\n'


def test_a_forwarded_for_list_is_the_client_field(tmp_path: Path) -> None:
    parser = auto(tmp_path)
    batch = parser.parse(chunk(XFF * 3))
    assert parser.chosen["f"].name == "clf" and batch.unparsed == 0
    first, second = list(batch.records.rows())[:2]
    assert (first.client, first.user, first.path) == ("10.0.0.2", None, "/a")
    assert first.extra == {"forwarded_for": "10.0.0.2, 10.0.0.1, 127.0.0.1"}
    assert (second.client, second.extra) == ("10.0.0.9", None)


def test_a_vhost_port_prefix_is_recognised_not_taken_for_the_client(tmp_path: Path) -> None:
    parser = auto(tmp_path)
    batch = parser.parse(chunk(VHOST_PORT * 3))
    assert parser.chosen["f"].name == "vhost_clf" and batch.unparsed == 0
    record = next(batch.records.rows())
    assert (record.client, record.bytes, record.status) == ("10.0.0.1", 7, 200)
    assert record.extra == {"vhost": "www.example.com", "port": "8443"}


def test_an_extra_leading_token_is_rejected_not_shifted() -> None:
    line = b'junk 10.0.0.1 - - - ' + HEAD + b' "GET / HTTP/1.1" 200 7 "-" "-"\n'
    for fmt in (clf_format(), compile_apache("combined"), compile_nginx("combined")):
        columns, lines, _, reasons = fmt.parse(line, 0)
        assert (len(columns), lines, dict(reasons)) == (0, 1, {"no match": 1})


# -- 2. W3C -----------------------------------------------------------------------------
W3C = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent) cs(Referer)\n"


def test_w3c_quotes_are_removed_on_every_line_and_doubled_quotes_read() -> None:
    data = W3C + (b'2026-11-01 00:00:00 10.0.0.1 GET /a 200 "curl" "-"\n'
                  b'2026-11-01 00:00:01 10.0.0.1 GET /b 200 " ""x"" y " "r s"\n')
    columns, lines, bad, _ = W3CStream().parse(data, 0)
    assert not bad and lines == 3
    assert columns.agent == ["curl", ' "x" y ']
    assert columns.referer == [None, "r s"]


def test_w3c_columns_padded_with_several_spaces() -> None:
    data = W3C + b'2026-11-01  00:00:00   10.0.0.1  GET   /a   200 Mozilla/5.0 -   \n'
    columns, _, bad, _ = W3CStream().parse(data, 0)
    assert not bad
    assert (columns.time, columns.client, columns.path, columns.status) == (
        [T], ["10.0.0.1"], ["/a"], [200])


def test_w3c_file_without_fields_uses_the_iis_default(tmp_path: Path) -> None:
    line = (b"2026-11-01 00:00:00 10.1.1.1 GET /default.htm q=1 80 - 10.0.0.1 "
            b"Mozilla/5.0+(Windows) - 200 0 0 15\n")
    parser = auto(tmp_path)
    batch = parser.parse(chunk(line * 2))
    assert parser.chosen["f"].name == "w3c" and batch.unparsed == 0
    record = next(batch.records.rows())
    assert (record.time, record.client, record.method, record.path, record.query) == (
        T, "10.0.0.1", "GET", "/default.htm", "q=1")
    assert (record.status, record.agent, record.duration) == (200, "Mozilla/5.0 (Windows)",
                                                              0.015)
    assert record.extra == {"s-ip": "10.1.1.1", "s-port": "80", "sc-substatus": "0",
                            "sc-win32-status": "0"}
    # and without a default, such lines stay unparsed with their reason
    _, _, _, reasons = W3CStream().parse(line, 0)
    assert reasons == {"no #Fields directive before this line": 1}


# -- 3. nginx ----------------------------------------------------------------------------
def test_nginx_empty_bracketed_value_and_utf8_escapes() -> None:
    fmt = compile_nginx('$remote_addr [$proxy_upstream_name] [$proxy_alternative_upstream_name]'
                        ' "$request" $status')
    columns, _, bad, _ = fmt.parse(
        b'10.0.0.1 [default-web-80] [] "GET /caf\\xC3\\xA9?q=\\xE2\\x82\\xAC HTTP/1.1" 200\n'
        b'10.0.0.1 [default-web-80] [] "GET /bad\\xC3 HTTP/1.1" 200\n', 0)
    assert not bad
    assert columns.path == ["/café", "/bad\ufffd"] and columns.query == ["q=€", None]
    assert columns.extra == [{"proxy_upstream_name": "default-web-80",
                              "proxy_alternative_upstream_name": None}] * 2


# -- 4. Apache ---------------------------------------------------------------------------
def test_apache_ssl_request_log_with_x_directives() -> None:
    fmt = compile_apache('%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b')
    columns, _, bad, _ = fmt.parse(
        HEAD + b' 10.0.0.1 TLSv1.3 TLS_AES_256_GCM_SHA384 "GET / HTTP/1.1" 1024\n', 0)
    assert not bad
    assert (columns.time, columns.client, columns.bytes) == ([T], ["10.0.0.1"], [1024])
    assert columns.extra == [{"ssl_protocol": "TLSv1.3",
                              "ssl_cipher": "TLS_AES_256_GCM_SHA384"}]


def test_apache_bytes_come_from_O_when_there_is_no_b() -> None:
    vhost = compile_apache("vhost_combined")
    columns, _, bad, _ = vhost.parse(
        b'h:80 10.0.0.1 - - ' + HEAD + b' "GET / HTTP/1.1" 200 4321 "-" "-"\n', 0)
    assert not bad and columns.bytes == [4321]
    both = compile_apache("combinedio")  # %b present: %O stays in extra
    columns, _, _, _ = both.parse(
        b'10.0.0.1 - - ' + HEAD + b' "GET / HTTP/1.1" 200 100 "-" "-" 50 400\n', 0)
    assert columns.bytes == [100]
    assert columns.extra == [{"bytes_in": "50", "bytes_out": "400"}]


# -- 5. request lines that are no request --------------------------------------------------
@pytest.mark.parametrize(("request_line", "extra"), [
    (b"-", None), (b"", None), (b"\\x16\\x03\\x01\\x00", {"request": "\x16\x03\x01\x00"}),
    (b"GARBAGE", {"request": "GARBAGE"}), (b"a b c d", {"request": "a b c d"}),
])
def test_unparseable_request_line_gives_no_method(request_line: bytes, extra: object) -> None:
    line = b'10.0.0.1 - - ' + HEAD + b' "' + request_line + b'" 400 0 "-" "-"\n'
    columns, _, bad, _ = clf_format().parse(line, 0)
    assert not bad
    assert (columns.method, columns.path, columns.protocol, columns.query) == (
        [None], [""], [None], [None])
    assert columns.extra == ([extra] if extra else None)


# -- 7. mixed and extended lines -----------------------------------------------------------
MIXED = (b'10.0.0.1 - - ' + HEAD + b' "GET /c HTTP/1.1" 200 1\n'
         b'10.0.0.1 - - ' + HEAD + b' "GET /d HTTP/1.1" 200 2 "http://r/" "ua"\n'
         b'10.0.0.1 - - ' + HEAD + b' "GET /e HTTP/1.1" 200 3 "-" "ua" "10.9.9.9, 10.8.8.8"\n'
         b'10.0.0.1 - - ' + HEAD + b' "GET /f HTTP/1.1" 200 4 "-" "ua" 0.125\n'
         b'10.0.0.1 - - ' + HEAD + b' "GET /g HTTP/1.1" 200 5 "-" "ua" "-" rt=0.500 '
         b'uct="0.001" 1234\n')


def test_common_combined_and_extended_lines_in_one_file(tmp_path: Path) -> None:
    parser = auto(tmp_path)
    batch = parser.parse(chunk(MIXED))
    assert parser.chosen["f"].name == "clf" and batch.unparsed == 0
    records = list(batch.records.rows())
    assert [r.path for r in records] == ["/c", "/d", "/e", "/f", "/g"]
    assert [r.bytes for r in records] == [1, 2, 3, 4, 5]
    assert [r.referer for r in records] == [None, "http://r/", None, None, None]
    assert [r.agent for r in records] == [None, "ua", "ua", "ua", "ua"]
    assert [r.duration for r in records] == [None, None, None, 0.125, 0.5]
    assert [r.extra for r in records] == [
        None, None, {"forwarded_for": "10.9.9.9, 10.8.8.8"}, None,
        {"uct": "0.001", "trailing": "1234"}]


# -- 8. auto-detection says when nothing matched -------------------------------------------
def test_auto_never_claims_a_format_when_nothing_matched(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    parser = auto(tmp_path)
    with caplog.at_level(logging.INFO):
        batch = parser.parse(chunk(b"nothing like a log line\n" * 3))
    assert batch.unparsed == 3 and len(batch.records) == 0
    assert "f" not in parser.chosen
    assert "detected format" not in caplog.text
    assert "no known format reads its first lines" in caplog.text
    good = b'10.0.0.1 - - ' + HEAD + b' "GET / HTTP/1.1" 200 1\n'
    batch = parser.parse(chunk(good * 2))  # the next chunk is looked at again
    assert parser.chosen["f"].name == "common" and len(batch.records) == 2


# -- error messages ---------------------------------------------------------------------
def test_a_misspelled_preset_lists_the_presets() -> None:
    with pytest.raises(FormatError, match="unknown preset 'combinded'; presets: combined, main"):
        compile_nginx("combinded")
    with pytest.raises(FormatError, match="unknown preset 'combind'; presets: common, combined"):
        compile_apache("combind")


def test_format_names_resolve_to_parser_sections() -> None:
    assert format_section("main") == {"plugin": "nginx", "format": "main"}
    assert format_section("apache:vhost_combined") == {"plugin": "apache",
                                                       "format": "vhost_combined"}
    assert format_section("haproxy") == {"plugin": "preset", "preset": "haproxy"}
    assert format_section("auto") == {"plugin": "auto"}
    with pytest.raises(ValueError, match="unknown format 'nginx:combinded'; formats: auto, "):
        format_section("nginx:combinded")


def test_option_types_show_their_values() -> None:
    from typing import Literal
    assert _type_name(Literal["ms", "s"]) == "one of: ms, s"
    assert _type_name(tuple[str, ...]) == "tuple of str"
    assert _type_name(dict[str, str]) == "dict of str to str"
    assert _type_name(str | None) == "str | None"
