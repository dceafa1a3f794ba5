"""msgspec (the optional JSON decoder, ``omphalos[fast]``) gives exactly what the stdlib
gives, on every JSON format: the generic ``json`` parser, Traefik's JSON and Caddy's
(whose lines msgspec decodes into structs of the mapped keys only).

Each hostile line is parsed in a chunk between two ordinary lines of the format, once
with msgspec and once with the stdlib alone (msgspec disabled by setting the accelerator
module's reference to None, which is what an installation without it has): records
(``extra`` included, key order too), line count, bad lines with their reasons and
samples, and the reasons' counts must be equal. Lines no decoder would ever see from a
server are the point: integers wider than 64 bits or past the interpreter's digit
limit, NaN and infinities, duplicate and escaped keys, lone surrogates, invalid UTF-8,
nesting near and past the recursion limit, odd types where the mapping expects objects.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omphalos.lib.parsers import json_accel
from omphalos.lib.parsers.format_examples import EXAMPLES
from omphalos.lib.parsers.json_format import JsonFormat
from omphalos.lib.parsers.json_presets import CaddyFormat
from omphalos.records import Record

pytestmark = pytest.mark.skipif(json_accel.msgspec is None, reason="msgspec not installed")

FORMATS = ("json", "caddy", "traefik_json")
Outcome = tuple[list[Record], int, list[tuple[int, str, str]], Counter[str]]


def outcome(name: str, data: bytes) -> Outcome:
    cols, n, bad, reasons = EXAMPLES[name][0]().parse(data, 0)
    return list(cols.rows()), n, [(b.offset, b.reason, b.line) for b in bad], reasons


def both(name: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """The outcome with msgspec, asserted equal to the stdlib's."""
    fast = outcome(name, data)
    with monkeypatch.context() as m:
        m.setattr(json_accel, "msgspec", None)
        plain = outcome(name, data)
    assert repr(fast) == repr(plain)  # repr: NaN equals NaN, 1 differs from 1.0
    return fast


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


#: JSON texts put in place of one value of each format's example line.
VALUES = [
    "18446744073709551615", "18446744073709551616", "-9223372036854775809",
    "123456789012345678901234567890", "9" * 4300, "9" * 4301, "9" * 5000,
    "-" + "9" * 4301, "0." + "1" * 5000, "1" * 4301 + ".5", "1" * 4301 + "e2",
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "-0.0",
    "0.1234567890123456789", "5e-324", "1.7976931348623157e308", "2.2250738585072014e-308",
    "9007199254740993", "1E+05", "1.5e0",
    '"\\ud800"', '"\\udc00\\ud800"', '"\\ud834\\udd1e"', '"caf\\u00e9 \\"q\\" \\/ \\\\"',
    '"\\u0000"', '"\\u2028"', '"caf\u00e9 \U0001f600"', '""', '"-"', "null", "true",
    "false", "[]", "{}", '["a",1,null,{"b":[2.5]}]', '{"k":"v","k":"w"}',
    nested(10), nested(json_accel.SAFE_DEPTH - 2), nested(json_accel.SAFE_DEPTH + 1),
    nested(990), nested(996), nested(1000), nested(1010), nested(1030), nested(5000),
    '"' + "x" * 70000 + '"',
    # not JSON at all: the line is bad either way, with the same reason
    "01", "1.", ".5", "+1", "tru", '"\\x41"', '"a\x01b"', '"\\u00zz"', "[1,]", '{"a":1,}',
    "'a'", "0x10",
]

#: Raw bytes in place of a value (not valid UTF-8, or encoded surrogates).
RAW_VALUES = [b'"\xff"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"',
              b'"caf\xc3\xa9"', b'"\xe2\x80"']


