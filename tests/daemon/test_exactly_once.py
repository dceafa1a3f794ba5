"""No line lost or counted twice across reloads under load and across a SIGTERM mid-burst.

The ``linelog`` test collector records the number of every line it applies to a file that
outlives the process; a writer appends numbered lines. Both tests run the daemon as users
do (``omphalos collector --kinds all --daemon``) and talk to it only through signals.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ..conftest import wait_for
from .helpers import (
    Writer,
    kill_leftovers,
    numbered_lines,
    recorded,
    start_daemon,
    status,
    stop_daemon,
    subprocess_env,
)


def config_text(tmp: Path, *, poll: float = 0.05, extra: str = "") -> str:
    return (f"[omphalos]\nstate_dir = {tmp}/state\n"
            f"[monitor:a]\nplugin = file\npaths = {tmp}/a.log\npoll_interval_secs = {poll}\n"
            f"read_bytes = 65536\n"
            f"[parser:p]\nplugin = combined\n"
            f"[transport:local]\n"
            f"[collector:count]\nplugin = linelog\nrecord = {tmp}/record\n" + extra)


def assert_exactly_once(numbers: list[int], expected: int) -> None:
    twice = [n for n, c in Counter(numbers).items() if c > 1]
    missing = sorted(set(range(1, expected + 1)) - set(numbers))
    assert not twice, f"counted twice: {twice[:10]} ({len(twice)} in all)"
    assert not missing, f"lost: {missing[:10]} ({len(missing)} in all)"
    assert len(numbers) == expected


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_three_reloads_under_load(tmp_path: Path) -> None:
    log, config, pid_file = tmp_path / "a.log", tmp_path / "all.conf", tmp_path / "run" / "c.pid"
    (tmp_path / "b.log").write_text(numbered_lines(1, 2000, tag="b"))
    log.write_text("")
    config.write_text(config_text(tmp_path))
    env = subprocess_env(tmp_path)
    written = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal written
        with open(log, "a") as fh:
            while not stop.is_set():
                fh.write(numbered_lines(written + 1, 300))
                fh.flush()
                written += 300
                time.sleep(0.01)

    args = ["--config", str(config), "collector", "--kinds", "all"]
    pid = start_daemon(args, env, pid_file)
    thread = threading.Thread(target=writer, name="test-writer")
    thread.start()
    try:
        reloads = [
            # 1: a monitor added; monitor:a changed (rebuilt, resumes from its checkpoint)
            config_text(tmp_path, poll=0.1, extra=f"[monitor:b]\nplugin = file\n"
                                                  f"paths = {tmp_path}/b.log\n"),
            # 2: the parser changed (its monitors paused), a collector added
            config_text(tmp_path, poll=0.1, extra=f"[monitor:b]\nplugin = file\n"
                                                  f"paths = {tmp_path}/b.log\n"
                                                  "[collector:summary]\n").replace(
                "plugin = combined\n", "plugin = combined\nbad_sample = 5\n"),
            # 3: both removed again, monitor:a changed back
            config_text(tmp_path),
        ]
        for done, text in enumerate(reloads, start=1):
            wait_for(lambda: len(recorded(tmp_path / "record")) > 0, timeout=30)
            time.sleep(0.3)  # let the writer get ahead: the reload happens mid-stream
            config.write_text(text)
            os.kill(pid, signal.SIGHUP)
            report = wait_for(lambda n=done: (lambda r: r if len(r["reloads"]) >= n else None)(
                status(pid_file)), timeout=30, interval=0.1)
            assert report["reloads"][-1]["ok"], report["reloads"][-1]
        time.sleep(0.3)
        stop.set()
        thread.join()
        wait_for(lambda: len(recorded(tmp_path / "record")) >= written, timeout=60,
                 interval=0.1)
        time.sleep(0.3)  # anything counted twice would arrive now
        report = status(pid_file)
        assert not report["degraded"]
        assert report["pid"] == pid
        plans = report["reloads"]
        assert plans[0]["added"] == ["monitor:b"] and plans[0]["changed"] == ["monitor:a"]
        assert plans[1]["changed"] == ["parser:p"] and "monitor:a" in plans[1]["paused"]
        assert plans[2]["removed"] == ["monitor:b", "collector:summary"]
        # no batch was sent towards the removed collector (it would wait for an ack timeout)
        counters = report["actors"]["transport:local"]["counters"]
        assert counters.get("undeliverable", 0) == 0, counters
        assert counters.get("delivery_timeouts", 0) == 0, counters
    finally:
        stop.set()
        thread.join()
        stop_daemon(pid)
        kill_leftovers(str(config))
    assert_exactly_once(recorded(tmp_path / "record"), written)
    assert sorted(recorded(tmp_path / "record", tag="b")) == list(range(1, 2001))


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_sigterm_during_a_burst_then_restart(tmp_path: Path) -> None:
    log, config, pid_file = tmp_path / "a.log", tmp_path / "all.conf", tmp_path / "run" / "c.pid"
    log.write_text("")
    config.write_text(config_text(tmp_path))
    env = subprocess_env(tmp_path)
    args = ["--config", str(config), "collector", "--kinds", "all"]
    pid = start_daemon(args, env, pid_file)
    burst = Writer(log, chunk=2_000, pause=0.02)  # a burst: up to 100,000 lines/s
    try:
        burst.start()
        wait_for(lambda: len(recorded(tmp_path / "record")) > 0, timeout=30)
        stop_daemon(pid)  # SIGTERM while the burst goes on
        assert not pid_file.exists()
        first_run = len(recorded(tmp_path / "record"))
        wait_for(lambda: burst.written > first_run, timeout=30)  # lines only a restart reads
        pid = start_daemon(args, env, pid_file)
        restarted = burst.written
        wait_for(lambda: burst.written >= restarted + 20_000, timeout=60)
        total = burst.stop()
        wait_for(lambda: len(recorded(tmp_path / "record")) >= total, timeout=60, interval=0.1)
        time.sleep(0.3)  # anything counted twice would arrive now
        assert status(pid_file)["bytes_behind"] == 0
    finally:
        burst.stop()
        stop_daemon(pid)
        kill_leftovers(str(config))
    assert first_run < total
    assert_exactly_once(recorded(tmp_path / "record"), total)
