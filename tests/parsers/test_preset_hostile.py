"""Hostile values on the presets' fast paths: the range checks of ``omphalos/validate.py``
hold for every preset although a preset's ``extra`` dicts are no longer checked line by
line when its parser built them from text (regex presets) or checked them a whole column
at a time (JSON presets, :attr:`.Columns.extra_checked`).

Each chunk is a preset's example line, a hostile copy of it and the example again, parsed
by the preset's format and checked by ``enforce_ranges`` as every parser plugin's batch
is: exactly the hostile line must come out unparsed as ``value out of range``, the others
whole. The last test sends such lines through a real pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omphalos.lib.parsers.format_examples import EXAMPLES
from omphalos.lib.parsers.presets import PRESETS
from omphalos.messages import Batch, LineChunk, Source
from omphalos.pipeline import Pipeline
from omphalos.records import Columns, Record
from omphalos.validate import (
    MAX_DEPTH,
    MAX_INT,
    OUT_OF_RANGE,
    enforce_ranges,
    extra_column_ok,
    out_of_range_rows,
)

HUGE = "9" * 30  # wider than 64 bits
SOURCE = Source("h", "/p", "id", "monitor:m")
JSON_PRESETS = ("caddy", "traefik_json")


def checked(name: str, lines: list[str]) -> tuple[Batch, Columns]:
    """The batch a parser plugin sends for ``lines`` of preset ``name`` (after the range
    check), and the columns its format gave before it."""
    header = EXAMPLES[name][1].encode()
    data = header + "".join(x + "\n" for x in lines).encode()
    cols, n, bad, reasons = PRESETS[name][0]().parse(data, 0)
    batch = Batch(SOURCE, 1, 0, len(data), cols, n, unparsed=sum(reasons.values()),
                  unparsed_reasons=dict(reasons), bad=tuple(bad))
    out, _ = enforce_ranges(batch, LineChunk(SOURCE, 1, 0, len(data), data))
    return out, cols


def alone(name: str, line: str) -> Record:
    """The record of ``line`` parsed by itself (what its neighbours must not change)."""
    batch, _ = checked(name, [line])
    assert len(batch.records) == 1
    return next(batch.records.rows())


def assert_only_middle_rejected(name: str, hostile: str) -> None:
    example = EXAMPLES[name][2]
    batch, _ = checked(name, [example, hostile, example])
    assert batch.unparsed_reasons == {OUT_OF_RANGE: 1}
    assert [b.line for b in batch.bad] == [hostile]
    assert len(batch.records) == 2
    expected = alone(name, example)
    assert [r._replace(offset=0) for r in batch.records.rows()] == [
        expected._replace(offset=0)] * 2


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_byte_count_wider_than_64_bits_is_out_of_range_in_every_preset(name: str) -> None:
    # every example line carries its byte count as 512 (S3 twice: bytes sent comes first)
    hostile = EXAMPLES[name][2].replace("512", HUGE, 1)
    assert_only_middle_rejected(name, hostile)


@pytest.mark.parametrize("name", sorted(set(PRESETS) - set(JSON_PRESETS)))
def test_regex_presets_mark_their_extras_checked_and_keep_long_values_whole(
        name: str) -> None:
    example = EXAMPLES[name][2]
    long_path = "/index.html" + "a" * 70_000
    batch, cols = checked(name, [example, example.replace("/index.html", long_path, 1)])
    assert cols.extra_checked is True  # text cut from the line: nothing to range-check
    assert batch.unparsed == 0 and len(batch.records) == 2
    assert batch.records.path[1] == long_path
    # the flag belongs to the parser's own columns: a selection of them is checked again
    assert cols.select([0, 1]).extra_checked is False


#: Extra values no encoder can carry, as a JSON line may hold them, and the key of each
#: preset's example line they replace the value of (Caddy: mapped to extra; Traefik:
#: unmapped, kept in extra).
EXTRA_KEYS = {"caddy": '"bytes_read":0', "traefik_json": '"RouterName":"web@docker"'}
BAD_EXTRA_VALUES = {
    "wider than 64 bits": "1" + "0" * 22,
    "just past the signed 64-bit range": str(MAX_INT),
    "infinity": "1e999",
    "NaN": "NaN",
    "minus infinity": "-Infinity",
    "nested too deep": "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "a non-finite value inside a map": '{"a":[1,Infinity]}',
}


@pytest.mark.parametrize("name", JSON_PRESETS)
@pytest.mark.parametrize("what", sorted(BAD_EXTRA_VALUES))
def test_json_presets_reject_extra_values_no_encoder_can_carry(name: str, what: str) -> None:
    key = EXTRA_KEYS[name]
    example = EXAMPLES[name][2]
    assert key in example
    field = key.split(":", 1)[0]
    hostile = example.replace(key, f"{field}:{BAD_EXTRA_VALUES[what]}", 1)
    assert_only_middle_rejected(name, hostile)


@pytest.mark.parametrize("name", JSON_PRESETS)
def test_json_presets_check_extras_a_column_at_a_time(name: str) -> None:
    example = EXAMPLES[name][2]
    key = EXTRA_KEYS[name]
    field = key.split(":", 1)[0]
    edge = example.replace(key, f"{field}:{MAX_INT - 1}", 1)  # the largest value allowed
    batch, cols = checked(name, [example, edge])
    assert cols.extra_checked is True
    assert batch.unparsed == 0 and len(batch.records) == 2
    assert cols.extra is not None and cols.extra[1] is not None
    assert cols.extra[1][field.strip('"')] == MAX_INT - 1
    hostile = example.replace(key, f"{field}:{MAX_INT}", 1)
    _, cols = checked(name, [example, hostile])
    assert cols.extra_checked is False  # not proven: the line-by-line check runs
    assert out_of_range_rows(cols) == [1]


def test_extra_column_ok_decides_each_kind_of_column() -> None:
    assert extra_column_ok(["a", None, True, ""]) is True
    assert extra_column_ok([1, None, -MAX_INT, MAX_INT - 1, "x"]) is True
    assert extra_column_ok([MAX_INT]) is False
    assert extra_column_ok([None, -MAX_INT - 1]) is False
    assert extra_column_ok([1.5, None, [1, "a"], {"k": 2.5}]) is True
    assert extra_column_ok([float("nan")]) is False
    assert extra_column_ok([[float("inf")]]) is False
    deep: object = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert extra_column_ok([deep]) is False
    assert extra_column_ok([object()]) is False


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["caddy", "s3"])
def test_hostile_preset_lines_through_a_real_pipeline(tmp_path: Path, name: str) -> None:
    """A real file, monitor, ``preset`` parser and summary: every hostile line (spread
    through 600 good ones, so they share chunks with them) is unparsed as out of range,
    in the dead letters, and no good line is lost."""
    example = EXAMPLES[name][2]
    hostile = [example.replace("512", HUGE, 1)]
    if name == "caddy":
        field = EXTRA_KEYS[name].split(":", 1)[0]
        hostile += [example.replace(EXTRA_KEYS[name], f"{field}:{value}", 1)
                    for value in BAD_EXTRA_VALUES.values()]
    lines = [example] * 600
    for k, line in enumerate(hostile):
        lines.insert(40 + k * 61, line)
    log = tmp_path / f"{name}.log"
    log.write_text("".join(x + "\n" for x in lines))
    dead = tmp_path / "dead.jsonl"
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:app": {"paths": str(log), "follow": False, "checkpoints": False},
        "parser:app": {"plugin": "preset", "preset": name, "dead_letter": str(dead),
                       "inputs": "monitor:app"},
        "collector:summary": {},
    })
    with pipeline:
        assert pipeline.wait_idle(timeout=90)
        summary = pipeline.query("summary")
    assert summary["requests"] == 600
    assert summary["status"] == {"200": 600}
    assert summary["unparsed"] == len(hostile)
    assert summary["unparsed_reasons"] == {OUT_OF_RANGE: len(hostile)}
    letters = [json.loads(x) for x in dead.read_text().splitlines()]
    assert sorted(x["line"] for x in letters) == sorted(hostile)
    assert {x["reason"] for x in letters} == {OUT_OF_RANGE}
