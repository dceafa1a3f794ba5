"""``omphalos replay --workers N``: the same JSON summary as one process, for every format.

Real processes throughout: each replay is the ``omphalos`` command, whose workers are real
``multiprocessing`` processes. Files are built here with few distinct keys (fewer than the
top tables' capacity), where the summary is exact and so must not depend on how the lines
were shared out; small ``--range-bytes`` force range boundaries into the places that matter
(inside a W3C header block, inside a JSON line, between ``\\r`` and ``\\n``), and
:func:`plan_ranges` is asserted to have put them there.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from omphalos.cli.common import files_pipeline
from omphalos.config import ConfigSource
from omphalos.replaying import ParallelReplay, directives_before, plan_guided, plan_ranges

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1, tzinfo=UTC)
CLIENTS = [f"10.0.{i // 10}.{i % 10}" for i in range(40)]
PATHS = [f"/p/{i}" for i in range(120)]
AGENTS = ["curl/8.0", "Mozilla/5.0 (X11; Linux x86_64)", "bot/1.0"]
REFERERS = ["-", "https://example.com/", "https://search.example/?q=1"]
STATUSES = [200] * 14 + [301, 304, 404, 404, 500, 503]
W3C_FIELDS_A = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
                "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes "
                "time-taken")
#: Another order, fewer fields, but every counted dimension still there: a block that lacks
#: a dimension's field counts its lines under "-" only when they share a batch with lines
#: that have it, in one process too (see omphalos.replaying), so that case has no one answer.
W3C_FIELDS_B = "date time c-ip cs-method cs-uri-stem sc-status sc-bytes time-taken cs(Referer) " \
               "cs(User-Agent)"


class Line:
    """One request, to write in any format; also counted by the test itself."""

    def __init__(self, rng: random.Random, n: int) -> None:
        self.when = START + timedelta(seconds=n // 3)
        self.client = rng.choice(CLIENTS)
        self.path = rng.choice(PATHS)
        self.status = rng.choice(STATUSES)
        self.size = rng.randrange(0, 50_000)
        self.agent = rng.choice(AGENTS)
        self.referer = rng.choice(REFERERS)
        self.ms = rng.randrange(1, 3000)

    def clf(self, combined: bool = True) -> str:
        stamp = self.when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        out = (f'{self.client} - - [{stamp}] "GET {self.path} HTTP/1.1" {self.status} '
               f"{self.size}")
        return out + f' "{self.referer}" "{self.agent}"' if combined else out

    def json(self) -> str:
        return json.dumps({"time": self.when.isoformat(), "remote_addr": self.client,
                           "request_method": "GET", "path": self.path,
                           "status": self.status, "body_bytes_sent": self.size,
                           "http_user_agent": self.agent, "http_referer": self.referer,
                           "request_time": self.ms / 1000})

    def w3c(self, fields: str) -> str:
        day, clock = self.when.strftime("%Y-%m-%d"), self.when.strftime("%H:%M:%S")
        agent = self.agent.replace(" ", "+")
        if fields == W3C_FIELDS_A:
            return (f"{day} {clock} 10.1.1.1 GET {self.path} - 443 - {self.client} {agent} "
                    f"{self.referer} {self.status} 0 0 {self.size} {self.ms}")
        return (f"{day} {clock} {self.client} GET {self.path} {self.status} {self.size} "
                f"{self.ms} {self.referer} {agent}")


def lines(n: int, seed: int = 7) -> list[Line]:
    rng = random.Random(seed)
    return [Line(rng, i) for i in range(n)]


def w3c_text(reqs: list[Line]) -> str:
    """A W3C file restarted twice: three header blocks, the second with other fields."""
    out: list[str] = []
    third = max(1, len(reqs) // 3)
    for block, fields in enumerate((W3C_FIELDS_A, W3C_FIELDS_B, W3C_FIELDS_A)):
        part = reqs[block * third:(block + 1) * third if block < 2 else len(reqs)]
        if not part:
            continue
        out += ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
                f"#Date: {part[0].when.strftime('%Y-%m-%d %H:%M:%S')}", f"#Fields: {fields}"]
        out += [r.w3c(fields) for r in part]
    return "\n".join(out) + "\n"


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode())
    return path


FORMATS: dict[str, tuple[str, Callable[[list[Line]], str]]] = {
    "combined": ("combined", lambda rs: "".join(r.clf() + "\n" for r in rs)),
    "common": ("common", lambda rs: "".join(r.clf(False) + "\n" for r in rs)),
    "nginx": ("nginx:combined_rt",
              lambda rs: "".join(f"{r.clf()} {r.ms / 1000:.3f}\n" for r in rs)),
    "apache": ("apache:combined_D",
               lambda rs: "".join(f"{r.clf()} {r.ms * 1000}\n" for r in rs)),
    "json": ("json", lambda rs: "".join(r.json() + "\n" for r in rs)),
    "w3c": ("w3c", w3c_text),
    "auto-w3c": ("auto", w3c_text),
    "auto-json": ("auto", lambda rs: "".join(r.json() + "\n" for r in rs)),
    "auto-combined": ("auto", lambda rs: "".join(r.clf() + "\n" for r in rs)),
}


def replays(runs: list[tuple[list[Path], str, int, int]]) -> list[dict[str, Any]]:
    """``omphalos replay --json`` as a user runs it, for each ``(files, fmt, workers,
    range_bytes)`` at once (the suite waits for the slowest run, not for their sum): the
    summaries less their wall-clock start."""
    procs = []
    for files, fmt, workers, range_bytes in runs:
        args = [sys.executable, "-m", "omphalos.cli.main", "replay", "--json", "--format",
                fmt, "--workers", str(workers), *[str(f) for f in files]]
        if range_bytes:
            args += ["--range-bytes", str(range_bytes)]
        procs.append(subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "OMPHALOS_NO_DEFAULT_CONFIG": "1"}))
    return [_summary(proc) for proc in procs]


def _summary(proc: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "replaying in one process" not in err
    summary: dict[str, Any] = json.loads(out)
    del summary["since"]
    if not (summary["first_time"] is not None and summary["last_time"] is not None
            and summary["last_time"] > summary["first_time"]):
        # no span of event time (one second of log): rates are per second since start,
        # the wall clock, in a one-process run too
        _drop_rates(summary)
    return summary


def _drop_rates(value: Any) -> None:
    if isinstance(value, dict):
        for key in ("rate", "bytes_rate"):
            value.pop(key, None)
        for item in value.values():
            _drop_rates(item)
    elif isinstance(value, list):
        for item in value:
            _drop_rates(item)


def check_same(files: list[Path], fmt: str, reqs: list[Line], range_bytes: int) -> None:
    """1, 2 and 3 workers give one summary, whose totals are what the test wrote."""
    one, two, three = replays([(files, fmt, 1, 0), (files, fmt, 2, range_bytes),
                               (files, fmt, 3, range_bytes)])
    assert one["requests"] == len(reqs) and one["unparsed"] == 0
    assert one["status"] == {str(k): v for k, v in sorted(Counter(r.status for r in reqs)
                                                          .items())}
    assert set(one["error_bounds"].values()) <= {0}
    assert two == one, (fmt, 2)
    assert three == one, (fmt, 3)


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("count", [1, 2, 3, 2000])
def test_every_format_same_summary_with_1_2_3_workers(tmp_path: Path, name: str,
                                                      count: int) -> None:
    fmt, render = FORMATS[name]
    reqs = lines(count)
    log = write(tmp_path / "access.log", render(reqs))
    # ranges of about a fifth of the file (at least a line): every worker gets some
    check_same([log], fmt, reqs, max(1, log.stat().st_size // 5))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["combined", "w3c", "json", "nginx"])
def test_a_few_megabytes_same_summary(tmp_path: Path, name: str) -> None:
    fmt, render = FORMATS[name]
    reqs = lines(30_000, seed=11)
    log = write(tmp_path / "big.log", render(reqs))
    assert log.stat().st_size > 2_000_000
    check_same([log], fmt, reqs, 300_000)


def test_many_files_are_dealt_out(tmp_path: Path) -> None:
    reqs = lines(900)
    files = [write(tmp_path / f"f{i}.log", "".join(r.clf() + "\n" for r in reqs[i::3]))
             for i in range(3)]
    check_same(files, "combined", [r for i in range(3) for r in reqs[i::3]], 20_000)


def test_a_range_boundary_inside_a_w3c_header_block(tmp_path: Path) -> None:
    reqs = lines(600)
    log = write(tmp_path / "iis.log", w3c_text(reqs))
    data = log.read_bytes()
    second = data.index(b"#Software", 10)  # the second header block
    fields = data.index(b"#Fields", second)
    cut = data.index(b"#Date", second) + 3  # mid-way through the #Date line of the block
    assert [r.start for r in plan_ranges([str(log)], cut)][:2] == [
        0, data.index(b"#Fields", second)]
    # the first block's #Fields (still in force), then the second block's #Date
    assert directives_before(str(log), fields) == (
        b"#Fields: " + W3C_FIELDS_A.encode() + b"\n" + data[data.index(b"#Date", second):fields])
    for fmt in ("w3c", "auto"):
        one, two, three = replays([([log], fmt, 1, 0), ([log], fmt, 2, cut),
                                   ([log], fmt, 3, cut)])
        assert one["requests"] == 600 and one["unparsed"] == 0
        assert two == one
        assert three == one


def test_a_range_boundary_inside_a_json_line(tmp_path: Path) -> None:
    reqs = lines(500)
    log = write(tmp_path / "app.jsonl", "".join(r.json() + "\n" for r in reqs))
    data = log.read_bytes()
    cut = data.index(b"\n", 10_000) - 20  # inside a line's JSON object
    starts = [r.start for r in plan_ranges([str(log)], cut)]
    assert starts[1] == data.index(b"\n", cut) + 1
    assert all(data[s - 1:s] == b"\n" for s in starts[1:])
    for fmt in ("json", "auto"):
        one, two, three = replays([([log], fmt, 1, 0), ([log], fmt, 2, cut),
                                   ([log], fmt, 3, cut)])
        assert one["requests"] == 500 and one["unparsed"] == 0
        assert two == three == one


@pytest.mark.parametrize("fmt", ["combined", "w3c", "json"])
def test_a_range_boundary_between_cr_and_lf(tmp_path: Path, fmt: str) -> None:
    reqs = lines(400)
    render = FORMATS[fmt][1]
    log = write(tmp_path / "crlf.log", render(reqs), newline="\r\n")
    data = log.read_bytes()
    cut = data.index(b"\r\n", 5_000) + 1  # right after a \r, before its \n
    assert data[cut - 1:cut + 1] == b"\r\n"
    assert [r.start for r in plan_ranges([str(log)], cut)][1] == cut + 1
    one, two, three = replays([([log], fmt, 1, 0), ([log], fmt, 2, cut),
                               ([log], fmt, 3, cut)])
    assert one["requests"] == 400 and one["unparsed"] == 0
    assert two == three == one


def test_a_last_line_without_newline_and_unparsed_lines(tmp_path: Path) -> None:
    reqs = lines(300)
    text = "".join(r.clf() + "\n" + ("garbage line\n" if i % 50 == 7 else "")
                   for i, r in enumerate(reqs)).rstrip("\n")
    log = write(tmp_path / "odd.log", text)
    one, two, three = replays([([log], "combined", 1, 0), ([log], "combined", 2, 3_000),
                               ([log], "combined", 3, 3_000)])
    assert one["requests"] == 300 and one["unparsed"] == 6
    assert [b["line"] for b in one["bad_lines"]] == ["garbage line"] * 6
    assert two == three == one


def test_plan_ranges_cuts_only_after_newlines(tmp_path: Path) -> None:
    log = write(tmp_path / "x.log", "a\nbb\nccc\n\ndddd")
    ranges = plan_ranges([str(log)], 3)
    assert [(r.start, r.end) for r in ranges] == [(0, 5), (5, 9), (9, 14)]
    assert plan_ranges([str(write(tmp_path / "empty.log", ""))], 3) == []
    assert [(r.start, r.end) for r in plan_ranges([str(log)], 100)] == [(0, 14)]


def test_add_counts_sums_exactly_in_first_seen_order() -> None:
    from omphalos.counts import BatchAgg, DimAgg, add_counts

    first = BatchAgg(requests=3, bytes=30, status=Counter({200: 2, 404: 1}), first=5.0,
                     last=6.0, dims={"path": DimAgg({"/a": 2, "/b": 1}, {"/a": 20, "/b": 10},
                                                    {"4xx": {"/b": 1}})})
    second = BatchAgg(requests=2, bytes=7, status=Counter({200: 1, 500: 1}), first=4.0,
                      last=5.5, dims={"path": DimAgg({"/c": 1, "/a": 1}, {"/c": 3, "/a": 4},
                                                     {"5xx": {"/c": 1}})})
    total = BatchAgg()
    add_counts(total, first)
    add_counts(total, second)
    assert (total.requests, total.bytes, total.first, total.last) == (5, 37, 4.0, 6.0)
    assert total.status == Counter({200: 3, 404: 1, 500: 1})
    path = total.dims["path"]
    assert list(path.hits.items()) == [("/a", 3), ("/b", 1), ("/c", 1)]
    assert path.bytes == {"/a": 24, "/b": 10, "/c": 3}
    assert path.classes == {"4xx": {"/b": 1}, "5xx": {"/c": 1}}
    assert first.dims["path"].hits == {"/a": 2, "/b": 1}  # the parts are left as they were
    reduced = BatchAgg(requests=1, dims={"path": DimAgg({"/a": 1}, {}, {}, cut=2)})
    with pytest.raises(ValueError, match="reduced"):
        add_counts(total, reduced)


def test_a_line_longer_than_max_line_bytes_is_cut_as_in_one_process(tmp_path: Path) -> None:
    reqs = lines(200)
    long_agent = "A" * 70_000  # over the file monitor's max_line_bytes (65,536)
    text = "".join(r.clf() + "\n" for r in reqs[:100])
    text += reqs[100].clf().replace(reqs[100].agent, long_agent) + "\n"
    text += "".join(r.clf() + "\n" for r in reqs[101:])
    log = write(tmp_path / "long.log", text)
    one, two, three = replays([([log], "combined", 1, 0), ([log], "combined", 2, 20_000),
                               ([log], "combined", 3, 20_000)])
    assert one["lines"] == 200 and one["requests"] + one["unparsed"] == 200
    assert two == three == one


def test_guided_ranges_shrink_as_the_work_goes_and_cover_every_file(tmp_path: Path) -> None:
    reqs = lines(3000)
    big = write(tmp_path / "a.log", "".join(r.clf() + "\n" for r in reqs))
    small = write(tmp_path / "b.log", "".join(r.clf() + "\n" for r in reqs[:500]))
    total = big.stat().st_size + small.stat().st_size
    ranges = plan_guided([str(big), str(small)], 2, smallest=20_000, largest=200_000)
    for path in (big, small):
        mine = [r for r in ranges if r.path == str(path)]
        data = path.read_bytes()
        assert (mine[0].start, mine[-1].end) == (0, len(data))
        assert all(x.end == y.start for x, y in pairwise(mine))
        assert all(data[r.start - 1:r.start] == b"\n" for r in mine[1:])
    sizes = [r.end - r.start for r in ranges]
    line = max(len(r.clf()) + 1 for r in reqs)
    # the first a quarter of all (2 processes x GUIDED_SHARE), cut at the next newline
    assert total // 4 <= sizes[0] < total // 4 + line
    assert max(sizes) == sizes[0] and sizes[-1] < sizes[0] // 4
    assert min(sizes) >= 10_000  # no last range under half the smallest step
    assert [r.path for r in ranges] == sorted(r.path for r in ranges)  # file order
    assert plan_guided([str(write(tmp_path / "empty.log", ""))], 2) == []


def _api_summary(replay: ParallelReplay) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(json.dumps(replay.query("summary", limit=20)))
    del summary["since"]
    return summary


def test_workers_from_a_fork_server_while_threads_run(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that runs threads must not fork: its workers then come from a fork
    server, count ranges too, and the answer is the same."""
    from_workers: list[int] = []
    receive = ParallelReplay._receive

    def spy(results: Any, pending: dict[int, Any], procs: Any, wait: float) -> None:
        """The real ``_receive``, noting which ranges came from a worker (a spy: the
        count of ranges each process took is not visible otherwise)."""
        before = set(pending)
        receive(results, pending, procs, wait)
        from_workers.extend(set(pending) - before)

    monkeypatch.setattr(ParallelReplay, "_receive", staticmethod(spy))
    reqs = lines(3000)
    log = write(tmp_path / "access.log", "".join(r.clf() + "\n" for r in reqs))
    source = files_pipeline(ConfigSource(), [str(log)], parser="combined", follow=False,
                            checkpoints=False,
                            extra={"collector:summary": {"whole_batches": True}})
    (one,) = replays([([log], "combined", 1, 0)])
    running = threading.Event()
    thread = threading.Thread(target=running.wait, daemon=True)
    thread.start()
    replay = ParallelReplay(source)
    try:
        assert replay._start_context().get_start_method() == "forkserver"
        assert replay.run([str(log)], 3, 40_000)
        assert _api_summary(replay) == one
        assert from_workers  # the workers counted some of the ranges
    finally:
        running.set()
        thread.join()
        replay.close()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_a_worker_killed_mid_replay_is_an_error_not_a_short_answer(tmp_path: Path) -> None:
    """Injected fault: the worker process is killed (SIGKILL, as the OOM killer does) while
    it counts; the command must fail and say so, never print a summary that lacks its
    ranges."""
    reqs = lines(120_000, seed=3)
    log = write(tmp_path / "big.log", "".join(r.clf() + "\n" for r in reqs))
    proc = subprocess.Popen(
        [sys.executable, "-m", "omphalos.cli.main", "replay", "--json", "--format",
         "combined", "--workers", "2", "--range-bytes", "300000", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "OMPHALOS_NO_DEFAULT_CONFIG": "1"})
    try:
        deadline = time.monotonic() + 60
        while not (workers := _children(proc.pid)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and out == ""
    assert err.strip().endswith(
        "omphalos: replay failed: replay worker omphalos-replay-1 died (exit code -9)"), err
    assert "Traceback" not in err
