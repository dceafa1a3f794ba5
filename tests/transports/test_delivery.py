"""The durable sender (omphalos.delivery) on a really full disk, and the one oversized policy
in every shipper: the zmq, amqp and udp senders and both storage collectors."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from omphalos.plugins.collectors.elasticsearch.collector import (
    ElasticsearchCollector,
    ElasticsearchConfig,
)
from omphalos.plugins.collectors.timeseries.collector import (
    TimeseriesCollector,
    TimeseriesConfig,
)

from omphalos.delivery import Outbox
from omphalos.messages import Deliver, Query, Stop
from omphalos.pipeline import Pipeline
from omphalos.spool import Spool
from tests.conftest import REAL_LOG, applied_lines, wait_for
from tests.storage.helpers import Replies, batch, context

from .cluster import free_port
from .test_inprocess import TOTAL, counters, receiver


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Any]:
    """A real, small filesystem (tmpfs) that fills up: ``small_disk(kib)`` mounts one."""
    mounts: list[Path] = []

    def mount(kib: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a real full filesystem needs root to mount a tmpfs")
        where = tmp_path / f"disk{len(mounts)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs",
                               str(where)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Take every byte left on ``directory``'s filesystem (a filler file)."""
    filler = directory / "filler"
    with open(filler, "ab", buffering=0) as fh:
        block = b"\0" * 4096
        try:
            while True:
                fh.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_spool_on_a_full_disk_keeps_what_it_took_and_always_drains(small_disk: Any) -> None:
    disk = small_disk(512)
    spool = Spool(disk / "spool", max_bytes=64 << 20, segment_bytes=64 << 10)
    items = [bytes([i % 251]) * 10_000 for i in range(200)]
    taken = 0
    with pytest.raises(OSError) as info:
        for item in items:
            assert spool.append(item)
            taken += 1
    assert info.value.errno == errno.ENOSPC
    assert 0 < taken < len(items) and len(spool) == taken
    fill(disk / "spool")  # not one byte left
    spool.close()
    spool = Spool(disk / "spool", max_bytes=64 << 20, segment_bytes=64 << 10)
    assert len(spool) == taken  # nothing torn, nothing lost
    assert spool.peek(taken) == items[:taken]
    for i in range(taken):  # draining needs no space, on a disk with none
        assert spool.peek(1) == [items[i]]
        assert spool.pop(1) == 1
    spool.close()
    assert len(Spool(disk / "spool", max_bytes=64 << 20)) == 0


@pytest.mark.timeout(90)
def test_zmq_sender_pauses_on_a_full_disk_and_resumes_by_itself(
        tmp_path: Path, small_disk: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omphalos")
    disk = small_disk(1024)  # the encoded log is about 2 MB: the disk fills first
    spool_dir = disk / "spool"
    port = free_port()
    send = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "h1"), "host": "h1"},
        "monitor:web": {"paths": str(REAL_LOG), "follow": "no", "checkpoints": "no",
                        "read_bytes": 65536},
        "transport:zmq": {"connect": f"tcp://127.0.0.1:{port}", "spool_dir": str(spool_dir),
                          "spool_max_bytes": 64 << 20}}).start()
    recv = None
    try:
        status = wait_for(lambda: (s := counters(send, "transport:zmq"))["disk_full"] and s, 30)
        assert status["disk_full"] == str(spool_dir)
        assert status["warning"].startswith(f"disk full: {spool_dir}")
        assert status["paused"] and status["io_thread_alive"]
        assert any(f"disk full: {spool_dir}" in r.getMessage() for r in caplog.records)
        monitor = counters(send, "monitor:web")
        assert monitor["in_flight"] > 0 and not monitor["idle"]  # reading paused
        recv = receiver(tmp_path, {"transport:zmq": {"bind": f"tcp://127.0.0.1:{port}"}})
        # the spool drains although the disk is full, which makes room: reading resumes
        wait_for(lambda: applied_lines(recv) == TOTAL, 60)
        status = wait_for(lambda: (s := counters(send, "transport:zmq"))["spool"]["items"]
                          == 0 and s, 30)
        assert status["disk_full"] == "" and not status["paused"]
        assert status["counters"]["disk_full_errors"] >= 1
        assert status["counters"]["resends"] == 0
        assert counters(send, "monitor:web")["counters"].get("chunks_refused", 0) == 0
        assert send.health.snapshot()["actors"]["transport:zmq"]["restarts"] == 0
        summary = recv.query("summary")
        assert summary["lines"] == TOTAL and summary["hosts"] == {"h1": TOTAL}
    finally:
        send.stop(timeout=5)
        if recv is not None:
            recv.stop(timeout=5)