def example(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(EXAMPLES[name][2])
    return obj


def lines_with(name: str, value: bytes) -> list[bytes]:
    """The example line with ``value`` as each of its values in turn (mapped ones, an
    unmapped one, a nested one) and as an added key, each alone."""
    base = example(name)
    out = []
    marker = "\x00MARK\x00"
    keys = list(base)
    for key in keys:
        if isinstance(base[key], dict):
            for inner in base[key]:
                obj = json.loads(json.dumps(base))
                obj[key][inner] = marker
                out.append(json.dumps(obj, separators=(",", ":")))
        obj = dict(base)
        obj[key] = marker
        out.append(json.dumps(obj, separators=(",", ":")))
    out.append(json.dumps({**base, "added": marker}, separators=(",", ":")))
    quoted = json.dumps(marker)
    return [line.encode().replace(quoted.encode(), value) for line in out]


def chunk(name: str, *middle: bytes) -> bytes:
    line = EXAMPLES[name][2].encode()
    return b"\n".join([line, *middle, line]) + b"\n"


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("value", VALUES + RAW_VALUES, ids=lambda v: repr(v)[:40])
def test_hostile_values_give_what_the_stdlib_gives(name: str, value: str | bytes,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    raw = value if isinstance(value, bytes) else value.encode()
    hostile = lines_with(name, raw)
    for line in hostile:
        both(name, chunk(name, line), monkeypatch)
    both(name, chunk(name, *hostile), monkeypatch)  # all of them in one chunk


#: Whole lines that are odd as lines.
ODD_LINES = [
    b"", b"   ", b"[]", b"5", b'"text"', b"null", b'{"a":1},{"b":2}', b'{"a":1} {"b":2}',
    b'{"a":1}\r', b"\xef\xbb\xbf" + EXAMPLES["json"][2].encode(), b'{"a":1}\x00',
    b'{"a":1}\x0c', b'{"status":200,"x":[1', b'2]}', b'{"a":1,"a":{"b":2},"a":3}',
    b'{"\\u0073tatus":404,"ts":2.5}', b'{"ts":1,"ts":"2026-11-01T09:00:00Z"}',
    b'{"request":5,"ts":1}', b'{"request":null,"ts":1}', b'{"request":{"headers":5}}',
    b'{"request":{"headers":null,"tls":null}}', b'{"request":{"tls":"odd"}}',
    b'{"request":{"tls":{"server_name":5}},"status":200}',
    b'{"request":{"headers":{"User-Agent":[],"Referer":"plain"}}}',
    b'{"request":{"headers":{"User-Agent":[5,"a"],"User-Agent":["b"]}}}',
    b'{"request":{"uri":"/a?b"},"request":{"method":"POST"}}',
    b'{"status":"200","size":"5"}', b'{"status":true}', b'{"status":1.5}',
    b'{"status":null,"size":null,"ts":null}', b'{"ts":1e12}', b'{"ts":-5}',
    b'{"ts":"yesterday"}', b'{"duration":"fast"}', b'{"size":-1}',
]


@pytest.mark.parametrize("name", FORMATS)
def test_odd_lines_give_what_the_stdlib_gives(name: str, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    for line in ODD_LINES:
        both(name, chunk(name, line), monkeypatch)
    both(name, chunk(name, *ODD_LINES), monkeypatch)
    both(name, b"\r\n".join([EXAMPLES[name][2].encode()] * 3) + b"\r\n", monkeypatch)
    both(name, EXAMPLES[name][2].encode(), monkeypatch)  # no final newline


def test_a_line_the_stdlib_finds_too_deep_stays_bad() -> None:
    """A 1,000-deep value in a key Caddy does not map: the stdlib refuses the line (the
    recursion limit), so msgspec's answer must not be used (orjson, the accelerator before,
    took up to 1,024 levels and made a record of it)."""
    line = chunk("caddy", lines_with("caddy", nested(1000).encode())[-1])
    cols, n, bad, reasons = CaddyFormat().parse(line, 0)
    assert (n, len(cols), [b.offset for b in bad]) == (3, 2, [line.index(b"\n") + 1])
    assert reasons == {"invalid JSON: nested too deeply": 1}


def test_decodable_sends_what_msgspec_could_misread_to_the_stdlib() -> None:
    short = [EXAMPLES["caddy"][2].encode()]
    assert json_accel.decodable(short[0], short)
    for line in (b'{"a":"\xff"}', b'{"a":"\xed\xa0\x80"}', b'{"a":' + nested(260).encode()
                 + b"}", b'{"a":' + b"1" * (sys.get_int_max_str_digits() + 1) + b"}"):
        assert not json_accel.decodable(line, [line]), line[:20]
    wide = b'{"a":"' + b"x" * 5000 + b'","b":' + nested(5).encode() + b"}"
    assert json_accel.decodable(wide, [wide])  # long, but shallow and no long digit run


def test_caddy_lines_take_the_struct_path() -> None:
    """The example lines are decoded into structs (not sent to the dict path), with the
    records the dict path gives."""
    data = chunk("caddy", EXAMPLES["caddy"][2].encode())
    fast = CaddyFormat()._fast(data, 0)
    assert fast is not None
    dicts = JsonFormat.parse(CaddyFormat(), data, 0)  # the dict path alone
    assert list(fast[0].rows()) == list(dicts[0].rows())
    assert fast[1:] == dicts[1:]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.integers(min_value=0, max_value=2))
def test_any_json_value_decodes_as_the_stdlib_decodes_it(value: Any, spaces: int) -> None:
    text = json.dumps(value, separators=(", " if spaces else ",", ": " if spaces else ":"))
    data = text.encode()
    try:
        decoded = json_accel.decode(data)
    except json_accel.DECODE_ERRORS:  # only a lone surrogate (the stdlib takes it)
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in repr(value) + text) or "\\ud" in text
        return
    assert decoded == json.loads(data)
    assert repr(decoded) == repr(json.loads(data))  # same types, -0.0 and key order too


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\A-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,4})?\Z"))
def test_number_texts_decode_as_the_stdlib_decodes_them(text: str) -> None:
    """Every JSON number spelling: the same int or float (msgspec's own float parser
    against Python's); where msgspec refuses one, the stdlib decodes the line."""
    try:
        expected: Any = json.loads(text)
    except ValueError:
        expected = None
    try:
        got: Any = json_accel.decode(text.encode())
    except json_accel.DECODE_ERRORS:
        return
    assert repr(got) == repr(expected)


