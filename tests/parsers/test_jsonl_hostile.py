"""JSON lines a hostile client or a broken application writes: each bad line is that line's
alone, spellings never overwrite each other, invalid lines never join, numbers no field
can hold are unparsed as ``value out of range``. Unit tests of the format, then the same
lines through a real pipeline (a real file, the monitor, the parser, the summary)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from omphalos.lib.parsers.json_format import JsonFormat
from omphalos.messages import Batch, LineChunk, Source
from omphalos.pipeline import Pipeline
from omphalos.validate import OUT_OF_RANGE, enforce_ranges, out_of_range_rows

DEEP = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
#: Three lines, each invalid alone, that decode to three objects when joined into an array.
JOINING = ['{"status":500},{"status":501}', '{"z":[{"status":502}', '{"b":2}]}']
OUT_OF_RANGE_LINES = [
    '{"status":200,"request_time":1e999}',            # duration: infinity
    '{"status":200,"request_time":NaN}',               # duration: NaN
    '{"status":200,"request_time":1e300}',             # finite, but sums of it overflow
    '{"status":200,"foo":-Infinity}',                  # extra: not finite
    '{"status":200,"bytes":100000000000000000000000000000}',  # wider than 64 bits
    '{"status":1e999}',                                # status: infinity
]


def parse(lines: list[str], start: int = 0) -> tuple[list[int], Counter[str], int]:
    """(statuses kept, unparsed by reason, lines) as the pipeline gets them: the format's
    result checked by enforce_ranges like every ParserPlugin's batch."""
    data = "".join(x + "\n" for x in lines).encode()
    cols, n, bad, reasons = JsonFormat().parse(data, start)
    source = Source("h", "/p", "id", "monitor:m")
    batch = Batch(source, 1, start, start + len(data), cols, n,
                  unparsed=sum(reasons.values()), unparsed_reasons=dict(reasons),
                  bad=tuple(bad))
    checked, _ = enforce_ranges(batch, LineChunk(source, 1, start, start + len(data), data))
    return list(checked.records.status), Counter(checked.unparsed_reasons), checked.lines


def test_key_spellings_present_in_some_lines_never_overwrite_the_others() -> None:
    lines = ['{"status":200,"path":"/a","bytes":5}',
             '{"status_code":404,"uri":"/b?q=1","size":7}',
             '{"status":301,"status_code":999,"request":"GET /c HTTP/1.1"}']
    data = "".join(x + "\n" for x in lines).encode()
    cols, n, bad, reasons = JsonFormat().parse(data, 0)
    assert (n, bad, reasons) == (3, [], Counter())
    assert cols.status == [200, 404, 301]  # the first spelling a line has wins
    assert cols.bytes == [5, 7, 0]
    assert cols.path == ["/a", "/b", "/c"]
    assert cols.query == [None, "q=1", None]
    assert cols.method == [None, None, "GET"]


def test_a_deeply_nested_line_is_that_lines_alone() -> None:
    statuses, reasons, n = parse(['{"status":200}', DEEP, '{"status":201}'])
    assert statuses == [200, 201] and n == 3
    assert reasons == {"invalid JSON: nested too deeply": 1}


def test_invalid_lines_never_join_into_valid_records() -> None:
    statuses, reasons, n = parse(['{"status":200}', *JOINING, '{"status":201}'])
    assert statuses == [200, 201] and n == 5
    assert reasons == {"invalid JSON": 3}
    # and the same lines with a nested array of objects elsewhere in a good line
    statuses, reasons, _ = parse(['{"status":200,"l":[{"a":1},{"b":2}]}', *JOINING])
    assert statuses == [200] and reasons == {"invalid JSON": 3}


@pytest.mark.parametrize("line", OUT_OF_RANGE_LINES)
def test_numbers_no_field_can_hold_are_out_of_range(line: str) -> None:
    statuses, reasons, n = parse(['{"status":200}', line, '{"status":204}'])
    assert statuses == [200, 204] and n == 3
    assert reasons == {OUT_OF_RANGE: 1}


def test_a_good_chunk_keeps_every_line_and_every_value_in_range() -> None:
    lines = [json.dumps({"status": 200 + i % 5, "bytes": i, "request_time": i / 1000,
                         "remote_addr": f"10.0.0.{i % 250}", "msec": 1.7e9 + i})
             for i in range(2000)]
    data = "".join(x + "\n" for x in lines).encode()
    cols, n, bad, reasons = JsonFormat().parse(data, 0)
    assert (len(cols), n, bad, reasons) == (2000, 2000, [], Counter())
    assert out_of_range_rows(cols) == []
    assert cols.bytes == list(range(2000))


@pytest.mark.timeout(120)
def test_hostile_json_lines_through_a_real_pipeline(tmp_path: Path) -> None:
    good = []
    for i in range(1000):
        key = "status" if i % 2 == 0 else "status_code"
        good.append(json.dumps({key: 200 if i % 2 == 0 else 404, "uri": f"/p{i % 7}",
                                "body_bytes_sent": 10, "request_time": 0.25,
                                "remote_addr": "192.0.2.9", "msec": 1.8e9 + i}))
    hostile = [DEEP, *JOINING, *OUT_OF_RANGE_LINES]
    # the hostile lines spread through the good ones, so they share batches with them
    lines = list(good)
    for k, line in enumerate(hostile):
        lines.insert(50 + k * 97, line)
    log = tmp_path / "app.log"
    log.write_text("".join(x + "\n" for x in lines))
    dead = tmp_path / "dead.jsonl"
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:app": {"paths": str(log), "follow": False, "checkpoints": False},
        "parser:app": {"plugin": "json", "dead_letter": str(dead), "inputs": "monitor:app"},
        "collector:summary": {},
    })
    with pipeline:
        assert pipeline.wait_idle(timeout=90)
        summary = pipeline.query("summary")
        counters = pipeline.status()["actors"]["parser:app"]["counters"]
    assert summary["requests"] == 1000
    assert summary["status"] == {"200": 500, "404": 500}
    assert summary["unparsed"] == len(hostile)
    assert summary["unparsed_reasons"] == {"invalid JSON: nested too deeply": 1,
                                           "invalid JSON": 3, OUT_OF_RANGE: 6}
    assert counters["records"] == 1000 and counters["lines"] == len(lines)
    assert counters[f"unparsed: {OUT_OF_RANGE}"] == 6
    text = json.dumps(summary, allow_nan=False)  # nothing non-finite reached the answer
    assert math.isfinite(json.loads(text)["duration"]["mean"])
    letters = [json.loads(x) for x in dead.read_text().splitlines()]
    assert Counter(x["reason"] for x in letters)[OUT_OF_RANGE] == 6
    assert sorted(x["line"] for x in letters if x["reason"] == OUT_OF_RANGE) == sorted(
        OUT_OF_RANGE_LINES)
