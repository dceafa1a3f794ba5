"""Crafted wire batches: well-formed msgpack whose columns hold values of the wrong type or
out of range, columns of different lengths, counted batches holding non-counts. Each is
refused by the decoder (unit tests), and, sent over a real ZeroMQ socket to a real
``omphalos collector`` process, dropped, counted per sender and answered "refused" (so it
is never re-sent), while the collector stays up and counts the valid batch after them
exactly."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from omphalos.counting import aggregate
from omphalos.messages import Batch, Source
from omphalos.query import DIMENSIONS
from omphalos.records import Columns
from omphalos.wire import WireError, decode_ack, decode_batch, encode_batch

SOURCE = Source("web1", "/var/log/access.log", "dev:ino:fp", "monitor:web")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def good_batch(seq: int = 1, n: int = 3) -> Batch:
    cols = Columns(time=[1.8e9 + i for i in range(n)], client=["10.0.0.1"] * n,
                   path=[f"/p{i}" for i in range(n)], status=[200] * n, bytes=[10] * n,
                   offset=[i * 10 for i in range(n)], duration=[0.1] * n)
    return Batch(SOURCE, seq, 0, n * 10, cols, n)


def mangled(change: Callable[[dict[str, Any]], None], seq: int = 1) -> bytes:
    """A good batch's message with ``change`` applied to its body."""
    message = msgpack.unpackb(encode_batch(good_batch(seq)), strict_map_key=False)
    change(message[3])
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


def counted() -> bytes:
    batch = good_batch()
    agg = aggregate(batch.records, "web1", DIMENSIONS)
    message = msgpack.unpackb(encode_batch(Batch(SOURCE, 1, 0, 30, Columns(), 3, counts=agg)),
                              strict_map_key=False)
    message[3]["g"]["k"]["path"][0] = {"/p0": 1.5}  # hits that are not whole numbers
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


def _set(column: str, values: list[Any]) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["c"].__setitem__(column, values)


CRAFTED: dict[str, Callable[[], bytes]] = {
    "status as strings": lambda: mangled(_set("status", ["200", "200", "200"])),
    "time as strings": lambda: mangled(_set("time", ["x", "y", "z"])),
    "bytes of 2**64-1": lambda: mangled(_set("bytes", [2**64 - 1, 1, 1])),
    "negative status": lambda: mangled(_set("status", [-1, 200, 200])),
    "NaN duration": lambda: mangled(_set("duration", [float("nan"), 0.1, 0.1])),
    "infinite time": lambda: mangled(_set("time", [float("inf"), 1.0, 1.0])),
    "path as a map": lambda: mangled(_set("path", [{"a": 1}, "/b", "/c"])),
    "extra as a list": lambda: mangled(_set("extra", [[1], None, None])),
    "short column": lambda: mangled(_set("client", ["a"])),
    "more records than lines": lambda: mangled(lambda b: b.__setitem__("l", 1)),
    "unparsed reasons of text": lambda: mangled(lambda b: b.update(u=1, r={"x": "1"})),
    "counted hits of floats": counted,
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_batch_is_refused_by_the_decoder(name: str) -> None:
    with pytest.raises(WireError, match="malformed"):
        decode_batch(CRAFTED[name]())


def test_a_good_batch_decodes_unchanged() -> None:
    batch = decode_batch(encode_batch(good_batch()))
    assert batch.records.path == ["/p0", "/p1", "/p2"] and batch.lines == 3


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """A real ``omphalos collector`` process: zmq receiver -> summary; web output."""
    zport, wport = free_port(), free_port()
    conf = tmp_path / "collector.conf"
    conf.write_text(f"""
[omphalos]
state_dir = {tmp_path / "state"}

[transport:zmq]
bind = tcp://127.0.0.1:{zport}

[collector:summary]

[output:web]
port = {wport}
""")
    log = open(tmp_path / "collector.log", "wb")
    omphalos = shutil.which("omphalos") or str(Path(sys.executable).parent / "omphalos")
    proc = subprocess.Popen([omphalos, "collector", "-c", str(conf)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=tmp_path)
    log.close()
    url = f"http://127.0.0.1:{wport}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "collector.log").read_text()
        try:
            http_json(url + "/api/v1/status")
            break
        except OSError:
            assert time.monotonic() < deadline, "the collector did not start"
            time.sleep(0.1)
    try:
        yield f"tcp://127.0.0.1:{zport}", url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.timeout(180)
def test_crafted_batches_over_zmq_are_dropped_and_counted_and_the_collector_stays_up(
        collector: tuple[str, str, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    endpoint, url, proc = collector
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, b"crafty")
    sock.connect(endpoint)
    try:
        def send(number: int, data: bytes) -> bool:
            sock.send_multipart([number.to_bytes(8, "little"), data])
            assert sock.poll(20_000), "no answer from the collector"
            msg_id, body = sock.recv_multipart()
            assert int.from_bytes(msg_id, "little") == number
            return decode_ack(body).accepted

        number = 0
        rounds = 3  # "sent a few more times": every one of them is refused again
        for _ in range(rounds):
            for make in CRAFTED.values():
                number += 1
                assert send(number, make()) is False
        number += 1
        assert send(number, encode_batch(good_batch(seq=7))) is True
        deadline = time.monotonic() + 30
        while http_json(url + "/api/v1/query/summary?collector=summary")["requests"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        summary = http_json(url + "/api/v1/query/summary?collector=summary")
        status = http_json(url + "/api/v1/status")
    finally:
        sock.close()
        context.term()
    assert proc.poll() is None
    assert summary["requests"] == 3 and summary["status"] == {"200": 3}
    assert status["degraded"] is False
    transport = status["actors"]["transport:zmq"]
    assert transport["counters"]["malformed"] == rounds * len(CRAFTED)
    assert transport["malformed_by_sender"] == {b"crafty".hex(): rounds * len(CRAFTED)}
    assert status["actors"]["transport:zmq"]["restarts"] == 0
    assert status["actors"]["collector:summary"]["restarts"] == 0
    assert status["actors"]["collector:summary"]["counters"]["batches"] == 1
    logged = (tmp_path / "collector.log").read_text()
    assert logged.count("dropped a malformed message from 637261667479") == 1  # once a minute
