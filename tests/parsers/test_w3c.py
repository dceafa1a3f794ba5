"""W3C extended (IIS) logs: #Fields blocks, a field list changing mid-file, '-' and '+'."""

from __future__ import annotations

import calendar
from collections import Counter
from pathlib import Path

from omphalos.lib.parsers.linefmt import concat
from omphalos.lib.parsers.w3c_format import W3CStream
from tests.conftest import DATA
from tests.parsers.test_real_log import chunks

SAMPLE = DATA / "w3c_iis_multiblock.log"


def utc(*args: int) -> float:
    return float(calendar.timegm((*args, 0, 0, 0)))


def test_sample_parses_block_by_block() -> None:
    columns, lines, bad, reasons = W3CStream().parse(SAMPLE.read_bytes(), 0)
    assert lines == 25 and not bad and not reasons
    rows = list(columns.rows())
    assert len(rows) == 10
    assert Counter(columns.status) == Counter({200: 4, 304: 1, 302: 1, 404: 1, 400: 1, 0: 2})
    first = rows[0]
    assert first.time == utc(2002, 5, 2, 17, 42, 15)
    assert first.client == "172.22.255.255" and first.user is None
    assert first.agent == "Mozilla/4.0 (compatible;MSIE 5.5; Windows 2000 Server)"
    assert first.extra == {"s-ip": "172.30.255.255", "s-port": "80"}
    assert rows[2].user == "DOMAIN\\jdoe" and rows[2].query == "id=7&x=1"
    assert rows[2].agent is None and rows[2].method == "POST"
    # second block: the field list changed, time-taken (ms) appears, c-ip moved
    assert rows[3].client == "203.0.113.10" and rows[3].duration == 0.015
    assert rows[3].referer == "https://www.example.com/"
    assert rows[5].method is None and rows[5].path == "" and rows[5].status == 400
    # third block: every IIS field; those the record lacks are kept in extra
    assert rows[6].protocol == "HTTP/1.1" and rows[6].bytes == 5120
    assert rows[6].query == "q=iis+logs"  # '+' is only a space in user agents
    assert rows[6].extra is not None and rows[6].extra["vhost"] == "www.example.com"
    assert rows[6].extra["cs(Cookie)"] is None and rows[6].extra["cs-bytes"] == "312"
    # fourth block (the W3C draft's example): no date field, the #Date directive gives it
    assert rows[8].time == utc(1996, 1, 12, 0, 34, 23)
    assert rows[9].path == "/foo/bar.html" and rows[9].query == "lang=en"
    data = SAMPLE.read_bytes()
    assert all(data[o - 1:o] == b"\n" and data[o:o + 1] != b"#" for o in columns.offsets())


def test_small_chunks_keep_the_state_across_chunks() -> None:
    data = SAMPLE.read_bytes()
    whole = W3CStream().parse(data, 0)[0]
    stream = W3CStream()
    parts = [stream.parse(chunk, start) for chunk, start in chunks(data, 200)]
    assert sum(p[1] for p in parts) == 25 and not any(p[2] for p in parts)
    assert list(concat([p[0] for p in parts]).rows()) == list(whole.rows())


def test_file_first_read_mid_way_finds_its_fields(tmp_path: Path) -> None:
    """A monitor resuming from a checkpoint starts after the header: it is looked up."""
    log = tmp_path / "u_ex190313.log"
    log.write_bytes(SAMPLE.read_bytes())
    data = log.read_bytes()
    start = data.index(b"2019-03-13 00:00:04")
    end = data.index(b"#Software", start)
    columns, lines, bad, _ = W3CStream(path=str(log)).parse(data[start:end], start)
    assert lines == 2 and not bad
    assert columns.client == ["203.0.113.11", "203.0.113.12"]
    assert columns.duration == [0.001, 0.0]


def test_lines_before_any_fields_are_counted_not_guessed() -> None:
    columns, lines, bad, reasons = W3CStream().parse(
        b"2019-03-13 00:00:03 GET /x 200\n#Fields: date time cs-method cs-uri-stem "
        b"sc-status\n2019-03-13 00:00:03 GET /x 200\n", 0)
    assert lines == 3 and len(columns) == 1 and columns.status == [200]
    assert reasons == Counter({"no #Fields directive before this line": 1})
    assert bad[0].offset == 0


def test_tab_separated_quoted_and_seconds() -> None:
    """Other W3C writers: tabs between fields, quoted strings, time-taken in seconds."""
    fields = (b"#Version: 1.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status "
              b"time-taken cs(User-Agent)\n")
    tabs = fields + b"2020-02-29\t23:59:59\t192.0.2.1\tGET\t/a\t200\t0.250\tcurl/8\n"
    quoted = fields + b'2020-02-29 23:59:59.5 192.0.2.2 GET /b 500 1.5 "Mozilla/5.0 (X11)"\n'
    parts = [W3CStream(time_taken="s").parse(data, 0) for data in (tabs, quoted)]
    assert [p[1] for p in parts] == [3, 3] and not any(p[2] for p in parts)
    columns = concat([p[0] for p in parts])
    assert columns.time == [utc(2020, 2, 29, 23, 59, 59), utc(2020, 2, 29, 23, 59, 59) + 0.5]
    assert columns.duration == [0.25, 1.5]
    assert columns.agent == ["curl/8", "Mozilla/5.0 (X11)"]
