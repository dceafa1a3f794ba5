"""The wire format (round trips, versions, garbage) and the on-disk spool (order, bound,
restarts, torn writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omphalos.counting import aggregate
from omphalos.messages import Ack, BadLine, Batch, Source
from omphalos.query import DIMENSIONS
from omphalos.records import Columns
from omphalos.spool import Spool, SpoolError
from omphalos.wire import VERSION, WireError, decode, decode_ack, decode_batch, encode_ack
from omphalos.wire import encode_batch as encode

SOURCE = Source("web1", "/var/log/access.log", "1:2:abcd", "monitor:web")


def batch(n: int = 3) -> Batch:
    cols = Columns(time=[1.5 * i for i in range(n)], client=["10.0.0.1"] * n,
                   path=[f"/p{i}" for i in range(n)], status=[200 + i for i in range(n)],
                   bytes=list(range(n)), offset=[10 * i for i in range(n)],
                   agent=["curl", None, "x"][:n], extra=[{"k": 1}, None, None][:n])
    return Batch(SOURCE, 7, 0, 10 * n + 5, cols, n + 1, unparsed=1,
                 unparsed_reasons={"bad request": 1}, bad=(BadLine(10 * n, "bad request", "x"),))


def test_batch_round_trip() -> None:
    original = batch()
    copy = decode_batch(encode(original))
    assert copy.source == original.source
    assert (copy.seq, copy.start, copy.end, copy.lines) == (7, 0, 35, 4)
    assert copy.records.path == original.records.path
    assert copy.records.agent == ["curl", None, "x"]
    assert copy.records.extra == [{"k": 1}, None, None]
    assert copy.records.referer is None  # an absent optional column stays absent
    assert copy.bad == original.bad and copy.unparsed_reasons == {"bad request": 1}


def test_a_decoded_batch_holds_each_distinct_string_of_a_column_once() -> None:
    """The real log decoded: every column equals what was sent, and the equal strings of a
    column are one object (msgpack makes one per value): a decoded batch's agents, referers
    and paths take the memory of their distinct values only."""
    from omphalos.lib.parsers.clf_format import COMBINED_TOKENS
    from omphalos.lib.parsers.linefmt import LineFormat
    from omphalos.records import COLUMN_FIELDS
    from omphalos.wire import SHARED_COLUMNS
    from tests.conftest import REAL_LOG

    data = REAL_LOG.read_bytes()
    cols, lines, bad, _ = LineFormat("combined", COMBINED_TOKENS).parse(data, 0)
    assert not bad and lines == 10000
    copy = decode_batch(encode(Batch(SOURCE, 1, 0, len(data), cols, lines))).records
    for name in COLUMN_FIELDS:
        assert getattr(copy, name) == getattr(cols, name), name
    for name in SHARED_COLUMNS:
        values = getattr(copy, name)
        if values is not None:
            assert len({id(v) for v in values}) == len(set(values)), name
    assert len(set(copy.agent)) < 600 and len(copy.agent) == 10000  # repeated a lot


def test_lazy_offsets_are_sent() -> None:
    cols = Columns(time=[1.0, 2.0], client=["a", "b"], path=["/", "/"], status=[200, 200],
                   bytes=[1, 1], raw=(b"first line\nsecond\n", 100))
    copy = decode_batch(encode(Batch(SOURCE, 1, 100, 118, cols, 2)))
    assert copy.records.offsets() == [100, 111]


def test_ack_round_trip() -> None:
    ack = Ack("monitor:web", 3, "1:2:x", 99, accepted=False)
    assert decode_ack(encode_ack(ack)) == ack


def test_newer_reader_fills_defaults_and_ignores_unknown_keys() -> None:
    """A message of an older writer (no unparsed keys) plus a key from a newer one."""
    body = {"h": "w", "p": "/l", "f": "1", "o": "m", "q": 1, "s": 0, "e": 5, "l": 1,
            "c": {"time": [1.0], "client": ["c"], "path": ["/"], "status": [200],
                  "bytes": [0], "offset": [0]}, "future": "ignored"}
    copy = decode_batch(msgpack.packb(["om", 1, "b", body]))
    assert copy.unparsed == 0 and copy.records.path == ["/"]


def counted_batch() -> Batch:
    cols = Columns(time=[1.0, 2.0, 3.0], client=["a", "b", "a"], path=["/x", "/y", "/x"],
                   status=[200, 404, 500], bytes=[10, 20, 30], offset=[0, 10, 20],
                   method=["GET", None, "GET"], duration=[0.1, None, 0.3])
    counts = aggregate(cols, "web1", DIMENSIONS)
    return Batch(SOURCE, 3, 0, 30, Columns(), 4, unparsed=1,
                 unparsed_reasons={"bad request": 1}, counts=counts)


def test_counted_batch_round_trip_is_version_2_and_plain_batches_stay_version_1() -> None:
    original = counted_batch()
    data = encode(original)
    assert msgpack.unpackb(data, strict_map_key=False)[1] == 2
    assert msgpack.unpackb(encode(batch()), strict_map_key=False)[1] == 1
    copy = decode_batch(data)
    assert copy.counts == original.counts and len(copy.records) == 0
    assert (copy.lines, copy.unparsed, copy.start, copy.end) == (4, 1, 0, 30)
    counts = copy.counts
    assert counts is not None and counts.requests == 3 and counts.bytes == 60
    assert counts.dims["path"].hits == {"/x": 2, "/y": 1}
    assert counts.dims["method"].hits == {"GET": 2, None: 1}
    assert counts.dims["path"].classes == {"4xx": {"/y": 1}, "5xx": {"/x": 1}}
    assert counts.duration_count == 2 and counts.duration_sum == pytest.approx(0.4)


@pytest.mark.parametrize("mangle", [
    lambda g: g.update(n="3"), lambda g: g.update(k=[1]), lambda g: g.update(s={200: 1.5}),
    lambda g: g["k"]["path"].pop(), lambda g: g["k"]["path"].__setitem__(0, {"/x": "2"}),
    lambda g: g["k"]["path"].__setitem__(3, {"/x": {"1": "2"}}), lambda g: g.pop("t0")])
def test_malformed_counts_raise_wire_error(mangle: Any) -> None:
    message = msgpack.unpackb(encode(counted_batch()), strict_map_key=False)
    mangle(message[3]["g"])
    with pytest.raises(WireError, match="malformed"):
        decode(msgpack.packb(message))


@pytest.mark.parametrize("data", [b"", b"garbage", msgpack.packb(["om", VERSION + 1, "b", {}]),
                                  msgpack.packb(["om", 1, "z", {}]),
                                  msgpack.packb(["om", 1, "b", {"h": 1}]),
                                  msgpack.packb([1, 2, 3])])
def test_garbage_raises_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        decode(data)


def test_oversized_is_refused() -> None:
    with pytest.raises(WireError, match="exceeds"):
        decode(encode(batch()), max_bytes=10)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_message_or_wire_error(data: bytes) -> None:
    try:
        decode(data)
    except WireError:
        pass


def test_spool_is_fifo_and_survives_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    items = [f"item {i}".encode() * 50 for i in range(40)]  # spans several segments
    assert all(spool.append(i) for i in items)
    assert spool.peek(2) == items[:2] and spool.peek(2, skip=5) == items[5:7]
    assert spool.pop(10) == 10
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    assert len(again) == 30 and again.peek(30) == items[10:]
    again.pop(30)
    assert len(again) == 0 and again.queued_bytes == 0
    assert len(list(tmp_path.glob("*.seg"))) <= 1  # consumed segments are deleted


def test_spool_is_bounded_and_says_when_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1000)
    accepted = 0
    while spool.append(b"x" * 100):
        accepted += 1
    assert accepted == 9 and spool.queued_bytes <= 1000
    assert spool.status()["items"] == 9
    with pytest.raises(SpoolError):
        spool.append(b"y" * 2000)  # could never fit
    spool.pop(1)
    assert spool.append(b"x" * 100)


def test_torn_write_is_cut_off(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(b"complete")
    spool.append(b"also complete")
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as fh:
        fh.write(b"\x40\x00\x00\x00\x00\x00\x00\x00half a rec")  # a crash mid-append
    again = Spool(tmp_path, max_bytes=1 << 20)
    assert again.peek(5) == [b"complete", b"also complete"]
    assert again.append(b"after")
    assert again.peek(5)[-1] == b"after"


def test_another_process_cannot_open_a_spool_in_use(tmp_path: Path) -> None:
    import subprocess
    import sys

    spool = Spool(tmp_path, max_bytes=1 << 20)
    code = ("import sys\nfrom omphalos.spool import Spool, SpoolError\n"
            f"try:\n    Spool({str(tmp_path)!r}, 1 << 20)\nexcept SpoolError:\n    sys.exit(3)\n")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 3
    spool.close()
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