def test_caddy_extras_read_lazily_in_slices_and_selections(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The struct path's ``extra`` (made when read) gives the dict path's dicts, whole,
    sliced, selected, value by value and with the range check, and is made once."""
    lines = [json.dumps({**example("caddy"), "bytes_read": i,
                         "request": {**example("caddy")["request"], "client_ip": f"10.0.0.{i}",
                                     "tls": {"server_name": "a.example"} if i % 2 else None}},
                        separators=(",", ":")).encode() for i in range(6)]
    data = b"\n".join(lines) + b"\n"
    fast = CaddyFormat().parse(data, 0)[0]
    with monkeypatch.context() as m:
        m.setattr(json_accel, "msgspec", None)
        plain = CaddyFormat().parse(data, 0)[0]
    assert not isinstance(plain.lazy_extra(), type(fast.lazy_extra()))  # two paths
    assert fast.extra_values("client_ip") == [f"10.0.0.{i}" for i in range(6)]
    assert fast.slice(1, 4).extra == plain.extra[1:4]  # type: ignore[index]
    assert fast.select([5, 0, 2]).extra == [plain.extra[i] for i in (5, 0, 2)]  # type: ignore[index]
    assert fast.extra == plain.extra
    assert [list(e) for e in fast.extra] == [list(e) for e in plain.extra]  # type: ignore[union-attr]
    assert fast.extra is fast.extra  # made once
    assert fast.extra[1] == {"vhost": "example.com", "client_ip": "10.0.0.1",  # type: ignore[index]
                             "remote_port": "50000", "bytes_read": 1,
                             "logger": "http.log.access", "tls_server_name": "a.example"}


def test_without_msgspec_installed_the_stdlib_gives_the_same(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """A real interpreter in which ``import msgspec`` fails (an installation without the
    ``fast`` extra): every JSON format imports and gives what the stdlib path gives here."""
    data = {name: chunk(name, *lines_with(name, b'"x"')[:3]) for name in FORMATS}
    script = (
        "import sys, json\n"
        "sys.modules['msgspec'] = None\n"
        "from omphalos.lib.parsers import json_accel\n"
        "from omphalos.lib.parsers.format_examples import EXAMPLES\n"
        "assert json_accel.msgspec is None\n"
        "out = {}\n"
        "for name, text in json.loads(sys.stdin.read()).items():\n"
        "    cols, n, bad, reasons = EXAMPLES[name][0]().parse(text.encode(), 0)\n"
        "    out[name] = repr((list(cols.rows()), n, [(b.offset, b.reason, b.line) for b in bad],"
        " reasons))\n"
        "print(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(
        {k: v.decode() for k, v in data.items()}), capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2])
    got = json.loads(done.stdout)
    for name in FORMATS:
        assert got[name] == repr(both(name, data[name], monkeypatch)), name


def caddy_line(drop: tuple[str, ...] = (), **changes: Any) -> bytes:
    """The Caddy example line with top-level or ``request.KEY`` / ``headers.NAME`` keys
    changed (``changes``, dots as ``__``) or removed (``drop``)."""
    obj = example("caddy")
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = obj
        for part in parents:
            target = target["request"] if part == "request" else target["headers"]
        target[key] = value
    for dotted in drop:
        *parents, key = dotted.split("__")
        target = obj
        for part in parents:
            target = target["request"] if part == "request" else target["headers"]
        del target[key]
    return json.dumps(obj, separators=(",", ":")).encode()


#: Chunks of lines the structs decode (the struct path maps them) whose columns take each
#: of its branches: a number column holding None, times that are not epoch seconds, empty
#: and missing header lists, "-" and "" text, URIs with and without a query.
STRUCT_CHUNKS = {
    "status missing on one line": [caddy_line(), caddy_line(drop=("status",))],
    "size and duration null": [caddy_line(size=None, duration=None), caddy_line()],
    "every status missing": [caddy_line(drop=("status",))] * 2,
    "ts in milliseconds on one line": [caddy_line(ts=1793523600250), caddy_line()],
    "ts in milliseconds throughout": [caddy_line(ts=1793523600250)] * 2,
    "ts missing on one line": [caddy_line(drop=("ts",)), caddy_line(ts=5)],
    "integer ts and duration": [caddy_line(ts=1793523600, duration=2)] * 2,
    "empty and missing header lists": [
        caddy_line(request__headers__User_Agent=[]), caddy_line(request__headers={}),
        caddy_line(request__headers__Referer=["https://a.example/"])],
    "no headers, no request": [caddy_line(drop=("request__headers",)),
                               caddy_line(drop=("request",))],
    "dash and empty text": [caddy_line(user_id="-", request__method="",
                                       request__remote_ip="-", request__proto="-"),
                            caddy_line(user_id="alice", request__remote_ip="")],
    "uris with and without a query": [
        caddy_line(request__uri="/a?b=1"), caddy_line(request__uri="/c?"),
        caddy_line(request__uri="/d"), caddy_line(request__uri="-"),
        caddy_line(request__uri="/e?f?g"), caddy_line(drop=("request__uri",))],
    "every uri missing": [caddy_line(drop=("request__uri",))] * 2,
    "huge size beside a missing one": [caddy_line(size=2**70), caddy_line(drop=("size",))],
}


@pytest.mark.parametrize("case", STRUCT_CHUNKS)
def test_struct_mapping_branches_give_what_the_stdlib_gives(
        case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [line.replace(b"User_Agent", b"User-Agent") for line in STRUCT_CHUNKS[case]]
    data = b"\n".join(lines) + b"\n"
    assert CaddyFormat()._fast(data, 0) is not None  # the struct path takes the chunk
    records, n, bad, _ = both("caddy", data, monkeypatch)
    assert (n, bad) == (len(lines), []) and len(records) == len(lines)


def test_struct_mapping_values() -> None:
    """The struct path's columns, value by value, for the branches above."""
    lines = [caddy_line(request__uri="/a?b=1", status=None),
             caddy_line(request__uri="/c?", user_id="-", ts=1793523600250),
             caddy_line(drop=("request__uri", "size", "request__headers"),
                        request__remote_ip="")]
    cols = CaddyFormat().parse(b"\n".join(lines) + b"\n", 0)[0]
    assert cols.path == ["/a", "/c", ""] and cols.query == ["b=1", "", None]
    assert cols.status == [0, 200, 200] and cols.bytes == [512, 512, 0]
    assert cols.time == [1793523600.25, 1793523600.25, 1793523600.25]
    assert cols.user is not None and cols.user == [None, None, None]
    assert cols.client == ["192.0.2.1", "192.0.2.1", ""]
    assert cols.agent == ["curl/8.0", "curl/8.0", None] and cols.referer is None
    assert cols.duration == [0.0012] * 3


def test_a_null_request_or_headers_takes_the_dict_path(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """Caddy never writes them null: the structs refuse it and the dict path maps it."""
    for line in (caddy_line(request=None), caddy_line(request__headers=None)):
        data = chunk("caddy", line)
        assert CaddyFormat()._fast(data, 0) is None
        records, n, bad, _ = both("caddy", data, monkeypatch)
        assert (len(records), n, bad) == (3, 3, [])


def test_the_struct_record_attributes_are_the_mapping_s() -> None:
    """``caddy_fast.RECORD_ATTRS`` reads, for each record field, the key CADDY_FIELDS
    maps to it (headers' first values through :class:`.caddy_fast.First`)."""
    from omphalos.lib.parsers import caddy_fast
    from omphalos.lib.parsers.json_presets import CADDY_FIELDS

    record = {target: key for key, target in CADDY_FIELDS.items()
              if not target.startswith("extra:") and target != "vhost"}
    paths = {target: path.replace("headers.agent.value", "headers.User-Agent.0")
             .replace("headers.referer.value", "headers.Referer.0")
             for target, path in caddy_fast.RECORD_ATTRS}
    assert paths == record


@pytest.mark.parametrize("headers", [
    {"User-Agent": ["a", "b"], "Referer": []}, {"User-Agent": [None, "b"]},
    {"User-Agent": ["a", 5, {"k": [1.5, 2**80]}]}, {"Referer": ["r"]},
    {"User-Agent": "plain"}, {"User-Agent": None}, {"User-Agent": [5]},
    {"User-Agent": {"first": "x"}}, {"User-Agent": ["a"], "User-Agent ": ["b"]}],
    ids=repr)
def test_header_lists_give_what_the_stdlib_gives(headers: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Only each header list's first value is built (the others validated and skipped);
    anything but a list sends the chunk to the dict path."""
    obj = example("caddy")
    obj["request"]["headers"] = headers
    data = chunk("caddy", json.dumps(obj, separators=(",", ":")).encode())
    struct_path = all(type(v) is list and (not v or type(v[0]) in (str, type(None)))
                      for v in headers.values())
    assert (CaddyFormat()._fast(data, 0) is not None) == struct_path
    records, n, bad, _ = both("caddy", data, monkeypatch)
    assert (len(records), n, bad) == (3, 3, [])


def test_hostile_values_after_a_header_s_first_value_are_skipped_alike(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Values msgspec would refuse to build, after the first: skipped by the struct
    path, ignored by the dict path (which builds them); the same records."""
    for rest in (b"1e400", b"9" * 30, b"-1e400", nested(40).encode(), b'"\\u00e9"'):
        line = EXAMPLES["caddy"][2].encode().replace(b'["curl/8.0"]',
                                                     b'["curl/8.0",' + rest + b"]")
        data = chunk("caddy", line)
        assert CaddyFormat()._fast(data, 0) is not None, rest
        records, n, bad, _ = both("caddy", data, monkeypatch)
        assert [r.agent for r in records] == ["curl/8.0"] * 3 and (n, bad) == (3, [])
