"""Every parser that can read the real Apache log gets exactly its independent counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from omphalos.plugins.parsers.auto import _sample, candidates, detect_line_format

from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.clf_format import COMBINED_TOKENS, clf_format
from omphalos.lib.parsers.linefmt import LineFormat, concat
from omphalos.lib.parsers.nginx_format import compile_nginx
from omphalos.records import Columns
from tests.conftest import REAL_LOG, SHARED

STATUS = {200: 9126, 304: 445, 404: 213, 301: 164, 206: 45, 500: 3, 416: 2, 403: 2}


def chunks(data: bytes, size: int) -> list[tuple[bytes, int]]:
    """``data`` cut into chunks of complete lines of about ``size`` bytes, with offsets."""
    out, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + size) + 1 or len(data)
        if end <= start:
            end = data.find(b"\n", start) + 1 or len(data)
        out.append((data[start:end], start))
        start = end
    return out


def parse_all(fmt: LineFormat, data: bytes, size: int) -> tuple[Columns, int, Counter[str]]:
    parts, lines, reasons = [], 0, Counter[str]()
    for chunk, start in chunks(data, size):
        columns, n, _, more = fmt.parse(chunk, start)
        parts.append(columns)
        lines += n
        reasons += more
    return concat(parts), lines, reasons


def assert_real_counts(columns: Columns) -> None:
    assert len(columns) == 10_000
    assert dict(Counter(columns.status)) == STATUS
    assert sum(columns.bytes) == 2_747_282_740
    assert Counter(columns.path).most_common(1) == [("/favicon.ico", 807)]


@pytest.mark.parametrize("make", [
    lambda: LineFormat("combined", COMBINED_TOKENS),
    lambda: compile_apache("combined"),
    lambda: compile_apache('LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" '
                           '\\"%{User-agent}i\\"" combined'),
    lambda: compile_nginx("combined"),
    lambda: clf_format("combined"),
], ids=["builtin", "apache-preset", "apache-pasted", "nginx-preset", "family"])
@pytest.mark.parametrize("size", [1 << 20, 4096])
def test_real_log_counts(make, size: int) -> None:  # type: ignore[no-untyped-def]
    columns, lines, reasons = parse_all(make(), REAL_LOG.read_bytes(), size)
    assert lines == 10_000 and not reasons
    assert_real_counts(columns)
    offsets = columns.offsets()
    assert offsets[0] == 0 and offsets == sorted(offsets)
    data = REAL_LOG.read_bytes()
    assert all(offset == 0 or data[offset - 1:offset] == b"\n" for offset in offsets)


def test_auto_detects_combined_on_the_real_log() -> None:
    fmt, score = detect_line_format(candidates(), _sample(REAL_LOG.read_bytes(), 50))
    assert fmt.name == "combined" and score == 50


def test_bad_lines_in_the_middle_do_not_lose_good_ones(tmp_path: Path) -> None:
    """A chunk with a few bad lines: the good ones parse (in order), the bad are counted."""
    lines = REAL_LOG.read_bytes().splitlines(keepends=True)
    mixed = [*lines[:300], b"\x00\x01\x02 binary\n", b"\n", b"not a log line\n",
             b"\xff\xfe invalid utf-8 \xc3\x28\n", *lines[300:600]]
    data = b"".join(mixed)
    columns, n, bad, reasons = compile_apache("combined").parse(data, 100)
    assert n == 604 and len(columns) == 600
    assert reasons == Counter({"binary data": 1, "empty line": 1, "no match": 2})
    assert [b.offset for b in bad] == sorted(b.offset for b in bad)
    assert bad[0].offset == 100 + sum(map(len, lines[:300]))
    offsets = columns.offsets()
    assert offsets == sorted(offsets)
    assert all(data[o - 100:o - 100 + 1] != b"\x00" for o in offsets)
    assert columns.path[:300] == compile_apache("combined").parse(
        b"".join(lines[:300]), 0)[0].path


def test_real_log_mixed_with_common_and_extended_lines_keeps_its_counts() -> None:
    """Every third line cut to common, every third given nginx main's forwarded-for and a
    request time: the family reads all of them, and the counts stay exact."""
    out = []
    for i, line in enumerate(REAL_LOG.read_bytes().splitlines()):
        if i % 3 == 1:
            line = line[:line.index(b' "', line.index(b'" ') + 2)]
        elif i % 3 == 2:
            line += b' "10.1.1.1, 10.2.2.2" 0.125'
        out.append(line + b"\n")
    columns, lines, reasons = parse_all(clf_format(), b"".join(out), 1 << 20)
    assert lines == 10_000 and not reasons
    assert_real_counts(columns)
    assert columns.duration is not None
    assert sum(d is not None for d in columns.duration) == 3333
    assert columns.referer is not None and columns.referer.count(None) >= 3333


CORPORA = SHARED / "corpora"


@pytest.mark.skipif(not (CORPORA / "apache_logs.combined.log").is_file(),
                    reason="../shared/corpora is not beside the project")
def test_shared_corpus_through_auto_detection() -> None:
    """The real corpus kept beside the project (not in it), detected and counted exactly."""
    data = (CORPORA / "apache_logs.combined.log").read_bytes()
    fmt, score = detect_line_format(candidates(), _sample(data, 50))
    assert fmt.name == "combined" and score == 50
    columns, lines, reasons = parse_all(fmt, data, 1 << 20)
    assert lines == 10_000 and not reasons
    assert_real_counts(columns)
