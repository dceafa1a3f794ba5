"""Nothing odd stops the pipeline or skips a line: values out of range in any format, a batch
that makes a collector raise, and the query parameters a hostile client sends.

Real pipelines over real files; the one stand-in is :class:`PoisonedCollector`, a collector
with an injected bug (it raises on one path), since no built-in collector can be made to
raise on demand once every value is range-checked.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any, ClassVar

import pykka
import pytest
from omphalos.plugins.collectors.summary import SummaryCollector

from omphalos import query as contract
from omphalos.messages import Applied, Batch, Deliver, LineChunk, Query, Source
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin, ParserPlugin
from omphalos.quarantine import Quarantine
from omphalos.records import Columns
from omphalos.registry import Registry, default_registry
from omphalos.validate import OUT_OF_RANGE, Rejects, finite_json
from omphalos.wire import decode_batch, encode_batch

HUGE = "100000000000000000000000000000"


def combined(i: int, size: str = "512", path: str = "/index.html") -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1.8e9 + i))
    return f'10.0.0.{i % 200} - - [{stamp}] "GET {path} HTTP/1.1" 200 {size} "-" "t/1"\n'


class PoisonedCollector(CollectorPlugin):
    """Stand-in with an injected fault: a collector whose ``apply`` raises on ``/poison``
    (a bug no range check can catch), and counts every record it applied."""

    name = "poisoned"
    description = "Test collector: raises ValueError on a batch holding /poison"
    setups: ClassVar[int] = 0
    answers = frozenset({"applied"})

    def setup(self) -> None:
        PoisonedCollector.setups += 1
        self.applied = 0

    def apply(self, batch: Batch) -> None:
        if "/poison" in batch.records.path:
            raise ValueError("injected fault: /poison")
        self.applied += len(batch.records)

    def answer(self, query: Query) -> Any:
        if query.kind == "applied":
            return self.applied
        return super().answer(query)


def registry() -> Registry:
    out = Registry()
    for cls in default_registry().all():
        out.add(cls)
    out.add(PoisonedCollector)
    return out


@pytest.mark.timeout(120)
def test_a_byte_count_wider_than_64_bits_is_unparsed_and_its_batch_still_travels(
        tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = [combined(i) for i in range(300)]
    lines[100] = combined(100, HUGE)
    lines[200] = combined(200, "9223372036854775808")  # 2**63: just out of range
    log.write_text("".join(lines))
    dead = tmp_path / "dead.jsonl"
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:web": {"paths": str(log), "follow": False, "checkpoints": False},
        "parser:web": {"plugin": "combined", "dead_letter": str(dead), "inputs": "monitor:web"},
        "collector:summary": {},
    })
    with pipeline:
        assert pipeline.wait_idle(timeout=90)
        summary = pipeline.query("summary")
        status = pipeline.status()
    assert summary["requests"] == 298 and summary["bytes"] == 298 * 512
    assert summary["unparsed_reasons"] == {OUT_OF_RANGE: 2}
    assert status["degraded"] is False
    counters = status["actors"]["parser:web"]["counters"]
    assert counters["records"] == 298 and counters[f"unparsed: {OUT_OF_RANGE}"] == 2
    letters = [json.loads(x) for x in dead.read_text().splitlines()]
    assert [(x["offset"], x["reason"]) for x in letters] == [
        (sum(map(len, lines[:100])), OUT_OF_RANGE), (sum(map(len, lines[:200])), OUT_OF_RANGE)]
    assert letters[0]["line"] == lines[100].rstrip("\n")


@pytest.mark.timeout(120)
def test_a_batch_that_makes_a_collector_raise_is_quarantined_and_the_collector_stays_up(
        tmp_path: Path) -> None:
    good, poison = tmp_path / "good.log", tmp_path / "poison.log"
    good.write_text("".join(combined(i) for i in range(100)))
    poison_lines = [combined(i, path="/poison" if i == 4 else "/ok") for i in range(10)]
    poison.write_text("".join(poison_lines))
    state = tmp_path / "state"
    PoisonedCollector.setups = 0
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(state), "quarantine_max_bytes": 1 << 20},
        "monitor:web": {"paths": f"{good}, {poison}", "follow": False, "checkpoints": False},
        "parser:web": {"plugin": "combined", "inputs": "monitor:web"},
        "collector:poisoned": {},
        "collector:summary": {},
    }, registry=registry())
    with pipeline:
        assert pipeline.wait_idle(timeout=90)
        applied = pipeline.ask("collector:poisoned", Query("applied"))
        summary = pipeline.query("summary", collector="collector:summary")
        status = pipeline.status()
    assert applied == 100  # the good file in full; the poisoned batch not at all
    assert summary["requests"] == 110  # the other collector counted everything
    counters = status["actors"]["collector:poisoned"]["counters"]
    assert counters["batches_quarantined"] == 1 and counters["lines_quarantined"] == 10
    assert counters.get("duplicate_batches", 0) == 0  # acknowledged: never re-sent
    assert counters["batches"] == 2
    assert status["degraded"] is False
    assert status["actors"]["collector:poisoned"]["restarts"] == 0
    assert PoisonedCollector.setups == 1  # never restarted
    monitor = status["actors"]["monitor:web"]["counters"]
    assert monitor.get("rewinds", 0) == 0
    kept = [json.loads(x) for x in
            (state / "quarantine" / "collector-poisoned.jsonl").read_text().splitlines()]
    assert len(kept) == 1
    assert kept[0]["path"] == str(poison) and kept[0]["reason"] == (
        "ValueError: injected fault: /poison")
    batch = decode_batch(base64.b64decode(kept[0]["batch"]))
    assert list(batch.records.path) == [
        "/poison" if i == 4 else "/ok" for i in range(10)]


def test_the_quarantine_file_is_bounded(tmp_path: Path) -> None:
    cols = Columns(time=[1.0] * 50, client=["c"] * 50, path=["/x" * 20] * 50,
                   status=[200] * 50, bytes=[1] * 50, offset=list(range(50)))
    batch = Batch(Source("h", "/p", "f", "monitor:m"), 1, 0, 50, cols, 50)
    quarantine = Quarantine(str(tmp_path / "q.jsonl"), max_bytes=8192)
    for _ in range(40):
        assert quarantine.add(batch, "collector:x", "ValueError: x")
    sizes = [(tmp_path / name).stat().st_size for name in ("q.jsonl", "q.jsonl.1")]
    assert all(0 < size <= 8192 for size in sizes)
    line = (tmp_path / "q.jsonl").read_text().splitlines()[-1]
    assert len(decode_batch(base64.b64decode(json.loads(line)["batch"])).records) == 50
    encode_batch(batch)


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("series", {"step_secs": "1e300"}, "step_secs"),
    ("series", {"step_secs": "inf"}, "step_secs"),
    ("series", {"step_secs": "nan"}, "step_secs"),
    ("series", {"window": "1d", "step_secs": "0.5"}, "more than 10000 points"),
    ("series", {"window": "99999999999d"}, "longer than"),
    ("top", {"filter": "(a)b\\1"}, "RE2"),
    ("top", {"filter": "(a+)+$"}, "repeats a group"),
    ("top", {"filter": "(?=a)b"}, "RE2"),
    ("top", {"filter": "a" * 2000}, "longer than"),
    ("top", {"limit": "100000"}, "limit"),
])
def test_every_query_parameter_is_bounded_where_validated(
        kind: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        contract.validate(kind, params)


@pytest.mark.timeout(60)
def test_a_backtracking_filter_compiles_to_linear_time() -> None:
    # overlapping alternatives under a repeat: exponential under Python's re on this key,
    # linear under RE2 (pytest-timeout bounds the test; no timing threshold here)
    pattern = contract.compile_filter("^(x|xx)+y$")
    assert pattern is not None
    assert pattern.search("x" * 100_000) is None
    assert pattern.search("x" * 1_000 + "y") is not None
    assert contract.validate("series", {"window": "1h", "step_secs": "1e6"})["step_secs"] == 1e6


def test_answers_are_strict_json() -> None:
    text, sanitized = finite_json({"a": float("nan"), "b": [1.0, float("inf")], "c": 2})
    assert sanitized and json.loads(text) == {"a": None, "b": [1.0, None], "c": 2}
    assert finite_json({"a": 1.5}) == ('{"a": 1.5}', False)


class PoisonedSummary(SummaryCollector):
    """Stand-in with an injected fault: the summary collector (interleaved: batches applied
    a slice at a time) whose ``apply`` raises on a slice holding ``/poison``."""

    name = "poisoned-summary"
    description = "Test collector: the summary, raising ValueError on /poison"

    def apply(self, batch: Batch) -> None:
        if "/poison" in batch.records.path:
            raise ValueError("injected fault: /poison")
        super().apply(batch)


class Recorder(pykka.ThreadingActor):
    """Keeps the Applied messages a collector sends its transport."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Applied] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Applied):
            self.seen.append(message)
            return None
        return list(self.seen)