def test_an_eio_append_is_held_and_retried(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Injected stand-in: no real filesystem gives EIO on demand, so ``os.write`` raises it
    three times (the spool's write path), then works again."""
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    outbox = Outbox("test", spool, logging.getLogger("omphalos.test"), retry_secs=0.0)
    real_write = os.write
    failures = [3]

    def failing_write(fd: int, data: Any) -> int:
        if failures[0]:
            failures[0] -= 1
            raise OSError(errno.EIO, "Input/output error")
        return real_write(fd, data)

    monkeypatch.setattr("omphalos.spool.os.write", failing_write)
    durable: list[int] = []
    outbox.offer(b"x" * 100, lambda: durable.append(1), lambda _r: durable.append(-1))
    for _ in range(3):
        assert outbox.take() == 0
        assert outbox.disk_full == str(tmp_path / "spool") and outbox.paused
    assert outbox.status()["warning"].startswith("disk full: ")
    assert outbox.take() == 1
    assert durable == [1] and outbox.disk_full == "" and len(spool) == 1
    assert outbox.counters["disk_full_errors"] == 3
    assert spool.peek(1) == [b"x" * 100]
    spool.close()


# -- one oversized policy ---------------------------------------------------------------------
def sending(tmp_path: Path, transport: dict[str, Any]) -> Pipeline:
    return Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "h1"), "host": "h1"},
        "monitor:web": {"paths": str(REAL_LOG), "follow": "no", "checkpoints": "no",
                        "read_bytes": 65536},
        "transport:out": transport}).start()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", [
    {"plugin": "zmq", "connect": "tcp://127.0.0.1:{port}", "spool_max_bytes": 4096},
    {"plugin": "amqp", "queue": "omphalos-oversized-{uuid}", "spool_max_bytes": 4096},
    {"plugin": "udp", "connect": "127.0.0.1:{port}", "spool_max_bytes": 4096},
], ids=["zmq", "amqp", "udp"])
def test_every_transport_refuses_an_oversized_batch_the_same_way(
        tmp_path: Path, transport: dict[str, Any]) -> None:
    """Each 64 KiB batch encodes to more than the whole 4 KiB spool: every one is refused
    for good, counted, and acknowledged as refused, so the monitor goes on to the end."""
    config = {k: v.format(port=free_port(), uuid=uuid.uuid4().hex) if isinstance(v, str)
              else v for k, v in transport.items()}
    send = sending(tmp_path, config)
    try:
        monitor = wait_for(lambda: (m := counters(send, "monitor:web"))["idle"] and m, 30)
        status = counters(send, "transport:out")
    finally:
        send.stop(timeout=5)
    chunks = monitor["counters"]["chunks_sent"]
    assert chunks == monitor["counters"]["chunks_refused"] == monitor["counters"][
        "chunks_acked"]
    assert status["counters"]["oversized"] == chunks
    assert status["counters"]["spooled"] == 0 and status["spool"]["items"] == 0
    assert status["held"] == 0 and not status["paused"]


@pytest.mark.timeout(60)
def test_elasticsearch_shipper_refuses_an_oversized_payload_and_acknowledges_it(
        tmp_path: Path) -> None:
    replies = Replies.start()
    config = ElasticsearchConfig(hosts=(f"http://127.0.0.1:{free_port()}",), batch_docs=2000,
                                 spool_max_bytes=65536, retry_backoff_secs=0.05,
                                 max_backoff_secs=0.3)
    ref = ElasticsearchCollector.start(context(tmp_path, "collector:es"), config)
    try:  # 2,000 documents in one bulk body: far more than the 64 KiB spool
        ref.tell(Deliver(batch(1, 0, [1.7e9 + i for i in range(2000)]), replies))
        ref.ask(Stop(), timeout=10)
        wait_for(lambda: replies.ask("n", timeout=2) == 1, 30)
        status = ref.ask(Query("status"), timeout=5)
    finally:
        ref.stop(timeout=10)
        replies.stop()
    assert status["counters"]["oversized"] == 1
    assert status["spool"]["items"] == 0 and status["pending_payloads"] == 0


