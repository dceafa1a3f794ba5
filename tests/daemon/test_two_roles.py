"""The two roles as two daemons joined by the zmq transport, as on a fleet.

The monitor daemon is stopped with SIGTERM while lines keep coming and started again, and
the collector daemon reloads its config meanwhile; every line is still applied exactly once.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from ..conftest import wait_for
from .helpers import (
    Writer,
    kill_leftovers,
    recorded,
    start_daemon,
    status,
    stop_daemon,
    subprocess_env,
)
from .test_exactly_once import assert_exactly_once

pytest.importorskip("zmq")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_monitor_and_collector_daemons_over_zmq(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/zmq.sock"
    log, record = tmp_path / "a.log", tmp_path / "record"
    log.write_text("")
    collector_conf, monitor_conf = tmp_path / "collector.conf", tmp_path / "monitor.conf"
    collector_text = (f"[omphalos]\nstate_dir = {tmp_path}/collector-state\n"
                      f"[transport:zmq]\nbind = {endpoint}\n"
                      f"[collector:count]\nplugin = linelog\nrecord = {record}\n")
    collector_conf.write_text(collector_text)
    monitor_conf.write_text(f"[omphalos]\nstate_dir = {tmp_path}/monitor-state\n"
                            f"[monitor:a]\nplugin = file\npaths = {log}\nread_bytes = 65536\n"
                            f"[parser:p]\nplugin = combined\n"
                            f"[transport:zmq]\nconnect = {endpoint}\n")
    env = subprocess_env(tmp_path)
    collector_pid_file, monitor_pid_file = tmp_path / "collector.pid", tmp_path / "monitor.pid"
    collector = start_daemon(["--config", str(collector_conf), "collector"], env,
                             collector_pid_file)
    monitor = start_daemon(["--config", str(monitor_conf), "monitor"], env, monitor_pid_file)
    writer = Writer(log, chunk=1_000, pause=0.01)
    try:
        sender = status(monitor_pid_file)
        assert set(sender["actors"]) == {"monitor:a", "parser:p", "transport:zmq"}
        assert sender["spool"] == {"items": 0, "bytes": 0, "full": False}
        assert set(status(collector_pid_file)["actors"]) == {"transport:zmq",
                                                             "collector:count"}
        writer.start()
        wait_for(lambda: len(recorded(record)) > 0, timeout=30)
        stop_daemon(monitor)  # SIGTERM while lines keep coming
        stopped_at = writer.written
        collector_conf.write_text(collector_text + "[collector:summary]\n")
        os.kill(collector, signal.SIGHUP)
        wait_for(lambda: writer.written > stopped_at, timeout=30)  # lines only a restart reads
        monitor = start_daemon(["--config", str(monitor_conf), "monitor"], env,
                               monitor_pid_file)
        wait_for(lambda: len(recorded(record)) > stopped_at, timeout=30)
        total = writer.stop()
        wait_for(lambda: len(recorded(record)) >= total, timeout=60, interval=0.1)
        time.sleep(0.3)  # anything sent twice would be applied by now
        report = status(collector_pid_file)
        assert report["reloads"][-1]["added"] == ["collector:summary"]
        assert report["pid"] == collector and not report["degraded"]
        # the receiving transport was rewired in place: the added collector gets batches too
        assert report["actors"]["collector:summary"]["counters"].get("records", 0) > 0
    finally:
        writer.stop()
        stop_daemon(monitor)
        stop_daemon(collector)
        kill_leftovers(str(monitor_conf))
        kill_leftovers(str(collector_conf))
    assert_exactly_once(recorded(record), total)
