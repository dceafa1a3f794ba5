"""The compiled core (omphalos._speedups) gives the pure-Python path's answers, exactly.

Each input is parsed twice by the same format, once with the compiled split and once with
the regex alone (the core switched off in this process), and the whole results compared:
columns, line counts, bad lines and reasons. The inputs: the real corpus, generated logs,
and hostile lines (long, truncated at every byte, every field position overwritten with
characters that end or change fields, huge numbers, invalid UTF-8, NUL bytes, CRLF,
impossible dates, whitespace and digits outside ASCII). Without the built core these
tests are skipped but for the switch's own (the suite then runs the pure path anyway).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omphalos import speedups
from omphalos.counting import _sum_by
from omphalos.lib.hll import _add_dense
from omphalos.lib.parsers.apache_format import compile_apache
from omphalos.lib.parsers.clf_format import clf_format, vhost_clf_format
from omphalos.lib.parsers.linefmt import LineFormat, Result
from omphalos.lib.parsers.nginx_format import compile_nginx
from tests.conftest import REAL_LOG

try:
    from omphalos import _speedups
except ImportError:  # not built here: the pure path is all there is
    _speedups = None  # type: ignore[assignment]

compiled = pytest.mark.skipif(_speedups is None, reason="omphalos._speedups is not built")

GOOD = (b'10.1.2.3 - frank [10/Oct/2000:13:55:36 -0700] "GET /a/b.html?x=1&y=2 HTTP/1.1" '
        b'200 2326 "http://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"')
COMMON = b'10.1.2.3 - - [10/Oct/2000:13:55:36 +0000] "POST /login HTTP/1.0" 302 -'


@pytest.fixture
def no_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The pure-Python path in this process (what OMPHALOS_PURE_PYTHON=1 gives)."""
    monkeypatch.setattr(speedups, "clf_columns", None)
    monkeypatch.setattr(speedups, "sum_by", None)
    monkeypatch.setattr(speedups, "add_dense", None)
    yield


#: Every format the core stands in for, by the name of its mode.
FORMATS: dict[str, Callable[[], LineFormat]] = {
    "clf": lambda: clf_format("combined"),
    "apache:combined": lambda: compile_apache("combined"),
    "apache:common": lambda: compile_apache("common"),
    "nginx:combined": lambda: compile_nginx("combined"),
    "nginx:common": lambda: compile_nginx("common"),
}


def both(data: bytes, start: int = 0, fmt: str = "clf") -> tuple[Result, Result]:
    """``data`` parsed with the compiled split, then by the regex alone (fresh formats)."""
    assert _speedups is not None
    with_core = FORMATS[fmt]().parse(data, start)
    saved = speedups.clf_columns
    speedups.clf_columns = None
    try:
        pure = FORMATS[fmt]().parse(data, start)
    finally:
        speedups.clf_columns = saved
    return with_core, pure


def same(data: bytes, start: int = 0, fmt: str = "clf") -> Result:
    with_core, pure = both(data, start, fmt)
    assert with_core == pure, data[:300]
    for name in ("time", "client", "path", "status", "bytes"):  # the same types too
        assert list(map(type, getattr(with_core[0], name))) == \
            list(map(type, getattr(pure[0], name))), name
    return with_core


def test_the_patterns_it_stands_in_for_are_the_formats() -> None:
    """The compiled split is for these strict patterns only: a change of their tokens
    turns it off (this test then says so), and other formats never use it."""
    assert clf_format("combined").strict.pattern == speedups.CLF_PATTERN
    modes = {name: make().clf_core for name, make in FORMATS.items()}
    assert modes == {"clf": 0, "apache:combined": 1, "apache:common": 2,
                     "nginx:combined": 5, "nginx:common": 6}
    assert clf_format("common").clf_core == 0
    assert vhost_clf_format().clf_core is None
    assert compile_apache("vhost_combined").clf_core is None
    assert compile_nginx("main").clf_core is None


