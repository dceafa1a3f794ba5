"""The whole-column fast paths of the presets give exactly what the plain code gives: the
optional msgspec decoder against the stdlib's, Caddy's column-wise key lookups against the
generic dotted-key mapping, ``extra`` dicts built from a chunk's constant columns, unmapped
JSON keys taken a column at a time, and CloudFront agents decoded once per distinct value.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from omphalos.lib.parsers import json_accel
from omphalos.lib.parsers.convert import (
    _same_scheme_urls,
    client_ports,
    extra_dicts,
    percent_decoded,
    row_dicts,
    split_url,
    urls,
)
from omphalos.lib.parsers.json_format import JsonFormat
from omphalos.lib.parsers.json_presets import CADDY_FIELDS, caddy_format
from omphalos.lib.parsers.w3c_format import compile_fields
from omphalos.records import Record


def result(fmt: Any, lines: list[str]) -> tuple[list[Record], list[tuple[int, str]],
                                                 Counter[str]]:
    """(records, bad lines as (offset, reason), reasons) of ``lines`` in one chunk."""
    data = "".join(x + "\n" for x in lines).encode()
    cols, n, bad, reasons = fmt.parse(data, 0)
    assert n == len(lines)
    return list(cols.rows()), [(b.offset, b.reason) for b in bad], reasons


TRICKY = [
    '{"status":200,"bytes":12,"trace":"a"}',
    '{"status":200,"bytes":123456789012345678901234567890,"trace":"b"}',  # wider than u64
    '{"status":200,"x":18446744073709551615,"trace":"c"}',                 # u64's largest
    '{"status":200,"x":NaN}',                                              # stdlib only
    '{"status":200,"x":"\\ud800"}',                                        # lone surrogate
    '{"status":200,"request_time":1e400}',                                 # not a double
    '{"status":200,"request_time":0.1234567890123456789,"y":-0.0}',
    '{"status":200,"x":"caf\\u00e9 \\"q\\""}',
]


@pytest.mark.skipif(json_accel.msgspec is None, reason="msgspec not installed")
@pytest.mark.parametrize("index", range(len(TRICKY)))
def test_msgspec_gives_what_the_stdlib_gives(index: int, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """Each tricky line in a chunk of ordinary ones: the same records, bad lines and
    reasons with msgspec as with the stdlib alone (msgspec disabled by setting the
    accelerator module's reference to None, which is what an installation without it
    has; ``tests/parsers/test_json_accel.py`` has many more such lines)."""
    lines = ['{"status":201,"bytes":1}', TRICKY[index], '{"status":202,"bytes":2}']
    fast = result(JsonFormat(), lines)
    monkeypatch.setattr(json_accel, "msgspec", None)
    plain = result(JsonFormat(), lines)
    assert fast == plain
    assert (fast[0][0].status, fast[0][-1].status) == (201, 202)


def test_wide_integers_stay_integers() -> None:
    """A 30-digit integer stays an int in ``extra`` (orjson, the accelerator before
    msgspec, made it a float)."""
    records, bad, _ = result(JsonFormat(), ['{"status":200,"n":123456789012345678901234567890}'])
    assert bad == []
    assert records[0].extra == {"n": 123456789012345678901234567890}
    assert type(records[0].extra["n"]) is int


CADDY_LINES = [
    {"ts": 1.5, "request": {"remote_ip": "10.0.0.1", "method": "GET", "uri": "/a?b=1",
                            "proto": "HTTP/2.0", "host": "example.com",
                            "headers": {"User-Agent": ["curl/8"], "Referer": ["https://r/"]},
                            "tls": {"server_name": "example.com"}},
     "status": 200, "size": 5, "duration": 0.25, "user_id": "u", "logger": "http.log.access"},
    {"ts": 2.5, "request": {"remote_ip": "10.0.0.2", "method": "POST", "uri": "/c",
                            "headers": {"User-Agent": [], "Referer": ["r1", "r2"]},
                            "tls": "odd"}, "status": 404, "size": 0},
    {"ts": 3.5, "request": "not an object", "status": 500, "size": 1},
    {"ts": 4.5, "request": {"remote_ip": "10.0.0.3", "headers": "odd",
                            "client_ip": "1.2.3.4", "remote_port": "4444"},
     "status": 301, "size": 2, "bytes_read": 7},
]


@pytest.mark.parametrize("rows", [CADDY_LINES, CADDY_LINES[:1], CADDY_LINES[1:3]])
def test_caddy_columns_match_the_generic_mapping(rows: list[dict[str, Any]]) -> None:
    """Caddy's column-wise lookups give what the generic dotted-key mapping gives, odd
    shapes (a request that is no object, empty or unlisted headers, odd tls) included."""
    lines = [json.dumps(r) for r in rows]
    got = result(caddy_format(), lines)
    assert got == result(JsonFormat(CADDY_FIELDS, keep_unmapped=False), lines)
    assert got[1] == []


def test_caddy_first_line_field_by_field() -> None:
    records, _, _ = result(caddy_format(), [json.dumps(CADDY_LINES[0])])
    r = records[0]
    assert (r.time, r.client, r.user, r.method, r.path, r.query, r.protocol, r.status,
            r.bytes, r.duration, r.agent, r.referer) == (
        1.5, "10.0.0.1", "u", "GET", "/a", "b=1", "HTTP/2.0", 200, 5, 0.25, "curl/8",
        "https://r/")
    assert r.extra == {"vhost": "example.com", "logger": "http.log.access",
                       "tls_server_name": "example.com"}


def test_caddy_header_written_as_a_string() -> None:
    """A header value that is no list is taken as it is (as the preset always did; the
    generic ``.0`` mapping gives None there)."""
    line = {"ts": 1.0, "request": {"remote_ip": "10.0.0.1", "headers": {"Referer": "plain"}},
            "status": 200, "size": 1}
    assert result(caddy_format(), [json.dumps(line)])[0][0].referer == "plain"


def test_unmapped_keys_column_wise_and_object_by_object() -> None:
    """Unmapped keys: the same dicts whether every line has them (column-wise) or not, or
    has one null (object by object)."""
    fmt = JsonFormat({"status": "status"})
    same = ['{"status":200,"a":"x","b":1}', '{"b":2,"status":201,"a":"y"}']
    assert [r.extra for r in result(fmt, same)[0]] == [{"a": "x", "b": 1}, {"a": "y", "b": 2}]
    differ = ['{"status":200,"a":"x"}', '{"status":201,"b":2}', '{"status":202,"a":null}',
              '{"status":203}']
    assert [r.extra for r in result(fmt, differ)[0]] == [{"a": "x"}, {"b": 2}, {"a": None},
                                                         None]


def test_extra_dicts_from_columns() -> None:
    """All constant: one shared dict; mostly constant: copies with the varying values set;
    mostly varying: a dict per row, equal rows sharing one."""
    constant = extra_dicts({"a": ["x", "x", "x"], "b": [None, None, None]})
    assert constant == [{"a": "x", "b": None}] * 3
    assert constant[0] is constant[2]
    few = extra_dicts({"a": ["x", "x", "x"], "b": ["1", "2", "3"], "c": ["k", "k", "k"]})
    assert few == [{"a": "x", "b": "1", "c": "k"}, {"a": "x", "b": "2", "c": "k"},
                   {"a": "x", "b": "3", "c": "k"}]
    assert [list(d or {}) for d in few] == [["a", "b", "c"]] * 3
    assert len({id(d) for d in few}) == 3
    many = extra_dicts({"a": ["1", "2", "3", "4"], "b": [None, "q", "r", "s"]})
    assert many == [{"a": "1", "b": None}, {"a": "2", "b": "q"}, {"a": "3", "b": "r"},
                    {"a": "4", "b": "s"}]
    shared = extra_dicts({"a": ["1", "2"] + ["1"] * 8, "b": ["p", "q"] + ["p"] * 8})
    assert shared == [{"a": "1", "b": "p"}, {"a": "2", "b": "q"}] + [{"a": "1", "b": "p"}] * 8
    assert shared[0] is shared[9]


def reference_client_port(value: str) -> tuple[str, str | None]:
    """The documented rule, value by value: the address up to the last colon when digits
    follow it (brackets of an IPv6 address dropped, ``-`` as empty), else no port."""
    address, _, port = value.rpartition(":")
    if not address or not port.isdigit():
        address, port = value, ""
    return ("" if address == "-" else address.strip("[]")), (port or None)


@pytest.mark.parametrize("column", [
    ["192.0.2.1:80", "198.51.100.7:443"], ["::1:80", "fe80::1:8080"], ["a:12:34"],
    ["-:80", "192.0.2.1:80"], ["192.0.2.1:", "192.0.2.1:80"], ["192.0.2.1", "b:1"],
    ["[2001:db8::1]:443"], ["a:b"], [":80"], ["-"], [],
])
def test_client_port_columns_match_the_rule_value_by_value(column: list[str]) -> None:
    pairs = [reference_client_port(v) for v in column]
    assert client_ports(column) == ([c for c, _ in pairs], [p for _, p in pairs])


def test_row_dicts_take_any_key_as_a_literal() -> None:
    """Keys come from log files (W3C ``#Fields``): quotes, backslashes, braces, newlines
    and text that looks like code stay keys; nothing of them is run."""
    keys = ("a'b", 'c"d', "e\\f", "g\nh", "}{", "__import__('os').getpid()", "é", "v0")
    rows = row_dicts(keys)([["1", "2"], [None, "x"], [3, 4], ["n", "m"], ["p", "q"],
                            ["r", "s"], ["t", "u"], ["w", "z"]])
    assert rows == [dict(zip(keys, ("1", None, 3, "n", "p", "r", "t", "w"))),
                    dict(zip(keys, ("2", "x", 4, "m", "q", "s", "u", "z")))]
    assert [list(r) for r in rows] == [list(keys)] * 2
    assert row_dicts(keys) is row_dicts(keys)  # compiled once per tuple of keys
    assert row_dicts(("only",))([["a", "b"]]) == [{"only": "a"}, {"only": "b"}]


def test_percent_decoded_once_per_value() -> None:
    assert percent_decoded(["Mozilla/5.0%20(X11)", "-", "curl", "Mozilla/5.0%20(X11)",
                            "caf%C3%A9"]) == ["Mozilla/5.0 (X11)", None, "curl",
                                              "Mozilla/5.0 (X11)", "café"]
    assert percent_decoded(["a", "-"]) == ["a", None]


TAB_FIELDS = "date time x-edge-location sc-bytes c-ip cs-method cs-uri-stem sc-status " \
             "cs(User-Agent) cs-uri-query time-taken"
TAB_CHUNKS = [
    ["2026-11-01\t00:00:01\tLAX1\t120\t10.0.0.1\tGET\t/a\t200\tcurl/8%20x\t-\t0.001",
     '2026-11-01\t00:00:02\tLAX1\t0\t10.0.0.2\tPOST\t"/b c"\t404\t-\tq=1\t0.250',
     '2026-11-01\t00:00:03\tLAX1\t5\t10.0.0.3\tGET\t"say ""hi"""\t301\t\t\t0.000'],
    # a line with a trailing tab and one short of a field: the regexes take the chunk
    ["2026-11-01\t00:00:01\tLAX1\t120\t10.0.0.1\tGET\t/a\t200\tcurl\t-\t0.001\t",
     "2026-11-01\t00:00:02\tLAX1\t120\t10.0.0.1\tGET\t/a\t200\tcurl\t-"],
    # a value that does not convert (a status that is no number)
    ["2026-11-01\t00:00:01\tLAX1\t120\t10.0.0.1\tGET\t/a\tOK\tcurl\t-\t0.001",
     "2026-11-01\t00:00:02\tLAX1\t120\t10.0.0.1\tGET\t/a\t200\tcurl\t-\t0.001"],
]


