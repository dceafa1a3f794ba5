"""Flow control that tells slow from lost, identity bound to authentication, and I/O threads
that survive what one message does (or are seen by the supervisor when they die)."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import msgpack
import pytest
import zmq
import zmq.auth
from omphalos.plugins.monitors.file.identity import identify
from omphalos.plugins.transports.udp import UdpTransport, sign
from omphalos.plugins.transports.zeromq import ZmqTransport

from omphalos.config import option
from omphalos.messages import Ack, Batch, Query, Source
from omphalos.pipeline import Pipeline
from omphalos.plugin import CollectorPlugin
from omphalos.records import Columns
from omphalos.registry import Registry
from omphalos.wire import decode_ack, encode_batch
from tests.conftest import REAL_LOG, applied_lines, wait_for

from .cluster import free_port
from .test_inprocess import TOTAL, counters, make_keys, receiver, sender


@dataclass(frozen=True)
class SlowConfig:
    """Options of the slow collector."""

    apply_secs: float = option(0.4, "Seconds each batch takes to apply.")


class SlowCollector(CollectorPlugin):
    """Counts lines, slowly: a collector far slower than its sender (test collector)."""

    name = "slow"
    description = "Counts lines slowly (test collector)"
    answers = frozenset({"lines"})
    Config: ClassVar[type] = SlowConfig

    def setup(self) -> None:
        self.lines = 0

    def apply(self, batch: Batch) -> None:
        time.sleep(self.config.apply_secs)
        self.lines += batch.lines

    def answer(self, query: Query) -> Any:
        if query.kind == "lines":
            return self.lines
        return super().answer(query)


@pytest.fixture
def pipelines():  # type: ignore[no-untyped-def]
    started: list[Pipeline] = []
    yield started
    for p in reversed(started):
        p.stop(timeout=5)


@pytest.mark.timeout(90)
def test_a_receiver_slower_than_its_sender_causes_no_resend(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    """Each batch takes 0.4 s to apply, twenty times the sender's 0.02 s acknowledgement
    timeout: the sender asks, the receiver says it is applying them, nothing is re-sent."""
    registry = Registry.discover()
    registry.add(SlowCollector)
    port = free_port()
    recv = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "recv")},
        "transport:zmq": {"bind": f"tcp://127.0.0.1:{port}", "max_pending": 2},
        "collector:slow": {}}, registry=registry).start()
    pipelines.append(recv)
    send = sender(tmp_path, "h1", {"transport:zmq": {"connect": f"tcp://127.0.0.1:{port}",
                                                     "ack_timeout_secs": 0.02}},
                  read_bytes=262144)
    pipelines.append(send)
    wait_for(lambda: recv.ask("collector:slow", Query("lines")) == TOTAL, 60)
    assert send.wait_idle(30)
    chunks = counters(send, "monitor:web")["counters"]["chunks_sent"]
    out = wait_for(lambda: (c := counters(send, "transport:zmq")["counters"])["sent"]
                   == chunks and c, 10)
    into = counters(recv, "transport:zmq")["counters"]
    assert out["probes"] > 0 and into["probes_answered"] == out["probes"]
    assert out["resends"] == 0 and out["acks_recovered"] == 0
    assert out["sent"] == chunks and into["batches_in"] == chunks
    assert into["duplicates_in_progress"] == 0 and into["over_credit"] == 0
    slow = counters(recv, "collector:slow")["counters"]
    assert slow.get("duplicate_batches", 0) == 0 and slow["batches"] == chunks


@pytest.mark.timeout(90)
def test_the_receiver_decodes_batches_within_its_byte_bound(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    """With ``max_pending_bytes`` below one batch, the receiver holds one batch decoded at a
    time and the others its senders' credit lets in undecoded; every line is counted once
    and nothing is re-sent."""
    registry = Registry.discover()
    registry.add(SlowCollector)
    port = free_port()
    recv = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "recv")},
        "transport:zmq": {"bind": f"tcp://127.0.0.1:{port}", "max_pending_bytes": 1},
        "collector:slow": {"apply_secs": 0.2}}, registry=registry).start()
    pipelines.append(recv)
    send = sender(tmp_path, "h1", {"transport:zmq": {"connect": f"tcp://127.0.0.1:{port}"}},
                  read_bytes=262144)
    pipelines.append(send)
    seen: list[dict[str, Any]] = []

    def parked() -> bool:
        seen.append(counters(recv, "transport:zmq"))
        return bool(seen[-1]["parked"])

    wait_for(parked, 30)  # the sender's credit (8) let in more than the bound decodes
    wait_for(lambda: recv.ask("collector:slow", Query("lines")) == TOTAL, 60)
    seen.append(counters(recv, "transport:zmq"))
    assert all(s["pending"] <= 1 for s in seen)
    assert send.wait_idle(30)
    chunks = counters(send, "monitor:web")["counters"]["chunks_sent"]
    out = wait_for(lambda: (c := counters(send, "transport:zmq")["counters"])["sent"]
                   == chunks and c, 10)
    assert out["resends"] == 0
    slow = counters(recv, "collector:slow")["counters"]
    assert slow.get("duplicate_batches", 0) == 0 and slow["batches"] == chunks
    final = wait_for(lambda: (c := counters(recv, "transport:zmq"))["pending"] == 0 and c, 10)
    assert final["pending_bytes"] == 0 and final["parked"] == 0


@pytest.mark.timeout(90)
def test_a_batch_forged_for_another_host_is_refused_and_that_hosts_lines_all_count(
        tmp_path: Path, pipelines: list[Pipeline], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omphalos")
    keys = make_keys(tmp_path, "collector", "web1", "web2")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    for name in ("web1", "web2"):
        shutil.copy(keys / f"{name}.key", allowed / f"{name}.key")
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    recv = receiver(tmp_path, {"transport:zmq": {
        "bind": endpoint, "secret_key_file": str(keys / "collector.key_secret"),
        "allowed_keys_dir": str(allowed)}})
    pipelines.append(recv)
    fd = os.open(REAL_LOG, os.O_RDONLY)  # the file web2's monitor reads below
    try:
        ident = identify(fd)
    finally:
        os.close(fd)
    assert ident is not None
    # web1's key, claiming web2's file with a huge end: would make web2's lines duplicates
    forged = Batch(Source("web2", str(REAL_LOG), ident.file_id, "monitor:web"), 1, 0, 10**12,
                   Columns(time=[], client=[], path=[], status=[], bytes=[]), 0)
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    public, secret = zmq.auth.load_certificate(str(keys / "web1.key_secret"))
    dealer.curve_publickey, dealer.curve_secretkey = public, secret
    dealer.curve_serverkey = zmq.auth.load_certificate(str(keys / "collector.key"))[0]
    dealer.connect(endpoint)
    try:
        for n in range(3):
            dealer.send_multipart([n.to_bytes(8, "little"), encode_batch(forged)])
            assert dealer.poll(10000), "no answer to the forged batch"
            reply = dealer.recv_multipart()
            assert len(reply) == 2  # never probed: the acknowledgement of older senders
            assert reply[0] == n.to_bytes(8, "little")
            assert not decode_ack(reply[1]).accepted
    finally:
        dealer.close()
        ctx.term()
    web2 = sender(tmp_path, "web2", {"transport:zmq": {
        "connect": endpoint, "secret_key_file": str(keys / "web2.key_secret"),
        "server_key_file": str(keys / "collector.key")}})
    pipelines.append(web2)
    wait_for(lambda: applied_lines(recv) == TOTAL, 30)
    summary = recv.query("summary")
    assert summary["hosts"] == {"web2": TOTAL}
    into = counters(recv, "transport:zmq")["counters"]
    assert into["forged_host"] == 3
    assert counters(recv, "collector:summary")["counters"].get("duplicate_lines", 0) == 0
    refusals = [r for r in caplog.records if "refused a batch claiming host 'web2'" in
                r.getMessage()]
    assert len(refusals) == 1  # logged once a minute per key, counted every time


@pytest.mark.timeout(60)
def test_udp_sender_id_of_the_wrong_type_does_not_kill_the_receiver(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    port = free_port()
    recv = receiver(tmp_path, {"transport:udp": {"bind": f"127.0.0.1:{port}",
                                                 "receive_buffer_bytes": 8 << 20}})
    pipelines.append(recv)
    good = encode_batch(Batch(Source("h9", "/l", "1:2:3", "monitor:web"), 1, 0, 10,
                              Columns(time=[1.7e9], client=["a"], path=["/"], status=[200],
                                      bytes=[1], offset=[0]), 1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for sender_id in (["a", "list"], {"a": 1}, 7, None):  # unhashable, or not a string
            s.sendto(msgpack.packb(["ou", 1, sender_id, 1, good]), ("127.0.0.1", port))
        s.sendto(msgpack.packb(["ou", 1, "real", 1, good]), ("127.0.0.1", port))
    wait_for(lambda: applied_lines(recv) == 1, 20)
    status = counters(recv, "transport:udp")
    assert status["counters"]["malformed"] == 4 and status["counters"]["datagrams"] == 1
    assert status["io_thread_alive"] and status["senders"] == 1


@pytest.mark.timeout(60)
def test_udp_receiver_takes_only_allowed_sources_and_signed_datagrams(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    key_file = tmp_path / "udp.key"
    key_file.write_bytes(b"a shared secret of some length\n")
    port, other = free_port(), free_port()
    signed = receiver(tmp_path / "a", {"transport:udp": {
        "bind": f"127.0.0.1:{port}", "shared_key_file": str(key_file)}})
    pipelines.append(signed)
    fenced = receiver(tmp_path / "b", {"transport:udp": {
        "bind": f"127.0.0.1:{other}", "allowed_sources": ["10.0.0.0/8"]}})
    pipelines.append(fenced)
    body = msgpack.packb(["ou", 1, "s", 1, encode_batch(Batch(
        Source("h9", "/l", "1:2:3", "monitor:web"), 1, 0, 10,
        Columns(time=[1.7e9], client=["a"], path=["/"], status=[200], bytes=[1],
                offset=[0]), 1))])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(body, ("127.0.0.1", port))  # unsigned
        s.sendto(sign(b"another secret of some length", body), ("127.0.0.1", port))
        s.sendto(body, ("127.0.0.1", other))  # from 127.0.0.1: not allowed
    wait_for(lambda: counters(signed, "transport:udp")["counters"]["bad_signatures"] == 2, 20)
    wait_for(lambda: counters(fenced, "transport:udp")["counters"]["refused_sources"] == 1, 20)
    pipelines.append(sender(tmp_path, "h1", {"transport:udp": {
        "connect": f"127.0.0.1:{port}", "shared_key_file": str(key_file),
        "max_datagram_bytes": 8000}}, read_bytes=65536))
    wait_for(lambda: applied_lines(signed) > 0, 30)
    assert applied_lines(fenced) == 0
    assert counters(signed, "transport:udp")["counters"]["bad_signatures"] == 2


@pytest.mark.timeout(60)
def test_a_dead_receive_thread_is_seen_and_the_transport_restarted(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    """Injected fault: the receiver's socket is closed under its thread (no datagram can
    make a thread die any more), so its next read fails and the thread ends."""
    port = free_port()
    recv = receiver(tmp_path, {"transport:udp": {"bind": f"127.0.0.1:{port}"}})
    pipelines.append(recv)
    (actor,) = [o for o in gc.get_objects() if isinstance(o, UdpTransport)
                and o.context.name == "transport:udp" and o.config.bind]
    actor._sock.close()
    wait_for(lambda: recv.health.snapshot()["actors"]["transport:udp"]["restarts"] == 1, 30)
    wait_for(lambda: counters(recv, "transport:udp")["io_thread_alive"], 10)
    pipelines.append(sender(tmp_path, "h1", {"transport:udp": {
        "connect": f"127.0.0.1:{port}", "max_datagram_bytes": 8000}}, read_bytes=65536))
    wait_for(lambda: applied_lines(recv) > 0, 30)


@pytest.mark.timeout(90)
def test_amqp_batches_are_bound_to_the_broker_user_that_published_them(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    """Two publishers log in as broker user ``guest``: the one whose host is ``guest`` is
    taken, the one claiming host ``h1`` is refused (``host_is_user``)."""
    import kombu

    queue = f"omphalos-test-{uuid.uuid4().hex[:8]}"
    try:
        recv = receiver(tmp_path, {"transport:amqp": {"queue": queue, "host_is_user": True}})
        pipelines.append(recv)
        own = sender(tmp_path, "guest", {"transport:amqp": {"queue": queue}})
        pipelines.append(own)
        other = sender(tmp_path, "h1", {"transport:amqp": {"queue": queue}})
        pipelines.append(other)
        assert own.wait_idle(30) and other.wait_idle(30)
        chunks = counters(other, "monitor:web")["counters"]["chunks_sent"]
        wait_for(lambda: applied_lines(recv) == TOTAL, 30)
        wait_for(lambda: counters(recv, "transport:amqp")["counters"]["forged_host"]
                 == chunks, 30)
        assert recv.query("summary")["hosts"] == {"guest": TOTAL}
    finally:
        with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
            kombu.Queue(queue, durable=True, auto_delete=False)(conn.default_channel).delete()


@pytest.mark.timeout(60)
def test_a_failing_zmq_io_thread_is_seen_and_the_transport_restarted(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    """Injected fault: the receiver's I/O loop raises once outside any one message (a bug
    no input can trigger any more), so the thread ends; the actor fails with it and is
    restarted, and a sender then delivers every line."""
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    recv = receiver(tmp_path, {"transport:zmq": {"bind": endpoint}})
    pipelines.append(recv)
    (actor,) = [o for o in gc.get_objects() if isinstance(o, ZmqTransport)
                and o.config.bind == endpoint]
    loop = actor._loop

    def broken(sock: Any) -> None:
        raise RuntimeError("injected fault in the I/O loop")

    loop.work = broken  # type: ignore[method-assign]
    wait_for(lambda: recv.health.snapshot()["actors"]["transport:zmq"]["restarts"] == 1, 30)
    status = wait_for(lambda: (s := counters(recv, "transport:zmq"))["io_thread_alive"]
                      and s, 10)
    assert status["counters"]["io_failures"] == 0  # the new instance starts counting anew
    pipelines.append(sender(tmp_path, "h1", {"transport:zmq": {"connect": endpoint}}))
    wait_for(lambda: applied_lines(recv) == TOTAL, 30)


@pytest.mark.timeout(60)
def test_a_sender_resends_only_what_the_receiver_says_it_does_not_have(
        tmp_path: Path, pipelines: list[Pipeline]) -> None:
    """A real sender against a bare ROUTER playing the receiver's protocol: a probe answered
    "being applied" leaves the batch alone; one answered "unknown" makes the sender send
    exactly that batch again, with the same id."""
    from omphalos.wire import decode_batch, encode_ack

    port = free_port()
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.bind(f"tcp://127.0.0.1:{port}")
    credit = (1).to_bytes(4, "little")
    try:
        send = sender(tmp_path, "h1", {"transport:zmq": {"connect": f"tcp://127.0.0.1:{port}",
                                                         "ack_timeout_secs": 0.2}})
        pipelines.append(send)

        def receive() -> list[bytes]:
            """The next message but a sender's hello (an empty probe)."""
            while True:
                assert router.poll(20000), "nothing sent"
                frames = router.recv_multipart()
                if frames[1:] != [b"?", b""]:
                    return frames

        ident, msg_id, body = receive()
        answers = [b"\x01", b"\x00"]  # being applied, then unknown
        while answers:
            frames = receive()
            assert frames[:2] == [ident, b"?"] and frames[2] == msg_id
            router.send_multipart([ident, b"?", msg_id, answers.pop(0), credit])
        again = receive()
        while again[1] == b"?":  # a probe may cross the answer: the batch comes after it
            again = receive()
        assert again == [ident, msg_id, body]
        batch = decode_batch(body)
        ack = encode_ack(Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end))
        router.send_multipart([ident, msg_id, ack, credit])
        status = wait_for(lambda: (s := counters(send, "transport:zmq"))["counters"]["sent"]
                          >= 1 and s, 10)
        assert status["counters"]["resends"] == 1
        assert status["counters"]["probes"] >= 2
    finally:
        router.close()
        ctx.term()
