"""The roles in the foreground, as systemd runs them: readiness, reload and stop notified."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest

from omphalos.daemon import DaemonError, DaemonOptions, daemonize, pid_alive, read_pid

from ..conftest import wait_for
from .helpers import OMPHALOS, numbered_lines, recorded, status, subprocess_env


def receive(sock: socket.socket, timeout: float = 30.0) -> str:
    sock.settimeout(timeout)
    return sock.recv(4096).decode()


@pytest.mark.timeout(120)
def test_foreground_role_notifies_systemd(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(numbered_lines(1, 500))
    config = tmp_path / "all.conf"
    config.write_text(f"[omphalos]\nstate_dir = {tmp_path}/state\n"
                      f"[monitor:a]\nplugin = file\npaths = {tmp_path}/a.log\n"
                      f"[collector:count]\nplugin = linelog\nrecord = {tmp_path}/record\n")
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    env = subprocess_env(tmp_path)
    env["NOTIFY_SOCKET"] = str(notify)
    pid_file = tmp_path / "run" / "fg.pid"
    proc = subprocess.Popen([*OMPHALOS, "--config", str(config), "collector", "--kinds", "all",
                             "--pid-file", str(pid_file)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert receive(sock) == "READY=1"
        assert read_pid(str(pid_file)) == proc.pid
        wait_for(lambda: len(recorded(tmp_path / "record")) == 500, timeout=30)
        config.write_text(config.read_text() + "[collector:summary]\n")
        proc.send_signal(signal.SIGHUP)
        assert receive(sock).startswith("RELOADING=1\nMONOTONIC_USEC=")
        assert receive(sock) == "READY=1"
        assert "collector:summary" in status(pid_file)["actors"]
        proc.send_signal(signal.SIGTERM)
        assert receive(sock) == "STOPPING=1"
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sock.close()
    assert proc.returncode == 0, err
    assert "reload: added collector:summary" in err
    assert not pid_file.exists()


@pytest.mark.timeout(60)
def test_daemon_start_errors_reach_the_terminal(tmp_path: Path) -> None:
    config = tmp_path / "bad.conf"
    config.write_text("[monitor:a]\nplugin = file\n")  # no paths
    result = subprocess.run([*OMPHALOS, "--config", str(config), "monitor", "--daemon",
                             "--pid-file", str(tmp_path / "m.pid")], capture_output=True,
                            text=True, timeout=30, env=subprocess_env(tmp_path))
    assert result.returncode == 2
    assert "[monitor:a]" in result.stderr and "paths" in result.stderr
    assert not (tmp_path / "m.pid").exists()
    # a live process already holds the pid file: refused before detaching
    (tmp_path / "m.pid").write_text("1\n")  # init: always alive
    config.write_text(f"[monitor:a]\nplugin = file\npaths = {tmp_path}/a.log\n")
    result = subprocess.run([*OMPHALOS, "--config", str(config), "monitor", "--daemon",
                             "--pid-file", str(tmp_path / "m.pid")], capture_output=True,
                            text=True, timeout=30, env=subprocess_env(tmp_path))
    assert result.returncode == 1 and "already running as pid 1" in result.stderr


def test_no_daemonizing_once_threads_run(tmp_path: Path) -> None:
    import threading

    event = threading.Event()
    thread = threading.Thread(target=event.wait, name="test-blocker")
    thread.start()
    try:
        with pytest.raises(DaemonError, match="threads"):
            daemonize(DaemonOptions(pid_file=str(tmp_path / "x.pid")))
    finally:
        event.set()
        thread.join()
    assert pid_alive(1)


@pytest.mark.timeout(90)
def test_daemon_drops_to_another_user(tmp_path: Path) -> None:
    import os
    import pwd
    import shutil
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root to change user")
    # the interpreter is started as root and drops to nobody once everything is imported,
    # so it need not be executable by nobody (it is not, under /root, on the dev machines)
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="omphalos-user-", dir="/tmp"))
    try:
        base.chmod(0o755)
        (base / "state").mkdir()
        (base / "run").mkdir()
        for d in (base / "state", base / "run"):
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
        (base / "a.log").write_text(numbered_lines(1, 100))
        (base / "a.log").chmod(0o644)
        config = base / "c.conf"
        config.write_text(f"[omphalos]\nstate_dir = {base}/state\n[monitor:a]\nplugin = file\n"
                          f"paths = {base}/a.log\n[collector:summary]\n")
        config.chmod(0o644)
        pid_file, log_file = base / "run" / "c.pid", base / "log" / "c.log"
        result = subprocess.run([*OMPHALOS, "--config", str(config), "collector", "--kinds",
                                 "all", "--daemon", "--pid-file", str(pid_file), "--log-file",
                                 str(log_file), "--user", "nobody", "--umask", "027"],
                                capture_output=True, text=True, timeout=60, cwd=base)
        assert result.returncode == 0, result.stderr
        pid = read_pid(str(pid_file))
        assert pid is not None
        try:
            assert os.stat(f"/proc/{pid}").st_uid == nobody.pw_uid
            assert pid_file.stat().st_uid == log_file.stat().st_uid == nobody.pw_uid
            report = status(pid_file)
            assert report["actors"]["monitor:a"]["state"] == "running"
            wait_for(lambda: (base / "state" / "checkpoints.sqlite").exists(), timeout=30)
            made = base / "state" / "checkpoints.sqlite"
            assert made.stat().st_uid == nobody.pw_uid and made.stat().st_mode & 0o007 == 0
        finally:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(pid), timeout=40)
        assert not pid_file.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)