@pytest.mark.timeout(60)
def test_timeseries_shipper_refuses_an_oversized_payload_and_acknowledges_it(
        tmp_path: Path) -> None:
    replies = Replies.start()
    config = TimeseriesConfig(url=f"http://127.0.0.1:{free_port()}", top_paths=100_000,
                              spool_max_bytes=65536, retry_backoff_secs=0.05,
                              max_backoff_secs=0.3)
    ref = TimeseriesCollector.start(context(tmp_path, "collector:ts"), config)
    many = batch(1, 0, [1.7e9] * 3000)
    many.records.path = [f"/a/rather/long/path/number/{i}" for i in range(3000)]
    try:  # 3,000 paths of one interval: a line each, far more than the 64 KiB spool
        ref.tell(Deliver(many, replies))
        ref.ask(Stop(), timeout=10)
        wait_for(lambda: replies.ask("n", timeout=2) == 1, 30)
        status = ref.ask(Query("status"), timeout=5)
    finally:
        ref.stop(timeout=10)
        replies.stop()
    assert status["counters"]["oversized"] == 1
    assert status["spool"]["items"] == 0 and status["pending_payloads"] == 0
    assert status["disk_full"] == "" and status["held"] == 0


def test_a_head_torn_by_a_crash_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    for i in range(3):
        assert spool.append(b"item %d" % i)
    assert spool.pop(1) == 1
    spool.close()
    head = tmp_path / "spool" / "head"
    data = bytearray(head.read_bytes())
    slots = [data[i * 32: i * 32 + 8] for i in (0, 1)]
    newest = max((0, 1), key=lambda i: int.from_bytes(slots[i], "little"))
    data[newest * 32 + 12] ^= 0xFF  # a torn write of the newest slot: bad checksum
    head.write_bytes(bytes(data))
    again = Spool(tmp_path / "spool", max_bytes=1 << 20)
    assert again.peek(3) == [b"item 0", b"item 1", b"item 2"]  # re-sent, never lost
    again.close()


def test_a_spool_written_with_the_old_head_file_opens(tmp_path: Path) -> None:
    import struct

    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    for i in range(3):
        assert spool.append(b"item %d" % i)
    spool.close()
    # the head format before the two slots: segment and offset of the second record
    (tmp_path / "spool" / "head").write_bytes(struct.pack("<QQ", 1, 8 + len(b"item 0")))
    again = Spool(tmp_path / "spool", max_bytes=1 << 20)
    assert again.peek(3) == [b"item 1", b"item 2"]
    assert again.pop(1) == 1
    again.close()
    assert Spool(tmp_path / "spool", max_bytes=1 << 20).peek(3) == [b"item 2"]


def test_the_same_batch_offered_again_while_held_keeps_one_copy(tmp_path: Path) -> None:
    """A monitor re-reads what is held (its acknowledgement overdue) while the spool is
    full: the held copy is replaced, and only the newest copy's acknowledgement runs."""
    spool = Spool(tmp_path / "spool", max_bytes=300)
    outbox = Outbox("test", spool, logging.getLogger("omphalos.test"))
    answered: list[str] = []
    outbox.offer(b"a" * 200, lambda: answered.append("a"), answered.append, ("f", 0, 200))
    assert outbox.take() == 1  # the spool is now nearly full
    for copy in ("b1", "b2", "b3"):
        outbox.offer(b"b" * 200, lambda c=copy: answered.append(c), answered.append,
                     ("f", 200, 400))
    assert outbox.take() == 0 and outbox.held == 1 and outbox.paused
    assert outbox.counters["offered_again"] == 2
    outbox.delivered(1)
    assert outbox.take() == 1
    assert answered == ["a", "b3"] and spool.peek(2) == [b"b" * 200]
    spool.close()
