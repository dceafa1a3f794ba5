"""Deferred ``extra`` changes no answer: every preset's records, lazy extras made into
dicts, equal those of the eager code, down to each dict's key order.

The regex presets (:class:`.DeferredExtraFormat`) are compared with their own full format
read the way it read every chunk before (``LineFormat.parse``: the whole pattern captured,
``extra`` cut at once), on each preset's example line and on hostile copies of it (very
long fields, huge numbers, every field in turn ``-`` or missing, escaped quotes, unicode,
a cut line), each line alone and all in one chunk. :class:`.ExtraColumns` (every regex
format's and the JSON presets' lazy extras) is compared with dicts built the plain way.
Slicing, selecting, ``Columns.extra_values``, the range check and the wire keep the same
answers without or before making the dicts.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from omphalos.derived import derived_keys
from omphalos.lib.parsers.deferred_format import DeferredExtraFormat, Reparse, uncaptured
from omphalos.lib.parsers.extras import ExtraColumns
from omphalos.lib.parsers.format_examples import EXAMPLES
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.lib.parsers.presets import PRESETS
from omphalos.messages import Batch, Source
from omphalos.records import Columns, LazyExtra
from omphalos.validate import out_of_range_rows
from omphalos.wire import decode_batch, encode_batch

DEFERRED = sorted(n for n in PRESETS if isinstance(PRESETS[n][0](), DeferredExtraFormat))
HUGE = "9" * 30


def ordered(cols: Columns) -> list[Any]:
    """``extra`` with each dict as its list of items (so key order counts)."""
    return [list(e.items()) if e is not None else None for e in cols.extra or ()]


def assert_same(new: tuple[Any, ...], old: tuple[Any, ...]) -> None:
    cols, n, bad, reasons = new
    old_cols, old_n, old_bad, old_reasons = old
    assert (n, bad, reasons) == (old_n, old_bad, old_reasons)
    assert list(cols.rows()) == list(old_cols.rows())
    assert ordered(cols) == ordered(old_cols)
    assert cols == old_cols


def hostile(line: str) -> list[str]:
    """Copies of ``line`` a server or an attacker might write."""
    words = line.split(" ")
    out = [line.replace("/index.html", "/index.html" + "a" * 70_000, 1),
           line.replace("512", HUGE, 1), line.replace("512", "-", 1),
           line.replace("curl/8.0", 'cu\\"rl\\" 8 \\xC3\\xA9', 1),
           line.replace("curl/8.0", "curl/8.0 ünï€ 😀 \u2028", 1),
           line.replace("/index.html", "/caf%C3%A9/\u00e9?q=\u20ac&x=\"", 1),
           line[: len(line) // 2], line + " trailing extra words", line.replace(" ", "  ", 1),
           # addresses and URLs the light patterns leave to the full format
           line.replace("192.0.2.1", "[2001:db8::1]", 1), line.replace("192.0.2.1", "::1", 1),
           line.replace("192.0.2.1:", "-:", 1), line.replace("192.0.2.1:", ":", 1),
           line.replace("https://example.com:443", "", 1).replace("http://example.com:80", ""),
           line.replace("/index.html", "/a://b//c?u=http://x", 1),
           line.replace("https://", "HTTPS://", 1).replace("http://", "git+ssh://", 1),
           line.replace("example.com", "", 1), line.replace("/index.html", "", 1)]
    for i in range(len(words)):  # each field in turn a dash, then missing
        out.append(" ".join([*words[:i], "-", *words[i + 1:]]))
        out.append(" ".join(words[:i] + words[i + 1:]))
    return out


def chunk(lines: list[str]) -> bytes:
    return "".join(x + "\n" for x in lines).encode()


@pytest.mark.parametrize("name", DEFERRED)
def test_deferred_presets_give_what_their_full_format_gives(name: str) -> None:
    fmt = PRESETS[name][0]()
    example = EXAMPLES[name][2]
    lines = hostile(example)
    for line in [example, *lines]:
        data = chunk([line])
        assert_same(fmt.parse(data, 7), LineFormat.parse(fmt, data, 7))
    for data in (chunk([example] * 5), chunk([example, *lines, example]),
                 chunk([example, example.replace("512", "513")] * 3)[:-1]):
        assert_same(fmt.parse(data, 0), LineFormat.parse(fmt, data, 0))


@pytest.mark.parametrize("name", DEFERRED)
def test_a_chunk_of_matching_lines_defers_its_extra(name: str) -> None:
    fmt = PRESETS[name][0]()
    example = EXAMPLES[name][2]
    data = chunk([example, example.replace("512", "77", 1), example])
    cols = fmt.parse(data, 0)[0]
    lazy = cols.lazy_extra()
    assert isinstance(lazy, Reparse)
    old = LineFormat.parse(fmt, data, 0)[0]
    # what reads parts of a batch stays lazy and gives the same values
    part, picked = cols.slice(1, 3), cols.select([2, 0])
    assert isinstance(part.lazy_extra(), LazyExtra)
    assert isinstance(picked.lazy_extra(), LazyExtra)
    assert out_of_range_rows(cols) == []
    assert isinstance(cols.lazy_extra(), Reparse)  # checked by construction: no dicts
    assert part.extra == old.extra[1:3]
    assert picked.extra == [old.extra[2], old.extra[0]]
    assert cols.slice(0, 3).select([1]).extra == [old.extra[1]]
    for key in old.extra[0]:
        assert cols.extra_values(key) == [e[key] for e in old.extra]
    assert cols.extra_values("no such key") is None
    assert ordered(cols) == ordered(old)
    assert not isinstance(cols.lazy_extra(), LazyExtra)  # made once, then kept


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_survives_the_wire_with_the_same_extras(name: str) -> None:
    header, example = EXAMPLES[name][1], EXAMPLES[name][2]
    data = header.encode() + chunk([example, example.replace("512", "8", 1)])
    cols = PRESETS[name][0]().parse(data, 0)[0]
    batch = Batch(Source("h", "/p", "id", "monitor:m"), 1, 0, len(data), cols, 2)
    copy = decode_batch(encode_batch(batch))
    assert ordered(copy.records) == ordered(cols)
    assert copy.records == cols
    assert list(copy.records.rows()) == list(cols.rows())


def plain(columns: dict[str, list[Any]], rows: list[dict[str, Any] | None] | None,
          n: int) -> list[dict[str, Any] | None] | None:
    """The dicts the old code meant: every column's key, then each line's own extras."""
    out: list[dict[str, Any] | None] = []
    for i in range(n):
        base = {k: v[i] for k, v in columns.items()} if columns else None
        more = rows[i] if rows is not None else None
        out.append(base if more is None else {**(base or {}), **more})
    return out


CASES: list[tuple[dict[str, list[Any]], list[dict[str, Any] | None] | None]] = [
    ({"a": ["x", "x", "x"], "b": [None, None, None]}, None),  # all constant: shared
    ({"a": ["x", "y", "x"], "b": ["1", "1", "1"], "c": [None, "é", "😀" * 9000]}, None),
    ({"a": ["1", "2", "3"], "b": ["4", "5", "6"], "c": ["7", "8", "9"]}, None),  # varying
    ({"a": ["x", "x", "x"]}, [None, {"request": "GET"}, {"a": "over", "z": None}]),
    ({}, [None, {"forwarded_for": "10.0.0.1, 10.0.0.2"}, None]),
    ({"a": ["q", "q", "w"]}, [{"b": '"', "a": "\u2028"}, None, {"c": ""}]),
]


@pytest.mark.parametrize(("columns", "rows"), CASES)
def test_extra_columns_make_the_plain_dicts(columns: dict[str, list[Any]],
                                            rows: list[dict[str, Any] | None] | None) -> None:
    expected = plain(columns, rows, 3)
    for text in (True, False):
        lazy = ExtraColumns(columns, rows, 3, text=text)
        cols = Columns(time=[1.0] * 3, client=["c"] * 3, path=["/"] * 3, status=[200] * 3,
                       bytes=[0] * 3, offset=[0, 1, 2])
        cols.set_lazy_extra(lazy)
        keys = {k for e in expected if e for k in e} | {"absent"}
        for key in keys:  # answered from the columns, without the dicts
            values = [e.get(key) if e else None for e in expected]
            assert cols.extra_values(key) == (values if any(
                e is not None and key in e for e in expected) else None)
        assert cols.lazy_extra() is lazy
        assert cols.slice(1, 3).extra == expected[1:3]
        assert cols.select([2, 0, 2]).extra == [expected[2], expected[0], expected[2]]
        assert cols.select([]).extra == []
        assert cols.extra == expected
        assert [list(e.items()) if e else e for e in cols.extra] == [
            list(e.items()) if e else e for e in expected]


def test_json_extras_with_lists_and_maps_are_made_one_dict_a_line() -> None:
    fmt = PRESETS["traefik_json"][0]()
    text = fmt.parse(chunk(['{"ClientHost":"1.2.3.4","RouterName":"a"}'] * 2), 0)[0]
    assert isinstance(text.lazy_extra(), ExtraColumns)  # checked as columns: still lazy
    assert text.extra == [{"RouterName": "a"}, {"RouterName": "a"}]
    lines = ['{"ClientHost":"1.2.3.4","RouterName":["a",{"b":1}],"Other":{"x":[1]}}',
             '{"ClientHost":"1.2.3.5","RouterName":["a",{"b":1}],"Other":null}']
    cols = fmt.parse(chunk(lines), 0)[0]  # maps and lists are checked line by line
    assert cols.extra_values("Other") == [{"x": [1]}, None]
    assert cols.extra == [{"RouterName": ["a", {"b": 1}], "Other": {"x": [1]}},
                          {"RouterName": ["a", {"b": 1}], "Other": None}]
    assert cols.extra[0] is not cols.extra[1]


def test_uncaptured_keeps_what_a_pattern_matches() -> None:
    assert uncaptured(r'(?: "([^"]*+)")?+ ([^\s]++)\(') == r'(?: "(?:[^"]*+)")?+ (?:[^\s]++)\('
    with pytest.raises(ValueError, match="non-capturing"):
        uncaptured(r"(?P<x>a)")


@pytest.mark.parametrize("name", ["alb", "squid", "s3"])
def test_derived_dimensions_read_lazy_extras_without_their_dicts(name: str) -> None:
    fmt = PRESETS[name][0]()
    example = EXAMPLES[name][2]
    data = chunk([example, example.replace("TLSv1.2", "-").replace("example.com", "b.org"),
                  example])
    cols = fmt.parse(data, 0)[0]
    old = LineFormat.parse(fmt, data, 0)[0]
    eager = Columns(time=old.time, client=old.client, path=old.path, status=old.status,
                    bytes=old.bytes, offset=[0, 1, 2], extra=old.extra)
    for dim in ("vhost", "tls", "mime", "cache"):
        assert derived_keys(cols, dim, {}) == derived_keys(eager, dim, {}), dim
    assert isinstance(cols.lazy_extra(), LazyExtra)
    hosts = {"alb": ["example.com:443", "b.org:443", "example.com:443"],
             "squid": ["example.com", "b.org", "example.com"], "s3": None}
    assert derived_keys(cols, "vhost", {}) == hosts[name]


def test_threads_reading_one_batchs_extras_at_once_all_get_them() -> None:
    # collectors run in threads of their own and may read the same batch's extras
    fmt = PRESETS["alb"][0]()
    example = EXAMPLES["alb"][2]
    lines = [example.replace("2817", str(i), 1) for i in range(2000)]
    expected = LineFormat.parse(fmt, chunk(lines), 0)[0].extra
    for _ in range(5):
        cols = fmt.parse(chunk(lines), 0)[0]
        seen: list[Any] = []
        def read(cols: Columns = cols, seen: list[Any] = seen) -> None:
            seen.append(cols.extra_values("client_port"))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [[e["client_port"] for e in expected]] * 4
        assert cols.extra == expected