def lines_batch(seq: int, paths: list[str]) -> Batch:
    n = len(paths)
    start = (seq - 1) * 100_000
    cols = Columns(time=[1.8e9] * n, client=["c"] * n, path=paths, status=[200] * n,
                   bytes=[1] * n, offset=[start + 10 * i for i in range(n)])
    return Batch(Source("web1", "/var/log/a.log", "file-1", "monitor:test"), seq, start,
                 start + 10 * n, cols, n)


@pytest.mark.timeout(60)
def test_an_interleaved_collector_quarantines_a_poisoned_batch_and_goes_on(
        tmp_path: Path) -> None:
    reg = registry()
    reg.add(PoisonedSummary)
    pipeline = Pipeline.from_config({"omphalos": {"state_dir": str(tmp_path)},
                                     "collector:summary": {"plugin": "poisoned-summary"}},
                                    registry=reg)
    pipeline.start()
    recorder = Recorder.start()
    try:
        ref = pipeline.directory.get("collector:summary")
        assert ref is not None
        ref.tell(Deliver(lines_batch(1, ["/a"] * 500), recorder))
        ref.tell(Deliver(lines_batch(2, ["/poison"] + ["/b"] * 99), recorder))
        ref.tell(Deliver(lines_batch(3, ["/c"] * 500), recorder))
        deadline = time.monotonic() + 30
        while len(recorder.ask("seen", timeout=5)) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        acks = recorder.ask("seen", timeout=5)
        summary = ref.ask(Query("summary", {}), timeout=10)
        counters = ref.ask(Query("status"), timeout=10)["counters"]
        health = pipeline.status()
    finally:
        recorder.stop()
        pipeline.stop()
    assert [(a.seq, a.accepted) for a in acks] == [(1, True), (2, False), (3, True)]
    assert summary["requests"] == 1000
    assert counters["batches_quarantined"] == 1 and counters["lines_quarantined"] == 100
    assert health["degraded"] is False and health["actors"]["collector:summary"][
        "restarts"] == 0
    kept = (tmp_path / "quarantine" / "collector-summary.jsonl").read_text().splitlines()
    assert len(kept) == 1 and json.loads(kept[0])["seq"] == 2


