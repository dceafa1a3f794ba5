"""Every parser's cost is linear in a line's length, whatever the line holds.

A 64 KB request line without a protocol took 90 s to fail before (regex backtracking),
and a 2 MB one never finished. No timing threshold here: each test asserts the exact
result, and the ``timeout`` marker fails a test that backtracks (the 2 MB lines would take
hours), so a quadratic pattern cannot pass unnoticed.
"""

from __future__ import annotations

import pytest

from omphalos.lib.parsers.format_examples import EXAMPLES, PATH, stretched
from omphalos.lib.parsers.w3c_format import W3CStream
from tests.parsers.test_robust import all_parsers

SIZES = [60_000, 2 << 20]
#: Formats whose example line holds a request line (so one without protocol is hostile).
WITH_REQUEST = [n for n, (_, _, line) in EXAMPLES.items() if " HTTP/1.1" in line]


def run(name: str, line: str) -> tuple[list[str], dict[str, int], int]:
    factory, header, example = EXAMPLES[name]
    data = (header + example + "\n" + line + "\n" + example + "\n").encode()
    columns, lines, bad, reasons = factory().parse(data, 0)
    assert lines == data.count(b"\n")
    assert len(columns) + sum(reasons.values()) == 3
    assert len(bad) == sum(reasons.values())
    return list(columns.path), dict(reasons), len(columns)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("size", SIZES, ids=["60KB", "2MB"])
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_a_long_path_parses(name: str, size: int) -> None:
    line = stretched(name, size)
    long_path = PATH + "a" * (size - len(EXAMPLES[name][2]))
    paths, reasons, records = run(name, line)
    assert paths == [PATH, long_path, PATH] and reasons == {} and records == 3


@pytest.mark.timeout(120)
@pytest.mark.parametrize("size", SIZES, ids=["60KB", "2MB"])
@pytest.mark.parametrize("name", WITH_REQUEST)
def test_a_long_request_line_without_protocol(name: str, size: int) -> None:
    """The shape a line cut at ``max_line_bytes`` has: it is read line by line, leniently."""
    line = stretched(name, size, protocol=False)
    paths, reasons, _ = run(name, line)
    # a two-part request line: method and path, no protocol
    assert paths[0] == paths[2] == PATH and reasons == {}
    short = EXAMPLES[name][2].replace(" HTTP/1.1", "")
    assert paths[1] == PATH + "a" * (size - len(short))


HOSTILE = {
    "quotes": '"' * (2 << 20),
    "spaces": "a " * (1 << 20),
    "brackets": "1.2.3.4 - - [" + "[" * (2 << 20),
    "commas": "a, " * (700_000),
    "colons": "a:" * (1 << 20) + " 1.2.3.4 - - [x]",
    "escapes": '1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "GET /' + "\\x" * (1 << 20),
    "unclosed": '1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "'
                + "r" * (2 << 20),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_lines_are_counted_by_every_parser(kind: str) -> None:
    """Each shape at 2 MB and at 60 KB through every parser: counted, never stuck."""
    good = stretched("combined", 0) + "\n"
    for text in (HOSTILE[kind], HOSTILE[kind][:60_000]):
        data = (good + text + "\n" + good).encode()
        for name, parser in all_parsers():
            if isinstance(parser, W3CStream):
                data = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status\n" + data
            columns, lines, _, reasons = parser.parse(data, 0)  # type: ignore[attr-defined]
            assert lines == data.count(b"\n"), name
            assert len(columns) + sum(reasons.values()) == data.count(b"\n") - (
                1 if isinstance(parser, W3CStream) else 0), name
            if name != "apache:agent":  # a whole line of free text: reads anything
                assert sum(reasons.values()) >= 1, name  # no other format reads these
