"""Remote senders while a durable collector's saves are slow: held, nothing lost.

A durable collector acknowledges a batch only once a save includes it; meanwhile it tells
its transport ``AwaitingSave``. The local transport passes that on to its monitors (they
read on, :mod:`tests.collectors.test_read_while_saving`); the zmq and amqp receivers do
not send it to their remote senders, and need not: a remote sender is a durable transport
(its monitor's batches are acknowledged once spooled, or confirmed by the broker), so its
monitor never waits for the collector's saves, and what the collector has not yet
acknowledged stays in the sender's spool (zmq: the receiver's credit bounds how many
batches are out, and a probe about an overdue one is answered "being applied", so it is
not sent again) or in the broker's queue (amqp: the consumer's prefetch window bounds
them). The receiver drops the records of a batch waiting for a save either way (the
transport base class).

Real pipelines of this process over real sockets and the real broker: a sender reads the
real Apache log into zmq or amqp, a receiver feeds a durable ``summary``. Its commits are
held back by an injected fault (``held_commit``: a commit that does not end until the test
lets it, as on a stalled disk), long enough that the sender's monitor reads the whole log
and the sender probes its overdue batches. Then the commits go through: every line is
counted exactly once, nothing was sent twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest

from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from omphalos.state import PreparedSave, StateStore
from tests.conftest import REAL_LOG, applied_lines, wait_for

from .cluster import free_port

TOTAL = 10000  # lines of the real log (tests/data/README.md)
AMQP_WINDOW = 4  # the consumer's prefetch window in the amqp case


@pytest.fixture
def held_commit(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The injected fault: every ``StateStore.commit`` of this process waits until the
    event is set (a stalled disk; at most a minute, so a failing test cannot hang)."""
    release = threading.Event()
    commit = StateStore.commit

    def held(store: StateStore, prepared: PreparedSave) -> int:
        release.wait(60)
        return commit(store, prepared)

    monkeypatch.setattr(StateStore, "commit", held)
    yield release
    release.set()


def status(pipeline: Pipeline, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = pipeline.ask(name, Query("status"))
    return answer


def transports(tmp_path: Path, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The receiver's and the sender's transport sections."""
    if kind == "zmq":
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        return ({"transport:zmq": {"bind": endpoint}},
                {"transport:zmq": {"connect": endpoint, "ack_timeout_secs": 0.3}})
    queue = f"omphalos-test-{uuid.uuid4().hex[:8]}"
    return ({"transport:amqp": {"queue": queue, "max_pending": AMQP_WINDOW}},
            {"transport:amqp": {"queue": queue}})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["zmq", "amqp"])
def test_a_remote_sender_is_held_and_loses_nothing_while_saves_are_slow(
        tmp_path: Path, kind: str, held_commit: threading.Event) -> None:
    recv_transport, send_transport = transports(tmp_path, kind)
    name = next(iter(recv_transport))
    recv = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "recv")}, **recv_transport,
        "collector:summary": {"durable": True}}).start()
    send = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "web1"), "host": "web1"},
        "monitor:web": {"paths": str(REAL_LOG), "follow": "no", "checkpoints": "no",
                        "read_bytes": 65536},
        **send_transport}).start()
    try:
        # the sender's monitor reads the whole log: its batches are acknowledged once
        # spooled (zmq) or confirmed by the broker (amqp), not by the collector's saves
        wait_for(lambda: status(send, "monitor:web")["idle"], 60)
        collector = status(recv, "collector:summary")
        held = status(send, name)
        if kind == "zmq":
            # out: exactly the receiver's credit, all applied, none acknowledged
            wait_for(lambda: status(send, name)["counters"]["probes"] > 0, 30)
            held = status(send, name)
            assert held["unacknowledged"] == held["credit"] == 8
            assert held["spool"]["items"] > held["credit"]  # the rest waits in the spool
            collector = wait_for(lambda: (c := status(recv, "collector:summary"))
                                 ["counters"]["batches"] == 8 and c, 30)
            assert status(recv, name)["pending"] == 8
        else:
            collector = wait_for(lambda: (c := status(recv, "collector:summary"))
                                 ["counters"]["batches"] == AMQP_WINDOW and c, 30)
            assert held["spool"]["items"] == 0  # confirmed by the broker: in its queue
        assert collector["saved_state"]["saves_being_written"] == 1
        assert collector["counters"].get("state_saves", 0) == 0
        held_commit.set()  # the disk comes back
        wait_for(lambda: applied_lines(recv) == TOTAL, 60)
        if kind == "zmq":
            wait_for(lambda: status(send, name)["spool"]["items"] == 0, 30)
            assert status(send, name)["counters"]["resends"] == 0
        wait_for(lambda: status(recv, "collector:summary")["saved_state"]["held_acks"] == 0
                 and not status(recv, "collector:summary")["saved_state"][
                     "saves_being_written"], 30)
        counters = status(recv, "collector:summary")["counters"]
        assert counters.get("duplicate_batches", 0) == 0
        assert counters.get("duplicate_lines", 0) == 0
        summary = recv.query("summary")
        assert summary["requests"] + summary["unparsed"] == TOTAL
    finally:
        send.stop(timeout=5)
        recv.stop(timeout=5)
        if kind == "amqp":
            with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
                kombu.Queue(recv_transport[name]["queue"], durable=True,
                            auto_delete=False)(conn.channel()).delete()
