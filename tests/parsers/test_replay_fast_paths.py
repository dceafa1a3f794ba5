"""The replay hot path's column shortcuts give exactly what converting each value gives,
hostile lines included (huge numbers, long lines, bad dates) in a chunk of good ones."""

from __future__ import annotations

import pytest

from omphalos.lib.parsers.clf_format import clf_format
from omphalos.lib.parsers.convert import ints, repeated_ints

GOOD = ('10.0.0.{i} - - [01/Nov/2026:00:00:0{i} +0000] "GET /p{i} HTTP/1.1" {status} {size} '
        '"-" "agent {i}"')

COLUMNS = [
    ["200", "200", "404", "200", "304"],
    ["200", "-", "", "500"],
    ["007", "200"],
    ["+5", " 6", "7 "],  # int() takes these: so must the shortcut
    ["9" * 5000],  # past int()'s digit limit
    ["2OO"],
    [],
]


@pytest.mark.parametrize("column", COLUMNS)
def test_repeated_ints_is_ints(column: list[str]) -> None:
    try:
        expected: object = ints(column)
    except ValueError as exc:
        expected = type(exc)
    try:
        got: object = repeated_ints(column)
    except ValueError as exc:
        got = type(exc)
    assert got == expected


def test_repeated_ints_shares_one_object_per_value() -> None:
    got = repeated_ints([str(200 + 0), "20" + "0", "404"])
    assert got == [200, 200, 404] and got[0] is got[1]


def test_hostile_lines_among_good_ones() -> None:
    fmt = clf_format("combined")
    lines = [GOOD.format(i=1, status=200, size=10),
             GOOD.format(i=2, status=200, size="9" * 5000),  # bytes past int()'s limit
             GOOD.format(i=3, status=404, size=30),
             GOOD.format(i=4, status=200, size=40).replace("Nov", "Xyz"),  # bad date
             GOOD.format(i=5, status=500, size="-") + " " + "x" * 70_000,  # long line
             GOOD.format(i=6, status=200, size=60)]
    data = "".join(line + "\n" for line in lines).encode()
    cols, n, bad, reasons = fmt.parse(data, 100)
    assert n == 6
    assert [(r.path, r.status, r.bytes, r.time) for r in cols.rows()] == [
        ("/p1", 200, 10, 1793491201.0), ("/p3", 404, 30, 1793491203.0),
        ("/p5", 500, 0, 1793491205.0), ("/p6", 200, 60, 1793491206.0)]
    offsets = [100]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    assert cols.offset == [offsets[0], offsets[2], offsets[4], offsets[5]]
    assert [(b.offset, b.reason.split(":")[0]) for b in bad] == [
        (offsets[1], "bad value"), (offsets[3], "bad value")]
    assert reasons == {"bad value": 2}