@pytest.mark.parametrize("lines", TAB_CHUNKS)
def test_tab_separated_split_matches_the_regexes(lines: list[str]) -> None:
    """CloudFront-style tab-separated lines cut with ``str.split`` give what the strict and
    lenient regexes give (the same format with its split path turned off)."""
    fast = compile_fields(TAB_FIELDS, "\t")
    assert fast.split_on == "\t"
    plain = compile_fields(TAB_FIELDS, "\t")
    plain.split_on = None
    assert result(fast, lines) == result(plain, lines)


def test_tab_separated_split_field_by_field() -> None:
    fmt = compile_fields(TAB_FIELDS, "\t")
    data = "".join(x + "\n" for x in TAB_CHUNKS[0])
    assert fmt._split_fields(data, 3, data.encode(), 0) is not None  # the split path
    records, bad, _ = result(fmt, TAB_CHUNKS[0])
    assert bad == []
    assert [(r.time, r.client, r.method, r.path, r.query, r.status, r.bytes, r.agent,
             r.duration, r.extra) for r in records] == [
        (1793491201.0, "10.0.0.1", "GET", "/a", None, 200, 120, "curl/8 x", 0.001,
         {"x-edge-location": "LAX1"}),
        (1793491202.0, "10.0.0.2", "POST", "/b c", "q=1", 404, 0, None, 0.25,
         {"x-edge-location": "LAX1"}),
        (1793491203.0, "10.0.0.3", "GET", 'say "hi"', None, 301, 5, None, 0.0,
         {"x-edge-location": "LAX1"})]



