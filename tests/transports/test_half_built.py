"""A zmq transport whose setup fails half-way releases what it took: its zmq context (and
the sockets in it), its I/O and authenticator threads (issue 21: built complete or not at
all, no teardown guards)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import zmq
import zmq.auth
from omphalos.plugins.transports.zeromq import ZmqConfig, ZmqTransport

from omphalos.directory import Directory
from omphalos.plugin import PluginContext
from omphalos.settings import Settings
from tests.conftest import wait_for


def _transport(tmp_path: Path, config: ZmqConfig) -> ZmqTransport:
    return ZmqTransport(PluginContext("transport:half", Settings(state_dir=str(tmp_path / "s")),
                                      Directory()), config)


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_sender_whose_spool_cannot_open_closes_its_context(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be\n")
    transport = _transport(tmp_path, ZmqConfig(connect="tcp://127.0.0.1:1",
                                               spool_dir=str(blocker / "spool")))
    threads, fds = _threads(), _fds()
    with pytest.raises(OSError):
        transport.on_start()  # what pykka runs in the actor's thread
    assert transport._ctx.closed
    assert _threads() == threads
    assert _fds() == fds


def test_a_curve_receiver_whose_endpoint_is_taken_stops_its_threads(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    _, secret = zmq.auth.create_certificates(str(keys), "collector")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    zmq.auth.create_certificates(str(allowed), "web1")
    os.remove(allowed / "web1.key_secret")
    holder_ctx = zmq.Context()
    holder = holder_ctx.socket(zmq.PULL)
    port = holder.bind_to_random_port("tcp://127.0.0.1")
    try:
        transport = _transport(tmp_path, ZmqConfig(
            bind=f"tcp://127.0.0.1:{port}", secret_key_file=secret,
            allowed_keys_dir=str(allowed)))
        threads, fds = _threads(), _fds()
        with pytest.raises(RuntimeError, match="cannot start"):
            transport.on_start()
        assert transport._ctx.closed
        assert not transport._loop.is_alive()
        # zmq's own I/O threads end with the context
        wait_for(lambda: _threads() == threads, timeout=10)
        assert _fds() == fds
    finally:
        holder.close(linger=0)
        holder_ctx.term()