def test_core_status_line_and_the_switch_to_pure_python(tmp_path: Path) -> None:
    """CORE names what runs; OMPHALOS_PURE_PYTHON=1 keeps the compiled core out even
    where it is built, and replay logs the core in use at INFO."""
    code = "from omphalos import speedups; print(speedups.core_line())"
    env = {**os.environ, speedups.PURE_ENV: "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == f"parse core: pure Python ({speedups.PURE_ENV} is set)"
    env.pop(speedups.PURE_ENV)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    expected = ("compiled (omphalos._speedups)" if _speedups is not None
                else "pure Python (omphalos._speedups is not built)")
    assert out == f"parse core: {expected}"
    log = tmp_path / "one.log"
    log.write_bytes(GOOD + b"\n")
    for workers in ("1", "2"):
        err = subprocess.run([sys.executable, "-m", "omphalos.cli.main", "--debug", "replay",
                              "-w", workers, str(log)], env=env, capture_output=True,
                             text=True, check=True, timeout=120).stderr
        assert f"DEBUG omphalos.speedups: parse core: {expected}" in err


@compiled
def test_the_real_corpus_is_cut_by_the_core_and_parses_the_same() -> None:
    data = REAL_LOG.read_bytes()
    pieces = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    start = 0
    for piece in pieces:  # cut at line ends, as the monitor hands chunks over
        cut = piece.rfind(b"\n") + 1
        result = same(piece[:cut] if cut else piece, start)
        start += cut
        assert len(result[0]) > 0
    # line by line, the core takes exactly the lines the strict regex matches (all but
    # one of the corpus), none of them being past U+00FF
    strict = clf_format("combined").strict
    taken = 0
    for line in data.decode("utf-8", "replace").splitlines(keepends=True):
        cut = _speedups.clf_columns(line, 0)
        assert (cut is None) == (strict.fullmatch(line) is None), line
        taken += cut is not None
    assert taken == 9999


def generated(count: int, seed: int, tails: float = 0.8) -> bytes:
    """A combined log of many shapes (common lines, trailing fields, queries, escapes);
    ``tails``: the share of lines with a referer and an agent."""
    rnd = random.Random(seed)
    agents = ['Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0', "curl/8.0", "-", "",
              'Bot \\"quoted\\" 1.0', "caf\\xc3\\xa9/1", "Ünïcødé/2 ½"]
    out = []
    for i in range(count):
        client = rnd.choice([f"10.0.0.{rnd.randint(0, 255)}", "::1", "2001:db8::7",
                             "10.0.0.2,10.0.0.1"])
        user = rnd.choice(["-", "frank", "a.b"])
        day = rnd.randint(1, 28)
        when = f"{day:02d}/{rnd.choice(['Jan', 'Feb', 'Oct'])}/2024:{i % 24:02d}:00:{i % 60:02d}"
        zone = rnd.choice(["+0000", "-0700", "+0530"])
        method = rnd.choice(["GET", "POST", "HEAD", "PROPFIND"])
        path = rnd.choice(["/", "/a", "/a/b.css", "/x%20y", "/q?", "/q?a=1&b=2", "/?", "/é"])
        proto = rnd.choice(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/2"])
        status = rnd.choice(["200", "304", "404", "500", "101", "999"])
        size = rnd.choice(["-", "0", str(rnd.randint(1, 10**9)), "0012", "9" * 19])
        line = f'{client} - {user} [{when} {zone}] "{method} {path} {proto}" {status} {size}'
        kind = rnd.random()
        if kind < tails:
            line += f' "{rnd.choice(["-", "http://r.example/", ""])}" "{rnd.choice(agents)}"'
        if kind < tails * 0.4:
            line += rnd.choice([' "10.1.1.1"', " 0.250", " rt=0.1 x=y", ' "-" 12 junk'])
        out.append(line.encode())
    return b"\n".join(out) + b"\n"


@compiled
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(3))
def test_generated_logs_parse_the_same(seed: int, fmt: str) -> None:
    data = generated(400, seed)
    same(data, 1000 * seed, fmt)
    if fmt.endswith("common"):  # lines of that format, a few with a tail among them
        data = generated(400, seed, tails=0.1)
        assert len(FORMATS[fmt]().parse(data, 0)[0]) > 300
        same(data, 0, fmt)
    lines = data.splitlines(keepends=True)
    rnd = random.Random(seed)
    for _ in range(40):  # chunks of a few lines anywhere
        a = rnd.randrange(len(lines))
        same(b"".join(lines[a:a + rnd.randint(1, 12)]), 0, fmt)


HOSTILE = [
    b"", b"\n", b"\r\n", b"  \n", b"\x00\n", GOOD + b"\x00", GOOD.replace(b"frank", b"fr\x00nk"),
    GOOD + b"\r", GOOD.replace(b" 200 ", b" 2\r00 "), GOOD + b" ", GOOD + b"  ", GOOD + b" x",
    GOOD + b'"', GOOD[:-1], GOOD + b" \t", COMMON + b" ", COMMON + b' "', COMMON + b' "a"',
    COMMON + b' "a" "b', COMMON + b' "a" "b" ', COMMON + b' "a" "b" "c" 0.5',
    GOOD.replace(b"2326", b"9" * 30), GOOD.replace(b"2326", b"9" * 5000),
    GOOD.replace(b"2326", b"-1"), GOOD.replace(b"2326", b"--"), GOOD.replace(b"200", b"20"),
    GOOD.replace(b"200", b"2000"), GOOD.replace(b"200", "٢٠٠".encode()),
    GOOD.replace(b"2326", "٢٣".encode()), GOOD.replace(b"200", b"-"),
    GOOD.replace(b"10/Oct/2000", b"31/Feb/2000"), GOOD.replace(b"-0700", b"-9999"),
    GOOD.replace(b"13:55:36", b"24:00:00"), GOOD.replace(b"Oct", b"Foo"),
    GOOD.replace(b"10/Oct/2000:13:55:36 -0700", b"x" * 64),
    GOOD.replace(b"10/Oct/2000:13:55:36 -0700", b"x" * 65), GOOD.replace(b"[10", b"[]10"),
    GOOD.replace(b"10.1.2.3", "10.1.2.3\xa0x".encode()),
    GOOD.replace(b"10.1.2.3", "10.1.2.3\x85x".encode()),
    GOOD.replace(b"10.1.2.3", b"10.1.2.3\x1cx"), GOOD.replace(b"10.1.2.3", b"10.1.2.3\tx"),
    GOOD.replace(b"10.1.2.3", "ä.b".encode()), GOOD.replace(b"/a/b", "/ä\u4e2d".encode()),
    GOOD.replace(b"/a/b", b"/\xff\xfe"), GOOD.replace(b"Mozilla", b"Moz\xc3\x28illa"),
    GOOD.replace(b"Mozilla", "Mo\u2028z".encode()), GOOD.replace(b"Mozilla", b'Mo\\"z'),
    GOOD.replace(b"GET", b"get"), GOOD.replace(b"GET", b""), GOOD.replace(b"GET ", b""),
    GOOD.replace(b"HTTP/1.1", b"HTTP/"), GOOD.replace(b"HTTP/1.1", b"HTTP/1.1x"),
    GOOD.replace(b"HTTP/1.1", b"HTTPS/1.1"), GOOD.replace(b"?x=1&y=2", b"?"),
    GOOD.replace(b"?x=1&y=2", b"??x"), GOOD.replace(b"/a/b.html", b""),
    GOOD.replace(b"/a/b.html", b"/a b"), GOOD.replace(b'"GET', b'"-'),
    GOOD.replace(b'"GET /a/b.html?x=1&y=2 HTTP/1.1"', b'"\\x16\\x03\\x01"'),
    GOOD.replace(b"frank", b"fr ank"), GOOD.replace(b"- frank", b"frank"),
    b"10.0.0.2, 10.0.0.1 " + GOOD.split(b" ", 1)[1], b"host:80 " + GOOD,
    GOOD.replace(b"Mozilla", b"M" * 70000), b"x" * 70000, b'"' * 1000,
    GOOD.replace(b'"http://example.com/start"', b'"http://exa\nmple"'),
]


@compiled
@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_lines_parse_the_same_alone_and_among_good_ones(fmt: str) -> None:
    for line in HOSTILE:
        for data in (line, line + b"\n", GOOD + b"\n" + line + b"\n",
                     line + b"\n" + GOOD + b"\n" + COMMON + b"\n", line + b"\r\n" + GOOD,
                     COMMON + b"\n" + line + b"\n"):
            same(data, 7, fmt)


@compiled
@pytest.mark.parametrize("fmt", FORMATS)
def test_lines_cut_at_every_byte_parse_the_same(fmt: str) -> None:
    """A line truncated anywhere (the monitor's partial last line, a crash) and one whose
    every byte is overwritten by a character that ends or changes a field (fewer kinds
    for the presets, whose code is the family's but for what follows the bytes)."""
    chars = [b" ", b'"', b"]", b"\n", b"\x00", b"\xc2\xa0", b"?", b"-", b"\xff", b"9"]
    if fmt == "clf":
        chars += [b"[", b"\t", b"\xc3\xa9", b"\\", b"\r"]
    for good in (GOOD, COMMON, GOOD + b" 0.1 rt=2", b"1.2.3.4 - - [1] \"A  HTTP/1\" 000 0"):
        for i in range(len(good) + 1):
            same(good[:i], 0, fmt)
            same(good[:i] + b"\n" + GOOD + b"\n", 0, fmt)
            same(COMMON + b"\n" + good[:i], 0, fmt)
        for i in range(len(good)):
            for char in chars:
                same(good[:i] + char + good[i + 1:] + b"\n" + COMMON + b"\n", 0, fmt)


@compiled
def test_values_equal_to_the_regexs_cut_where_the_core_takes_a_chunk() -> None:
    """Where the core returns columns, they are the regex's (status and bytes as ints),
    and equal values of a column are one object."""
    fmt = clf_format("combined")
    text = generated(300, 11).decode()
    text = "".join(line for line in text.splitlines(keepends=True)  # the regex's lines
                   if max(map(ord, line)) < 256 and fmt.strict.fullmatch(line))
    cut = _speedups.clf_columns(text, 0)
    assert cut is not None
    flat = fmt.strict.split(text)
    k = len(fmt.targets) + 1
    regex = [flat[i::k] for i in range(1, k)]
    assert not any(flat[0::k])
    statuses = [int(v) for v in regex[7]]
    sizes = [0 if v == "-" else int(v) if len(v) <= 18 else v for v in regex[8]]
    assert cut[7] == statuses and cut[8] == sizes
    assert cut[:7] == regex[:7] and cut[9:] == regex[9:]
    methods = {id(m) for m in cut[3]}
    assert len(methods) == len(set(cut[3]))


@compiled
@pytest.mark.parametrize("fmt", ["combined", "auto"])  # auto: Apache's combined preset
def test_json_summaries_of_a_replay_are_the_same_with_and_without_the_core(
        tmp_path: Path, fmt: str) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes(REAL_LOG.read_bytes() + generated(2000, 3)
                    + b"\n".join(HOSTILE[:30]) + b"\n")
    answers = []
    for pure in ("", "1"):
        env = {**os.environ, speedups.PURE_ENV: pure}
        out = subprocess.run([sys.executable, "-m", "omphalos.cli.main", "replay", "--json",
                              "-w", "1", "--format", fmt, str(log)], env=env,
                             capture_output=True, text=True, check=True, timeout=120).stdout
        answer = json.loads(out)
        answer.pop("since", None)
        answers.append(answer)
    assert answers[0] == answers[1]
    # the rest unparsed or out of range; auto reads the corpus's combined lines only
    assert answers[0]["requests"] == {"combined": 11588, "auto": 10772}[fmt]


@compiled
def test_sum_by_is_the_python_loop(no_core: None) -> None:
    keys = ["a", "b", "a", ("p", 1), None, "a"]
    sizes = [1, 2, 3, 10**30, 5, 7, 99]  # longer than keys: zip stops with them
    expected = _sum_by(keys, sizes, ["b", None, "a", ("p", 1), "unused"])
    got = _speedups.sum_by(keys, sizes, ["b", None, "a", ("p", 1), "unused"])
    assert got == expected and list(got) == list(expected)
    assert _speedups.sum_by(iter(keys), iter(sizes[:2]), set(keys)) == \
        _sum_by(iter(keys), iter(sizes[:2]), set(keys))
    with pytest.raises(KeyError) as exc:
        _speedups.sum_by(["a", ("x", 2)], [1, 2], ["a"])
    assert exc.value.args == (("x", 2),)
    with pytest.raises(TypeError):
        _speedups.sum_by(["a"], ["1"], ["a"])


@compiled
def test_add_dense_is_the_python_loop(no_core: None) -> None:
    rnd = random.Random(5)
    for precision in (4, 14, 18):
        shift = 64 - precision
        hashes = [rnd.getrandbits(64) for _ in range(5000)] + [0, 1, 2**64 - 1, 1 << shift]
        regs, mine = bytearray(1 << precision), bytearray(1 << precision)
        _add_dense(regs, hashes, shift, (1 << shift) - 1)
        assert _speedups.add_dense(mine, hashes, shift, (1 << shift) - 1) is True
        assert mine == regs
    regs = bytearray(1 << 14)
    for odd in ([2**64], [-1], [1.5], [True]):  # left to the Python loop, untouched
        assert _speedups.add_dense(regs, odd, 50, (1 << 50) - 1) is False
    assert _speedups.add_dense(regs, [1], 50, 7) is False
    assert _speedups.add_dense(bytearray(10), [1], 50, (1 << 50) - 1) is False
    assert regs == bytearray(1 << 14)
