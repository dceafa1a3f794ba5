"""Transports between two pipelines of this process, over real sockets and the real broker:
CURVE refusals, garbage on every transport's port, UDP losses, spool-full back-pressure."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import kombu
import msgpack
import pytest
import zmq

from omphalos.pipeline import Pipeline
from tests.conftest import REAL_LOG, applied_lines, wait_for

from .cluster import free_port

TOTAL = 10000  # lines of the real log (tests/data/README.md)


def receiver(tmp: Path, transport: dict[str, Any]) -> Pipeline:
    return Pipeline.from_config({"omphalos": {"state_dir": str(tmp / "recv")},
                                 **transport, "collector:summary": {}}).start()


def sender(tmp: Path, host: str, transport: dict[str, Any], **monitor: Any) -> Pipeline:
    return Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp / host), "host": host},
        "monitor:web": {"paths": str(REAL_LOG), "follow": "no", "checkpoints": "no",
                        **monitor},
        **transport}).start()


def counters(pipeline: Pipeline, name: str) -> dict[str, Any]:
    status: dict[str, Any] = pipeline.ask(name, _status())
    return status


def _connected(port: int) -> socket.socket | None:
    """A TCP connection to ``port``; None while nothing listens there yet."""
    try:
        return socket.create_connection(("127.0.0.1", port))
    except ConnectionRefusedError:
        return None


def _status() -> Any:
    from omphalos.messages import Query

    return Query("status")


@pytest.fixture
def pipelines():  # type: ignore[no-untyped-def]
    started: list[Pipeline] = []
    yield started
    for p in reversed(started):
        p.stop(timeout=3)


def make_keys(tmp: Path, *names: str) -> Path:
    import zmq.auth

    directory = tmp / "keys"
    directory.mkdir(exist_ok=True)
    for name in names:
        zmq.auth.create_certificates(str(directory), name)
    return directory


@pytest.mark.timeout(60)
def test_unknown_curve_key_is_refused_and_logged(tmp_path: Path, pipelines: list[Pipeline],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omphalos")
    keys = make_keys(tmp_path, "collector", "good", "intruder")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "good.key").write_bytes((keys / "good.key").read_bytes())
    port = free_port()
    recv = receiver(tmp_path, {"transport:zmq": {
        "bind": f"tcp://127.0.0.1:{port}", "secret_key_file": str(keys / "collector.key_secret"),
        "allowed_keys_dir": str(allowed)}})
    pipelines.append(recv)

    def client(name: str) -> dict[str, Any]:
        return {"transport:zmq": {"connect": f"tcp://127.0.0.1:{port}",
                                  "secret_key_file": str(keys / f"{name}.key_secret"),
                                  "server_key_file": str(keys / "collector.key")}}

    bad = sender(tmp_path, "intruder", client("intruder"))
    pipelines.append(bad)
    wait_for(lambda: counters(recv, "transport:zmq")["counters"]["refused_keys"] > 0, 20)
    wait_for(lambda: counters(bad, "transport:zmq")["spool"]["items"] > 0, 20)
    assert applied_lines(recv) == 0
    assert any("refused a sender" in r.getMessage() for r in caplog.records)

    good = sender(tmp_path, "good", client("good"))  # the same receiver lets a known key in
    pipelines.append(good)
    wait_for(lambda: applied_lines(recv) == TOTAL, 30)
    assert recv.query("summary")["hosts"] == {"good": TOTAL}


@pytest.mark.timeout(60)
def test_zmq_garbage_is_counted_and_the_receiver_keeps_working(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    recv = receiver(tmp_path, {"transport:zmq": {"bind": endpoint}})
    pipelines.append(recv)
    # the transport binds in its own thread after start() returned: connect once it listens
    with wait_for(lambda: _connected(port), 30) as raw:  # not ZeroMQ at all
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
        time.sleep(0.2)
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(endpoint)
    try:
        dealer.send_multipart([b"12345678", b"\x94\xa2om\x01\xa1b\x80"])  # a batch without body
        dealer.send_multipart([b"12345678", b"\xc1 not msgpack"])
        dealer.send(b"one frame only")
        assert dealer.poll(10000), "the receiver did not refuse the malformed batch"
        assert dealer.recv_multipart()[0] == b"12345678"
    finally:
        dealer.close()
        ctx.term()
    wait_for(lambda: counters(recv, "transport:zmq")["counters"]["malformed"] >= 3, 30)
    wait_for(lambda: counters(recv, "transport:zmq")["counters"]["handshakes_failed"] >= 1, 30)
    pipelines.append(sender(tmp_path, "h1", {"transport:zmq": {"connect": endpoint}}))
    wait_for(lambda: applied_lines(recv) == TOTAL, 30)


@pytest.mark.timeout(60)
def test_amqp_garbage_is_counted_and_the_consumer_keeps_working(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    queue = f"omphalos-test-{uuid.uuid4().hex[:8]}"
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        q = kombu.Queue(queue, durable=True, auto_delete=False)
        q(conn.default_channel).declare()
        producer = conn.Producer(serializer=None)
        for body in (b"garbage", b"\x94\xa2om\x09\xa1b\x80", b""):
            producer.publish(body, routing_key=queue, content_type="application/octet-stream",
                             content_encoding="binary")
        try:
            recv = receiver(tmp_path, {"transport:amqp": {"queue": queue}})
            pipelines.append(recv)
            wait_for(lambda: counters(recv, "transport:amqp")["counters"]["malformed"] == 3, 20)
            pipelines.append(sender(tmp_path, "h1", {"transport:amqp": {"queue": queue}}))
            wait_for(lambda: applied_lines(recv) == TOTAL, 30)
        finally:
            q(conn.default_channel).delete()


@pytest.mark.timeout(60)
def test_udp_garbage_is_counted_and_the_receiver_keeps_working(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    port = free_port()
    recv = receiver(tmp_path, {"transport:udp": {"bind": f"127.0.0.1:{port}",
                                                 "receive_buffer_bytes": 8 << 20}})
    pipelines.append(recv)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"garbage", ("127.0.0.1", port))
        s.sendto(msgpack.packb(["ou", 1, "x", 1, b"not a batch"]), ("127.0.0.1", port))
    wait_for(lambda: counters(recv, "transport:udp")["counters"]["malformed"] == 2, 30)
    pipelines.append(sender(tmp_path, "h1", {"transport:udp": {"connect": f"127.0.0.1:{port}",
                                                               "max_datagram_bytes": 8000}},
                            read_bytes=65536))
    wait_for(lambda: applied_lines(recv) > 0, 30)


@pytest.mark.timeout(60)
def test_udp_losses_are_counted_and_reported(tmp_path: Path, pipelines: list[Pipeline]) -> None:
    port = free_port()
    recv = receiver(tmp_path, {"transport:udp": {"bind": f"127.0.0.1:{port}",
                                                 "receive_buffer_bytes": 16384}})
    pipelines.append(recv)
    send = sender(tmp_path, "h1", {"transport:udp": {"connect": f"127.0.0.1:{port}",
                                                     "max_datagram_bytes": 4000}})
    pipelines.append(send)
    assert send.wait_idle(30)
    sent = counters(send, "transport:udp")["counters"]["datagrams"]
    status = wait_for(lambda: (s := counters(recv, "transport:udp"))["counters"][
        "datagrams_lost"] > 0 and s, 20)
    got = status["counters"]["datagrams"]
    lost = status["counters"]["datagrams_lost"]
    assert got + lost <= sent
    assert status["loss_ratio"] > 0
    assert applied_lines(recv) < TOTAL  # what was lost is missing, and said so


@pytest.mark.timeout(60)
def test_full_spool_stops_the_monitor_and_says_so(tmp_path: Path,
                                                   pipelines: list[Pipeline]) -> None:
    port = free_port()  # nobody listens there: everything goes to the spool
    send = sender(tmp_path, "h1", {"transport:zmq": {"connect": f"tcp://127.0.0.1:{port}",
                                                     "spool_max_bytes": 300_000}},
                  read_bytes=65536)
    pipelines.append(send)
    status = wait_for(lambda: (s := counters(send, "transport:zmq"))["paused"] and s, 20)
    assert "spool full" in status["warning"]
    monitor = counters(send, "monitor:web")
    assert monitor["in_flight"] > 0 and not monitor["idle"]
    read = sum(f["read"] for f in monitor["files"])
    assert read < REAL_LOG.stat().st_size  # it stopped reading

    recv = receiver(tmp_path, {"transport:zmq": {"bind": f"tcp://127.0.0.1:{port}"}})
    pipelines.append(recv)  # the collector comes: the spool drains, reading resumes
    wait_for(lambda: applied_lines(recv) == TOTAL, 30)
    assert not counters(send, "transport:zmq")["paused"]


@pytest.mark.timeout(60)
def test_a_receiver_that_cannot_bind_says_why_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from tests.conftest import omphalos_threads

    before = set(omphalos_threads())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        recv = receiver(tmp_path, {"transport:zmq": {"bind": f"tcp://127.0.0.1:{port}"}})
        try:
            error = wait_for(lambda: recv.health.snapshot()["actors"]["transport:zmq"][
                "last_error"], 20)
            assert "Address already in use" in error
        finally:
            recv.stop(timeout=5)
    wait_for(lambda: set(omphalos_threads()) <= before, 10)
