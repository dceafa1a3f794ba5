"""Bad input never raises out of a parser: it is counted by reason and kept aside."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omphalos.plugins.parsers.auto import candidates

from omphalos.lib.parsers.apache_format import PRESETS as APACHE_PRESETS
from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.json_format import JsonFormat
from omphalos.lib.parsers.linefmt import Result
from omphalos.lib.parsers.nginx_format import PRESETS as NGINX_PRESETS
from omphalos.lib.parsers.nginx_format import compile_nginx
from omphalos.lib.parsers.w3c_format import W3CStream
from tests.conftest import DATA, REAL_LOG

FIELDS = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent)\n"


def all_parsers() -> list[tuple[str, object]]:
    """(name, object with parse(data, start)) for every format, fresh state each time."""
    out: list[tuple[str, object]] = [(f"apache:{n}", compile_apache(n)) for n in APACHE_PRESETS]
    out += [(f"nginx:{n}", compile_nginx(n)) for n in NGINX_PRESETS]
    out += [(f.name, f) for f in candidates()]
    out += [("w3c", W3CStream()), ("json", JsonFormat())]
    return out


def check_result(result: Result, data: bytes) -> None:
    columns, lines, bad, reasons = result
    expected_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert lines == expected_lines
    assert len(columns) + sum(reasons.values()) <= lines
    for name in ("client", "path", "status", "bytes"):
        assert len(getattr(columns, name)) == len(columns)
    assert len(columns.offsets()) == len(columns)
    assert len(bad) == sum(reasons.values())


@pytest.mark.timeout(120)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), start=st.integers(0, 10**9))
def test_random_bytes_never_raise(data: bytes, start: int) -> None:
    for _, parser in all_parsers():
        check_result(parser.parse(data, start), data)  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=st.lists(st.binary(max_size=80) | st.sampled_from([
    b"", b"\x00", b"\xff\xfe\xfd", b'{"status": "x"}', b"[1, 2]", b"#Fields: a b",
    b'1.2.3.4 - - [99/Foo/2020:99:99:99 +9999] "GET / HTTP/1.1" 200 12 "-" "-"',
    b'1.2.3.4 - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 999999999999999999999999 1',
    b"2020-13-45 25:61:00 1.2.3.4 GET / 200 x"]), max_size=12))
def test_mixed_garbage_and_good_lines(junk: list[bytes]) -> None:
    good = REAL_LOG.read_bytes().splitlines(keepends=True)[:20]
    data = b"".join(line + b"\n" for line in junk) + b"".join(good)
    for name, parser in all_parsers():
        if name == "w3c":
            data = FIELDS + data
        check_result(parser.parse(data, 7), data)  # type: ignore[attr-defined]


def test_huge_and_hostile_lines_are_counted_by_reason() -> None:
    good = REAL_LOG.read_bytes().splitlines(keepends=True)[:3]
    data = b"".join([good[0], b"A" * (1 << 20) + b"\n", b"\n", b"\x00" * 100 + b"\n",
                     b'"' * 70000 + b"\n", b"\xc3\x28\xa0\xa1 not utf-8\n", *good[1:]])
    columns, lines, bad, reasons = compile_apache("combined").parse(data, 0)
    assert lines == 8 and len(columns) == 3
    # lines of any length are matched (in linear time): the long ones are no log lines
    assert reasons == Counter({"empty line": 1, "binary data": 1, "no match": 3})
    assert all(len(b.line) <= 2048 for b in bad)
    for _, parser in all_parsers():
        check_result(parser.parse(data, 0), data)  # type: ignore[attr-defined]


def test_bad_values_are_set_aside_line_by_line() -> None:
    lines = [b'1.2.3.4 - - [01/Jan/2020:00:00:00 +0000] "GET /a HTTP/1.1" 200 12',
             b'1.2.3.4 - - [31/Foo/2020:00:00:00 +0000] "GET /b HTTP/1.1" 200 12',
             b'1.2.3.4 - - [01/Jan/2020:00:00:01 +0000] "GET /c HTTP/1.1" 404 -']
    columns, n, bad, reasons = compile_apache("common").parse(b"\n".join(lines), 0)
    assert n == 3 and columns.path == ["/a", "/c"] and columns.bytes == [12, 0]
    assert reasons == Counter({"bad value": 1}) and bad[0].offset == len(lines[0]) + 1
    assert bad[0].reason.startswith("bad value: ")


def test_impossible_dates_and_zones_are_bad_values_not_other_days() -> None:
    """31 February is no 2 March, and a zone of -99:99 is no zone: such lines are set aside
    (a log writer never writes them; a crafted or corrupted line does)."""
    stamps = ["29/Feb/2020:00:00:00 +0000", "29/Feb/2021:00:00:00 +0000",
              "31/Apr/2020:00:00:00 +0000", "31/Dec/2020:23:59:60 +1400",
              "01/Jan/2020:00:00:00 -9999", "01/Jan/2020:00:00:00 +0160",
              "00/Jan/2020:00:00:00 +0000", "01/Jan/2020:24:00:00 +0000"]
    data = b"".join(f'1.2.3.4 - - [{t}] "GET /{i} HTTP/1.1" 200 1\n'.encode()
                    for i, t in enumerate(stamps))
    columns, n, bad, reasons = compile_apache("common").parse(data, 0)
    assert n == 8 and columns.path == ["/0", "/3"]
    assert columns.time == [1582934400.0, 1609459200.0 - 14 * 3600]  # a leap second: next day
    assert reasons == Counter({"bad value": 6})
    w3c = (b"#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
           b"2021-02-29 00:00:00 1.2.3.4 GET /a 200\n2020-02-29 00:00:00 1.2.3.4 GET /b 200\n")
    columns, n, bad, reasons = W3CStream().parse(w3c, 0)
    assert n == 3 and columns.path == ["/b"] and len(bad) == sum(reasons.values()) == 1


def test_w3c_sample_survives_being_cut_anywhere() -> None:
    data = (DATA / "w3c_iis_multiblock.log").read_bytes()
    for cut in range(0, len(data), 97):
        stream = W3CStream()
        first = stream.parse(data[:cut], 0)
        second = stream.parse(data[cut:], cut)
        check_result(first, data[:cut])
        check_result(second, data[cut:])


def test_an_unclosed_quote_never_swallows_the_next_line() -> None:
    """A quoted field could match across a line end; such a chunk is read line by line."""
    good = REAL_LOG.read_bytes().splitlines(keepends=True)[:5]
    cut = b'1.2.3.4 - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref\n'
    data = b"".join([*good, cut, b'x" "agent"\n', b"junk\n", *good])
    columns, lines, bad, reasons = compile_apache("combined").parse(data, 0)
    assert lines == 13 and len(columns) == 10 and reasons == Counter({"no match": 3})
    assert [b.line for b in bad] == [cut.decode().rstrip("\n"), 'x" "agent"', "junk"]
    assert columns.offsets()[5] == len(data) - sum(map(len, good))