URL_COLUMNS = [
    (["http://h/a?b", "http://h:80/", "http://x/y/z?q=1&r", "http://h/?"], True),
    (["http:///a", "http://h/a?b?c", "http://h/a b"], True),
    (["https://h/a", "http://h/b"], True),       # two schemes, each as split_url reads it
    (["abcdefghijklm://h/a"], True),             # the longest scheme split_url takes
    (["abcdefghijklmn://h/a"], False),           # one longer: a path to split_url
    (["1http://h/a"], False),                    # no scheme (split_url: host "h")
    (["http://h", "http://h/a"], False),         # no slash after the host
    (["http://h?x/y", "http://h/a"], False),     # a query right after the host
    (["/a", "/b?c"], False),                     # relative
    (["-", "http://h/a"], False),
]


@pytest.mark.parametrize(("column", "fast"), URL_COLUMNS)
def test_url_columns_match_split_url(column: list[str], fast: bool) -> None:
    """Absolute URLs, split a column at a time, give what :func:`split_url`
    gives value by value (the column-wise path taken only where it applies)."""
    triples = [split_url("" if v == "-" else v) for v in column]
    hosts = [h for _, _, h in triples]
    assert urls(column) == ([p for p, _, _ in triples], [q for _, q, _ in triples],
                            hosts if any(h is not None for h in hosts) else None)
    assert (_same_scheme_urls(["" if v == "-" else v for v in column]) is not None) is fast