class BareParser(ParserPlugin):
    """A parser written against the bare base class (no BaseParser helpers), as a third
    party would: one record per line, ``bytes`` taken as written, never range-checked here."""

    name = "bare-numbers"
    description = "Test parser: 'PATH BYTES' per line, no checks of its own"

    def parse(self, chunk: LineChunk) -> Batch:
        cols = Columns()
        offset = chunk.start
        for raw in chunk.data.splitlines(keepends=True):
            path, size = raw.decode().split()
            cols.time.append(1.8e9)
            cols.client.append("c")
            cols.path.append(path)
            cols.status.append(200)
            cols.bytes.append(int(size))
            cols.offset.append(offset)
            offset += len(raw)
        return Batch(chunk.source, chunk.seq, chunk.start, chunk.end, cols, len(cols))


@pytest.mark.timeout(120)
def test_every_parser_is_range_checked_even_one_that_checks_nothing(tmp_path: Path) -> None:
    log = tmp_path / "numbers.log"
    log.write_text(f"/a 1\n/b {HUGE}\n/c -5\n/d 3\n")
    reg = registry()
    reg.add(BareParser)
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:m": {"paths": str(log), "follow": False, "checkpoints": False},
        "parser:m": {"plugin": "bare-numbers", "inputs": "monitor:m"},
        "collector:summary": {},
    }, registry=reg)
    with pipeline:
        assert pipeline.wait_idle(timeout=60)
        summary = pipeline.query("summary")
        counters = pipeline.status()["actors"]["parser:m"]["counters"]
    assert summary["requests"] == 2 and summary["bytes"] == 4
    assert summary["unparsed_reasons"] == {OUT_OF_RANGE: 2}
    assert counters[f"unparsed: {OUT_OF_RANGE}"] == 2 and counters["lines"] == 4


def test_malformed_messages_are_counted_per_sender_and_logged_once_a_minute(
        caplog: pytest.LogCaptureFixture) -> None:
    rejects = Rejects(logging.getLogger("omphalos.test.rejects"), "transport:t")
    caplog.set_level(logging.WARNING, logger="omphalos.test.rejects")
    logged = [rejects.note("a", "bad", now=t) for t in (0.0, 1.0, 59.0, 60.5, 61.0)]
    logged += [rejects.note("b", "bad", now=2.0)]
    assert logged == [True, False, False, True, False, True]
    assert rejects.by_sender() == {"a": 5, "b": 1}
    assert len(caplog.records) == 3
